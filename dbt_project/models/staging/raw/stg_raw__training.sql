with

source as (

    select * from {{ source('raw', 'training') }}

),

renamed as (

    select
        submission_id,
        source_row,
        person_key,
        course_name,
        training_type,
        start_date,
        end_date,
        hours,
        cost,
        provider,
        certified

    from source

)

select * from renamed
