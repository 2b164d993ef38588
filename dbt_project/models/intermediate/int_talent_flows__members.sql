{#-
  The quarters the talent flows account for (previous quarter's end → this quarter's end) and, per
  tracking entity, each member enterprise observed at either end — observed meaning it has a current
  version that quarter, as Table 1 counts it. Its observation says how it enters the entity's account:
    continuing   observed at both ends: its people's moves are classified one by one
    first_filing observed at the end only, never before (新纳入统计): its people come in as such
    refiling     observed at the end only, observed in some earlier quarter (重新报送)
    unreported   observed at the start only: missed or rejected this quarter (未报送退出)
  Year rows are sums of quarter rows (talent_flows), so only quarters are needed here.
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

first_reported as (

    select
        org_code,
        min(period_index) as first_index
    from reported
    group by org_code

),

ends as (

    select
        p.period,
        p.year,
        p.period_index - 1 as start_index,
        p.period_index as end_index,
        r.org_code,
        max(case when r.period_index = p.period_index - 1 then r.skilled_workers end) as skilled_workers_start,
        max(case when r.period_index = p.period_index then r.skilled_workers end) as skilled_workers_end,
        bool_or(r.period_index = p.period_index - 1) as is_observed_start,
        bool_or(r.period_index = p.period_index) as is_observed_end
    from periods as p
    inner join reported as r on r.period_index in (p.period_index - 1, p.period_index)
    group by p.period, p.year, p.period_index, r.org_code

),

observed as (

    select
        e.*,
        case
            when e.is_observed_start and e.is_observed_end then 'continuing'
            when e.is_observed_start then 'unreported'
            when f.first_index = e.end_index then 'first_filing'
            else 'refiling'
        end as observation
    from ends as e
    inner join first_reported as f on e.org_code = f.org_code

),

final as (

    select
        m.grain,
        m.grain_zh,
        m.entity_code,
        m.entity_name,
        m.group_org_code,
        m.sector,
        o.period,
        o.year,
        o.start_index,
        o.end_index,
        {{ period_from_index('o.start_index') }} as start_period,
        {{ period_end_date('o.start_index') }} as start_date_exclusive,
        {{ period_end_date('o.end_index') }} as end_date,
        o.org_code,
        o.observation,
        o.skilled_workers_start,
        o.skilled_workers_end
    from observed as o
    inner join membership as m on o.org_code = m.org_code

)

select * from final
