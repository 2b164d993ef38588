{#-
  One row per enterprise × quarter: the current (latest accepted) version's single-row sheets,
  registry attributes, roster counts and the derived numbers the D06–D08/D12 checks need.
-#}

with

versions as (

    select * from {{ ref('int_submissions__versioned') }}
    where is_current and org_code is not null

),

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

profiles as (

    select * from (
        select
            *,
            cast(row_number() over (partition by submission_id order by source_row) as bigint) as row_rank
        from {{ ref('stg_raw__profiles') }}
    ) as ranked
    where row_rank = 1

),

funds as (

    select * from (
        select
            *,
            cast(row_number() over (partition by submission_id order by source_row) as bigint) as row_rank
        from {{ ref('stg_raw__funds') }}
    ) as ranked
    where row_rank = 1

),

governance as (

    select * from (
        select
            *,
            cast(row_number() over (partition by submission_id order by source_row) as bigint) as row_rank
        from {{ ref('stg_raw__governance') }}
    ) as ranked
    where row_rank = 1

),

incentives as (

    select * from (
        select
            *,
            cast(row_number() over (partition by submission_id order by source_row) as bigint) as row_rank
        from {{ ref('stg_raw__incentives') }}
    ) as ranked
    where row_rank = 1

),

innovation as (

    select * from (
        select
            *,
            cast(row_number() over (partition by submission_id order by source_row) as bigint) as row_rank
        from {{ ref('stg_raw__innovation') }}
    ) as ranked
    where row_rank = 1

),

roster as (

    select * from {{ ref('int_roster__current') }}

),

roster_counts as (

    select
        submission_id,
        cast(sum(case when skill_level = '高级工' then 1 else 0 end) as bigint) as roster_level3_count,
        cast(sum(case when skill_level = '技师' then 1 else 0 end) as bigint) as roster_level2_count,
        cast(sum(case when skill_level = '高级技师' then 1 else 0 end) as bigint) as roster_level1_count,
        cast(sum(
            case when is_key_trainee and not coalesce(has_training_account, false) then 1 else 0 end
        ) as bigint) as key_trainees_without_account
    from roster
    group by submission_id

),

joined as (

    select
        v.submission_id,
        v.org_code,
        coalesce(e.group_org_code, p.group_org_code) as group_org_code,
        coalesce(e.enterprise_name, p.enterprise_name) as enterprise_name,
        coalesce(e.sector, p.sector) as sector,
        coalesce(e.industry_code, p.industry_code) as industry_code,
        v.period,
        v.year,
        v.quarter,
        v.period_index,
        v.arrived_at,
        v.is_late,
        p.employees_total,
        p.frontline_workers,
        p.skilled_workers,
        p.level5_junior,
        p.level4_intermediate,
        p.level3_senior,
        p.level2_technician,
        p.level1_senior_technician,
        p.chief_technicians,
        p.key_trainees,
        p.training_accounts,
        p.submitted_on,
        f.payroll,
        f.fund_extracted,
        f.fund_spent,
        f.fund_spent_frontline,
        f.fund_spent_high_skill,
        f.fund_school_enterprise,
        f.innovation_rewards,
        g.has_leading_group,
        g.has_training_plan,
        g.has_talent_database,
        g.has_chief_technician_system,
        g.has_technician_study_system,
        g.has_reserve_echelon_system,
        g.in_manager_assessment,
        g.congress_report_date,
        i.avg_income_high_skill,
        i.avg_income_general_skill,
        i.avg_income_professional,
        i.model_workers_total,
        i.model_workers_high_skill,
        i.cadres_from_high_skill,
        i.party_members_from_high_skill,
        i.deputies_from_high_skill,
        n.suggestions,
        n.innovations,
        n.best_practices,
        n.new_records,
        n.participants,
        coalesce(r.roster_level3_count, 0) as roster_level3_count,
        coalesce(r.roster_level2_count, 0) as roster_level2_count,
        coalesce(r.roster_level1_count, 0) as roster_level1_count,
        coalesce(r.key_trainees_without_account, 0) as key_trainees_without_account
    from versions as v
    left join enterprises as e on v.org_code = e.org_code
    left join profiles as p on v.submission_id = p.submission_id
    left join funds as f on v.submission_id = f.submission_id
    left join governance as g on v.submission_id = g.submission_id
    left join incentives as i on v.submission_id = i.submission_id
    left join innovation as n on v.submission_id = n.submission_id
    left join roster_counts as r on v.submission_id = r.submission_id

),

derived as (

    select
        *,
        level5_junior + level4_intermediate + level3_senior + level2_technician
        + level1_senior_technician as level_sum,
        level2_technician + level1_senior_technician as technician_sum,
        level3_senior + level2_technician + level1_senior_technician as high_skill_total,
        cast(level3_senior + level2_technician + level1_senior_technician as double)
        / nullif(skilled_workers, 0) as high_skill_share,
        {{ ratio('fund_extracted', 'payroll') }} as fund_ratio_quarter,
        {{ ratio('payroll', 'employees_total') }} as payroll_per_employee,
        greatest(
            abs(roster_level3_count - level3_senior) / cast(greatest(level3_senior, 1) as double),
            abs(roster_level2_count - level2_technician) / cast(greatest(level2_technician, 1) as double),
            abs(roster_level1_count - level1_senior_technician)
            / cast(greatest(level1_senior_technician, 1) as double)
        ) as roster_count_gap_ratio,
        -- the year's rows read this version; it moves when a later quarter arrives, so no quarter's mart row carries it
        row_number() over (partition by org_code, year order by period_index desc) = 1 as is_year_end_submission,
        -- up to this quarter: a later quarter's file must not move an earlier quarter's row (point in time)
        count(*) over (
            partition by org_code, year order by period_index rows between unbounded preceding and current row
        ) as quarters_reported_in_year
    from joined

),

-- The enterprise's own history: the lower median payroll of its earlier quarters. Earlier only, so a quarter's
-- D08 verdict is the one it had when it was judged (a later file never moves it); a median, not the previous
-- quarter, so the quarter after a 元-for-万元 slip is not flagged as well; the lower median (an actual earlier
-- value) so that of two earlier quarters one slip (a 10⁴-fold larger payroll) is not averaged in.
history as (

    select
        d.org_code,
        d.period_index,
        percentile_disc(0.5) within group (order by cast(h.payroll as double)) as payroll_history_median,
        count(h.payroll) as history_quarters
    from derived as d
    inner join derived as h
        on
            d.org_code = h.org_code
            and h.period_index < d.period_index
            and h.payroll > 0
    group by d.org_code, d.period_index

),

final as (

    select
        d.*,
        case when h.history_quarters >= 2 then h.payroll_history_median end as payroll_history_median,
        case
            when d.payroll > 0 and h.history_quarters >= 2
                then greatest(
                    {{ ratio('d.payroll', 'h.payroll_history_median') }},
                    {{ ratio('h.payroll_history_median', 'd.payroll') }}
                )
        end as payroll_change_factor
    from derived as d
    left join history as h
        on
            d.org_code = h.org_code
            and d.period_index = h.period_index

)

select * from final
