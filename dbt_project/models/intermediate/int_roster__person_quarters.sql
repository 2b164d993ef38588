{#-
  One row per person × enterprise × quarter on a current roster (any level), with what the talent flows
  need to classify a change: the level's rank, sex and birth date (retirement age) and the date of the
  level's certificate (newly certified in the interval = promoted from the unlisted lower levels).
  Sex and birth date are the ID's (raw.roster id_sex, id_birth_date), never the typed cells: a typed cell
  that disagrees is a D10 finding and changes nothing here.
-#}

with

roster as (

    select * from {{ ref('int_roster__current') }}

),

raw_roster as (

    select * from {{ ref('stg_raw__roster') }}

),

skill_levels as (

    select * from {{ ref('ref_skill_levels') }}

),

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

final as (

    select
        r.submission_id,
        r.org_code,
        e.group_org_code,
        e.enterprise_name,
        e.sector,
        r.period,
        r.year,
        r.quarter,
        r.period_index,
        r.person_key,
        r.skill_level,
        l.level_no,
        r.is_high_skill,
        r.is_technician,
        r.is_frontline,
        r.is_chief_technician,
        r.is_key_trainee,
        r.has_training_account,
        s.id_sex as sex,
        s.id_birth_date as birth_date,
        s.cert_date
    from roster as r
    inner join raw_roster as s
        on
            r.submission_id = s.submission_id
            and r.source_row = s.source_row
    left join skill_levels as l on r.skill_level = l.skill_level
    left join enterprises as e on r.org_code = e.org_code

)

select * from final
