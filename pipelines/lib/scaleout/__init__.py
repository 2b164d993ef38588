"""Beyond one machine: the raw tables as Parquet, and the same dbt project on Spark."""
