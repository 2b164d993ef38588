{#- Roster rows of current versions, one per person × version (highest level kept if listed twice). -#}

with

versions as (

    select * from {{ ref('int_submissions__versioned') }}
    where is_current and org_code is not null

),

roster as (

    select * from {{ ref('stg_raw__roster') }}
    where person_key is not null

),

skill_levels as (

    select * from {{ ref('ref_skill_levels') }}

),

joined as (

    select
        r.submission_id,
        r.source_row,
        v.org_code,
        v.period,
        v.year,
        v.quarter,
        v.period_index,
        r.person_key,
        r.skill_level,
        coalesce(l.is_high_skill, false) as is_high_skill,
        coalesce(l.is_technician, false) as is_technician,
        r.is_frontline,
        r.is_chief_technician,
        r.is_key_trainee,
        r.has_training_account,
        cast(row_number() over (
            partition by r.submission_id, r.person_key
            order by coalesce(l.level_no, 9), r.source_row
        ) as bigint) as person_rank
    from roster as r
    inner join versions as v on r.submission_id = v.submission_id
    left join skill_levels as l on r.skill_level = l.skill_level

),

final as (

    select
        submission_id,
        source_row,
        org_code,
        period,
        year,
        quarter,
        period_index,
        person_key,
        skill_level,
        is_high_skill,
        is_technician,
        is_frontline,
        is_chief_technician,
        is_key_trainee,
        has_training_account
    from joined
    where person_rank = 1

)

select * from final
