"""``sasac-skills``: run the quarterly graph, write the template, generate synthetic submissions.

Every failure a person can fix (a wrong period, a missing inbox, a locked warehouse, a missing
key) is one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from pipelines.lib.domain.periods import Period, PeriodError

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


def _period(_ctx: click.Context, _param: click.Parameter, value: str | None) -> Period | None:
    if value is None:
        return None
    try:
        return Period.parse(value)
    except PeriodError as exc:
        raise click.BadParameter(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """北京市国资委 高技能人才工作季度报表平台（京国资党发〔2008〕8号）."""


@main.command()
@click.option("--period", callback=_period, help="Quarter to run, e.g. 2008Q2.")
@click.option("--all", "all_periods", is_flag=True, help="Every quarter found in the inbox, in one run.")
@click.option("--inbox", type=click.Path(path_type=Path), envvar="SASAC_INBOX", default="data/raw",
              show_default=True, help="Inbox folder (registry.csv + one folder per period). Env: SASAC_INBOX")
@click.option("--warehouse", type=click.Path(path_type=Path), envvar="SASAC_WAREHOUSE",
              default="data/marts/warehouse.duckdb", show_default=True,
              help="Published DuckDB file; exports go beside it. Env: SASAC_WAREHOUSE")
@click.option("--workdir", type=click.Path(path_type=Path), envvar="SASAC_WORKDIR", default="data/work",
              show_default=True, help="Working database and raw archive (restricted). Env: SASAC_WORKDIR")
@click.option("--quiet", is_flag=True, help="Only the summary (the logs still go to the run's log file).")
@click.option("--verbose", is_flag=True, help="Stream the Dagster and dbt logs instead of the progress lines.")
@click.option("--recheck", is_flag=True,
              help="Re-judge every held file of the chosen quarters from the archive, even if no rule changed "
                   "(files judged by other rules than those now in force are re-judged by every run anyway).")
def run(period: Period | None, all_periods: bool, inbox: Path, warehouse: Path, workdir: Path, quiet: bool,
        verbose: bool, recheck: bool) -> None:
    """Intake → dbt → expectations → publish for the chosen quarters (the Dagster graph, in-process).

    The terminal shows one line per stage and the summary; the Dagster and dbt logs go to a log file in the
    working area (named at the end of the summary).
    """
    from pipelines.console import routed_output
    from pipelines.run import RunError, run_quarters

    if bool(period) == all_periods:
        raise click.UsageError("请指定 --period YYYYQn 或 --all 之一 (give exactly one of --period or --all)")
    if quiet and verbose:
        raise click.UsageError("--quiet 与 --verbose 只能选一个 (give at most one of --quiet and --verbose)")
    workdir = workdir.resolve()
    try:
        with routed_output(workdir, "quiet" if quiet else "verbose" if verbose else "progress") as output:
            summary = run_quarters(inbox=inbox.resolve(), warehouse=warehouse.resolve(), workdir=workdir,
                                   period=period, quiet=False, guard_children=True, recheck=recheck)
    except RunError as exc:
        raise click.ClickException(str(exc)) from None
    summary.log_file = output.log_file
    click.echo(summary.text())
    if not summary.success:
        sys.exit(1)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Where to write the blank .xlsx.")
def template(out: Path) -> None:
    """Write the blank quarterly workbook an enterprise fills in."""
    from pipelines.lib.forms.template import write_template

    write_template(out)
    click.echo(f"模板已生成 template written: {out}")


def _generator_command() -> click.Command:
    from pipelines.lib.generator.__main__ import main as generate_command

    generate_command.help = "Generate a deterministic synthetic inbox with its ground truth (docs/generator.md)."
    return generate_command


main.add_command(_generator_command(), name="generate")


if __name__ == "__main__":
    main()
