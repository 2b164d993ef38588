with

versions as (

    select * from {{ ref('int_submissions__versioned') }}

),

final as (

    select
        v.submission_id,
        v.period,
        v.year,
        v.org_code,
        {{ org_code_display('v.org_code') }} as org_code_display,
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
        v.is_current,
        v.is_latest,
        v.is_superseded,
        v.superseded_by,
        v.is_duplicate,
        v.current_submission_id,
        c.file_name as current_file_name,
        v.latest_submission_id
    from versions as v
    left join versions as c on v.current_submission_id = c.submission_id

)

select * from final
