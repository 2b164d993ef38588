{#-
  Table 2 (C02): high-skill headcount on the roster and how many of them were trained at least
  trainings_per_year_min times in the calendar year up to the period end. Year rows use each
  enterprise's year-end roster and the whole calendar year. skill_level 全部 = all three levels.
-#}

with

status as (

    select * from {{ ref('int_roster_training_status') }}

),

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

membership as (

    select * from {{ ref('int_entity_membership') }}

),

periods as (

    select * from {{ ref('int_periods') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

skill_levels as (

    select skill_level from {{ ref('ref_skill_levels') }}
    where is_high_skill
    union all
    select '全部' as skill_level

),

-- the enterprise versions each row is built from: every current quarter, and the year-end one
enterprise_periods as (

    select
        q.submission_id,
        q.org_code,
        'quarter' as period_type,
        q.period,
        q.year,
        false as whole_year
    from enterprise_quarters as q
    union all
    select
        q.submission_id,
        q.org_code,
        'year' as period_type,
        {{ year_end_period('q.year') }} as period,
        q.year,
        true as whole_year
    from enterprise_quarters as q
    inner join periods as p on {{ year_end_period('q.year') }} = p.period
    where q.is_year_end_submission and p.is_year_complete

),

persons as (

    select
        ep.org_code,
        ep.period_type,
        ep.period,
        s.skill_level,
        case
            when ep.whole_year then s.trainings_in_year
            else s.trainings_to_period_end
        end >= t.trainings_per_year_min as is_trained
    from enterprise_periods as ep
    inner join status as s on ep.submission_id = s.submission_id
    left join thresholds as t on ep.period = t.period

),

persons_by_level as (

    select
        org_code,
        period_type,
        period,
        skill_level,
        is_trained
    from persons
    union all
    select
        org_code,
        period_type,
        period,
        '全部' as skill_level,
        is_trained
    from persons

),

scaffold as (

    select
        m.grain,
        m.grain_zh,
        m.entity_code,
        m.entity_name,
        m.group_org_code,
        m.sector,
        ep.org_code,
        ep.period_type,
        ep.period,
        ep.year,
        l.skill_level
    from enterprise_periods as ep
    inner join membership as m on ep.org_code = m.org_code
    cross join skill_levels as l

),

person_counts as (

    select
        org_code,
        period_type,
        period,
        skill_level,
        count(*) as headcount,
        cast(sum(case when is_trained then 1 else 0 end) as bigint) as trained
    from persons_by_level
    group by org_code, period_type, period, skill_level

),

aggregated as (

    select
        s.grain,
        s.grain_zh,
        s.entity_code,
        s.entity_name,
        s.group_org_code,
        s.sector,
        s.period_type,
        s.period,
        s.year,
        s.skill_level,
        count(distinct s.org_code) as enterprises_reported,
        coalesce(cast(sum(c.headcount) as bigint), 0) as headcount,
        coalesce(cast(sum(c.trained) as bigint), 0) as trained
    from scaffold as s
    left join person_counts as c
        on
            s.org_code = c.org_code
            and s.period_type = c.period_type
            and s.period = c.period
            and s.skill_level = c.skill_level
    group by
        s.grain, s.grain_zh, s.entity_code, s.entity_name, s.group_org_code, s.sector,
        s.period_type, s.period, s.year, s.skill_level

),

final as (

    select
        a.*,
        case a.period_type
            when 'quarter' then {{ basis_label('quarter') }}
            else {{ basis_label('year_latest') }}
        end as basis,
        cast(a.trained as double) / nullif(a.headcount, 0) as coverage,
        t.coverage_min,
        {{ meets_min('cast(a.trained as double) / nullif(a.headcount, 0)', 't.coverage_min') }} as c02_ok,
        t.trainings_per_year_min
    from aggregated as a
    left join thresholds as t on a.period = t.period

)

select * from final
