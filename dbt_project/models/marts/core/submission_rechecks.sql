-- What a rule change did to the files already held: one row per re-judged file and re-check, before -> after.
-- Receipts of the enterprise-quarters listed here say that the rules changed, and on which day.
with

rechecks as (

    select * from {{ ref('stg_raw__rechecks') }}

),

final as (

    select
        submission_id,
        rechecked_at,
        period,
        cast(left(period, 4) as integer) as year,
        org_code,
        {{ org_code_display('org_code') }} as org_code_display,
        file_name,
        rules_version_before,
        rules_version_after,
        outcome_before,
        outcome_after,
        findings_before,
        findings_after,
        is_changed,
        outcome_before <> outcome_after as is_outcome_changed

    from rechecks

)

select * from final
