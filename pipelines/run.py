"""Run the quarterly Dagster job in-process for one quarter or a range: what the CLI and tests call.

It is the same asset graph the Dagster UI, the schedule and the sensor run; a range of quarters
is one run (single-run backfill), so dbt and the expectations run once, not once per quarter.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.lib.domain.periods import Period, period_range
from pipelines.lib.intake.inbox import InboxError, inbox_periods, read_registry
from pipelines.lib.intake.pseudonym import MissingKeyError, load_key


class RunError(Exception):
    """A problem the person running the platform can fix; the message says how."""


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

    def text(self) -> str:
        span = f"{self.periods[0]}–{self.periods[-1]}" if len(self.periods) > 1 else str(self.periods[0])
        lines = [
            f"{'完成' if self.success else '失败'} {span}  ({self.seconds:.1f} s)",
            *(f"  {k}: {v}" for k, v in self.stats.items()),
        ]
        if self.step_seconds:
            lines.append("  步骤耗时 step seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in self.step_seconds.items()))
        if self.failed_steps:
            lines.append(f"  失败步骤 failed steps: {', '.join(self.failed_steps)}")
        last = self.periods[-1]
        lines += [
            f"  数据库 warehouse:     {self.warehouse}",
            f"  跟踪表 workbook:      {self.marts_dir / 'target_tracking.xlsx'}",
            f"  报告 report:          {self.marts_dir / 'report' / f'{last}.html'}",
            f"  回执 receipts:        {self.marts_dir / 'receipts' / str(last)}",
            f"  规则文档 data docs:   {self.marts_dir / 'data_docs' / 'index.html'}",
        ]
        return "\n".join(lines)


def _check_inputs(inbox: Path, period: Period | None) -> list[Period]:
    try:
        load_key()
        read_registry(inbox)
        found = inbox_periods(inbox)
    except (InboxError, MissingKeyError) as exc:
        raise RunError(str(exc)) from None
    if period is not None:
        return [period]
    if not found:
        raise RunError(f"收件箱 {inbox} 中没有任何报告期文件夹（如 2008Q2/）")
    return period_range(found[0], found[-1])


def _check_not_locked(work_db: Path) -> None:
    if not work_db.exists():
        return
    try:
        duckdb.connect(str(work_db)).close()
    except duckdb.IOException as exc:
        raise RunError(f"工作数据库 {work_db} 正被另一进程占用（可能另一次运行尚未结束），请稍后再试：{exc}") from None


def _stats(work_db: Path, periods: list[Period]) -> dict[str, int]:
    names = ", ".join(f"'{p}'" for p in periods)
    with duckdb.connect(str(work_db), read_only=True) as con:
        files, accepted, rejected, rows = con.execute(
            "select count(*), count(*) filter (where outcome = 'accepted'),"
            f" count(*) filter (where outcome = 'rejected'), coalesce(sum(rows_loaded), 0)"
            f" from raw.submissions where period in ({names})").fetchone()
        flags = con.execute(f"select count(*) from marts.compliance_flags where period in ({names})").fetchone()[0]
        missing = con.execute(
            f"select count(*) from marts.filing_status where status_code = 'missing' and period in ({names})"
        ).fetchone()[0]
    return {"文件 files": files, "受理 accepted": accepted, "退回 rejected": rejected, "入库行 rows loaded": int(rows),
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


def run_quarters(inbox: Path, warehouse: Path, workdir: Path, period: Period | None, quiet: bool = False) -> RunSummary:
    periods = _check_inputs(inbox, period)
    work_db = workdir / "warehouse.duckdb"
    _check_not_locked(work_db)
    workdir.mkdir(parents=True, exist_ok=True)

    import dagster as dg

    from pipelines.definitions import build_definitions
    from pipelines.defs.partitions import range_tags
    from pipelines.defs.resources import PlatformConfig

    started = time.perf_counter()
    platform = PlatformConfig(inbox=str(inbox), workdir=str(workdir), warehouse=str(warehouse))
    job = build_definitions(platform).resolve_job_def("quarterly_run")
    level = "WARNING" if quiet else "INFO"
    logging.getLogger("dagster").setLevel(level)
    kwargs = ({"partition_key": periods[0].partition_key} if len(periods) == 1 else {"tags": range_tags(periods)})
    instance = dg.DagsterInstance.ephemeral()
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
    return summary
