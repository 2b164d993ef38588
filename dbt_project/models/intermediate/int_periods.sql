{#-
  The period spine: every quarter from the first registry/submission period to the filing horizon.
  data horizon   = max(period) in raw.submissions (year rows exist only for years whose Q4 <= it)
  filing horizon = greatest(SASAC_PERIOD_TO, data horizon): filing_status runs up to it, so a quarter
                   being run that nobody has filed yet shows everybody as 未报送.
  The run's last quarter comes as an environment variable, not a --vars value: a changed var makes dbt
  parse the whole project again (~2.5 s of CPU a run), a changed env_var only the files that read it.
-#}
{%- set period_to = env_var('SASAC_PERIOD_TO', '') -%}

with

submissions as (

    select * from {{ ref('stg_raw__submissions') }}

),

registry as (

    select * from {{ ref('stg_raw__registry') }}

),

submission_bounds as (

    select
        min({{ period_index('period') }}) as first_index,
        max({{ period_index('period') }}) as data_horizon_index
    from submissions

),

registry_bounds as (

    select min({{ period_index('active_from') }}) as first_index
    from registry

),

bounds as (

    select
        case
            when s.first_index is null then r.first_index
            when r.first_index is null then s.first_index
            when s.first_index < r.first_index then s.first_index
            else r.first_index
        end as first_index,
        s.data_horizon_index,
        {%- if period_to %}
        case
            when s.data_horizon_index is null then {{ period_index("'" ~ period_to ~ "'") }}
            when s.data_horizon_index > {{ period_index("'" ~ period_to ~ "'") }} then s.data_horizon_index
            else {{ period_index("'" ~ period_to ~ "'") }}
        end as filing_horizon_index
        {%- else %}
            s.data_horizon_index as filing_horizon_index
        {%- endif %}
    from submission_bounds as s
    cross join registry_bounds as r

),

digits as (

    {{ digits() }}

),

offsets as (

    select d1.d + 10 * d2.d + 100 * d3.d as n
    from digits as d1
    cross join digits as d2
    cross join digits as d3

),

spine as (

    select
        b.first_index + o.n as period_index,
        b.data_horizon_index,
        b.filing_horizon_index
    from bounds as b
    cross join offsets as o
    where b.first_index + o.n <= b.filing_horizon_index

),

final as (

    select
        {{ period_from_index('period_index') }} as period,
        period_index,
        cast(floor(period_index / 4) as integer) as year,
        cast(period_index - 4 * floor(period_index / 4) + 1 as integer) as quarter,
        {{ period_from_index('data_horizon_index') }} as data_horizon_period,
        {{ period_from_index('filing_horizon_index') }} as filing_horizon_period,
        coalesce(period_index <= data_horizon_index, false) as is_within_data_horizon,
        coalesce(4 * floor(period_index / 4) + 3 <= data_horizon_index, false) as is_year_complete
    from spine

)

select * from final
