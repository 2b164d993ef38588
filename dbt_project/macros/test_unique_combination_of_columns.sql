{#- Generic test: the combination of the given columns is unique (no dbt_utils offline). -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as n_records
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select * from grouped
where n_records > 1

{% endtest %}
