-- governance_annual: the year rows of governance_matrix (macros/annual.sql)
{{ year_rows_of('governance_matrix') }}
