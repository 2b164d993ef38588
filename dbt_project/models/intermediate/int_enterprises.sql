{#- The registry, one row per enterprise, with its group's name. -#}

with

registry as (

    select * from {{ ref('stg_raw__registry') }}

),

ranked as (

    select
        *,
        cast(row_number() over (
            partition by org_code
            order by active_from desc, enterprise_name asc
        ) as bigint) as row_rank
    from registry

),

enterprises as (

    select * from ranked
    where row_rank = 1

),

final as (

    select
        e.org_code,
        e.enterprise_name,
        e.group_org_code,
        coalesce(g.enterprise_name, e.group_org_code) as group_name,
        e.org_code = e.group_org_code as is_group_hq,
        e.industry_code,
        coalesce(e.sector, '其他') as sector,
        e.active_from,
        e.active_to,
        {{ period_index('e.active_from') }} as active_from_index,
        case when e.active_to is not null then {{ period_index('e.active_to') }} end as active_to_index
    from enterprises as e
    left join enterprises as g
        on e.group_org_code = g.org_code

)

select * from final
