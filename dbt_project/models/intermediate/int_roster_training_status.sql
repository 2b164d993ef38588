{#-
  High-skill persons on each current roster with their trainings (anywhere in the system) in the
  roster's calendar year: up to the end of the roster's quarter, and in the whole year.
  A training counts by its end date: 31 December counts for that year. It counts from the quarter whose file
  reported it: a training filed late (in a later quarter's file, D13) does not change the verdicts of the
  quarters before, which were judged on what had been filed by then (point in time; tests/test_point_in_time.py).
-#}

with

roster as (

    select * from {{ ref('int_roster__current') }}
    where is_high_skill

),

events as (

    select * from {{ ref('int_training__events') }}
    where end_date is not null and person_key is not null

),

counted as (

    select
        r.submission_id,
        r.person_key,
        cast(sum(
            case when e.end_period_index <= r.period_index and e.period_index <= r.period_index then 1 else 0 end
        ) as bigint) as trainings_to_period_end,
        cast(sum(case when e.year <= r.year then 1 else 0 end) as bigint) as trainings_in_year,
        max(case when e.year <= r.year then e.end_date end) as last_training_end_date
    from roster as r
    left join events as e
        on
            r.person_key = e.person_key
            and r.year = e.end_year
    group by r.submission_id, r.person_key

),

final as (

    select
        r.submission_id,
        r.source_row,
        r.org_code,
        r.period,
        r.year,
        r.quarter,
        r.period_index,
        r.person_key,
        r.skill_level,
        coalesce(c.trainings_to_period_end, 0) as trainings_to_period_end,
        coalesce(c.trainings_in_year, 0) as trainings_in_year,
        c.last_training_end_date
    from roster as r
    left join counted as c
        on
            r.submission_id = c.submission_id
            and r.person_key = c.person_key

)

select * from final
