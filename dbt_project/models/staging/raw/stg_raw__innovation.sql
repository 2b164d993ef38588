with

source as (

    select * from {{ source('raw', 'innovation') }}

),

renamed as (

    select
        submission_id,
        source_row,
        suggestions,
        innovations,
        best_practices,
        new_records,
        participants

    from source

)

select * from renamed
