{#-
  One row per enterprise × quarter (current version) with the numbers the D06–D08/D12 checks read,
  and the D08/D12 verdicts: each limit of the period (int_thresholds_by_period) beside the value it
  judges, so a flag shows both and GX only asserts the verdict.
-#}

with

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

final as (

    select
        submission_id,
        org_code,
        group_org_code,
        enterprise_name,
        sector,
        industry_code,
        q.period,
        q.year,
        q.quarter,
        employees_total,
        frontline_workers,
        skilled_workers,
        level5_junior,
        level4_intermediate,
        level3_senior,
        level2_technician,
        level1_senior_technician,
        chief_technicians,
        key_trainees,
        training_accounts,
        submitted_on,
        payroll,
        fund_extracted,
        fund_spent,
        fund_spent_frontline,
        fund_spent_high_skill,
        fund_school_enterprise,
        innovation_rewards,
        has_leading_group,
        has_training_plan,
        has_talent_database,
        has_chief_technician_system,
        has_technician_study_system,
        has_reserve_echelon_system,
        in_manager_assessment,
        congress_report_date,
        avg_income_high_skill,
        avg_income_general_skill,
        avg_income_professional,
        model_workers_total,
        model_workers_high_skill,
        cadres_from_high_skill,
        party_members_from_high_skill,
        deputies_from_high_skill,
        suggestions,
        innovations,
        best_practices,
        new_records,
        participants,
        level_sum,
        technician_sum,
        high_skill_total,
        high_skill_share,
        fund_ratio_quarter,
        payroll_per_employee,
        payroll_history_median,
        payroll_change_factor,
        roster_level3_count,
        roster_level2_count,
        roster_level1_count,
        roster_count_gap_ratio,
        key_trainees_without_account,
        is_year_end_submission,
        quarters_reported_in_year,
        t.unit_error_ratio_max,
        {{ meets_max('q.fund_ratio_quarter', 't.unit_error_ratio_max') }} as d08_fund_ratio_ok,
        t.payroll_per_employee_min,
        t.payroll_per_employee_max,
        {{ meets_min('q.payroll_per_employee', 't.payroll_per_employee_min') }}
        and {{ meets_max('q.payroll_per_employee', 't.payroll_per_employee_max') }} as d08_payroll_per_employee_ok,
        t.history_jump_factor,
        {{ meets_max('q.payroll_change_factor', 't.history_jump_factor') }} as d08_payroll_history_ok,
        t.roster_count_tolerance,
        {{ meets_max('q.roster_count_gap_ratio', 't.roster_count_tolerance') }} as d12_ok
    from enterprise_quarters as q
    left join thresholds as t on q.period = t.period

)

select * from final
