"""``sasac-skills``: run the quarterly graph, write the template, generate synthetic submissions.

Every failure a person can fix (a wrong period, a missing inbox, a locked warehouse, a missing
key) is one line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click

from pipelines.lib.periods import Period, PeriodError, period_range

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
@click.option("--quiet", is_flag=True, help="Only the summary.")
def run(period: Period | None, all_periods: bool, inbox: Path, warehouse: Path, workdir: Path, quiet: bool) -> None:
    """Intake → dbt → expectations → publish for the chosen quarters (the Dagster graph, in-process)."""
    from pipelines.run import RunError, run_quarters

    if bool(period) == all_periods:
        raise click.UsageError("请指定 --period YYYYQn 或 --all 之一 (give exactly one of --period or --all)")
    try:
        summary = run_quarters(inbox=inbox.resolve(), warehouse=warehouse.resolve(), workdir=workdir.resolve(),
                               period=period, quiet=quiet)
    except RunError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(summary.text())
    if not summary.success:
        sys.exit(1)


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Where to write the blank .xlsx.")
def template(out: Path) -> None:
    """Write the blank quarterly workbook an enterprise fills in."""
    from pipelines.lib.template import write_template

    write_template(out)
    click.echo(f"模板已生成 template written: {out}")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Inbox folder to create.")
@click.option("--enterprises", type=click.IntRange(1), default=12, show_default=True)
@click.option("--first", "first", callback=_period, default="2006Q1", show_default=True)
@click.option("--last", "last", callback=_period, default="2010Q4", show_default=True)
@click.option("--seed", type=int, default=2008, show_default=True)
@click.option("--clean", is_flag=True, help="No planted defects or violations.")
def generate(out: Path, enterprises: int, first: Period, last: Period, seed: int, clean: bool) -> None:
    """Generate a deterministic synthetic inbox with its ground truth."""
    from pipelines.lib.generator import GeneratorConfig, generate as gen

    if last < first:
        raise click.BadParameter("--last 早于 --first")
    started = time.perf_counter()
    config = GeneratorConfig(n_enterprises=enterprises, first_period=str(first), last_period=str(last), seed=seed)
    if clean:
        config = config.without_defects()
    truth = gen(out, config)
    click.echo(f"生成 {enterprises} 家企业 × {len(period_range(first, last))} 个季度 → {out} "
               f"（{len(truth.rows)} 条真值记录，{time.perf_counter() - started:.1f} s）")


if __name__ == "__main__":
    main()
