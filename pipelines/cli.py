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
    from pipelines.lib import heap
    from pipelines.run import RunError, run_quarters

    heap.declare_one_shot()  # this process ends with the run (_end_process)
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
    _end_process(0 if summary.success else 1)


def _end_process(code: int) -> None:
    """Exit without Python's teardown: freeing a run's heap (Dagster's and dbt's objects, the manifest) one
    object at a time took ~2 s after the summary was printed. Every file is closed and every child waited for
    by now; only the terminal's buffers need flushing."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


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
              help="Where to write the page (default: report/enterprises/<XXXXXXXX-X>[_<period>].html beside the warehouse).")
def enterprise(org_code: str, period: Period | None, is_group: bool, warehouse: Path, out: Path | None) -> None:
    """Write the inspection page (检查页) of one enterprise, or of a group: one self-contained HTML, A4 printable."""
    from pipelines.lib.domain.codes import normalize_org_code
    from pipelines.lib.exports.inspection import UnknownEntityError, write_inspection_page
    from pipelines.lib.exports.pages import ENTERPRISE_DIR, GROUP_DIR, page_name

    if not warehouse.is_file():
        raise click.ClickException(f"找不到发布库 {warehouse}：请先运行 sasac-skills run，或用 --warehouse 指定")
    code = normalize_org_code(org_code)
    if out is None:
        folder = warehouse.parent / "report" / (GROUP_DIR if is_group else ENTERPRISE_DIR)
        name = page_name(code)
        out = folder / (f"{Path(name).stem}_{period}.html" if period else name)
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


@main.group()
def portal() -> None:
    """The filing portal: enterprise accounts, and the web server clerks upload to (docs/portal.md)."""


def _portal_db(db: Path | None) -> Path:
    from pipelines.portal import db as portal_db
    from pipelines.portal.settings import Settings

    path = db or Settings.from_env().db_path
    portal_db.init(path)
    return path


_DB_OPTION = click.option("--db", type=click.Path(path_type=Path), default=None,
                          help="Portal database (default: $SASAC_PORTAL_DB, else <workdir>/portal.sqlite).")


@portal.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8040, show_default=True, type=int)
@click.option("--proxy", default=None, help="Address of the reverse proxy whose X-Forwarded-* headers to trust.")
@click.option("--insecure-cookies", is_flag=True,
              help="Session cookie without the Secure flag: only for plain HTTP on a test network.")
def portal_serve(host: str, port: int, proxy: str | None, insecure_cookies: bool) -> None:
    """Start the portal (inbox, warehouse and working area as for `run`: SASAC_INBOX, SASAC_WAREHOUSE, SASAC_WORKDIR)."""
    from pipelines.lib.intake.pseudonym import MissingKeyError, load_key
    from pipelines.portal.server import serve
    from pipelines.portal.settings import Settings

    try:
        load_key()
    except MissingKeyError as exc:
        raise click.ClickException(str(exc)) from None
    overrides = {"secure_cookies": False} if insecure_cookies else {}
    settings = Settings.from_env(**overrides)
    click.echo(f"报送平台 http://{host}:{port}  收件箱 {settings.inbox}  数据库 {settings.db_path}")
    serve(settings, host, port, proxy)


@portal.command("add-user")
@click.option("--org", help="组织机构代码 of the enterprise the account files for, e.g. 10117472-0.")
@click.option("--staff", is_flag=True, help="A commission staff account: sees every enterprise.")
@click.option("--name", required=True, help="Who uses the account (shown to them; never logged).")
@click.option("--login", default=None, help="Login name (default: <org code>-01, -02 … or staff-01 …).")
@_DB_OPTION
def portal_add_user(org: str | None, staff: bool, name: str, login: str | None, db: Path | None) -> None:
    """Create an account; prints its one-time password, to be changed at first login."""
    from pipelines.portal.accounts import AccountError, add_user

    try:
        user, password = add_user(_portal_db(db), name, org=org, staff=staff, login=login)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"账户已创建  登录名: {user.login}  单位: {user.org_display}")
    if user.org_code:
        _warn_if_unregistered(user.org_code)
    click.echo(f"一次性密码: {password}   (首次登录后必须修改；请当面或电话告知，勿用邮件发送)")


def _warn_if_unregistered(org_code: str) -> None:
    """An account may be opened before the registry lists the enterprise, but its uploads would be refused."""
    from pipelines.lib.intake.inbox import InboxError, read_registry
    from pipelines.portal.settings import Settings

    inbox = Settings.from_env().inbox
    try:
        known = set(read_registry(inbox)["org_code"].to_list())
    except InboxError:
        return
    if org_code not in known:
        click.echo(f"注意：收件箱 {inbox} 的名录中没有该单位，名录补录之前其上传的报表将被退回", err=True)


@portal.command("disable-user")
@click.argument("login")
@_DB_OPTION
def portal_disable_user(login: str, db: Path | None) -> None:
    """Disable an account now (its sessions end at once)."""
    from pipelines.portal.accounts import AccountError, disable_user

    try:
        disable_user(_portal_db(db), login)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"账户 {login} 已停用")


@portal.command("reset-password")
@click.argument("login")
@_DB_OPTION
def portal_reset_password(login: str, db: Path | None) -> None:
    """A new one-time password (lifts a lock-out, re-enables the account, ends its sessions)."""
    from pipelines.portal.accounts import AccountError, reset_password

    try:
        password = reset_password(_portal_db(db), login)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"账户 {login} 的新一次性密码: {password}   (登录后必须修改)")


if __name__ == "__main__":
    main()
