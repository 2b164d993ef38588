with

source as (

    select * from {{ source('raw', 'incentives') }}

),

renamed as (

    select
        submission_id,
        source_row,
        avg_income_high_skill,
        avg_income_general_skill,
        avg_income_professional,
        model_workers_total,
        model_workers_high_skill,
        cadres_from_high_skill,
        party_members_from_high_skill,
        deputies_from_high_skill

    from source

)

select * from renamed
