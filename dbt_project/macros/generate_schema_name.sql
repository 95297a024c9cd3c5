{#- The schema of a model is exactly its custom schema (staging, intermediate, marts), never
    prefixed with the target schema as dbt does by default. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
