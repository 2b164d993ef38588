{#-
  Where the high-skill workforce comes from: per tracking entity and interval (quarter: previous quarter →
  this one; year: previous Q4 → this Q4), the high-skill headcount at the start, the flows in and out
  (int_talent_flows__persons says how each is classified), and the headcount at the end, over the
  enterprises that filed at both ends. start + in − out = end holds on every row by construction.

  The share change decomposed, over the same enterprises (H = high-skill headcount of the rosters,
  N = skilled workers of the profiles, 0 = start, 1 = end):
    share_end − share_start = (promoted + new + transfers in − out − retired − left) / N1   (the flows)
                            + H0 / N1 − H0 / N0                                    (the skilled workforce)
-#}

with

members as (

    select * from {{ ref('int_talent_flows__members') }}

),

persons as (

    select * from {{ ref('int_talent_flows__persons') }}

),

entities as (

    select
        grain,
        grain_zh,
        entity_code,
        entity_name,
        period_type,
        period,
        year,
        start_period,
        group_org_code,
        sector,
        cast(count(*) as bigint) as enterprises_compared,
        cast(sum(skilled_workers_start) as bigint) as skilled_workers_start,
        cast(sum(skilled_workers_end) as bigint) as skilled_workers_end
    from members
    group by
        grain, grain_zh, entity_code, entity_name, group_org_code, sector, period_type, period, year, start_period

),

counts as (

    select
        grain,
        entity_code,
        period_type,
        period,
        cast(sum(case when is_high_skill_at_start then 1 else 0 end) as bigint) as high_skill_start,
        cast(sum(case when flow = 'promoted_in' then 1 else 0 end) as bigint) as promoted_in,
        cast(sum(case when is_promoted_trained then 1 else 0 end) as bigint) as promoted_trained,
        cast(sum(case when flow = 'transfer_in' then 1 else 0 end) as bigint) as transfer_in,
        cast(sum(case when flow = 'new_in' then 1 else 0 end) as bigint) as new_in,
        cast(sum(case when flow = 'transfer_out' then 1 else 0 end) as bigint) as transfer_out,
        cast(sum(case when flow = 'retired' then 1 else 0 end) as bigint) as retired,
        cast(sum(case when flow = 'left' then 1 else 0 end) as bigint) as left_otherwise,
        cast(sum(case when is_high_skill_at_end then 1 else 0 end) as bigint) as high_skill_end,
        cast(sum(case when flow = 'upgraded' then 1 else 0 end) as bigint) as upgraded,
        cast(sum(case when is_upgrade_to_technician then 1 else 0 end) as bigint) as upgraded_to_technician
    from persons
    group by grain, entity_code, period_type, period

),

joined as (

    select
        e.*,
        coalesce(c.high_skill_start, 0) as high_skill_start,
        coalesce(c.promoted_in, 0) as promoted_in,
        coalesce(c.promoted_trained, 0) as promoted_trained,
        coalesce(c.transfer_in, 0) as transfer_in,
        coalesce(c.new_in, 0) as new_in,
        coalesce(c.transfer_out, 0) as transfer_out,
        coalesce(c.retired, 0) as retired,
        coalesce(c.left_otherwise, 0) as left_otherwise,
        coalesce(c.high_skill_end, 0) as high_skill_end,
        coalesce(c.upgraded, 0) as upgraded,
        coalesce(c.upgraded_to_technician, 0) as upgraded_to_technician
    from entities as e
    left join counts as c
        on
            e.grain = c.grain
            and e.entity_code = c.entity_code
            and e.period_type = c.period_type
            and e.period = c.period

),

final as (

    select
        grain,
        grain_zh,
        entity_code,
        entity_name,
        group_org_code,
        sector,
        period_type,
        period,
        year,
        start_period,
        enterprises_compared,
        high_skill_start,
        promoted_in,
        promoted_trained,
        transfer_in,
        new_in,
        promoted_in + transfer_in + new_in as in_total,
        transfer_out,
        retired,
        left_otherwise,
        transfer_out + retired + left_otherwise as out_total,
        high_skill_end,
        upgraded,
        upgraded_to_technician,
        upgraded - upgraded_to_technician as upgraded_within_technician,
        skilled_workers_start,
        skilled_workers_end,
        cast(high_skill_start as double) / nullif(skilled_workers_start, 0) as share_start,
        cast(high_skill_end as double) / nullif(skilled_workers_end, 0) as share_end,
        cast(high_skill_end as double) / nullif(skilled_workers_end, 0)
        - cast(high_skill_start as double) / nullif(skilled_workers_start, 0) as share_change,
        cast(promoted_in as double) / nullif(skilled_workers_end, 0) as share_from_promotion,
        cast(new_in as double) / nullif(skilled_workers_end, 0) as share_from_hiring,
        cast(transfer_in - transfer_out as double) / nullif(skilled_workers_end, 0) as share_from_transfers,
        cast(-(retired + left_otherwise) as double) / nullif(skilled_workers_end, 0) as share_from_departures,
        cast(high_skill_start as double) / nullif(skilled_workers_end, 0)
        - cast(high_skill_start as double) / nullif(skilled_workers_start, 0) as share_from_skilled_workers
    from joined

)

select * from final
