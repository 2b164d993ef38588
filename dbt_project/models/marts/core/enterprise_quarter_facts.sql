with

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

final as (

    select
        submission_id,
        org_code,
        group_org_code,
        enterprise_name,
        sector,
        industry_code,
        period,
        year,
        quarter,
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
        quarters_reported_in_year
    from enterprise_quarters

)

select * from final
