{#-
  Table 7: every flagged entry. Intake findings of each org × period's latest and current
  versions (source 'intake'; severity as stored, clause from ref_rules) plus the GX expectation
  flags (flags.expectation_flags). flag_id = hash of the identifying columns.
-#}

with

versions as (

    select * from {{ ref('int_submissions__versioned') }}

),

findings as (

    select * from {{ ref('stg_raw__findings') }}

),

expectation_flags as (

    select * from {{ ref('stg_flags__expectation_flags') }}

),

rules as (

    select * from {{ ref('ref_rules') }}

),

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

relevant_versions as (

    select submission_id from versions
    where is_current or is_latest

),

intake_flags as (

    select
        f.rule_id,
        r.clause,
        f.severity,
        f.org_code,
        f.period,
        f.person_key,
        f.observed_value,
        f.expected as threshold,
        f.message_zh,
        'intake' as source,
        f.submission_id,
        f.sheet,
        f.source_row,
        f.column_name
    from findings as f
    inner join relevant_versions as v on f.submission_id = v.submission_id
    left join rules as r on f.rule_id = r.rule_id

),

gx_flags as (

    select
        e.rule_id,
        coalesce(e.clause, r.clause) as clause,
        coalesce(e.severity, r.severity) as severity,
        e.org_code,
        e.period,
        e.person_key,
        e.observed_value,
        e.threshold,
        e.message_zh,
        coalesce(e.source, 'expectations') as source,
        e.submission_id,
        e.sheet,
        e.source_row,
        e.column_name
    from expectation_flags as e
    left join rules as r on e.rule_id = r.rule_id

),

unioned as (

    select * from intake_flags
    union
    select * from gx_flags

),

final as (

    select
        {{ dbt.hash(dbt.concat([
            "coalesce(u.source, '')", "'|'",
            "coalesce(u.rule_id, '')", "'|'",
            "coalesce(u.submission_id, '')", "'|'",
            "coalesce(u.org_code, '')", "'|'",
            "coalesce(u.period, '')", "'|'",
            "coalesce(u.person_key, '')", "'|'",
            "coalesce(u.sheet, '')", "'|'",
            "coalesce(cast(u.source_row as " ~ dbt.type_string() ~ "), '')", "'|'",
            "coalesce(u.column_name, '')", "'|'",
            "coalesce(u.observed_value, '')", "'|'",
            "coalesce(u.threshold, '')", "'|'",
            "coalesce(u.severity, '')", "'|'",
            "coalesce(u.clause, '')", "'|'",
            "coalesce(u.message_zh, '')",
        ])) }} as flag_id,
        u.rule_id,
        u.clause,
        u.severity,
        u.org_code,
        {{ org_code_display('u.org_code') }} as org_code_display,
        n.group_org_code,
        u.period,
        {{ period_year('u.period') }} as year,
        u.person_key,
        u.observed_value,
        u.threshold,
        u.message_zh,
        u.source,
        u.submission_id,
        u.sheet,
        u.source_row,
        u.column_name
    from unioned as u
    left join enterprises as n on u.org_code = n.org_code

)

select * from final
