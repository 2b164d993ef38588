with

source as (

    select * from {{ source('raw', 'funds') }}

),

renamed as (

    select
        submission_id,
        source_row,
        payroll,
        fund_extracted,
        fund_spent,
        fund_spent_frontline,
        fund_spent_high_skill,
        fund_school_enterprise,
        innovation_rewards

    from source

)

select * from renamed
