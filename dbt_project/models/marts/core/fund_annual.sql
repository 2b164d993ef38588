-- fund_annual: the year rows of fund_tracking (macros/annual.sql)
{{ year_rows_of('fund_tracking') }}
