{#- The combination of `columns` is unique in the model (NULLs compare equal, as in GROUP BY).
    Usage:  data_tests: [{unique_combination: {arguments: {columns: [periode, code_ali]}}}] -#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as nb_lignes
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
