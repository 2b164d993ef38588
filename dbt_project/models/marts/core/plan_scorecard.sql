{#-
  The plan scorecard: one row per entity (enterprise, group, sector, system) and plan, from the latest
  quarter of Table 1 inside the plan. What leadership asks first: where it started (baseline), where it
  is (latest), where it must be (target), how far from the target and from the Beijing average, and the
  status. The baseline, target and status are Table 1's own columns (high_skill_share_tracking), never
  recomputed here.
-#}

with

share_tracking as (

    select * from {{ ref('high_skill_share_tracking') }}
    where period_type = 'quarter' and target_year is not null

),

latest as (

    select
        *,
        row_number() over (
            partition by grain, entity_code, target_year
            order by period desc
        ) as recency
    from share_tracking

),

final as (

    select
        grain,
        grain_zh,
        entity_code,
        case
            when grain in ('enterprise', 'group') then {{ org_code_display('entity_code') }}
            else entity_code
        end as entity_code_display,
        entity_name,
        group_org_code,
        sector,
        target_year,
        baseline_period,
        baseline_share,
        period as latest_period,
        enterprises_reported as latest_enterprises_reported,
        high_skill_share as latest_share,
        target_share,
        target_benchmark_status,
        high_skill_share - target_share as gap_to_target,
        beijing_average,
        benchmark_status,
        gap_to_beijing,
        required_gain_per_year,
        projected_target_year_share,
        status_code,
        status
    from latest
    where recency = 1

)

select * from final
