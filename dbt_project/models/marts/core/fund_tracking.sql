{#-
  Table 3 (C03, C04): quarter rows are year to date (quarters of the year up to this one that
  were reported; a missing quarter simply adds nothing, quarters_reported says so), year rows
  are the whole year (complete years only). Ratios are judged against the period's thresholds.
  enterprises_reported = enterprises with at least one quarter in the sums; a verdict resting on fewer
  enterprise-quarters than the window holds (quarters × enterprises) carries verdict_caveat.
-#}

with

entity_quarters as (

    select * from {{ ref('int_fund__entity_quarters') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

periods as (

    select * from {{ ref('int_periods') }}

),

year_to_date as (

    select
        cur.grain,
        cur.grain_zh,
        cur.entity_code,
        cur.entity_name,
        cur.group_org_code,
        cur.sector,
        'quarter' as period_type,
        cur.period,
        cur.year,
        cur.quarter as quarters_in_window,
        cast(sum(ytd.first_in_year_count) as bigint) as enterprises_reported,
        cast(sum(ytd.quarters_reported) as bigint) as quarters_reported,
        cast(sum(ytd.quarters_excluded_unit_error) as bigint) as quarters_excluded_unit_error,
        {{ to_money('sum(ytd.payroll)') }} as payroll,
        {{ to_money('sum(ytd.fund_extracted)') }} as fund_extracted,
        {{ to_money('sum(ytd.fund_spent)') }} as fund_spent,
        {{ to_money('sum(ytd.fund_spent_frontline)') }} as fund_spent_frontline,
        {{ to_money('sum(ytd.fund_spent_high_skill)') }} as fund_spent_high_skill,
        {{ to_money('sum(ytd.fund_school_enterprise)') }} as fund_school_enterprise
    from entity_quarters as cur
    inner join entity_quarters as ytd
        on
            cur.grain = ytd.grain
            and cur.entity_code = ytd.entity_code
            and cur.year = ytd.year
            and cur.quarter >= ytd.quarter
    group by
        cur.grain, cur.grain_zh, cur.entity_code, cur.entity_name, cur.group_org_code, cur.sector,
        cur.period, cur.year, cur.quarter

),

whole_year as (

    select
        q.grain,
        q.grain_zh,
        q.entity_code,
        q.entity_name,
        q.group_org_code,
        q.sector,
        'year' as period_type,
        {{ year_end_period('q.year') }} as period,
        q.year,
        4 as quarters_in_window,
        cast(sum(q.first_in_year_count) as bigint) as enterprises_reported,
        cast(sum(q.quarters_reported) as bigint) as quarters_reported,
        cast(sum(q.quarters_excluded_unit_error) as bigint) as quarters_excluded_unit_error,
        {{ to_money('sum(q.payroll)') }} as payroll,
        {{ to_money('sum(q.fund_extracted)') }} as fund_extracted,
        {{ to_money('sum(q.fund_spent)') }} as fund_spent,
        {{ to_money('sum(q.fund_spent_frontline)') }} as fund_spent_frontline,
        {{ to_money('sum(q.fund_spent_high_skill)') }} as fund_spent_high_skill,
        {{ to_money('sum(q.fund_school_enterprise)') }} as fund_school_enterprise
    from entity_quarters as q
    inner join periods as p on {{ year_end_period('q.year') }} = p.period
    where p.is_year_complete
    group by q.grain, q.grain_zh, q.entity_code, q.entity_name, q.group_org_code, q.sector, q.year

),

unioned as (

    select * from year_to_date
    union all
    select * from whole_year

),

final as (

    select
        u.grain,
        u.grain_zh,
        u.entity_code,
        u.entity_name,
        u.group_org_code,
        u.sector,
        u.period_type,
        u.period,
        u.year,
        case u.period_type
            when 'quarter' then {{ basis_label('quarter_to_date') }}
            else {{ basis_label('year_sum') }}
        end as basis,
        u.enterprises_reported,
        u.quarters_reported,
        u.quarters_excluded_unit_error,
        u.payroll,
        u.fund_extracted,
        u.fund_spent,
        u.fund_spent_frontline,
        u.fund_spent_high_skill,
        u.fund_school_enterprise,
        {{ ratio('u.fund_extracted', 'u.payroll') }} as extraction_ratio,
        t.fund_ratio_min,
        {{ ratio('u.fund_spent_frontline', 'u.fund_spent') }} as frontline_share,
        t.frontline_share_min,
        {{ meets_min(ratio('u.fund_extracted', 'u.payroll'), 't.fund_ratio_min') }} as c03_ok,
        {{ meets_min(ratio('u.fund_spent_frontline', 'u.fund_spent'), 't.frontline_share_min') }} as c04_ok,
        {{ verdict_caveat('u.quarters_reported', 'u.quarters_in_window * u.enterprises_reported', 'u.grain') }} as verdict_caveat
    from unioned as u
    left join thresholds as t on u.period = t.period

)

select * from final
