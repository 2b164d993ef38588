"""Beyond one machine (issue 14): the raw tables as Parquet, and the same dbt project on Spark."""
