{#-
  One row per period with the policy thresholds in force (ref_policy_thresholds, effective ranges).
  A new threshold key needs a line here; a new value or period range needs only a seed row.
  value is text in the seed (plan_name is a name); numbers pass through double, so '1' and '1.0' both read.
  A plan is its plan_name, baseline_year and target_year rows: a period outside every plan has all three NULL.
-#}

with

periods as (

    select * from {{ ref('int_periods') }}

),

thresholds as (

    select * from {{ ref('ref_policy_thresholds') }}

),

in_force as (

    select
        p.period,
        t.threshold_key,
        t.value
    from periods as p
    inner join thresholds as t
        on
            p.period_index >= {{ period_index('t.effective_from') }}
            and (
                t.effective_to is null
                or p.period_index <= {{ period_index('t.effective_to') }}
            )

),

pivoted as (

    select
        p.period,
        p.period_index,
        p.year,
        p.quarter,
        cast(max(case when f.threshold_key = 'fund_ratio_min' then f.value end) as double)
            as fund_ratio_min,
        cast(max(case when f.threshold_key = 'frontline_share_min' then f.value end) as double)
            as frontline_share_min,
        cast(cast(max(case when f.threshold_key = 'trainings_per_year_min' then f.value end) as double) as integer)
            as trainings_per_year_min,
        cast(max(case when f.threshold_key = 'coverage_min' then f.value end) as double)
            as coverage_min,
        cast(cast(max(case when f.threshold_key = 'congress_reports_min' then f.value end) as double) as integer)
            as congress_reports_min,
        max(case when f.threshold_key = 'plan_name' then f.value end) as plan_name,
        cast(cast(max(case when f.threshold_key = 'baseline_year' then f.value end) as double) as integer)
            as baseline_year,
        cast(cast(max(case when f.threshold_key = 'target_year' then f.value end) as double) as integer)
            as target_year,
        cast(max(case when f.threshold_key = 'status_lagging_ratio' then f.value end) as double)
            as status_lagging_ratio,
        cast(max(case when f.threshold_key = 'roster_count_tolerance' then f.value end) as double)
            as roster_count_tolerance,
        cast(max(case when f.threshold_key = 'unit_error_ratio_max' then f.value end) as double)
            as unit_error_ratio_max,
        cast(max(case when f.threshold_key = 'payroll_per_employee_min' then f.value end) as double)
            as payroll_per_employee_min,
        cast(max(case when f.threshold_key = 'payroll_per_employee_max' then f.value end) as double)
            as payroll_per_employee_max,
        cast(max(case when f.threshold_key = 'history_jump_factor' then f.value end) as double)
            as history_jump_factor,
        cast(max(case when f.threshold_key = 'equal_treatment_ratio_min' then f.value end) as double)
            as equal_treatment_ratio_min,
        cast(cast(max(case when f.threshold_key = 'deadline_day' then f.value end) as double) as integer)
            as deadline_day,
        cast(cast(max(case when f.threshold_key = 'disclosure_min_persons' then f.value end) as double) as integer)
            as disclosure_min_persons
    from periods as p
    left join in_force as f
        on p.period = f.period
    group by p.period, p.period_index, p.year, p.quarter

)

select * from pivoted
