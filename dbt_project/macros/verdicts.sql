{#-
  A measured value against a policy limit, the way every verdict column (c03_ok, d12_ok, …) states
  it. The value is rounded to 10 decimals first: a ratio that is 1.5% on paper but
  0.014999999999999998 after floating-point sums meets a 1.5% minimum. A NULL value or limit gives
  NULL: not judged (D05 asks for the missing number), never a finding.
-#}

{% macro verdict_decimals() -%}
    10
{%- endmacro %}

{% macro meets_min(value, limit) -%}
    (round(cast({{ value }} as double), {{ verdict_decimals() }}) >= {{ limit }})
{%- endmacro %}

{% macro meets_max(value, limit) -%}
    (round(cast({{ value }} as double), {{ verdict_decimals() }}) <= {{ limit }})
{%- endmacro %}
