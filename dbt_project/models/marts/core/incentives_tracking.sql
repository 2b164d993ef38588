{#-
  Table 5 (C09–C11) per enterprise × complete year: incomes and workforce from the year's latest
  current version, model workers / cadres / party members / deputies summed over the year.
  Disclosure control (macros/disclosure.sql): the verdicts are judged on the reported incomes; the
  published incomes, ratio and gaps are withheld when the high-skill or general-skill workers they
  average number fewer than disclosure_min_persons (in either year, for the year-on-year gap).
  C11 and the other sums rest on the year's quarters with a current version: fewer than 4 and verdict_caveat
  says so (C09 and C10 read the year-end version, whatever quarters are missing).
-#}
{%- set workforce_share_rounded = "round(workforce_high_skill_share, " ~ verdict_decimals() ~ ")" %}

with

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

periods as (

    select * from {{ ref('int_periods') }}
    where is_year_complete

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

year_sums as (

    select
        org_code,
        year,
        count(*) as quarters_reported,
        cast(sum(model_workers_total) as bigint) as model_workers_total,
        cast(sum(model_workers_high_skill) as bigint) as model_workers_high_skill,
        cast(sum(cadres_from_high_skill) as bigint) as cadres_from_high_skill,
        cast(sum(party_members_from_high_skill) as bigint) as party_members_from_high_skill,
        cast(sum(deputies_from_high_skill) as bigint) as deputies_from_high_skill
    from enterprise_quarters
    group by org_code, year

),

year_end as (

    select
        q.org_code,
        q.group_org_code,
        q.enterprise_name,
        q.year,
        {{ year_end_period('q.year') }} as period,
        q.period as source_period,
        q.avg_income_high_skill,
        q.avg_income_general_skill,
        q.avg_income_professional,
        q.avg_income_high_skill - q.avg_income_general_skill as income_gap,
        q.high_skill_total,
        q.skilled_workers - q.high_skill_total as general_skill_workers,
        q.employees_total
    from enterprise_quarters as q
    inner join periods as p on {{ year_end_period('q.year') }} = p.period
    where q.is_year_end_submission

),

combined as (

    select
        y.*,
        s.quarters_reported,
        s.model_workers_total,
        s.model_workers_high_skill,
        s.cadres_from_high_skill,
        s.party_members_from_high_skill,
        s.deputies_from_high_skill,
        y.avg_income_high_skill / nullif(y.avg_income_professional, 0) as equal_treatment_ratio,
        t.equal_treatment_ratio_min,
        t.disclosure_min_persons,
        least(y.high_skill_total, y.general_skill_workers) as income_persons,
        least(prev.high_skill_total, prev.general_skill_workers) as income_persons_prev_year,
        prev.income_gap as income_gap_prev_year,
        cast(s.model_workers_high_skill as double) / nullif(s.model_workers_total, 0)
            as model_worker_high_skill_share,
        cast(y.high_skill_total as double) / nullif(y.employees_total, 0) as workforce_high_skill_share
    from year_end as y
    inner join year_sums as s
        on
            y.org_code = s.org_code
            and y.year = s.year
    left join year_end as prev
        on
            y.org_code = prev.org_code
            and y.year - 1 = prev.year
    left join thresholds as t on y.period = t.period

),

judged as (

    select
        *,
        -- null when an income is missing: D05 asks for it, C09 cannot be judged without it
        {{ meets_min('equal_treatment_ratio', 'equal_treatment_ratio_min') }} as c09_ok,
        income_gap - income_gap_prev_year as income_gap_change,
        coalesce(income_gap >= income_gap_prev_year, true) as c10_ok,
        coalesce(
            model_workers_total = 0
            or {{ meets_min('model_worker_high_skill_share', workforce_share_rounded) }},
            true
        ) as c11_ok
    from combined

),

final as (

    select
        org_code,
        {{ org_code_display('org_code') }} as org_code_display,
        group_org_code,
        enterprise_name,
        year,
        period,
        source_period,
        quarters_reported,
        high_skill_total as high_skill_workers,
        general_skill_workers,
        {{ disclosed('avg_income_high_skill', 'income_persons', 'disclosure_min_persons') }} as avg_income_high_skill,
        {{ disclosed('avg_income_general_skill', 'income_persons', 'disclosure_min_persons') }}
            as avg_income_general_skill,
        avg_income_professional,
        {{ disclosed('equal_treatment_ratio', 'income_persons', 'disclosure_min_persons') }} as equal_treatment_ratio,
        equal_treatment_ratio_min,
        c09_ok,
        {{ disclosed('income_gap', 'income_persons', 'disclosure_min_persons') }} as income_gap,
        {{ disclosed('income_gap_prev_year', 'income_persons_prev_year', 'disclosure_min_persons') }}
            as income_gap_prev_year,
        {{ disclosed('income_gap_change', 'least(income_persons, income_persons_prev_year)',
                     'disclosure_min_persons') }} as income_gap_change,
        c10_ok,
        {{ withheld_reason('least(income_persons, coalesce(income_persons_prev_year, income_persons))',
                           'disclosure_min_persons', '高技能人才或一般技能人才') }} as incomes_withheld_reason,
        model_workers_total,
        model_workers_high_skill,
        model_worker_high_skill_share,
        workforce_high_skill_share,
        c11_ok,
        {{ verdict_caveat('quarters_reported', 4, "'enterprise'") }} as verdict_caveat,
        cadres_from_high_skill,
        party_members_from_high_skill,
        deputies_from_high_skill
    from judged

)

select * from final
