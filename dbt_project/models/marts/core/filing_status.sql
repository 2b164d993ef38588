{#-
  Every registry-expected enterprise × period from active_from to min(active_to, filing horizon),
  plus files from enterprises the registry does not expect (status_code unexpected).
  Late / on time is judged on the first accepted version: a later correction does not make a
  filing late. Status labels come from ref_statuses (domain filing).
-#}

with

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

periods as (

    select * from {{ ref('int_periods') }}

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

versions as (

    select * from {{ ref('int_submissions__versioned') }}
    where org_code is not null

),

findings as (

    select * from {{ ref('stg_raw__findings') }}

),

statuses as (

    select * from {{ ref('ref_statuses') }}
    where domain = 'filing'

),

expected as (

    select
        e.org_code,
        p.period,
        p.period_index
    from enterprises as e
    inner join periods as p
        on
            e.active_from_index <= p.period_index
            and (e.active_to_index is null or e.active_to_index >= p.period_index)

),

first_accepted as (

    select
        org_code,
        period,
        is_late,
        arrived_at,
        cast(row_number() over (partition by org_code, period order by version_no) as bigint) as accepted_rank
    from versions
    where outcome = 'accepted'

),

received as (

    select
        v.org_code,
        v.period,
        v.period_index,
        count(*) as versions_received,
        min(v.arrived_at) as first_arrived_at,
        max(v.current_submission_id) as current_submission_id,
        max(v.latest_submission_id) as latest_submission_id
    from versions as v
    group by v.org_code, v.period, v.period_index

),

latest_fatal as (

    select
        f.submission_id,
        {{ sorted_listagg('f.message_zh', "'；'") }} as fatal_reasons
    from (
        select distinct
            submission_id,
            message_zh
        from findings
        where is_fatal
    ) as f
    group by f.submission_id

),

unexpected as (

    select
        r.org_code,
        r.period,
        r.period_index
    from received as r
    left join expected as x
        on
            r.org_code = x.org_code
            and r.period = x.period
    where x.org_code is null

),

all_rows as (

    select
        org_code,
        period,
        period_index,
        true as is_expected
    from expected
    union all
    select
        org_code,
        period,
        period_index,
        false as is_expected
    from unexpected

),

classified as (

    select
        a.org_code,
        a.period,
        a.period_index,
        a.is_expected,
        coalesce(r.versions_received, 0) as versions_received,
        r.first_arrived_at,
        r.current_submission_id,
        r.latest_submission_id,
        fa.is_late as first_accepted_is_late,
        fa.arrived_at as first_accepted_arrived_at,
        lf.fatal_reasons,
        case
            when not a.is_expected then 'unexpected'
            when r.versions_received is null then 'missing'
            when r.current_submission_id is null then 'rejected'
            when fa.is_late then 'late'
            else 'on_time'
        end as status_code
    from all_rows as a
    left join received as r
        on
            a.org_code = r.org_code
            and a.period = r.period
    left join first_accepted as fa
        on
            a.org_code = fa.org_code
            and a.period = fa.period
            and fa.accepted_rank = 1
    left join latest_fatal as lf
        on r.latest_submission_id = lf.submission_id

),

final as (

    select
        c.org_code,
        {{ org_code_display('c.org_code') }} as org_code_display,
        c.period,
        {{ period_year('c.period') }} as year,
        {{ period_quarter('c.period') }} as quarter,
        e.enterprise_name,
        e.group_org_code,
        e.sector,
        {{ period_deadline('c.period', 't.deadline_day') }} as deadline_at,
        cast({{ dbt.dateadd('day', -1, period_deadline('c.period', 't.deadline_day')) }} as date) as deadline_date,
        c.status_code,
        s.label_zh as status,
        c.status_code = 'late' as is_late,
        c.status_code = 'missing' as is_missing,
        c.status_code = 'rejected' as is_rejected,
        c.versions_received,
        c.first_arrived_at,
        c.first_accepted_arrived_at,
        c.current_submission_id,
        c.latest_submission_id,
        coalesce(
            c.fatal_reasons,
            case c.status_code
                when 'missing' then '未收到本期报表'
                when 'late' then '超过报送截止时间后报送'
                when 'unexpected' then '该企业不在本期应报送名录中'
            end
        ) as reasons_zh
    from classified as c
    left join enterprises as e on c.org_code = e.org_code
    left join thresholds as t on c.period = t.period
    left join statuses as s on c.status_code = s.status_code

)

select * from final
