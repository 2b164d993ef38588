with

source as (

    select * from {{ source('raw', 'roster') }}

),

renamed as (

    select
        submission_id,
        source_row,
        person_key,
        sex,
        birth_date,
        occupation,
        skill_level,
        cert_no,
        cert_date,
        is_frontline,
        is_chief_technician,
        is_key_trainee,
        has_training_account,
        id_sex,
        id_birth_date

    from source

)

select * from renamed
