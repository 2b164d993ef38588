{#- Training rows of current versions; trainee_on_roster = on a roster of the same org, this or an earlier period. -#}

with

versions as (

    select * from {{ ref('int_submissions__versioned') }}
    where is_current and org_code is not null

),

training as (

    select * from {{ ref('stg_raw__training') }}

),

roster as (

    select * from {{ ref('int_roster__current') }}

),

events as (

    select
        t.submission_id,
        t.source_row,
        v.org_code,
        v.period,
        v.year,
        v.period_index,
        t.person_key,
        t.training_type,
        t.start_date,
        t.end_date,
        cast(extract(year from t.end_date) as integer) as end_year,
        {{ date_period_index('t.end_date') }} as end_period_index,
        t.hours,
        t.cost,
        t.certified
    from training as t
    inner join versions as v on t.submission_id = v.submission_id

),

on_roster as (

    select
        e.submission_id,
        e.source_row
    from events as e
    inner join roster as r
        on
            e.org_code = r.org_code
            and e.person_key = r.person_key
            and e.period_index >= r.period_index
    group by e.submission_id, e.source_row

),

final as (

    select
        e.*,
        o.submission_id is not null as trainee_on_roster
    from events as e
    left join on_roster as o
        on
            e.submission_id = o.submission_id
            and e.source_row = o.source_row

)

select * from final
