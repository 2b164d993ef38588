{#-
  Money (万元 in the funds sheet) is exact: DECIMAL, one precision and scale for every engine, set
  once in dbt_project.yml (var money_type) and read by the models and the marts' contracts. Sums of
  doubles depend on the order the engine adds them in (DuckDB and Spark differ in the last bits, and
  so do two parallel DuckDB runs); sums of decimals do not.
-#}

{% macro money_type() -%}
    {{ var('money_type') }}
{%- endmacro %}

{% macro to_money(expr) -%}
    cast({{ expr }} as {{ money_type() }})
{%- endmacro %}

{#-
  A ratio of two amounts (or an amount and a count) as a double: each side is turned into a double
  first, so the one IEEE division gives the same bits everywhere. Decimal division does not travel:
  DuckDB answers a double, Spark a decimal of its own scale.
-#}
{% macro ratio(numerator, denominator) -%}
    (cast({{ numerator }} as double) / nullif(cast({{ denominator }} as double), 0))
{%- endmacro %}
