with

source as (

    select * from {{ source('flags', 'expectation_flags') }}

),

renamed as (

    select
        cast(rule_id as {{ dbt.type_string() }}) as rule_id,
        cast(clause as {{ dbt.type_string() }}) as clause,
        lower(cast(severity as {{ dbt.type_string() }})) as severity,
        upper(cast(org_code as {{ dbt.type_string() }})) as org_code,
        upper(cast(period as {{ dbt.type_string() }})) as period,
        cast(person_key as {{ dbt.type_string() }}) as person_key,
        cast(observed_value as {{ dbt.type_string() }}) as observed_value,
        cast(threshold as {{ dbt.type_string() }}) as threshold,
        cast(message_zh as {{ dbt.type_string() }}) as message_zh,
        cast(source as {{ dbt.type_string() }}) as source,
        cast(submission_id as {{ dbt.type_string() }}) as submission_id,
        cast(sheet as {{ dbt.type_string() }}) as sheet,
        cast(source_row as integer) as source_row,
        cast(column_name as {{ dbt.type_string() }}) as column_name,
        cast(expectation_type as {{ dbt.type_string() }}) as expectation_type

    from source

)

select * from renamed
