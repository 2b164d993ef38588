{#-
  Every high-skill person of a tracking entity at either end of a quarter (int_talent_flows__members),
  with the one flow that explains a change. The entity's stock at a quarter's end is its distinct
  high-skill people on the rosters of its enterprises observed that quarter, so the flows close the
  account: start + in − out = end, and this quarter's start is the previous quarter's end.

  Relative to the entity, first rule that applies. In (high-skill at the end, not at the start):
    first_filing_in  high-skill at the end only in enterprises filing for the first time (新纳入统计)
    refiling_in      high-skill at the end only in enterprises filing again after a gap (重新报送)
    promoted_in      listed in the entity at the start at a lower level (a key trainee promoted)
    transfer_in      listed at the start by an enterprise outside the entity
    returned_in      listed on some roster of the system before the start, on none at the start (回流)
    promoted_in      the certificate of the level is dated inside the quarter (rosters list lower levels only
                     for key trainees: a worker promoted from the unlisted levels first appears as high-skill)
    new_in           otherwise: on no roster of the system before (新进入系统)
  Out (high-skill at the start, not at the end):
    unreported_out   high-skill at the start only in enterprises not observed at the end (未报送退出)
    left             still listed in the entity at the end, below high-skill
    transfer_out     listed at the end by an enterprise outside the entity
    retired          of retirement age (ref_retirement_ages, by the ID's sex and birth date) at the end of the
                     quarter of departure
    left             otherwise
  A move between two enterprises of the entity is no flow of it (so no transfer exists at system level).
  upgraded: high-skill at both ends, a higher level at the end (高级工 → 技师 → 高级技师); not an in-flow.
  promoted_trained: a promoted person with a training filed (any enterprise) in the four quarters up to
  the quarter's end.
-#}

with

members as (

    select * from {{ ref('int_talent_flows__members') }}

),

persons as (

    select * from {{ ref('int_roster__person_quarters') }}

),

membership as (

    select * from {{ ref('int_entity_membership') }}

),

retirement as (

    select * from {{ ref('ref_retirement_ages') }}

),

trainings as (

    select * from {{ ref('int_training__events') }}

),

-- The quarters in which a person had a training filed (any enterprise) in the four quarters up to the
-- quarter's end: a fact of the person and the quarter, worked out once per roster row rather than once per
-- tracking entity the row counts for (each counts for four: enterprise, group, sector, system).
trained_quarters as (

    select distinct
        p.person_key,
        p.period_index
    from persons as p
    inner join trainings as t
        on
            p.person_key = t.person_key
            and t.period_index between p.period_index - 3 and p.period_index

),

roster as (

    select
        p.*,
        t.person_key is not null as is_trained_prior_4q
    from persons as p
    left join trained_quarters as t
        on
            p.person_key = t.person_key
            and p.period_index = t.period_index

),

-- Only a person on more than one roster row can be listed outside an entity, or before a quarter, besides
-- the row that puts the person in it: the others cannot explain a change (see elsewhere).
people_listed_twice as (

    select person_key
    from persons
    group by person_key
    having count(*) > 1

),

listed as (

    select
        m.grain,
        m.entity_code,
        m.period,
        m.start_index,
        m.end_index,
        m.start_date_exclusive,
        m.end_date,
        m.observation,
        p.person_key,
        p.period_index = m.start_index as at_start,
        p.level_no,
        p.is_high_skill,
        p.is_technician,
        p.sex,
        p.birth_date,
        p.cert_date,
        p.is_trained_prior_4q
    from members as m
    inner join roster as p
        on
            m.org_code = p.org_code
            and (m.start_index = p.period_index or m.end_index = p.period_index)

),

entity_people as (

    select
        grain,
        entity_code,
        period,
        start_index,
        end_index,
        start_date_exclusive,
        end_date,
        person_key,
        bool_or(at_start) as listed_at_start,
        bool_or(not at_start) as listed_at_end,
        min(case when at_start and is_high_skill then level_no end) as start_level_no,
        min(case when not at_start and is_high_skill then level_no end) as end_level_no,
        bool_or(at_start and is_high_skill and observation = 'continuing') as is_start_continuing,
        bool_or(not at_start and is_high_skill and observation = 'continuing') as is_end_continuing,
        bool_or(not at_start and is_high_skill and observation = 'first_filing') as is_end_first_filing,
        bool_or(at_start and is_high_skill and is_technician) as start_is_technician,
        bool_or(not at_start and is_high_skill and is_technician) as end_is_technician,
        max(sex) as sex,
        max(birth_date) as birth_date,
        max(case when not at_start and is_high_skill then cert_date end) as end_cert_date,
        bool_or(not at_start and is_trained_prior_4q) as is_trained_prior_4q
    from listed
    group by
        grain, entity_code, period, start_index, end_index, start_date_exclusive, end_date, person_key
    having bool_or(is_high_skill)

),

changed as (

    select * from entity_people
    where (start_level_no is null) <> (end_level_no is null)

),

changed_listed_twice as (

    select c.*
    from changed as c
    inner join people_listed_twice as t on c.person_key = t.person_key

),

-- Where a changed person is listed outside the entity: at the start (came from) or at the end (went to);
-- and, for a newcomer, whether any roster of the system listed the person before the start.
elsewhere as (

    select
        c.grain,
        c.entity_code,
        c.period,
        c.person_key,
        min(case when p.period_index = c.start_index and o.org_code is null then p.org_code end) as came_from,
        min(case when p.period_index = c.end_index and o.org_code is null then p.org_code end) as went_to,
        bool_or(p.period_index < c.start_index) as is_listed_before
    from changed_listed_twice as c
    inner join persons as p
        on
            c.person_key = p.person_key
            and (
                (c.end_level_no is not null and c.start_index >= p.period_index)
                or (c.start_level_no is not null and c.end_index = p.period_index)
            )
    left join membership as o
        on
            c.grain = o.grain
            and c.entity_code = o.entity_code
            and p.org_code = o.org_code
    group by c.grain, c.entity_code, c.period, c.person_key

),

classified as (

    select
        e.grain,
        e.entity_code,
        e.period,
        e.person_key,
        e.start_level_no is not null as is_high_skill_at_start,
        e.end_level_no is not null as is_high_skill_at_end,
        case
            when e.start_level_no is null and not e.is_end_continuing and e.is_end_first_filing
                then 'first_filing_in'
            when e.start_level_no is null and not e.is_end_continuing then 'refiling_in'
            when e.start_level_no is null and e.listed_at_start then 'promoted_in'
            when e.start_level_no is null and o.came_from is not null then 'transfer_in'
            when e.start_level_no is null and o.is_listed_before then 'returned_in'
            when
                e.start_level_no is null
                and e.end_cert_date > e.start_date_exclusive
                and e.end_cert_date <= e.end_date
                then 'promoted_in'
            when e.start_level_no is null then 'new_in'
            when e.end_level_no is null and not e.is_start_continuing then 'unreported_out'
            when e.end_level_no is null and e.listed_at_end then 'left'
            when e.end_level_no is null and o.went_to is not null then 'transfer_out'
            when
                e.end_level_no is null
                and {{ age_on('e.birth_date', 'e.end_date') }} >= r.retirement_age
                then 'retired'
            when e.end_level_no is null then 'left'
            when e.end_level_no < e.start_level_no then 'upgraded'
        end as flow,
        case
            when e.start_level_no is null then o.came_from
            when e.end_level_no is null then o.went_to
        end as counterpart_org_code,
        e.start_is_technician,
        e.end_is_technician,
        e.is_trained_prior_4q
    from entity_people as e
    left join elsewhere as o
        on
            e.grain = o.grain
            and e.entity_code = o.entity_code
            and e.period = o.period
            and e.person_key = o.person_key
    left join retirement as r on e.sex = r.sex

),

final as (

    select
        grain,
        entity_code,
        period,
        person_key,
        is_high_skill_at_start,
        is_high_skill_at_end,
        flow,
        case when flow in ('transfer_in', 'transfer_out') then counterpart_org_code end as counterpart_org_code,
        coalesce(flow = 'upgraded' and end_is_technician and not start_is_technician, false)
            as is_upgrade_to_technician,
        coalesce(flow = 'promoted_in' and is_trained_prior_4q, false) as is_promoted_trained
    from classified

)

select * from final
