"""The filing portal: enterprise clerks upload their quarterly workbook, see the intake's findings at once,
and download their receipts; each enterprise sees only its own (docs/portal.md)."""
