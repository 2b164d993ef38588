{#-
  Succession planning (the policy's 传帮带 and chief-technician clauses): how many of today's high-skill
  workers reach the statutory retirement age (ref_retirement_ages, by the sex and birth date derived from
  the ID number) in each year of the next plan, per group, sector and skill level. Aggregates only.

  Today's workers: each person's latest row on a current roster, kept when it is high-skill and from its
  enterprise's latest filed quarter (someone who left is not counted where they were). The next plan's
  years come from ref_policy_thresholds: a plan whose baseline year follows the latest plan's target
  year, if the seed has one; else the five years after the latest plan's target year.
-#}

with

person_quarters as (

    select * from {{ ref('int_roster__person_quarters') }}

),

enterprises as (

    select * from {{ ref('int_enterprises') }}

),

retirement_ages as (

    select * from {{ ref('ref_retirement_ages') }}

),

thresholds as (

    select * from {{ ref('ref_policy_thresholds') }}
    where threshold_key in ('baseline_year', 'target_year')

),

plans as (

    select
        effective_from,
        cast(max(case when threshold_key = 'baseline_year' then value end) as integer) as baseline_year,
        cast(max(case when threshold_key = 'target_year' then value end) as integer) as target_year
    from thresholds
    group by effective_from

),

as_of as (

    select max(period) as as_of_period from person_quarters

),

latest_plan as (

    select max(p.target_year) as target_year
    from plans as p
    cross join as_of as a
    where {{ period_index('p.effective_from') }} <= {{ period_index('a.as_of_period') }}

),

next_plan as (

    select
        coalesce(min(p.baseline_year), max(l.target_year) + 1) as first_year,
        coalesce(min(p.target_year), max(l.target_year) + 5) as last_year
    from latest_plan as l
    left join plans as p on l.target_year < p.baseline_year

),

-- a plan spans at most ten years
year_offsets as (

    {{ digits('n') }}

),

plan_years as (

    select
        n.first_year as plan_first_year,
        n.last_year as plan_last_year,
        cast(n.first_year + o.n as integer) as year
    from next_plan as n
    cross join year_offsets as o
    where n.first_year + o.n <= n.last_year

),

group_names as (

    select distinct
        group_org_code,
        group_name
    from enterprises

),

enterprise_latest as (

    select
        org_code,
        max(period_index) as latest_index
    from person_quarters
    group by org_code

),

persons_ranked as (

    select
        q.person_key,
        q.org_code,
        q.group_org_code,
        q.sector,
        q.skill_level,
        q.level_no,
        q.is_high_skill,
        q.period_index,
        cast(extract(year from q.birth_date) as integer) + r.retirement_age as retirement_year,
        row_number() over (partition by q.person_key order by q.period_index desc, q.org_code asc) as recency
    from person_quarters as q
    left join retirement_ages as r on q.sex = r.sex

),

persons_now as (

    select * from persons_ranked
    where recency = 1

),

current_workers as (

    select p.*
    from persons_now as p
    inner join enterprise_latest as e
        on
            p.org_code = e.org_code
            and p.period_index = e.latest_index
    where p.is_high_skill

),

cells as (

    select
        group_org_code,
        sector,
        skill_level,
        min(level_no) as level_no,
        count(*) as high_skill_workers
    from current_workers
    group by group_org_code, sector, skill_level

),

reaching as (

    select
        group_org_code,
        sector,
        skill_level,
        retirement_year as year,
        count(*) as reaching_retirement_age
    from current_workers
    group by group_org_code, sector, skill_level, retirement_year

),

final as (

    select
        y.plan_first_year,
        y.plan_last_year,
        a.as_of_period,
        c.group_org_code,
        {{ org_code_display('c.group_org_code') }} as group_org_code_display,
        g.group_name,
        c.sector,
        c.skill_level,
        c.level_no,
        y.year,
        c.high_skill_workers,
        coalesce(r.reaching_retirement_age, 0) as reaching_retirement_age
    from cells as c
    cross join plan_years as y
    cross join as_of as a
    left join reaching as r
        on
            coalesce(c.group_org_code, '') = coalesce(r.group_org_code, '')
            and c.sector = r.sector
            and c.skill_level = r.skill_level
            and y.year = r.year
    left join group_names as g on c.group_org_code = g.group_org_code

)

select * from final
