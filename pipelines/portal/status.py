"""What a clerk sees of the run: the quarters open for filing (reference deadlines), and each upload's status
(validated, received, processed by the quarterly run) read from the published warehouse, read-only."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import collection_periods, load_threshold_rows, thresholds_for_period
from pipelines.lib.exports.receipts import receipt_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenQuarter:
    period: Period
    deadline: dt.datetime  # end of the filing deadline (exclusive), from ref_policy_thresholds.deadline_day

    def is_late(self, now: dt.datetime) -> bool:
        return now >= self.deadline

    @property
    def deadline_text(self) -> str:
        return f"{self.deadline - dt.timedelta(days=1):%Y年%m月%d日} 24:00"


def open_quarters(now: dt.datetime, late_quarters: int) -> list[OpenQuarter]:
    """The latest ended quarter and ``late_quarters`` before it, newest first: the newest of the quarters that
    exist (``collection_periods``, the same list the run, the partitions, the schedule and the sensor use)."""
    rows = load_threshold_rows()
    existing = collection_periods(now.date(), rows)
    return [OpenQuarter(p, p.deadline(int(thresholds_for_period(rows, p, {"deadline_day"})["deadline_day"])))
            for p in reversed(existing[-(late_quarters + 1):])]


@dataclass(frozen=True)
class RunStatus:
    outcome: str  # the run's verdict: accepted / rejected
    is_late: bool
    is_current: bool  # this version is the one the marts use


def run_statuses(warehouse: Path, org_code: str | None, periods: list[str]) -> dict[tuple[str, str], RunStatus]:
    """(period, file name) -> what the last published run made of it. An absent or busy warehouse is no status."""
    if not warehouse.is_file() or not periods:
        return {}
    import duckdb

    try:
        with duckdb.connect(str(warehouse), read_only=True) as con:
            sql = ("select period, file_name, outcome, is_late, is_current from marts.submission_versions"
                   " where period in (select unnest(?))")
            params: list = [periods]
            if org_code:
                sql += " and org_code = ?"
                params.append(org_code)
            rows = con.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        log.warning("published warehouse unreadable for status (%s)", type(exc).__name__)
        return {}
    return {(p, f): RunStatus(o, bool(late), bool(cur)) for p, f, o, late, cur in rows}


def receipt_path(receipts_dir: Path, period: str, org_code: str) -> Path | None:
    """The receipt the run wrote for this enterprise and quarter, if any (names are checked, never trusted)."""
    path = receipts_dir / period / receipt_name(org_code)
    if path.resolve().parent != (receipts_dir / period).resolve() or not path.is_file():
        return None
    return path


def receipts_for(receipts_dir: Path, org_code: str) -> list[str]:
    """Quarters that have a receipt for this enterprise, newest first."""
    if not receipts_dir.is_dir():
        return []
    out = []
    for folder in receipts_dir.iterdir():
        try:
            Period.parse(folder.name)
        except ValueError:
            continue
        if receipt_path(receipts_dir, folder.name, org_code):
            out.append(folder.name)
    return sorted(out, reverse=True)
