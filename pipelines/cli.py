"""``sasac-skills``: run the quarterly graph, write the template, generate synthetic submissions, look up a
pseudonym, write an enterprise's inspection page.

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
@click.option("--quiet", is_flag=True, help="Only the summary.")
@click.option("--recheck", is_flag=True,
              help="Re-judge every held file of the chosen quarters from the archive, even if no rule changed "
                   "(files judged by other rules than those now in force are re-judged by every run anyway).")
def run(period: Period | None, all_periods: bool, inbox: Path, warehouse: Path, workdir: Path, quiet: bool,
        recheck: bool) -> None:
    """Intake → dbt → expectations → publish for the chosen quarters (the Dagster graph, in-process)."""
    from pipelines.run import RunError, run_quarters

    if bool(period) == all_periods:
        raise click.UsageError("请指定 --period YYYYQn 或 --all 之一 (give exactly one of --period or --all)")
    try:
        summary = run_quarters(inbox=inbox.resolve(), warehouse=warehouse.resolve(), workdir=workdir.resolve(),
                               period=period, quiet=quiet, guard_children=True, recheck=recheck)
    except RunError as exc:
        raise click.ClickException(str(exc)) from None
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


@main.command()
def pseudonym() -> None:
    """Print the pseudonym (person_key) of 身份证号 read from stdin, one per line, or typed at a hidden prompt.

    Only the key holder (SASAC_HMAC_KEY, as for the intake) gets the pseudonyms the warehouse holds. The ID
    is never echoed, logged or written; there is no reverse lookup.
    """
    from pipelines.lib.domain.codes import id_number_problem
    from pipelines.lib.intake.pseudonym import (
        MissingKeyError,
        canonical_id,
        load_key,
        person_key_of_canonical,
    )

    try:
        key = load_key()
    except MissingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    if sys.stdin.isatty():
        lines = [click.prompt("身份证号（输入不显示）", hide_input=True, err=True)]
    else:
        lines = [line for line in sys.stdin.read().splitlines() if line.strip()]
    invalid = 0
    for n, line in enumerate(lines, start=1):
        canonical = canonical_id(line)
        if id_number_problem(canonical) is not None:
            invalid += 1
            click.echo("-")
            click.echo(f"第{n}行：身份证号无效（请核对位数、出生日期和校验位），未生成假名", err=True)
            continue
        click.echo(person_key_of_canonical(canonical, key))
    if invalid:
        sys.exit(1)


@main.command()
@click.argument("org_code")
@click.option("--period", callback=_period, help="As of this quarter (default: the warehouse's latest).")
@click.option("--group", "is_group", is_flag=True, help="The group with this code: its enterprises side by side.")
@click.option("--warehouse", type=click.Path(path_type=Path), envvar="SASAC_WAREHOUSE",
              default="data/marts/warehouse.duckdb", show_default=True, help="Published DuckDB file. Env: SASAC_WAREHOUSE")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write the page (default: report/enterprises/<code>[_<period>].html beside the warehouse).")
def enterprise(org_code: str, period: Period | None, is_group: bool, warehouse: Path, out: Path | None) -> None:
    """Write the inspection page (检查页) of one enterprise, or of a group: one self-contained HTML, A4 printable."""
    from pipelines.lib.domain.codes import normalize_org_code
    from pipelines.lib.exports.inspection import (
        ENTERPRISE_DIR,
        GROUP_DIR,
        UnknownEntityError,
        write_inspection_page,
    )

    if not warehouse.is_file():
        raise click.ClickException(f"找不到发布库 {warehouse}：请先运行 sasac-skills run，或用 --warehouse 指定")
    code = normalize_org_code(org_code)
    if out is None:
        folder = warehouse.parent / "report" / (GROUP_DIR if is_group else ENTERPRISE_DIR)
        out = folder / (f"{code}_{period}.html" if period else f"{code}.html")
    try:
        path = write_inspection_page(warehouse, code, out, str(period) if period else None, group=is_group)
    except UnknownEntityError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"检查页已生成 inspection page written: {path}")


def _generator_command() -> click.Command:
    from pipelines.lib.generator.__main__ import main as generate_command

    generate_command.help = "Generate a deterministic synthetic inbox with its ground truth (docs/generator.md)."
    return generate_command


main.add_command(_generator_command(), name="generate")


if __name__ == "__main__":
    main()
