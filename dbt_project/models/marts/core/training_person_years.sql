{#- C01: high-skill persons on each enterprise's year-end roster (complete years) and their trainings that year. -#}

with

status as (

    select * from {{ ref('int_roster_training_status') }}

),

enterprise_quarters as (

    select * from {{ ref('int_enterprise_quarters') }}
    where is_year_end_submission

),

periods as (

    select * from {{ ref('int_periods') }}
    where is_year_complete

),

thresholds as (

    select * from {{ ref('int_thresholds_by_period') }}

),

final as (

    select
        s.org_code,
        q.group_org_code,
        s.year,
        {{ year_end_period('s.year') }} as period,
        s.period as roster_period,
        s.person_key,
        -- where the clerk finds the person: the row of the year-end roster (names stay with the enterprise)
        s.submission_id as roster_submission_id,
        s.source_row as roster_source_row,
        s.skill_level,
        s.trainings_in_year,
        s.last_training_end_date,
        t.trainings_per_year_min,
        s.trainings_in_year >= t.trainings_per_year_min as is_trained
    from status as s
    inner join enterprise_quarters as q on s.submission_id = q.submission_id
    inner join periods as p on {{ year_end_period('s.year') }} = p.period
    left join thresholds as t on p.period = t.period

)

select * from final
