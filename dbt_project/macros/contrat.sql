{#- Generated from pipelines/contract.py by python -m pipelines.contract_render; do not edit. -#}

{#- The day of M + 1 on which the delivery of month M is due (end of day, Europe/Paris). -#}
{% macro echeance_jour() %}{{ return(5) }}{% endmacro %}
