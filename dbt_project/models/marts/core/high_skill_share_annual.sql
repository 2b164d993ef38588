-- high_skill_share_annual: the year rows of high_skill_share_tracking (macros/annual.sql)
{{ year_rows_of('high_skill_share_tracking') }}
