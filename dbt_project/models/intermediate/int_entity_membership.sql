{#- Each enterprise belongs to four tracking entities: itself, its group, its sector, the system. -#}

with

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

enterprise_grain as (

    select
        org_code,
        'enterprise' as grain,
        '企业' as grain_zh,
        org_code as entity_code,
        enterprise_name as entity_name,
        group_org_code,
        sector
    from enterprises

),

group_grain as (

    select
        org_code,
        'group' as grain,
        '集团' as grain_zh,
        group_org_code as entity_code,
        group_name as entity_name,
        group_org_code,
        cast(null as {{ dbt.type_string() }}) as sector
    from enterprises

),

sector_grain as (

    select
        org_code,
        'sector' as grain,
        '重点领域' as grain_zh,
        sector as entity_code,
        sector as entity_name,
        cast(null as {{ dbt.type_string() }}) as group_org_code,
        sector
    from enterprises

),

system_grain as (

    select
        org_code,
        'system' as grain,
        '全系统' as grain_zh,
        'ALL' as entity_code,
        '全系统' as entity_name,
        cast(null as {{ dbt.type_string() }}) as group_org_code,
        cast(null as {{ dbt.type_string() }}) as sector
    from enterprises

),

final as (

    select * from enterprise_grain
    union all
    select * from group_grain
    union all
    select * from sector_grain
    union all
    select * from system_grain

)

select * from final
