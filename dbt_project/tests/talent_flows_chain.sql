{#-
  Stock-flow accounts chain (talent_flows): a row starts where the entity's previous row of the same
  period type ended (quarter: the previous quarter; year: the previous year), or at 0 when there is no
  previous row (nothing of the entity was observed then). Returns the rows that break the chain.
-#}

with

flows as (

    select * from {{ ref('talent_flows') }}

)

select
    f.grain,
    f.entity_code,
    f.period_type,
    f.period,
    f.high_skill_start,
    p.high_skill_end as previous_high_skill_end
from flows as f
left join flows as p
    on
        f.grain = p.grain
        and f.entity_code = p.entity_code
        and f.period_type = p.period_type
        and f.start_period = p.period
where f.high_skill_start <> coalesce(p.high_skill_end, 0)
