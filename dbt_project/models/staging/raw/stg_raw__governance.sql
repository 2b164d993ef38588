with

source as (

    select * from {{ source('raw', 'governance') }}

),

renamed as (

    select
        submission_id,
        source_row,
        has_leading_group,
        has_training_plan,
        has_talent_database,
        has_chief_technician_system,
        has_technician_study_system,
        has_reserve_echelon_system,
        in_manager_assessment,
        congress_report_date

    from source

)

select * from renamed
