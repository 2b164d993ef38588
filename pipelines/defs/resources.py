"""Where a run reads and writes: the inbox, the working area and the published warehouse."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from pipelines.lib.ops import liveness
from pipelines.lib.ops.work_lock import describe_holder, work_lock

REPO_ROOT = Path(__file__).resolve().parents[2]
# Run tags a run worker sets on itself: which process it is (pipelines.lib.ops.liveness), so that a run whose
# worker died can be told from one that is slow or waiting (pipelines/defs/ops/run_health.py).
WORKER_TAG = "sasac/worker"
# How long a run that finds the working area held (a CLI run, a backup) waits before it fails; the inbox sensor
# then requests it again after its back-off.
LOCK_WAIT_ENV = "SASAC_LOCK_WAIT_SECONDS"
DEFAULT_LOCK_WAIT_SECONDS = 6 * 3600


class PlatformConfig(dg.ConfigurableResource):
    inbox: str  # contract §4 inbox: registry.csv + one folder per period
    workdir: str  # working database, raw archive, GX work files; restricted, never published
    warehouse: str  # the published DuckDB analysts open; exports go beside it
    recheck: bool = False  # re-judge every held file of the run's quarters, whether or not the rules changed
    lock_wait_seconds: int = DEFAULT_LOCK_WAIT_SECONDS

    @classmethod
    def from_env(cls) -> PlatformConfig:
        return cls(
            inbox=os.environ.get("SASAC_INBOX", str(REPO_ROOT / "data" / "raw")),
            workdir=os.environ.get("SASAC_WORKDIR", str(REPO_ROOT / "data" / "work")),
            warehouse=os.environ.get("SASAC_WAREHOUSE", str(REPO_ROOT / "data" / "marts" / "warehouse.duckdb")),
            lock_wait_seconds=int(os.environ.get(LOCK_WAIT_ENV, DEFAULT_LOCK_WAIT_SECONDS)),
        )

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[PlatformConfig]:
        """Every step of a run uses this resource, so the run holds the working area's one lock (the CLI's,
        a backup's: pipelines.lib.ops.work_lock) from its first step to its last, however it was started.
        A run that finds the lock held waits for it; first it records which process it is, so that waiting
        is not mistaken for dead."""
        run_id = context.run.run_id if context.run is not None else None
        if context.instance is not None and run_id:
            context.instance.add_run_tags(run_id, {WORKER_TAG: liveness.identity()})

        def waiting(holder: str) -> None:
            context.log.info(f"工作目录正被占用（{holder}），等待其结束后开始 (waiting for the working area's lock)")

        with work_lock(Path(self.workdir), describe_holder(f"Dagster 运行 {run_id}"),
                       wait_seconds=self.lock_wait_seconds, on_wait=waiting):
            yield self

    @property
    def inbox_path(self) -> Path:
        return Path(self.inbox)

    @property
    def work_db(self) -> Path:
        return Path(self.workdir) / "warehouse.duckdb"

    @property
    def archive_dir(self) -> Path:
        return Path(self.workdir) / "archive"

    @property
    def warehouse_path(self) -> Path:
        return Path(self.warehouse)

    @property
    def marts_dir(self) -> Path:
        return Path(self.warehouse).parent
