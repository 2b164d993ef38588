{#-
  Every received version with its place among the versions of the same org × period.
  Order: arrived_at, then file_name, then submission_id. Current = latest accepted version.
  Versions without an org code (unreadable files) form a group of their own.
  Ignored entries (OS debris such as Office lock files) are not versions of anything.
-#}

with

submissions as (

    select * from {{ ref('stg_raw__submissions') }}
    where outcome != 'ignored'

),

grouped as (

    select
        *,
        coalesce(org_code, {{ dbt.concat(["'#'", "submission_id"]) }}) as version_group
    from submissions

),

numbered as (

    select
        *,
        cast(row_number() over (
            partition by version_group, period
            order by arrived_at, file_name, submission_id
        ) as bigint) as version_no,
        count(*) over (partition by version_group, period) as versions_received
    from grouped

),

with_current as (

    select
        *,
        max(case when outcome = 'accepted' then version_no end) over (
            partition by version_group, period
        ) as current_version_no
    from numbered

),

next_accepted as (

    select
        v.submission_id,
        min(a.version_no) as next_accepted_version_no
    from with_current as v
    inner join with_current as a
        on
            v.version_group = a.version_group
            and v.period = a.period
            and v.version_no < a.version_no
            and a.outcome = 'accepted'
    group by v.submission_id

),

duplicates as (

    select v.submission_id
    from with_current as v
    inner join with_current as e
        on
            v.version_group = e.version_group
            and v.period = e.period
            and v.version_no > e.version_no
            and v.sha256 = e.sha256
    group by v.submission_id

),

final as (

    select
        v.submission_id,
        v.period,
        {{ period_year('v.period') }} as year,
        {{ period_quarter('v.period') }} as quarter,
        {{ period_index('v.period') }} as period_index,
        v.org_code,
        v.file_name,
        v.file_format,
        v.sha256,
        v.size_bytes,
        v.arrived_at,
        v.deadline_at,
        v.is_late,
        v.outcome,
        v.fatal_count,
        v.error_count,
        v.warning_count,
        v.info_count,
        v.rows_in,
        v.rows_loaded,
        v.contract_version,
        v.version_no,
        v.versions_received,
        coalesce(v.version_no = v.current_version_no, false) as is_current,
        v.version_no = v.versions_received as is_latest,
        n.next_accepted_version_no is not null as is_superseded,
        s.submission_id as superseded_by,
        d.submission_id is not null as is_duplicate,
        c.submission_id as current_submission_id,
        l.submission_id as latest_submission_id
    from with_current as v
    left join next_accepted as n
        on v.submission_id = n.submission_id
    left join with_current as s
        on
            v.version_group = s.version_group
            and v.period = s.period
            and n.next_accepted_version_no = s.version_no
    left join duplicates as d
        on v.submission_id = d.submission_id
    left join with_current as c
        on
            v.version_group = c.version_group
            and v.period = c.period
            and v.current_version_no = c.version_no
    left join with_current as l
        on
            v.version_group = l.version_group
            and v.period = l.period
            and v.versions_received = l.version_no

)

select * from final
