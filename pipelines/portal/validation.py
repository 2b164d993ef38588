"""An upload checked by the intake's own code: the resource limits (limits.inspect_upload), then the readers in
worker processes and the same checks the quarterly run applies (process.process) — nothing is written to the
warehouse. The portal keeps its reader processes between uploads (worker.ReaderPool), one pool per upload
being read at a time, so that a file that kills its reader is told apart from another clerk's file."""

from __future__ import annotations

import hashlib
import queue
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipelines.lib.domain import findings as fd
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import seed_rows
from pipelines.lib.intake import worker
from pipelines.lib.intake.inbox import Arrival, archived_problem, read_registry
from pipelines.lib.intake.limits import inspect_upload
from pipelines.lib.intake.process import process
from pipelines.lib.intake.readers import classify


class ReaderPool:
    """``size`` single-worker reader pools kept for the server's life; an upload borrows one for its read
    (``read_many``, the signature process() expects of a reader) and waits when all are lent. A pool whose worker
    died meanwhile (the OOM killer, an operator) is replaced before the next file, which is not rejected for it."""

    def __init__(self, size: int) -> None:
        self._pools: queue.SimpleQueue[worker.ReaderPool] = queue.SimpleQueue()
        self._all = [worker.ReaderPool(1) for _ in range(max(1, size))]
        for pool in self._all:
            self._pools.put(pool)

    def read_many(self, jobs: list[tuple[str, Path, str]]) -> Iterator[tuple[str, str, object]]:
        pool = self._pools.get()
        try:
            yield from pool.read_many(jobs)
        finally:
            self._pools.put(pool)

    def close(self) -> None:
        for pool in self._all:
            pool.close()


@dataclass(frozen=True)
class Verdict:
    outcome: str  # accepted / rejected
    findings: list[dict]  # severity order: what stops the file first
    fatal_count: int
    error_count: int
    warning_count: int
    seconds: float


def _sorted(findings: pl.DataFrame) -> list[dict]:
    """Fatal first, then by the severities' order in ref_severities, then where they are in the file."""
    rank = {r["severity"]: int(r["sort_order"]) for r in seed_rows("ref_severities")}
    rows = findings.drop("person_key", "submission_id").to_dicts()
    return sorted(rows, key=lambda r: (0 if r["is_fatal"] else rank.get(r["severity"], 9), r["sheet"] or "",
                                       r["source_row"] or 0, r["column_name"] or "", r["rule_id"] or ""))


def refused(reason: str, started: float) -> Verdict:
    row = fd.Finding("upload", "D01", fd.ERROR, reason, is_fatal=True)
    return Verdict("rejected", _sorted(fd.to_frame([row])), 1, 0, 0, time.monotonic() - started)


def validate(path: Path, contract_name: str, period: Period, inbox: Path, key: bytes, reader: ReaderPool,
             arrived_at) -> Verdict:
    """The verdict of the quarterly intake on this file, had it arrived as ``contract_name`` in ``period``."""
    started = time.monotonic()
    reason = inspect_upload(path)
    if reason:
        return refused(reason, started)
    payload = path.read_bytes()
    fmt = classify(Path(contract_name)).fmt
    arrival = Arrival(period, Path(contract_name), fmt, hashlib.sha256(payload).hexdigest(), len(payload),
                      arrived_at, payload, archived_problem(len(payload)))
    registry = read_registry(inbox)
    audit, findings, _ = process([arrival], registry, key, {arrival.submission_id: path},
                                 reader=_as_reader(reader))
    row = audit.row(0, named=True)
    return Verdict("rejected" if row["outcome"] == "rejected" else "accepted", _sorted(findings),
                   int(row["fatal_count"]), int(row["error_count"]), int(row["warning_count"]),
                   time.monotonic() - started)


def _as_reader(pool: ReaderPool):
    def read(jobs: list[tuple[str, Path, str]]) -> Iterable[tuple[str, str, object]]:
        return pool.read_many(jobs)
    return read
