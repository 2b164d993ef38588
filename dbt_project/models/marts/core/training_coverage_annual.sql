-- training_coverage_annual: the year rows of training_coverage_tracking (macros/annual.sql)
{{ year_rows_of('training_coverage_tracking') }}
