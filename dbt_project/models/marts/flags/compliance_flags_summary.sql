{#- Flag counts per rule × group × period; severity = the most severe seen; unknown groups as 'UNKNOWN'. -#}

with

flags as (

    select * from {{ ref('compliance_flags') }}

),

final as (

    select
        rule_id,
        coalesce(group_org_code, 'UNKNOWN') as group_org_code,
        period,
        max(clause) as clause,
        case max(
            case severity when 'error' then 3 when 'warning' then 2 when 'info' then 1 else 0 end
        )
            when 3 then 'error'
            when 2 then 'warning'
            when 1 then 'info'
        end as severity,
        count(*) as flag_count,
        count(distinct org_code) as enterprise_count
    from flags
    group by rule_id, coalesce(group_org_code, 'UNKNOWN'), period

)

select * from final
