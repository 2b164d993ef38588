{#-
  Table 1 (C05): high-skill share against the Beijing average and the trajectory from the
  baseline to the target (benchmark of target_year, reached by target_year Q4).

  Baseline = the entity's first reported quarter at or after the plan's baseline_year, so a late
  joiner (first quarter 2008Q3) is tracked from its own first quarter, not left without a status.
  Point in time: a row's verdict reads only its own and earlier quarters. The baseline quarter itself
  (every entity's first quarter in the plan) has no trajectory to draw, whatever quarters follow: it is
  judged against the Beijing average — at or above it 进度正常, below it no_baseline 无基期, with the gap
  shown. Later quarters follow the line from the baseline.
  A quarter outside every plan is tracked (shares, gap) with the plan columns NULL and status no_plan
  无规划期; a year without a Beijing-average row (or a target year without one) no_benchmark 无基准.
  The projection is the pace per year since the baseline carried to the target year, clamped to 0–100%.
  c05_ok is the verdict the C05 suite asserts (NULL = not judged); labels come from ref_statuses.
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

statuses as (

    select * from {{ ref('ref_statuses') }}
    where domain = 'trajectory'

),

plans as (

    select distinct
        baseline_year,
        target_year
    from thresholds
    where baseline_year is not null

),

-- per entity and plan: its first reported quarter in the plan, and how many quarters it has there
baselines as (

    select
        grain,
        entity_code,
        baseline_year,
        period as baseline_period,
        period_index as baseline_index,
        high_skill_share as baseline_share
    from (
        select
            ep.grain,
            ep.entity_code,
            ep.period,
            ep.period_index,
            ep.high_skill_share,
            pl.baseline_year,
            cast(row_number() over (
                partition by ep.grain, ep.entity_code, pl.baseline_year order by ep.period_index
            ) as bigint) as period_rank
        from entity_periods as ep
        inner join plans as pl
            on
                ep.year >= pl.baseline_year
                and (pl.target_year is null or ep.year <= pl.target_year)
        where ep.period_type = 'quarter'
    ) as ranked
    where period_rank = 1

),

with_references as (

    select
        ep.*,
        b.high_skill_share as beijing_average,
        b.status as benchmark_status,
        b.source as benchmark_source,
        t.plan_name,
        t.baseline_year,
        t.target_year,
        t.status_lagging_ratio,
        bl.baseline_period,
        bl.baseline_index,
        bl.baseline_share,
        -- a line needs two points, the baseline and this row: never a count of quarters still to come
        coalesce(ep.period_index > bl.baseline_index, false) as has_trajectory,
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
            and t.baseline_year = bl.baseline_year

),

with_trajectory as (

    select
        *,
        case
            when has_trajectory and years_elapsed + years_remaining > 0
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

classified as (

    select
        *,
        case
            when baseline_year is null then 'no_plan'
            when high_skill_share is null then null
            when target_share is null then 'no_benchmark'
            -- §二 “达到北京市平均水平之上”: above the average, not equal to it
            when high_skill_share > target_share then 'achieved'
            when trajectory_share is not null
                then
                    case
                        when high_skill_share >= trajectory_share then 'on_track'
                        when high_skill_share >= status_lagging_ratio * trajectory_share then 'lagging'
                        else 'seriously_lagging'
                    end
            when baseline_period is null then null
            when beijing_average is null then 'no_benchmark'
            -- the baseline quarter: no line to follow yet, so the Beijing average is the line
            when high_skill_share >= beijing_average then 'on_track'
            else 'no_baseline'
        end as status_code
    from with_trajectory

),

final as (

    select
        c.grain,
        c.grain_zh,
        c.entity_code,
        c.entity_name,
        c.group_org_code,
        c.sector,
        c.period_type,
        c.period,
        c.year,
        case c.basis_code
            when 'quarter' then {{ basis_label('quarter') }}
            else {{ basis_label('year_latest') }}
        end as basis,
        c.enterprises_reported,
        c.skilled_workers,
        c.high_skill_total,
        c.high_skill_share,
        c.beijing_average,
        c.benchmark_status,
        c.benchmark_source,
        c.high_skill_share - c.beijing_average as gap_to_beijing,
        c.baseline_period,
        c.baseline_share,
        c.has_trajectory,
        c.plan_name,
        c.target_year,
        c.target_share,
        c.target_benchmark_status,
        c.years_elapsed,
        c.years_remaining,
        c.trajectory_share,
        c.current_pace_per_year,
        c.required_gain_per_year,
        case
            when c.baseline_year is null then null
            when c.current_pace_per_year is null then c.high_skill_share
            when c.high_skill_share + c.current_pace_per_year * c.years_remaining > 1 then 1.0
            when c.high_skill_share + c.current_pace_per_year * c.years_remaining < 0 then 0.0
            else c.high_skill_share + c.current_pace_per_year * c.years_remaining
        end as projected_target_year_share,
        c.status_code,
        s.label_zh as status,
        case
            when c.status_code not in ('no_plan', 'no_benchmark') then c.status_code in ('achieved', 'on_track')
        end as c05_ok
    from classified as c
    left join statuses as s on c.status_code = s.status_code

)

select * from final
