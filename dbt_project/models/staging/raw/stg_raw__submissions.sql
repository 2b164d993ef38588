with

source as (

    select * from {{ source('raw', 'submissions') }}

),

renamed as (

    select
        submission_id,
        upper(period) as period,
        upper(org_code) as org_code,
        file_name,
        file_format,
        sha256,
        size_bytes,
        arrived_at,
        deadline_at,
        is_late,
        outcome,
        outcome_reason,
        fatal_count,
        error_count,
        warning_count,
        info_count,
        rows_in,
        rows_loaded,
        archive_path,
        contract_version,
        rules_version

    from source

)

select * from renamed
