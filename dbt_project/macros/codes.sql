{#-
  The display form of a 组织机构代码: 'MA62K0260' -> 'MA62K026-0', anything not nine characters as it is.
  The same rule as pipelines/lib/domain/codes.py format_org_code (tests/test_analyst_marts.py holds them
  together), so an analyst joins the warehouse to a document's 10124469-6 without converting.
-#}

{% macro org_code_display(code) -%}
    case
        when length({{ code }}) = 9
            then {{ dbt.concat(["substring(" ~ code ~ ", 1, 8)", "'-'", "substring(" ~ code ~ ", 9, 1)"]) }}
        else {{ code }}
    end
{%- endmacro %}
