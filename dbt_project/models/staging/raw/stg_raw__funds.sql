with

source as (

    select * from {{ source('raw', 'funds') }}

),

renamed as (

    select
        submission_id,
        source_row,
        {{ to_money('payroll') }} as payroll,
        {{ to_money('fund_extracted') }} as fund_extracted,
        {{ to_money('fund_spent') }} as fund_spent,
        {{ to_money('fund_spent_frontline') }} as fund_spent_frontline,
        {{ to_money('fund_spent_high_skill') }} as fund_spent_high_skill,
        {{ to_money('fund_school_enterprise') }} as fund_school_enterprise,
        {{ to_money('innovation_rewards') }} as innovation_rewards

    from source

)

select * from renamed
