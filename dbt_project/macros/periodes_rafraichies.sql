{#- Month-scoped refresh of the incremental marts.

    Vars min_periode / max_periode: ISO dates 'YYYY-MM-DD' (first day of a month), both optional; or,
    as Dagster passes them, env ALI_MIN_PERIODE / ALI_MAX_PERIODE, read only at execution: the parse
    does not depend on the run's months, so dbt's partial parsing survives from one run to the next
    (a --vars change makes dbt re-parse the whole project, ~3 s). They only apply to an incremental
    run (the mart exists and no --full-refresh): a first build or a full refresh builds every month. -#}

{% macro _periode_var(name) -%}
    {%- set value = var(name, none) -%}
    {%- if value is none and execute -%}
        {%- set value = env_var('ALI_' ~ (name | upper), '') -%}
    {%- endif -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-01$', value) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " = '" ~ value ~ "' : attendu AAAA-MM-01 (premier jour du mois)") }}
    {%- endif -%}
    {{ return(value) }}
{%- endmacro %}


{#- SQL condition on `column` restricting an incremental run to the months it refreshes ('true'
    otherwise), widened for a mart whose month M reads other months' data: `recul` months before
    the first refreshed month (M reads up to M + recul), `avance` months after the last one (M reads
    down to M − avance). -#}
{% macro filtre_periodes(column='periode', recul=0, avance=0) -%}
    {%- set min_p = _periode_var('min_periode') -%}
    {%- set max_p = _periode_var('max_periode') -%}
    {%- if is_incremental() and (min_p or max_p) -%}
        {%- if min_p %}{{ column }} >= date '{{ min_p }}' - interval {{ recul }} month{% endif -%}
        {%- if min_p and max_p %} and {% endif -%}
        {%- if max_p %}{{ column }} <= date '{{ max_p }}' + interval {{ avance }} month{% endif -%}
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- pre-hook of the marts: on an incremental run, delete the rows of the months being rebuilt
    (every month when no var is given), so the delete+insert leaves no stale row behind. The month
    column is the mart's unique_key. A mart reading other months adds its own pre-hook (hooks add
    up) with a wider window (see filtre_periodes) and `aussi`, a condition on its rows that must be
    rebuilt whatever the months (e.g. those waiting for a later month to mature). -#}
{% macro supprimer_periodes_rafraichies(recul=0, avance=0, aussi=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ filtre_periodes(config.get('unique_key'), recul, avance) }}
        {%- if aussi %} or ({{ aussi }}){% endif %}
    {%- endif -%}
{%- endmacro %}


{#- SQL condition of the marts' months to build: after the pre-hook has deleted the run's months,
    every calendar month absent from the mart — the run's months, and any month never built yet (a
    month without deliveries between the months already built and the one a run asks for). -#}
{% macro mois_a_construire(column='periode') -%}
    {%- if is_incremental() -%}
        {{ column }} not in (select distinct {{ config.get('unique_key') }} from {{ this }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#- The cohorts of mart_parcours_cohortes a refresh of months [a, b] must rebuild beyond [a − 12, b]
    (rendered in its pre-hook, before the delete): every cohort of an entry date found in the rows
    of [a, b] (a late exit or contract changes an old cohort), and, when L moves past the mart's last
    cohort, the cohorts not yet mature at 12 months (their NULLs follow L). -#}
{% macro cohortes_a_reprendre() -%}
    cohorte in (
        select distinct cast(date_trunc('month', date_entree) as date)
        from {{ ref('int_beneficiaires_mois') }}
        where date_entree is not null and {{ filtre_periodes('periode') }}
    )
    or (
        not mature_12m
        and (select max(dernier_mois_observe) from {{ ref('int_dernier_mois_observe') }})
            > (select max(cohorte) from {{ this }})
    )
{%- endmacro %}


{#- The data tests of the intermediate views read only the run's months: a test whose `where` config
    is `mois_du_run(<column>)` reads the rows whose <column> is in [ALI_MIN_PERIODE, ALI_MAX_PERIODE]
    (the months Dagster refreshes, read at execution); with no months (a plain `dbt build`), every
    row. The other months' rows come from deliveries the run did not touch, and were tested by the
    run that loaded them. Any other `where` works as in dbt (this overrides dbt's own macro). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set scoped = modules.re.fullmatch('mois_du_run\\((\\w+)\\)', (where or '') | string | trim) -%}
    {%- if scoped -%}
        {%- set min_p = _periode_var('min_periode') -%}
        {%- set max_p = _periode_var('max_periode') -%}
        {%- set where -%}
            {%- if min_p %}{{ scoped.group(1) }} >= date '{{ min_p }}'{% else %}true{% endif %} and
            {%- if max_p %} {{ scoped.group(1) }} <= date '{{ max_p }}'{% else %} true{% endif -%}
        {%- endset -%}
    {%- endif -%}
    {%- if where -%}
        {{ return("(select * from " ~ relation ~ " where " ~ where ~ ") dbt_subquery") }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}
