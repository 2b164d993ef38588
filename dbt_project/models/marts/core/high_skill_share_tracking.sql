{#-
  Table 1 (C05): high-skill share against the Beijing average and the trajectory from the
  baseline (entity's first period in baseline_year) to the target (benchmark of target_year,
  reached by target_year Q4).
-#}

with

entity_periods as (

    select * from {{ ref('int_high_skill_share__entity_periods') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

benchmark as (

    select * from {{ ref('ref_beijing_benchmark') }}

),

baselines as (

    select
        grain,
        entity_code,
        year,
        period as baseline_period,
        period_index as baseline_index,
        high_skill_share as baseline_share
    from (
        select
            *,
            row_number() over (partition by grain, entity_code, year order by period_index) as period_rank
        from entity_periods
        where period_type = 'quarter'
    ) as ranked
    where period_rank = 1

),

with_references as (

    select
        ep.*,
        b.high_skill_share as beijing_average,
        b.status as benchmark_status,
        b.source as benchmark_source,
        t.baseline_year,
        t.target_year,
        t.status_lagging_ratio,
        bl.baseline_period,
        bl.baseline_index,
        bl.baseline_share,
        tb.high_skill_share as target_share,
        tb.status as target_benchmark_status,
        case
            when bl.baseline_index is not null
                then cast(ep.period_index - bl.baseline_index as double) / 4
        end as years_elapsed,
        case
            when t.target_year is not null
                then cast(t.target_year * 4 + 3 - ep.period_index as double) / 4
        end as years_remaining
    from entity_periods as ep
    left join thresholds as t on ep.period = t.period
    left join benchmark as b on ep.year = b.year
    left join benchmark as tb on t.target_year = tb.year
    left join baselines as bl
        on
            ep.grain = bl.grain
            and ep.entity_code = bl.entity_code
            and t.baseline_year = bl.year

),

with_trajectory as (

    select
        *,
        case
            when years_elapsed + years_remaining > 0
                then
                    baseline_share
                    + (target_share - baseline_share) * years_elapsed / (years_elapsed + years_remaining)
        end as trajectory_share,
        case
            when years_elapsed > 0 then (high_skill_share - baseline_share) / years_elapsed
        end as current_pace_per_year,
        case
            when years_remaining > 0 then (target_share - high_skill_share) / years_remaining
        end as required_gain_per_year
    from with_references

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
        enterprises_reported,
        skilled_workers,
        high_skill_total,
        high_skill_share,
        beijing_average,
        benchmark_status,
        benchmark_source,
        high_skill_share - beijing_average as gap_to_beijing,
        baseline_period,
        baseline_share,
        target_year,
        target_share,
        target_benchmark_status,
        years_elapsed,
        years_remaining,
        trajectory_share,
        current_pace_per_year,
        required_gain_per_year,
        case
            when current_pace_per_year is null then high_skill_share
            else high_skill_share + current_pace_per_year * years_remaining
        end as projected_target_year_share,
        status_code,
        case status_code
            when 'achieved' then '已达标'
            when 'on_track' then '进度正常'
            when 'lagging' then '滞后'
            when 'seriously_lagging' then '严重滞后'
        end as status
    from (
        select
            *,
            case
                when high_skill_share is null or target_share is null then null
                -- §二 “达到北京市平均水平之上”: above the average, not equal to it
                when high_skill_share > target_share then 'achieved'
                when trajectory_share is null then null
                when high_skill_share >= trajectory_share then 'on_track'
                when high_skill_share >= status_lagging_ratio * trajectory_share then 'lagging'
                else 'seriously_lagging'
            end as status_code
        from with_trajectory
    ) as classified

)

select * from final
