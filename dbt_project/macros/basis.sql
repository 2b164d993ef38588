{#-
  The basis (口径) of a tracking row: how its enterprises' figures were put together. The code is the
  model's; the words are reference.ref_statuses (domain basis), the one place the pages, the report and
  the workbook read them from.
-#}

{% macro basis_label(basis_code) -%}
    (select max(label_zh) from {{ ref('ref_statuses') }} where domain = 'basis' and status_code = '{{ basis_code }}')
{%- endmacro %}

{#-
  A verdict judged on fewer enterprise-quarters than its rule needs (a yearly rule needs every quarter of
  the year of every enterprise counted) says so; NULL when nothing is missing.
-#}
{% macro verdict_caveat(quarters_reported, quarters_needed, grain) -%}
    case
        when {{ quarters_reported }} < {{ quarters_needed }}
            then '仅依据' || cast({{ quarters_reported }} as {{ dbt.type_string() }})
            || case when {{ grain }} = 'enterprise' then '个季度' else '个企业季度' end
            || '（应有' || cast({{ quarters_needed }} as {{ dbt.type_string() }}) || '个）'
    end
{%- endmacro %}
