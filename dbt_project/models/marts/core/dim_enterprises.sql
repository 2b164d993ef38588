with

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

versions as (

    select * from {{ ref('int_submissions__versioned') }}
    where is_current

),

reported as (

    select
        org_code,
        min(period_index) as first_index,
        max(period_index) as last_index
    from versions
    group by org_code

),

final as (

    select
        e.org_code,
        {{ org_code_display('e.org_code') }} as org_code_display,
        e.enterprise_name,
        e.group_org_code,
        e.group_name,
        e.is_group_hq,
        e.industry_code,
        e.sector,
        e.active_from,
        e.active_to,
        e.active_to is null as is_active,
        case when r.first_index is not null then {{ period_from_index('r.first_index') }} end
            as first_period_reported,
        case when r.last_index is not null then {{ period_from_index('r.last_index') }} end
            as last_period_reported
    from enterprises as e
    left join reported as r on e.org_code = r.org_code

)

select * from final
