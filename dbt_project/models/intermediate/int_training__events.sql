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

-- A person is on the org's roster in a period or before it exactly when the first period the org listed the
-- person is not after it: one row per org × person to look up instead of a join over every listing.
first_listed as (

    select
        org_code,
        person_key,
        min(period_index) as first_period_index
    from roster
    group by org_code, person_key

),

final as (

    select
        e.*,
        coalesce(e.period_index >= f.first_period_index, false) as trainee_on_roster
    from events as e
    left join first_listed as f
        on
            e.org_code = f.org_code
            and e.person_key = f.person_key

)

select * from final
