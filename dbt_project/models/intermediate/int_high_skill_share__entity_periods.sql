{#-
  Skilled-worker and high-skill counts per tracking entity and period. Quarter rows sum the
  enterprises with a current version that quarter; year rows ('<year>Q4', complete years only)
  sum each enterprise's latest current version of the year.
-#}

with

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}

),

membership as (

    select * from {{ ref('int_entity_membership') }}

),

periods as (

    select * from {{ ref('int_periods') }}

),

quarter_rows as (

    select
        m.grain,
        m.grain_zh,
        m.entity_code,
        m.entity_name,
        m.group_org_code,
        m.sector,
        'quarter' as period_type,
        'quarter' as basis_code,
        q.period,
        q.year,
        q.period_index,
        count(*) as enterprises_reported,
        cast(sum(q.skilled_workers) as bigint) as skilled_workers,
        cast(sum(q.high_skill_total) as bigint) as high_skill_total
    from enterprise_quarters as q
    inner join membership as m on q.org_code = m.org_code
    group by
        m.grain, m.grain_zh, m.entity_code, m.entity_name, m.group_org_code, m.sector,
        q.period, q.year, q.period_index

),

year_rows as (

    select
        m.grain,
        m.grain_zh,
        m.entity_code,
        m.entity_name,
        m.group_org_code,
        m.sector,
        'year' as period_type,
        'year_latest' as basis_code,
        {{ year_end_period('q.year') }} as period,
        q.year,
        q.year * 4 + 3 as period_index,
        count(*) as enterprises_reported,
        cast(sum(q.skilled_workers) as bigint) as skilled_workers,
        cast(sum(q.high_skill_total) as bigint) as high_skill_total
    from enterprise_quarters as q
    inner join membership as m on q.org_code = m.org_code
    inner join periods as p on {{ year_end_period('q.year') }} = p.period
    where q.is_year_end_submission and p.is_year_complete
    group by
        m.grain, m.grain_zh, m.entity_code, m.entity_name, m.group_org_code, m.sector,
        q.year

),

unioned as (

    select * from quarter_rows
    union all
    select * from year_rows

),

final as (

    select
        *,
        cast(high_skill_total as double) / nullif(skilled_workers, 0) as high_skill_share
    from unioned

)

select * from final
