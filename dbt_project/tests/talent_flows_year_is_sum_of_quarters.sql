{#-
  A year row of talent_flows is the sum of its quarter rows: every flow summed, the start of Q1 and the
  end of Q4 (0 where the entity has no row that quarter). Returns the year rows that differ.
-#}
{%- set summed = ["enterprises_first_filing", "enterprises_refiling", "enterprises_unreported", "promoted_in",
                  "promoted_trained", "transfer_in", "returned_in", "new_in", "first_filing_in", "refiling_in",
                  "in_total", "transfer_out", "retired", "left_otherwise", "unreported_out", "out_total",
                  "upgraded", "upgraded_to_technician", "upgraded_within_technician"] -%}

with

flows as (

    select * from {{ ref('talent_flows') }}

),

years as (

    select * from flows
    where period_type = 'year'

),

quarter_sums as (

    select
        grain,
        entity_code,
        year,
        {%- for column in summed %}
        sum({{ column }}) as {{ column }},
        {%- endfor %}
        sum(case when period = {{ first_quarter_period('year') }} then high_skill_start else 0 end)
            as high_skill_start,
        sum(case when period = {{ year_end_period('year') }} then high_skill_end else 0 end) as high_skill_end
    from flows
    where period_type = 'quarter'
    group by grain, entity_code, year

)

select
    y.grain,
    y.entity_code,
    y.period
from years as y
left join quarter_sums as q
    on
        y.grain = q.grain
        and y.entity_code = q.entity_code
        and y.year = q.year
where
    q.grain is null
    or y.high_skill_start <> q.high_skill_start
    or y.high_skill_end <> q.high_skill_end
    {%- for column in summed %}
    or y.{{ column }} <> q.{{ column }}
    {%- endfor %}
