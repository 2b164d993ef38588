{{ config(meta={"dagster": {"ref": {"name": "talent_flows"}}}) }}

{#-
  talent_flows.share_end is Table 1's share (high_skill_share_tracking) for the same entity and period,
  always: both ways round, a row on one side only is a failure too, and a share on one side only.
-#}

with

flows as (

    select * from {{ ref('talent_flows') }}

),

table_1 as (

    select * from {{ ref('high_skill_share_tracking') }}

)

select
    coalesce(f.grain, t.grain) as grain,
    coalesce(f.entity_code, t.entity_code) as entity_code,
    coalesce(f.period_type, t.period_type) as period_type,
    coalesce(f.period, t.period) as period,
    f.share_end,
    t.high_skill_share
from flows as f
full outer join table_1 as t
    on
        f.grain = t.grain
        and f.entity_code = t.entity_code
        and f.period_type = t.period_type
        and f.period = t.period
where
    (t.grain is null and f.share_end is not null)
    or (t.grain is not null and f.grain is null)
    or (f.grain is not null and t.grain is not null and (
        (f.share_end is null) <> (t.high_skill_share is null)
        or abs(f.share_end - t.high_skill_share) > 1e-12
    ))
