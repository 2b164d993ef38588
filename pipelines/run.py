"""Run the quarterly Dagster job in-process for one quarter or a range: what the CLI and tests call.

It is the same asset graph the Dagster UI, the schedule and the sensor run; a range of quarters
is one run (single-run backfill), so dbt and the expectations run once, not once per quarter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.lib import heap
from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.fingerprint import record_successful_run, run_fingerprint, unchanged_since_last_run
from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.domain.reference import collection_periods
from pipelines.lib.exports.display import read_display
from pipelines.lib.exports.releases import release_of_run
from pipelines.lib.intake.inbox import InboxError, inbox_periods, read_registry
from pipelines.lib.intake.pseudonym import MissingKeyError, load_key
from pipelines.lib.ops.work_lock import WorkAreaBusy, describe_holder, work_lock

REPO_ROOT = Path(__file__).resolve().parents[1]
ANALYST_GUIDE = REPO_ROOT / "docs" / "analyst-guide.md"
# Lists longer than this end with where the rest is, so the summary stays one screen.
SUMMARY_LIST_MAX = 6


class RunError(Exception):
    """A problem the person running the platform can fix; the message says how."""


@dataclass
class RunDetails:
    """What the summary lists beyond the counts, read back from the published warehouse (no personal data:
    enterprises by code and name, flags by rule and severity)."""

    rejected: list[tuple[str, str, str, str]] = field(default_factory=list)  # period, org code, name, reason
    by_severity: list[tuple[str, int]] = field(default_factory=list)  # label (seed-owned), flags
    by_rule: list[tuple[str, str, int]] = field(default_factory=list)  # rule id, title (seed-owned), flags
    reports: int = 0
    receipts: int = 0

    def lines(self) -> list[str]:
        out = [f"退回的企业 rejected (被退回且尚未更正): {len(self.rejected)}"]
        out += [f"  {p} {code} {name}：{reason}" for p, code, name, reason in self.rejected[:SUMMARY_LIST_MAX]]
        if len(self.rejected) > SUMMARY_LIST_MAX:
            out.append(f"  … 其余 {len(self.rejected) - SUMMARY_LIST_MAX} 家见 marts.filing_status（is_rejected）")
        total = sum(n for _, n in self.by_severity)
        out.append(f"问题 flags: {total}" + ("  按严重程度 by severity: " + "，".join(
            f"{label} {n}" for label, n in self.by_severity) if self.by_severity else ""))
        if self.by_rule:
            out.append("  按规则 by rule:")
            out += [f"    {rule} {title}：{n}" for rule, title, n in self.by_rule[:SUMMARY_LIST_MAX]]
            if len(self.by_rule) > SUMMARY_LIST_MAX:
                rest = sum(n for *_, n in self.by_rule[SUMMARY_LIST_MAX:])
                out.append(f"    … 其余 {len(self.by_rule) - SUMMARY_LIST_MAX} 条规则 {rest} 个问题，"
                           "见 marts.compliance_flags_summary")
        return out


def run_details(warehouse: Path, periods: list[Period]) -> RunDetails | None:
    """The summary's lists, from the published warehouse; labels and titles from its reference schema."""
    if not warehouse.exists():
        return None
    names = [str(p) for p in periods]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rejected = con.sql(
            "select period, org_code, enterprise_name, coalesce(reasons_zh, status) from marts.filing_status"
            " where is_rejected and period in (select unnest($periods)) order by period, org_code",
            params={"periods": names}).fetchall()
        by_severity = con.sql(
            "select coalesce(s.label_zh, f.severity), count(*) from marts.compliance_flags f"
            " left join reference.ref_severities s on s.severity = f.severity"
            " where f.period in (select unnest($periods))"
            " group by all order by min(coalesce(s.sort_order, 99)), 1", params={"periods": names}).fetchall()
        display = read_display(con)
        by_period = con.sql(
            "select rule_id, period, count(*) from marts.compliance_flags"
            " where period in (select unnest($periods)) group by all", params={"periods": names}).fetchall()
    # One line per rule and title as it read in the flags' periods: a rule whose threshold changed within
    # the run shows each limit with its own count (「C03 …的1.5%：3」 and 「C03 …的2.1%：2」).
    counts: dict[tuple[str, str], int] = {}
    for rule, period, n in by_period:
        key = (rule, display.title(rule, period))
        counts[key] = counts.get(key, 0) + int(n)
    by_rule = sorted(((rule, title, n) for (rule, title), n in counts.items()), key=lambda r: (-r[2], r[0], r[1]))
    marts = warehouse.parent
    return RunDetails(
        rejected=[(p, format_org_code(code), name or "", reason or "") for p, code, name, reason in rejected],
        by_severity=[(label, int(n)) for label, n in by_severity],
        by_rule=by_rule,
        reports=sum(1 for f in (marts / "report").glob("*.html") if f.name != "index.html"),
        receipts=sum(1 for _ in (marts / "receipts").glob("*/*.xlsx")),
    )


@dataclass
class RunSummary:
    periods: list[Period]
    success: bool
    seconds: float
    warehouse: Path
    marts_dir: Path
    stats: dict[str, int] = field(default_factory=dict)
    failed_steps: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    rechecks: list[str] = field(default_factory=list)  # held files whose verdict a rule change moved
    unchanged: bool = False  # nothing changed since the last successful run: nothing was run or rewritten
    release: int | None = None  # the release this run published (pipelines.lib.exports.releases), if any
    details: RunDetails | None = None
    log_file: Path | None = None

    def text(self) -> str:
        span = f"{self.periods[0]}–{self.periods[-1]}" if len(self.periods) > 1 else str(self.periods[0])
        lines = [f"{'完成' if self.success else '失败'} {span}  ({self.seconds:.1f} s)"]
        if self.stats:
            lines.append("  " + "，".join(f"{k} {v}" for k, v in self.stats.items()))
        if self.unchanged:
            lines.append("  收件箱、参考数据和程序自上次成功运行以来均无变化，未重新计算，输出文件保持不变"
                         " (nothing changed since the last successful run: outputs left as they are)")
        if self.release is not None:
            lines.append(f"  发布版本 release {self.release}（原因与改变的季度：sasac-skills release show {self.release}）")
        if self.rechecks:
            lines.append(f"  规则变更后重新核对，结果有变化的文件 re-checked under new rules, changed: {len(self.rechecks)}")
            lines += [f"    {line}" for line in self.rechecks[:SUMMARY_LIST_MAX]]
            if len(self.rechecks) > SUMMARY_LIST_MAX:
                lines.append(f"    … 其余 {len(self.rechecks) - SUMMARY_LIST_MAX} 个见 marts.submission_rechecks")
        if self.step_seconds:
            lines.append("  步骤耗时 step seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.step_seconds.items()))
        if self.failed_steps:
            lines.append(f"  失败步骤 failed steps: {', '.join(self.failed_steps)}")
        if self.details is not None:
            lines += self.details.lines()
        d = self.details or RunDetails()
        lines += [
            "输出 outputs:",
            f"  数据库 warehouse:     {self.warehouse}",
            f"  跟踪表 workbook:      {self.marts_dir / 'target_tracking.xlsx'}",
            f"  季度报告 reports:     {self.marts_dir / 'report' / 'index.html'}  (各季度报告目录，共 {d.reports} 份)",
            f"  回执 receipts:        {self.marts_dir / 'receipts'}  (每季度一个文件夹，共 {d.receipts} 份)",
            f"  规则文档 data docs:   {self.marts_dir / 'data_docs' / 'index.html'}",
            f"  分析指南 guide:       {ANALYST_GUIDE}",
        ]
        if self.log_file is not None:
            lines.append(f"  运行日志 log:         {self.log_file}")
        return "\n".join(lines)


def _check_inputs(inbox: Path, period: Period | None) -> list[Period]:
    try:
        load_key()
        read_registry(inbox)
        found = inbox_periods(inbox)
    except (InboxError, MissingKeyError) as exc:
        raise RunError(str(exc)) from None
    if period is None and not found:
        raise RunError(f"收件箱 {inbox} 中没有任何报告期文件夹（如 2008Q2/）")
    periods = [period] if period is not None else period_range(found[0], found[-1])
    existing = collection_periods()
    outside = [str(p) for p in periods if p not in set(existing)]
    if outside:
        raise RunError(f"报告期 {'、'.join(outside)} 不是可报送的季度：可报送 {existing[0]} 至 {existing[-1]}"
                       "（从第一个规划期的基期到最近一个已结束的季度）")
    return periods


def _check_not_locked(work_db: Path) -> None:
    if not work_db.exists():
        return
    try:
        duckdb.connect(str(work_db)).close()
    except duckdb.IOException as exc:
        raise RunError(f"工作数据库 {work_db} 正被另一进程占用（可能另一次运行尚未结束），请稍后再试：{exc}") from None


@contextlib.contextmanager
def run_lock(workdir: Path) -> Iterator[None]:
    """The working area's lock (pipelines.lib.ops.work_lock) for a command-line run's whole life: refused at
    once, in one line naming the holder, when another run (a daemon, UI or CLI run) or a backup holds it."""
    try:
        with work_lock(workdir, describe_holder("命令行运行 sasac-skills run")):
            yield
    except WorkAreaBusy as exc:
        raise RunError(str(exc)) from None


_WATCHDOG = """
import os, signal, sys
pgid = int(sys.argv[1])
def forward(sig, _frame):
    try:
        os.killpg(pgid, sig)
    except OSError:
        pass
if os.getpgrp() != pgid:  # the run left the caller's group: Ctrl-C reaches it through here
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, forward)
if sys.stdin.buffer.read() != b"done":
    forward(signal.SIGKILL, None)
"""


@contextlib.contextmanager
def children_die_with_run() -> Iterator[None]:
    """Whatever the run starts (dbt, the intake's reader) dies with it, even on kill -9.

    The run leads a process group of its own and starts a watchdog, left in the caller's group, that holds
    the only other end of a pipe: when the run ends normally it says "done"; when it is killed the pipe
    just closes and the watchdog kills the run's group — dbt and its hold on the database included — so
    the next run can start at once. The watchdog also passes Ctrl-C on to the run's group. Used by the CLI,
    whose process is the run; not by in-process callers such as tests.
    """
    dog = _watchdog()  # started first, so that it stays in the caller's group if the run leaves it
    if os.getpgrp() != os.getpid():
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
    if os.getpgrp() != os.getpid():  # cannot lead a group of its own: nothing to guard safely
        _release(dog)
        yield
        return
    try:
        yield
    finally:
        _release(dog)


def _watchdog() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(os.getpid())], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _release(dog: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        dog.stdin.write(b"done")
        dog.stdin.close()
    dog.wait()


def _stats(work_db: Path, periods: list[Period]) -> dict[str, int]:
    names = ", ".join(f"'{p}'" for p in periods)
    with duckdb.connect(str(work_db), read_only=True) as con:
        files, accepted, rejected, ignored, rows = con.execute(
            "select count(*), count(*) filter (where outcome = 'accepted'),"
            " count(*) filter (where outcome = 'rejected'), count(*) filter (where outcome = 'ignored'),"
            f" coalesce(sum(rows_loaded), 0)"
            f" from raw.submissions where period in ({names})").fetchone()
        flags = con.execute(f"select count(*) from marts.compliance_flags where period in ({names})").fetchone()[0]
        missing = con.execute(
            f"select count(*) from marts.filing_status where status_code = 'missing' and period in ({names})"
        ).fetchone()[0]
    return {"文件 files": files, "受理 accepted": accepted, "退回 rejected": rejected, "忽略 ignored": ignored,
            "入库行 rows loaded": int(rows),
            "未报送 missing filings": missing, "问题 flags": flags}


def _step_seconds(instance, run_id: str) -> dict[str, float]:
    """Wall time of each step, from the run's event log (where the time goes)."""
    import dagster as dg

    started: dict[str, float] = {}
    out: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or not event.step_key:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            out[event.step_key] = round(entry.timestamp - started.get(event.step_key, entry.timestamp), 2)
    return out


def _rechecks_since(work_db: Path, since: dt.datetime) -> list[str]:
    with duckdb.connect(str(work_db), read_only=True) as con:
        rows = con.execute(
            "select period, org_code, file_name, outcome_before, outcome_after, findings_before, findings_after"
            " from raw.rechecks where is_changed and rechecked_at >= ? order by period, org_code, file_name",
            [since]).fetchall()
    return [f"{p} {format_org_code(o) if o else '?'} {f}: {ob} → {oa}, 问题 findings {fb} → {fa}"
            for p, o, f, ob, oa, fb, fa in rows]


def run_quarters(inbox: Path, warehouse: Path, workdir: Path, period: Period | None, quiet: bool = False,
                 guard_children: bool = False, recheck: bool = False) -> RunSummary:
    """Run the graph for ``period`` (or every quarter of the inbox), holding the working area's lock.

    When nothing that decides the outputs changed since the last successful run into the same working
    area (inbox entries, reference data, code; see pipelines.lib.domain.fingerprint), nothing is run and
    every published file keeps its bytes and modification time. ``recheck`` re-judges every held file of the
    run's quarters from the archive, changed rules or not.
    """
    periods = _check_inputs(inbox, period)
    started = time.perf_counter()
    with run_lock(workdir), (children_die_with_run() if guard_children else contextlib.nullcontext()):
        fp = run_fingerprint(inbox, periods, warehouse)
        last = None if recheck else unchanged_since_last_run(workdir, fp, warehouse)
        if last is not None:
            return RunSummary(periods, True, time.perf_counter() - started, warehouse, warehouse.parent,
                              stats=last["summary"], unchanged=True, details=run_details(warehouse, periods))
        summary = _run_locked(inbox, warehouse, workdir, periods, quiet, recheck)
        if summary.success:
            record_successful_run(workdir, fp, warehouse, summary.stats)
            summary.details = run_details(warehouse, periods)
        return summary


def _run_locked(inbox: Path, warehouse: Path, workdir: Path, periods: list[Period], quiet: bool,
                recheck: bool) -> RunSummary:
    work_db = workdir / "warehouse.duckdb"
    _check_not_locked(work_db)
    wall_start = dt.datetime.now().replace(microsecond=0)

    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.defs.partitions import range_tags
    from pipelines.defs.resources import PlatformConfig
    started = time.perf_counter()
    platform = PlatformConfig(inbox=str(inbox), workdir=str(workdir), warehouse=str(warehouse), recheck=recheck)
    job = build_definitions(platform).resolve_job_def("quarterly_run")
    heap.freeze_long_lived()  # the definitions live as long as the run
    # Not quiet, the logs go to the run's log file (pipelines.console): all of it, step events included, which
    # is also where the terminal's progress is read from.
    level = "WARNING" if quiet else "DEBUG"
    logging.getLogger("dagster").setLevel(level)
    kwargs = ({"partition_key": periods[0].partition_key} if len(periods) == 1 else {"tags": range_tags(periods)})
    with dg.DagsterInstance.ephemeral() as instance:  # disposed here: its temporary folder too
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": level}}}},
            **kwargs,
        )
        failed = [e.step_key for e in result.all_events if e.is_step_failure and e.step_key]
        summary = RunSummary(periods, result.success, time.perf_counter() - started, warehouse, warehouse.parent,
                             failed_steps=failed, step_seconds=_step_seconds(instance, result.run_id))
    if result.success:
        summary.stats = _stats(work_db, periods)
        summary.rechecks = _rechecks_since(work_db, wall_start)
        summary.release = release_of_run(work_db, result.run_id)
    return summary
