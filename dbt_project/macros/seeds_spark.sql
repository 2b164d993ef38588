{#-
  dbt-spark's seed loader binds every cell as a parameter; in session mode a blank cell (None) is
  formatted into the SQL as the text 'None' (dbt-labs/dbt-adapters#487), so an open-ended
  effective_to becomes 'None', every threshold looked up through it NULL, and the verdicts with
  them. This Spark-only override writes each cell as a SQL literal itself: a blank is NULL. The
  dispatch picks it on Spark only; DuckDB keeps dbt's own loader. The threshold seeds' not_null and
  range tests fail if a loader ever turns blanks into text again.
-#}

{% macro spark__load_csv_rows(model, agate_table, load_empty=False) %}

    {% if load_empty %}
        {{ return("") }}
    {% endif %}

    {% set column_override = model['config'].get('column_types', {}) %}
    {% set statements = [] %}

    {% for chunk in agate_table.rows | batch(get_batch_size()) %}
        {% set sql %}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    cast({{ sasac_seed_literal(row[loop.index0]) }} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {% endset %}

        {% do adapter.add_query(sql, abridge_sql_log=True) %}

        {% if loop.index0 == 0 %}
            {% do statements.append(sql) %}
        {% endif %}
    {% endfor %}

    {{ return(statements[0]) }}
{% endmacro %}

{#- Spark SQL string literals: backslash escapes are on by default, so escape the backslash first. -#}
{% macro sasac_seed_literal(value) -%}
    {%- if value is none -%}
        null
    {%- elif value is sameas true or value is sameas false -%}
        {{ 'true' if value else 'false' }}
    {%- elif value is number -%}
        {{ value }}
    {%- else -%}
        '{{ (value | string).replace("\\", "\\\\").replace("'", "\\'") }}'
    {%- endif -%}
{%- endmacro %}
