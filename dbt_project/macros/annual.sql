{#-
  An annual view of a tracking mart: its year rows only, same columns. An analyst asking about years
  cannot pick up a quarter row by forgetting period_type (the same '2008Q4' labels both).
-#}

{% macro year_rows_of(tracking_model) -%}

with

tracking as (

    select * from {{ ref(tracking_model) }}

),

final as (

    select * from tracking
    where period_type = 'year'

)

select * from final

{%- endmacro %}
