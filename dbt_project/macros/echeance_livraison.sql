{#- Due date of the delivery of month M (../shared/spec/retours.md): the 5th of M + 1 (echeance_jour(),
    generated from pipelines/contract.py), end of day, Europe/Paris. `periode` is the month's first day (a DATE); the result is the due day, a DATE. A
    reception is on time when its Paris calendar date is at most this day (paris_date below). -#}
{% macro echeance_livraison(periode) -%}
    cast({{ periode }} + interval 1 month + interval {{ echeance_jour() - 1 }} day as date)
{%- endmacro %}


{#- The Paris calendar date of a naive UTC timestamp (raw.livraisons.recu_le, a file's mtime), with
    DuckDB's ICU time zones (built in, no download): 2026-04-05 21:59 UTC is 23:59 on the 5th (UTC+2),
    2026-03-05 23:01 UTC is 00:01 on the 6th (UTC+1). -#}
{% macro paris_date(horodatage_utc) -%}
    cast(timezone('Europe/Paris', timezone('UTC', {{ horodatage_utc }})) as date)
{%- endmacro %}
