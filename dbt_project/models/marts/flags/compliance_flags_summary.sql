{#-
  Flag counts per rule × group × period; severity = the most severe seen (the lowest
  ref_severities.sort_order); unknown groups as 'UNKNOWN'.
-#}

with

flags as (

    select * from {{ ref('compliance_flags') }}

),

severities as (

    select * from {{ ref('ref_severities') }}

),

ranked as (

    select
        f.*,
        s.sort_order as severity_order
    from flags as f
    left join severities as s
        on f.severity = s.severity

),

final as (

    select
        rule_id,
        coalesce(group_org_code, 'UNKNOWN') as group_org_code,
        period,
        max(clause) as clause,
        min_by(severity, severity_order) as severity,
        count(*) as flag_count,
        count(distinct org_code) as enterprise_count
    from ranked
    group by rule_id, coalesce(group_org_code, 'UNKNOWN'), period

)

select * from final
