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
        q.submission_id,
        q.org_code,
        {{ org_code_display('q.org_code') }} as org_code_display,
        q.group_org_code,
        q.enterprise_name,
        q.sector,
        q.industry_code,
        q.period,
        q.year,
        q.quarter,
        q.employees_total,
        q.frontline_workers,
        q.skilled_workers,
        q.level5_junior,
        q.level4_intermediate,
        q.level3_senior,
        q.level2_technician,
        q.level1_senior_technician,
        q.chief_technicians,
        q.key_trainees,
        q.training_accounts,
        q.submitted_on,
        q.payroll,
        q.fund_extracted,
        q.fund_spent,
        q.fund_spent_frontline,
        q.fund_spent_high_skill,
        q.fund_school_enterprise,
        q.innovation_rewards,
        q.has_leading_group,
        q.has_training_plan,
        q.has_talent_database,
        q.has_chief_technician_system,
        q.has_technician_study_system,
        q.has_reserve_echelon_system,
        q.in_manager_assessment,
        q.congress_report_date,
        {{ disclosed(
            'q.avg_income_high_skill', 'least(q.high_skill_total, q.skilled_workers - q.high_skill_total)', 't.disclosure_min_persons'
        ) }}
            as avg_income_high_skill,
        {{ disclosed(
            'q.avg_income_general_skill', 'least(q.high_skill_total, q.skilled_workers - q.high_skill_total)', 't.disclosure_min_persons'
        ) }}
            as avg_income_general_skill,
        q.avg_income_professional,
        {{ withheld_reason(
            'least(q.high_skill_total, q.skilled_workers - q.high_skill_total)', 't.disclosure_min_persons', '高技能人才或一般技能人才'
        ) }}
            as incomes_withheld_reason,
        q.model_workers_total,
        q.model_workers_high_skill,
        q.cadres_from_high_skill,
        q.party_members_from_high_skill,
        q.deputies_from_high_skill,
        q.suggestions,
        q.innovations,
        q.best_practices,
        q.new_records,
        q.participants,
        q.level_sum,
        q.technician_sum,
        q.high_skill_total,
        q.high_skill_share,
        q.fund_ratio_quarter,
        q.payroll_per_employee,
        q.payroll_history_median,
        q.payroll_change_factor,
        q.roster_level3_count,
        q.roster_level2_count,
        q.roster_level1_count,
        q.roster_count_gap_ratio,
        q.key_trainees_without_account,
        q.quarters_reported_in_year,
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
