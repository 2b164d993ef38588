{#-
  Repeat offenders: an enterprise flagged under the same rule in consecutive years, one row per run of
  years (gaps and islands computed here, so the analyst needs no window query). A run of one year is
  not a repeat and is left out; is_ongoing marks a run that reaches the latest year with flags.
-#}

with

flags as (

    select * from {{ ref('compliance_flags') }}
    where org_code is not null and year is not null

),

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

flag_years as (

    select
        rule_id,
        org_code,
        year,
        max(clause) as clause,
        count(*) as flag_count
    from flags
    group by rule_id, org_code, year

),

islands as (

    select
        *,
        year - row_number() over (partition by rule_id, org_code order by year) as island
    from flag_years

),

latest as (

    select max(year) as latest_year from flags

),

runs as (

    select
        rule_id,
        org_code,
        max(clause) as clause,
        min(year) as first_year,
        max(year) as last_year,
        count(*) as consecutive_years,
        sum(flag_count) as flag_count
    from islands
    group by rule_id, org_code, island

),

final as (

    select
        r.rule_id,
        r.clause,
        r.org_code,
        {{ org_code_display('r.org_code') }} as org_code_display,
        e.enterprise_name,
        e.group_org_code,
        r.first_year,
        r.last_year,
        cast(r.consecutive_years as integer) as consecutive_years,
        cast(r.flag_count as bigint) as flag_count,
        r.last_year = l.latest_year as is_ongoing
    from runs as r
    cross join latest as l
    left join enterprises as e on r.org_code = e.org_code
    where r.consecutive_years >= 2

)

select * from final
