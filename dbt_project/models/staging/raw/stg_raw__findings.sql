with

source as (

    select * from {{ source('raw', 'findings') }}

),

renamed as (

    select
        submission_id,
        upper(period) as period,
        upper(org_code) as org_code,
        rule_id,
        severity,
        is_fatal,
        sheet,
        source_row,
        column_name,
        observed_value,
        expected,
        person_key,
        message_zh

    from source

)

select * from renamed
