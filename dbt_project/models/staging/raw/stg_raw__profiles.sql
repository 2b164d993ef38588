with

source as (

    select * from {{ source('raw', 'profiles') }}

),

renamed as (

    select
        submission_id,
        source_row,
        org_code,
        enterprise_name,
        period,
        group_org_code,
        industry_code,
        sector,
        employees_total,
        frontline_workers,
        skilled_workers,
        level5_junior,
        level4_intermediate,
        level3_senior,
        level2_technician,
        level1_senior_technician,
        chief_technicians,
        key_trainees,
        training_accounts,
        preparer,
        phone,
        submitted_on

    from source

)

select * from renamed
