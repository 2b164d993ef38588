{#-
  Quarterly fund amounts per tracking entity (not yet year to date). Enterprise-quarters that D08
  flags as a probable 元/万元 mix-up are left out of the sums and counted in
  quarters_excluded_unit_error: fund_ratio_quarter above unit_error_ratio_max, payroll per employee
  outside its plausible range, or payroll far from the enterprise's own median (a clerk who types
  元 usually does so in every cell, so the ratio alone rarely shows it). Such a quarter is not counted
  as reported. first_in_year_count counts the enterprises whose first included quarter of the year this
  is: summed over the year to date it is how many enterprises the year-to-date sums cover.
-#}

with

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

membership as (

    select * from {{ ref('int_entity_membership') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

flagged as (

    select
        q.*,
        coalesce(
            q.fund_ratio_quarter > t.unit_error_ratio_max
            or q.payroll_per_employee > t.payroll_per_employee_max
            or q.payroll_per_employee < t.payroll_per_employee_min
            or q.payroll_change_factor > t.history_jump_factor,
            false
        ) as is_unit_error
    from enterprise_quarters as q
    left join thresholds as t on q.period = t.period

),

ranked as (

    select
        *,
        not is_unit_error and row_number() over (
            partition by org_code, year, is_unit_error order by quarter
        ) = 1 as is_first_in_year
    from flagged

),

final as (

    select
        m.grain,
        m.grain_zh,
        m.entity_code,
        m.entity_name,
        m.group_org_code,
        m.sector,
        f.period,
        f.year,
        f.quarter,
        f.period_index,
        cast(sum(case when f.is_unit_error then 0 else 1 end) as bigint) as quarters_reported,
        cast(sum(case when f.is_first_in_year then 1 else 0 end) as bigint) as first_in_year_count,
        cast(sum(case when f.is_unit_error then 1 else 0 end) as bigint) as quarters_excluded_unit_error,
        {{ to_money('sum(case when not f.is_unit_error then f.payroll end)') }} as payroll,
        {{ to_money('sum(case when not f.is_unit_error then f.fund_extracted end)') }} as fund_extracted,
        {{ to_money('sum(case when not f.is_unit_error then f.fund_spent end)') }} as fund_spent,
        {{ to_money('sum(case when not f.is_unit_error then f.fund_spent_frontline end)') }} as fund_spent_frontline,
        {{ to_money('sum(case when not f.is_unit_error then f.fund_spent_high_skill end)') }} as fund_spent_high_skill,
        {{ to_money('sum(case when not f.is_unit_error then f.fund_school_enterprise end)') }} as fund_school_enterprise
    from ranked as f
    inner join membership as m on f.org_code = m.org_code
    group by
        m.grain, m.grain_zh, m.entity_code, m.entity_name, m.group_org_code, m.sector,
        f.period, f.year, f.quarter, f.period_index

)

select * from final
