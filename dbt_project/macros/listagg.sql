{#-
  Distinct-free string aggregation in the values' own order, the same text on every engine.
  dbt-spark's listagg ignores its order-by (Spark's collect_list keeps arrival order, which differs
  run to run), so Spark sorts the collected array instead.
-#}

{% macro sorted_listagg(expr, delimiter_text) -%}
    {{ return(adapter.dispatch('sorted_listagg', 'sasac_skills')(expr, delimiter_text)) }}
{%- endmacro %}

{% macro default__sorted_listagg(expr, delimiter_text) -%}
    {{ dbt.listagg(expr, delimiter_text, 'order by ' ~ expr) }}
{%- endmacro %}

{% macro spark__sorted_listagg(expr, delimiter_text) -%}
    array_join(array_sort(collect_list({{ expr }})), {{ delimiter_text }})
{%- endmacro %}
