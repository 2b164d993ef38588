{#- The ten digits 0–9 as rows of one column: a portable number series (no generate_series / range). -#}
{% macro digits(column='d') -%}
    select 0 as {{ column }}
    {%- for i in range(1, 10) %}
    union all
    select {{ i }}
    {%- endfor %}
{%- endmacro %}
