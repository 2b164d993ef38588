{#-
  Stock-flow accounts of the high-skill workforce per tracking entity (enterprise, group, sector, system).
  Quarter rows: the previous quarter's end → this quarter's end, over the enterprises observed at either
  end (int_talent_flows__members); int_talent_flows__persons says how each person is classified. Year
  rows are the sums of the year's quarter rows (complete years only), so at every grain:
    high_skill_start = the previous row's high_skill_end (0 before the entity was first observed)
    high_skill_end   = high_skill_start + in_total − out_total
    a year row       = Σ its quarter rows (start of Q1, end of Q4)
  Enterprises entering or leaving observation are their own categories (first_filing_in, refiling_in,
  unreported_out), never transfers or hires.

  Shares are Table 1's (int_high_skill_share__entity_periods, which marts.high_skill_share_tracking
  shows): H = high-skill headcount of the profiles, N = skilled workers, 0 = start, 1 = end; the rows of
  the account count the rosters (R). The change decomposes exactly:
    share_end − share_start = Σ flows / N1                          (promotion, hiring, returns, transfers,
                                                                     observation, departures)
                            + R0 / N1 − R0 / N0                     (the skilled workforce)
                            + (H1 − R1) / N1 − (H0 − R0) / N0        (profile counts against the rosters)
-#}

with

members as (

    select * from {{ ref('int_talent_flows__members') }}

),

persons as (

    select * from {{ ref('int_talent_flows__persons') }}

),

shares as (

    select * from {{ ref('int_high_skill_share__entity_periods') }}

),

periods as (

    select * from {{ ref('int_periods') }}

),

names as (

    select distinct
        grain,
        grain_zh,
        entity_code,
        entity_name,
        group_org_code,
        sector
    from members

),

entities as (

    select
        grain,
        entity_code,
        period,
        year,
        start_period,
        cast(sum(case when observation in ('continuing', 'unreported') then 1 else 0 end) as bigint)
            as enterprises_start,
        cast(sum(case when observation = 'first_filing' then 1 else 0 end) as bigint) as enterprises_first_filing,
        cast(sum(case when observation = 'refiling' then 1 else 0 end) as bigint) as enterprises_refiling,
        cast(sum(case when observation = 'unreported' then 1 else 0 end) as bigint) as enterprises_unreported,
        cast(sum(case when observation <> 'unreported' then 1 else 0 end) as bigint) as enterprises_end
    from members
    group by grain, entity_code, period, year, start_period

),

counts as (

    select
        grain,
        entity_code,
        period,
        cast(sum(case when is_high_skill_at_start then 1 else 0 end) as bigint) as high_skill_start,
        cast(sum(case when flow = 'promoted_in' then 1 else 0 end) as bigint) as promoted_in,
        cast(sum(case when is_promoted_trained then 1 else 0 end) as bigint) as promoted_trained,
        cast(sum(case when flow = 'transfer_in' then 1 else 0 end) as bigint) as transfer_in,
        cast(sum(case when flow = 'returned_in' then 1 else 0 end) as bigint) as returned_in,
        cast(sum(case when flow = 'new_in' then 1 else 0 end) as bigint) as new_in,
        cast(sum(case when flow = 'first_filing_in' then 1 else 0 end) as bigint) as first_filing_in,
        cast(sum(case when flow = 'refiling_in' then 1 else 0 end) as bigint) as refiling_in,
        cast(sum(case when flow = 'transfer_out' then 1 else 0 end) as bigint) as transfer_out,
        cast(sum(case when flow = 'retired' then 1 else 0 end) as bigint) as retired,
        cast(sum(case when flow = 'left' then 1 else 0 end) as bigint) as left_otherwise,
        cast(sum(case when flow = 'unreported_out' then 1 else 0 end) as bigint) as unreported_out,
        cast(sum(case when is_high_skill_at_end then 1 else 0 end) as bigint) as high_skill_end,
        cast(sum(case when flow = 'upgraded' then 1 else 0 end) as bigint) as upgraded,
        cast(sum(case when is_upgrade_to_technician then 1 else 0 end) as bigint) as upgraded_to_technician
    from persons
    group by grain, entity_code, period

),

quarter_rows as (

    select
        e.grain,
        e.entity_code,
        'quarter' as period_type,
        e.period,
        e.year,
        e.start_period,
        e.enterprises_start,
        e.enterprises_first_filing,
        e.enterprises_refiling,
        e.enterprises_unreported,
        e.enterprises_end,
        coalesce(c.high_skill_start, 0) as high_skill_start,
        coalesce(c.promoted_in, 0) as promoted_in,
        coalesce(c.promoted_trained, 0) as promoted_trained,
        coalesce(c.transfer_in, 0) as transfer_in,
        coalesce(c.returned_in, 0) as returned_in,
        coalesce(c.new_in, 0) as new_in,
        coalesce(c.first_filing_in, 0) as first_filing_in,
        coalesce(c.refiling_in, 0) as refiling_in,
        coalesce(c.transfer_out, 0) as transfer_out,
        coalesce(c.retired, 0) as retired,
        coalesce(c.left_otherwise, 0) as left_otherwise,
        coalesce(c.unreported_out, 0) as unreported_out,
        coalesce(c.high_skill_end, 0) as high_skill_end,
        coalesce(c.upgraded, 0) as upgraded,
        coalesce(c.upgraded_to_technician, 0) as upgraded_to_technician
    from entities as e
    left join counts as c
        on
            e.grain = c.grain
            and e.entity_code = c.entity_code
            and e.period = c.period

),

-- A year's start is its first quarter's start (the previous Q4's end), its end the last quarter's end.
year_rows as (

    select
        q.grain,
        q.entity_code,
        'year' as period_type,
        {{ year_end_period('q.year') }} as period,
        q.year,
        {{ period_from_index('q.year * 4 - 1') }} as start_period,
        {{ at_quarter('q.enterprises_start', first_quarter_period('q.year')) }} as enterprises_start,
        cast(sum(q.enterprises_first_filing) as bigint) as enterprises_first_filing,
        cast(sum(q.enterprises_refiling) as bigint) as enterprises_refiling,
        cast(sum(q.enterprises_unreported) as bigint) as enterprises_unreported,
        {{ at_quarter('q.enterprises_end', year_end_period('q.year')) }} as enterprises_end,
        {{ at_quarter('q.high_skill_start', first_quarter_period('q.year')) }} as high_skill_start,
        cast(sum(q.promoted_in) as bigint) as promoted_in,
        cast(sum(q.promoted_trained) as bigint) as promoted_trained,
        cast(sum(q.transfer_in) as bigint) as transfer_in,
        cast(sum(q.returned_in) as bigint) as returned_in,
        cast(sum(q.new_in) as bigint) as new_in,
        cast(sum(q.first_filing_in) as bigint) as first_filing_in,
        cast(sum(q.refiling_in) as bigint) as refiling_in,
        cast(sum(q.transfer_out) as bigint) as transfer_out,
        cast(sum(q.retired) as bigint) as retired,
        cast(sum(q.left_otherwise) as bigint) as left_otherwise,
        cast(sum(q.unreported_out) as bigint) as unreported_out,
        {{ at_quarter('q.high_skill_end', year_end_period('q.year')) }} as high_skill_end,
        cast(sum(q.upgraded) as bigint) as upgraded,
        cast(sum(q.upgraded_to_technician) as bigint) as upgraded_to_technician
    from quarter_rows as q
    inner join periods as p on q.period = p.period
    where p.is_year_complete
    group by q.grain, q.entity_code, q.year

),

accounts as (

    select * from quarter_rows
    union all
    select * from year_rows

),

-- Table 1's figures at both ends: a quarter row starts at the previous quarter, a year row at the previous year.
with_shares as (

    select
        a.*,
        n.grain_zh,
        n.entity_name,
        n.group_org_code,
        n.sector,
        s0.skilled_workers as skilled_workers_start,
        s1.skilled_workers as skilled_workers_end,
        s0.high_skill_total as high_skill_reported_start,
        s1.high_skill_total as high_skill_reported_end,
        s0.high_skill_share as share_start,
        s1.high_skill_share as share_end
    from accounts as a
    inner join names as n on a.grain = n.grain and a.entity_code = n.entity_code
    left join shares as s1
        on
            a.grain = s1.grain
            and a.entity_code = s1.entity_code
            and a.period_type = s1.period_type
            and a.period = s1.period
    left join shares as s0
        on
            a.grain = s0.grain
            and a.entity_code = s0.entity_code
            and a.period_type = s0.period_type
            and a.start_period = s0.period

),

totals as (

    select
        *,
        promoted_in + transfer_in + returned_in + new_in + first_filing_in + refiling_in as in_total,
        transfer_out + retired + left_otherwise + unreported_out as out_total,
        share_start is not null and share_end is not null as is_decomposable
    from with_shares

),

final as (

    select
        grain,
        grain_zh,
        entity_code,
        entity_name,
        group_org_code,
        sector,
        period_type,
        period,
        year,
        case period_type
            when 'quarter' then {{ basis_label('quarter') }}
            else {{ basis_label('year_flows') }}
        end as basis,
        start_period,
        enterprises_start,
        enterprises_first_filing,
        enterprises_refiling,
        enterprises_unreported,
        enterprises_end,
        high_skill_start,
        promoted_in,
        promoted_trained,
        transfer_in,
        returned_in,
        new_in,
        first_filing_in,
        refiling_in,
        in_total,
        transfer_out,
        retired,
        left_otherwise,
        unreported_out,
        out_total,
        high_skill_end,
        upgraded,
        upgraded_to_technician,
        upgraded - upgraded_to_technician as upgraded_within_technician,
        skilled_workers_start,
        skilled_workers_end,
        high_skill_reported_start,
        high_skill_reported_end,
        share_start,
        share_end,
        share_end - share_start as share_change,
        case when is_decomposable then cast(promoted_in as double) / skilled_workers_end end
            as share_from_promotion,
        case when is_decomposable then cast(new_in as double) / skilled_workers_end end as share_from_hiring,
        case when is_decomposable then cast(returned_in as double) / skilled_workers_end end as share_from_returns,
        case when is_decomposable then cast(transfer_in - transfer_out as double) / skilled_workers_end end
            as share_from_transfers,
        case
            when is_decomposable
                then cast(first_filing_in + refiling_in - unreported_out as double) / skilled_workers_end
        end as share_from_observation,
        case when is_decomposable then cast(-(retired + left_otherwise) as double) / skilled_workers_end end
            as share_from_departures,
        case
            when is_decomposable
                then
                    cast(high_skill_start as double) / skilled_workers_end
                    - cast(high_skill_start as double) / skilled_workers_start
        end as share_from_skilled_workers,
        case
            when is_decomposable
                then
                    cast(high_skill_reported_end - high_skill_end as double) / skilled_workers_end
                    - cast(high_skill_reported_start - high_skill_start as double) / skilled_workers_start
        end as share_from_roster_gap
    from totals

)

select * from final
