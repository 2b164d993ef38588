with

source as (

    select * from {{ source('raw', 'rechecks') }}

),

renamed as (

    select
        submission_id,
        rechecked_at,
        upper(period) as period,
        upper(org_code) as org_code,
        file_name,
        rules_version_before,
        rules_version_after,
        outcome_before,
        outcome_after,
        findings_before,
        findings_after,
        is_changed

    from source

)

select * from renamed
