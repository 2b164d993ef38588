{#-
  The intervals the talent flows compare — quarter: the previous quarter's roster → this one's; year: the
  previous year's Q4 → this year's Q4 — and, per tracking entity, the enterprises compared in each: those
  with a current version at both ends. A flow needs both rosters, so an enterprise that did not file (or
  was rejected) at either end is left out of that interval at every grain, on both sides alike.
-#}

with

periods as (

    select * from {{ ref('int_periods') }}
    where is_within_data_horizon

),

reported as (

    select * from {{ ref('int_enterprise_quarters') }}

),

membership as (

    select * from {{ ref('int_entity_membership') }}

),

intervals as (

    select
        'quarter' as period_type,
        period,
        year,
        period_index - 1 as start_index,
        period_index as end_index
    from periods
    union all
    select
        'year' as period_type,
        period,
        year,
        period_index - 4 as start_index,
        period_index as end_index
    from periods
    where quarter = 4

),

compared as (

    select
        i.period_type,
        i.period,
        i.year,
        i.start_index,
        i.end_index,
        s.org_code,
        s.skilled_workers as skilled_workers_start,
        e.skilled_workers as skilled_workers_end
    from intervals as i
    inner join reported as s on i.start_index = s.period_index
    inner join reported as e
        on
            s.org_code = e.org_code
            and i.end_index = e.period_index

),

final as (

    select
        m.grain,
        m.grain_zh,
        m.entity_code,
        m.entity_name,
        m.group_org_code,
        m.sector,
        c.period_type,
        c.period,
        c.year,
        c.start_index,
        c.end_index,
        {{ period_from_index('c.start_index') }} as start_period,
        {{ period_end_date('c.start_index') }} as start_date_exclusive,
        {{ period_end_date('c.end_index') }} as end_date,
        c.org_code,
        c.skilled_workers_start,
        c.skilled_workers_end
    from compared as c
    inner join membership as m on c.org_code = m.org_code

)

select * from final
