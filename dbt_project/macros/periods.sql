{#-
  Period arithmetic on 'YYYYQn' strings, portable (substring / cast / floor only).
  period_index = year * 4 + quarter - 1, so differences are distances in quarters.
-#}

{% macro period_year(period) -%}
    cast(substring({{ period }}, 1, 4) as integer)
{%- endmacro %}

{% macro period_quarter(period) -%}
    cast(substring({{ period }}, 6, 1) as integer)
{%- endmacro %}

{% macro period_index(period) -%}
    ({{ period_year(period) }} * 4 + {{ period_quarter(period) }} - 1)
{%- endmacro %}

{#- inverse of period_index: 8033 -> '2008Q2' -#}
{% macro period_from_index(index) -%}
    {{ dbt.concat([
        "cast(cast(floor((" ~ index ~ ") / 4) as integer) as " ~ dbt.type_string() ~ ")",
        "'Q'",
        "cast(cast((" ~ index ~ ") - 4 * floor((" ~ index ~ ") / 4) + 1 as integer) as " ~ dbt.type_string() ~ ")",
    ]) }}
{%- endmacro %}

{#- the Q4 period of a year column: 2008 -> '2008Q4' -#}
{% macro year_end_period(year) -%}
    {{ dbt.concat(["cast(" ~ year ~ " as " ~ dbt.type_string() ~ ")", "'Q4'"]) }}
{%- endmacro %}

{#- the Q1 period of a year column: 2008 -> '2008Q1' -#}
{% macro first_quarter_period(year) -%}
    {{ dbt.concat(["cast(" ~ year ~ " as " ~ dbt.type_string() ~ ")", "'Q1'"]) }}
{%- endmacro %}

{#- a year row's value of `column` at one of its quarters (`period`, e.g. first_quarter_period('q.year') for
  its start, year_end_period('q.year') for its end), summed over the year's quarter rows as a count -#}
{% macro at_quarter(column, period, period_column='q.period') -%}
    cast(sum(case when {{ period_column }} = {{ period }} then {{ column }} else 0 end) as bigint)
{%- endmacro %}

{#- period_index of the quarter a date falls in -#}
{% macro date_period_index(date_col) -%}
    (cast(extract(year from {{ date_col }}) as integer) * 4
        + cast(floor((extract(month from {{ date_col }}) - 1) / 3) as integer))
{%- endmacro %}

{#- a date from integer year, month, day expressions -#}
{% macro make_date_from_parts(year, month, day) -%}
    cast({{ dbt.concat([
        "cast(" ~ year ~ " as " ~ dbt.type_string() ~ ")",
        "'-'",
        "lpad(cast(" ~ month ~ " as " ~ dbt.type_string() ~ "), 2, '0')",
        "'-'",
        "lpad(cast(" ~ day ~ " as " ~ dbt.type_string() ~ "), 2, '0')",
    ]) }} as date)
{%- endmacro %}

{#-
  Filing deadline of a period (contract §1): the end (24:00) of day `deadline_day` of the month
  after the quarter, as a timestamp. Same rule as pipelines.lib.periods.Period.deadline.
-#}
{% macro period_deadline(period, deadline_day) -%}
    {%- set next_index = "(" ~ period_index(period) ~ " + 1)" -%}
    {%- set next_year = "cast(floor(" ~ next_index ~ " / 4) as integer)" -%}
    {%- set next_month = "cast((" ~ next_index ~ " - 4 * floor(" ~ next_index ~ " / 4)) * 3 + 1 as integer)" -%}
    cast({{ dbt.dateadd('day', 1, make_date_from_parts(next_year, next_month, "cast(" ~ deadline_day ~ " as integer)")) }} as timestamp)
{%- endmacro %}

{#- last day of the quarter with this period_index -#}
{% macro period_end_date(index) -%}
    {%- set next_index = "((" ~ index ~ ") + 1)" -%}
    {%- set next_year = "cast(floor(" ~ next_index ~ " / 4) as integer)" -%}
    {%- set next_month = "cast((" ~ next_index ~ " - 4 * floor(" ~ next_index ~ " / 4)) * 3 + 1 as integer)" -%}
    cast({{ dbt.dateadd('day', -1, make_date_from_parts(next_year, next_month, "1")) }} as date)
{%- endmacro %}

{#- completed years of age on a date -#}
{% macro age_on(birth_date, on_date) -%}
    (cast(extract(year from {{ on_date }}) as integer) - cast(extract(year from {{ birth_date }}) as integer)
        - case
            when extract(month from {{ on_date }}) * 100 + extract(day from {{ on_date }})
                < extract(month from {{ birth_date }}) * 100 + extract(day from {{ birth_date }})
                then 1
            else 0
        end)
{%- endmacro %}

{#- a 'YYYYQn' text (for tests on the reference data: a loader's 'None' is not a period) -#}
{% macro is_period_text(period) -%}
    (length({{ period }}) = 6 and substring({{ period }}, 5, 1) = 'Q'
     and substring({{ period }}, 6, 1) in ('1', '2', '3', '4')
     and substring({{ period }}, 1, 4) between '1900' and '2999')
{%- endmacro %}
