{#-
  The talent database (信息库) by pseudonym: one row per person × quarter × enterprise whose current roster
  lists the person, with the training filed for the person in that quarter by any enterprise. No ID
  number, name, sex or birth date: the pseudonym is the only handle, and only the key holder can turn an
  ID number into it (sasac-skills pseudonym).
-#}

with

persons as (

    select * from {{ ref('int_roster__person_quarters') }}

),

trainings as (

    select * from {{ ref('int_training__events') }}

),

training_by_quarter as (

    select
        person_key,
        period_index,
        cast(count(*) as bigint) as trainings,
        sum(hours) as training_hours
    from trainings
    where person_key is not null
    group by person_key, period_index

),

final as (

    select
        p.person_key,
        p.period,
        p.year,
        p.quarter,
        p.org_code,
        p.enterprise_name,
        p.group_org_code,
        p.sector,
        p.skill_level,
        p.is_high_skill,
        p.is_technician,
        p.is_chief_technician,
        p.is_key_trainee,
        p.has_training_account,
        p.is_frontline,
        coalesce(t.trainings, 0) as trainings_in_quarter,
        coalesce(t.training_hours, 0) as training_hours_in_quarter
    from persons as p
    left join training_by_quarter as t
        on
            p.person_key = t.person_key
            and p.period_index = t.period_index

)

select * from final
