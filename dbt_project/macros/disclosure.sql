{#-
  Disclosure control (docs/analyst-guide.md): a published figure describing persons' attributes (an average
  income, an age, training hours) that rests on fewer persons than disclosure_min_persons
  (ref_policy_thresholds) is NULL, and the row's reason column says why. Verdicts are judged on the exact
  value before it is withheld; counts of persons are never withheld.
-#}

{% macro disclosed(value, persons, min_persons) -%}
    case when coalesce({{ persons }}, 0) < {{ min_persons }} then null else {{ value }} end
{%- endmacro %}

{#- the reason, its threshold read from the seed, or NULL when nothing is withheld -#}
{% macro withheld_reason(persons, min_persons, what_zh) -%}
    case
        when coalesce({{ persons }}, 0) < {{ min_persons }}
            then {{ dbt.concat([
                "'" ~ what_zh ~ "不足'",
                "cast(cast(" ~ min_persons ~ " as integer) as " ~ dbt.type_string() ~ ")",
                "'人，不予公布（披露控制）'",
            ]) }}
    end
{%- endmacro %}
