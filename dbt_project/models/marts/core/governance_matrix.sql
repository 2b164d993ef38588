{#-
  Table 4 (C06–C08, C12, C13) per enterprise: quarter rows show the quarter's current version,
  year rows (complete years) the year's latest current version. congress_reports_in_year counts
  the quarters of the year up to this one whose report date falls in the year; C07 asks for at
  least congress_reports_min of them (ref_policy_thresholds, in force for the row's period).
  A missing quarter may hide a report, so C07 rests on the quarters counted (quarters_reported): fewer
  than the year holds up to the row (the quarter's number; 4 for a year row) and verdict_caveat says so.
  The other verdicts read the row's own version, not the quarters.
-#}

with

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

periods as (

    select * from {{ ref('int_periods') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

rows_wanted as (

    select
        submission_id,
        'quarter' as period_type,
        period,
        period_index
    from enterprise_quarters
    union all
    select
        q.submission_id,
        'year' as period_type,
        {{ year_end_period('q.year') }} as period,
        q.year * 4 + 3 as period_index
    from enterprise_quarters as q
    inner join periods as p on {{ year_end_period('q.year') }} = p.period
    where q.is_year_end_submission and p.is_year_complete

),

base as (

    select
        q.*,
        r.period_type,
        r.period as row_period,
        r.period_index as row_period_index,
        -- the quarters of the year up to the row: its quarter's number, 4 for a year row
        r.period_index - q.year * 4 + 1 as quarters_in_window
    from rows_wanted as r
    inner join enterprise_quarters as q on r.submission_id = q.submission_id

),

congress as (

    select
        b.org_code,
        b.period_type,
        b.row_period,
        cast(sum(
            case
                when cast(extract(year from c.congress_report_date) as integer) = b.year then 1
                else 0
            end
        ) as bigint) as congress_reports_in_year,
        count(*) as quarters_reported
    from base as b
    inner join enterprise_quarters as c
        on
            b.org_code = c.org_code
            and b.year = c.year
            and b.row_period_index >= c.period_index
    group by b.org_code, b.period_type, b.row_period

),

final as (

    select
        b.org_code,
        {{ org_code_display('b.org_code') }} as org_code_display,
        b.group_org_code,
        b.enterprise_name,
        b.period_type,
        b.row_period as period,
        b.year,
        b.period as source_period,
        b.submission_id,
        b.has_leading_group,
        b.has_training_plan,
        b.has_talent_database,
        coalesce(b.has_leading_group and b.has_training_plan and b.has_talent_database, false) as c06_ok,
        c.congress_reports_in_year,
        t.congress_reports_min,
        c.congress_reports_in_year >= t.congress_reports_min as c07_ok,
        c.quarters_reported,
        {{ verdict_caveat('c.quarters_reported', 'b.quarters_in_window', "'enterprise'") }} as verdict_caveat,
        b.has_chief_technician_system,
        b.technician_sum,
        b.chief_technicians,
        coalesce(
            b.has_chief_technician_system and (b.technician_sum = 0 or b.chief_technicians >= 1), false
        ) as c08_ok,
        b.key_trainees_without_account,
        b.key_trainees_without_account = 0 as c12_ok,
        b.has_technician_study_system,
        b.has_reserve_echelon_system,
        coalesce(b.has_technician_study_system and b.has_reserve_echelon_system, false) as c13_ok,
        b.in_manager_assessment
    from base as b
    left join congress as c
        on
            b.org_code = c.org_code
            and b.period_type = c.period_type
            and b.row_period = c.row_period
    left join thresholds as t
        on b.row_period = t.period

)

select * from final
