with

source as (

    select * from {{ source('raw', 'registry') }}

),

renamed as (

    select
        upper(trim(org_code)) as org_code,
        enterprise_name,
        upper(trim(group_org_code)) as group_org_code,
        industry_code,
        sector,
        upper(trim(active_from)) as active_from,
        nullif(upper(trim(active_to)), '') as active_to

    from source

)

select * from renamed
