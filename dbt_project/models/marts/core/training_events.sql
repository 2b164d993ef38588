with

events as (

    select * from {{ ref('int_training__events') }}

),

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

final as (

    select
        e.submission_id,
        e.source_row,
        e.org_code,
        n.group_org_code,
        e.period,
        e.year,
        e.person_key,
        e.training_type,
        e.start_date,
        e.end_date,
        e.hours,
        e.cost,
        e.certified,
        e.trainee_on_roster
    from events as e
    left join enterprises as n on e.org_code = n.org_code

)

select * from final
