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
    object at a time keeps the terminal waiting after the summary is printed, for nothing. Every file is closed
    and every child waited for by now; only the terminal's buffers need flushing."""
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
    from pipelines.defs.dbt.project import dbt_project
    from pipelines.lib.domain.codes import normalize_org_code
    from pipelines.lib.exports.inspection import UnknownEntityError, write_inspection_page
    from pipelines.lib.exports.pages import ENTERPRISE_DIR, GROUP_DIR, page_name

    if not warehouse.is_file():
        raise click.ClickException(f"找不到发布库 {warehouse}：请先运行 sasac-skills run，或用 --warehouse 指定")
    dbt_project()  # the project's manifest, parsed again if a yml changed: the page reads its verdicts' caveats there
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
    """A new one-time password (re-enables the account, ends its sessions)."""
    from pipelines.portal.accounts import AccountError, reset_password

    try:
        password = reset_password(_portal_db(db), login)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"账户 {login} 的新一次性密码: {password}   (登录后必须修改)")


@main.command()
@click.option("--workdir", type=click.Path(path_type=Path), envvar="SASAC_WORKDIR", default="data/work",
              show_default=True, help="Working area: alerts go to logs/alerts.jsonl, state to logs/watchdog.json. "
                                      "Env: SASAC_WORKDIR")
@click.option("--repeat-hours", type=click.FloatRange(min=0, min_open=True), default=6, show_default=True,
              help="While the daemon stays down, alert again at most this often.")
def watchdog(workdir: Path, repeat_hours: float) -> None:
    """Check the Dagster daemon (DAGSTER_HOME) once; alert when it goes down or comes back (for a systemd timer).

    Exit status: 0 the daemon runs, 1 it does not, 2 the watchdog is misconfigured (DAGSTER_HOME, SASAC_ALERT_*).
    """
    import datetime as dt

    from pipelines.lib.ops.alerts import AlertConfigError, AlertSettings
    from pipelines.lib.ops.watchdog import WatchdogError, watch

    try:
        settings = AlertSettings.from_env()
        liveness, record = watch(workdir.resolve(), dt.timedelta(hours=repeat_hours), settings)
    except (AlertConfigError, WatchdogError) as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(2)
    last_line = (liveness.output.splitlines() or ["（无输出）"])[-1]
    line = "守护进程运行正常" if liveness.healthy else f"守护进程未运行：{last_line}"
    if record is not None:
        line += f"；已告警 {record['kind']}（邮件：{record['email']}）"
    click.echo(line, err=not liveness.healthy)
    sys.exit(0 if liveness.healthy else 1)



# --- backup, restore, run retention (docs/operations.md) ---------------------------------------------------

def _with_run_paths(command: click.Command) -> click.Command:
    """--inbox, --warehouse and --workdir exactly as `run` has them (environment variables, defaults)."""
    command.params.extend(p for p in run.params if p.name in ("inbox", "warehouse", "workdir"))
    return command


@_with_run_paths
@main.command("backup")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Folder of backups: each backup goes into a new sasac-backup-<YYYYMMDD-HHMMSS>/ inside it.")
@click.option("--wait-seconds", type=click.FloatRange(min=0), default=3600, show_default=True,
              help="How long to wait for a run that holds the working area before giving up.")
@click.option("--keep", type=click.IntRange(min=0), default=0, show_default=True,
              help="Afterwards keep only the newest N complete backups in --out (0: keep all).")
def backup_command(out: Path, wait_seconds: float, keep: int, inbox: Path, warehouse: Path, workdir: Path) -> None:
    """Copy the inbox, the working database and raw archive, the portal's database and the published outputs,
    with a manifest of every file's SHA-256 (not the key SASAC_HMAC_KEY, not the logs)."""
    from pipelines.lib.ops.backup import BackupError, Locations, backup
    from pipelines.lib.ops.work_lock import WorkAreaBusy

    def waiting(holder: str) -> None:
        click.echo(f"工作目录正被使用（{holder}），备份等它结束，最多 {wait_seconds:.0f} 秒", err=True)

    try:
        done = backup(Locations.of(inbox, workdir, warehouse), out, wait_seconds, keep, on_wait=waiting)
    except WorkAreaBusy as exc:
        raise click.ClickException(f"备份未进行（已等待 {wait_seconds:.0f} 秒）：{exc}") from None
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"备份完成 backup written: {done.path}  ({done.files} 个文件，{done.bytes / 2**20:.1f} MiB，"
               f"{done.seconds:.1f} s)")
    click.echo("  清单 manifest.json 列出每个文件的大小与 SHA-256；假名化密钥 SASAC_HMAC_KEY 不在备份中（保存在密钥库）")
    for old in done.removed:
        click.echo(f"  已删除较早的备份 removed (--keep {keep}): {old}")


@_with_run_paths
@main.command("restore")
@click.argument("backup_dir", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True,
              help="Write into non-empty locations: the backup's files replace theirs, other files stay.")
def restore_command(backup_dir: Path, force: bool, inbox: Path, warehouse: Path, workdir: Path) -> None:
    """Verify a backup (BACKUP_DIR, or a folder of backups: the newest) and restore it to the given paths."""
    from pipelines.lib.ops.backup import BackupError, Locations
    from pipelines.lib.ops.restore import restore
    from pipelines.lib.ops.work_lock import WorkAreaBusy

    target = Locations.of(inbox, workdir, warehouse)
    try:
        done = restore(backup_dir, target, force=force)
    except (BackupError, WorkAreaBusy) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已恢复 restored: {done.backup}  (备份于 {done.created_at})")
    where = {"inbox": ("收件箱 inbox", target.inbox), "work": ("工作目录 workdir", target.workdir),
             "portal": ("报送平台 portal", target.portal_db), "published": ("发布库 warehouse", target.warehouse)}
    for section, (files, size) in done.counts.items():
        label, path = where[section]
        click.echo(f"  {label}: {path}  ({files} 个文件，{size / 2**20:.1f} MiB)")
    if not done.same_code:
        click.echo("  备份时的程序或规则与当前不同：下一次运行按当前的规则重新核对（规则变更，见 README）")
    key_line = {"same": "当前的 SASAC_HMAC_KEY 与备份时的相同。",
                "different": "注意：当前的 SASAC_HMAC_KEY 与备份时的不同！请换回备份时的密钥再运行，否则新报表的假名与库中的对不上。",
                "unknown": "请确认 SASAC_HMAC_KEY 与备份时的相同：假名由它决定，备份中没有密钥。",
                "unset": "请设置与备份时相同的 SASAC_HMAC_KEY 再运行：假名由它决定，备份中没有密钥。"}[done.key]
    click.echo(key_line, err=done.key == "different")
    click.echo("下一步 next: sasac-skills run --all（以恢复的路径重新计算并发布）")


@main.command("prune-runs")
@click.option("--older-than-days", type=click.IntRange(min=0), default=400, show_default=True,
              help="Delete finished runs last updated more than this many days ago.")
@click.option("--dry-run", is_flag=True, help="Only count the runs that would be deleted.")
def prune_runs_command(older_than_days: int, dry_run: bool) -> None:
    """Delete the finished Dagster runs of $DAGSTER_HOME (with their event logs) older than N days."""
    from pipelines.retention import RetentionError, prune_runs

    try:
        done = prune_runs(older_than_days, dry_run=dry_run)
    except RetentionError as exc:
        raise click.ClickException(str(exc)) from None
    verb = "将删除 would delete" if done.dry_run else "已删除 deleted"
    click.echo(f"{verb} {done.deleted} 次运行（结束于 {done.cutoff:%Y-%m-%d %H:%M} UTC 之前）")


# --- releases (docs/analyst-guide.md, "Releases") -------------------------------------------------------------

def _with_warehouse(command: click.Command) -> click.Command:
    """--warehouse exactly as `run` has it."""
    command.params.extend(p for p in run.params if p.name == "warehouse")
    return command


def _published_releases(warehouse: Path) -> list:
    from pipelines.lib.exports.releases import read_releases

    if not warehouse.is_file():
        raise click.ClickException(f"找不到发布库 {warehouse}：请先运行 sasac-skills run，或用 --warehouse 指定")
    return read_releases(warehouse)


@main.group()
def release() -> None:
    """Releases: every run that changed published figures, its causes and the documents it published."""


@_with_warehouse
@release.command("list")
def release_list(warehouse: Path) -> None:
    """One line per release: number, time, changed quarters."""
    releases = _published_releases(warehouse)
    if not releases:
        click.echo("尚无发布版本 (no release yet)")
    for r in releases:
        click.echo(f"{r.number}  {r.released_at:%Y-%m-%d %H:%M:%S}  {'、'.join(r.quarters)}")


def _published_release(warehouse: Path, number: int):
    """Release ``number`` of the published ledger; one Chinese line and exit 1 when there is none."""
    releases = {r.number: r for r in _published_releases(warehouse)}
    if number not in releases:
        known = f"现有版本 1–{max(releases)}" if releases else "尚无任何发布版本"
        raise click.ClickException(f"没有发布版本 {number}（{known}）")
    return releases[number]


@_with_warehouse
@release.command("show")
@click.argument("number", type=int)
def release_show(number: int, warehouse: Path) -> None:
    """A release's time, changed quarters and causes (files by submission id, rules by version)."""
    click.echo("\n".join(_published_release(warehouse, number).lines(warehouse.parent)))


@_with_warehouse
@release.command("export")
@click.argument("number", type=int)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="导出目录：warehouse.duckdb（该版本的集市）和该版本发布的文件")
def release_export(number: int, out: Path, warehouse: Path) -> None:
    """Release N's marts (as a DuckDB file, from the marts' history) and its documents as published."""
    from pipelines.lib.exports.release_export import ExportError, export_release

    _published_release(warehouse, number)
    try:
        done = export_release(warehouse, number, out)
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"发布版本 {number} 已导出到 {out}：集市 {done.tables} 张表（{done.database.name}），文件 {done.documents} 份")


if __name__ == "__main__":
    main()
