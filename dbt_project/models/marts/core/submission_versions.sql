with

versions as (

    select * from {{ ref('int_submissions__versioned') }}

),

final as (

    select
        submission_id,
        period,
        year,
        org_code,
        file_name,
        file_format,
        sha256,
        size_bytes,
        arrived_at,
        deadline_at,
        is_late,
        outcome,
        fatal_count,
        error_count,
        warning_count,
        info_count,
        rows_in,
        rows_loaded,
        contract_version,
        version_no,
        versions_received,
        is_current,
        is_latest,
        is_superseded,
        superseded_by,
        is_duplicate,
        current_submission_id,
        latest_submission_id
    from versions

)

select * from final
