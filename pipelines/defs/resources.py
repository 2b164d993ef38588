"""Where a run reads and writes: the inbox, the working area and the published warehouse."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

REPO_ROOT = Path(__file__).resolve().parents[2]


class PlatformConfig(dg.ConfigurableResource):
    inbox: str  # contract §4 inbox: registry.csv + one folder per period
    workdir: str  # working database, raw archive, GX work files; restricted, never published
    warehouse: str  # the published DuckDB analysts open; exports go beside it
    recheck: bool = False  # re-judge every held file of the run's quarters, whether or not the rules changed

    @classmethod
    def from_env(cls) -> PlatformConfig:
        return cls(
            inbox=os.environ.get("SASAC_INBOX", str(REPO_ROOT / "data" / "raw")),
            workdir=os.environ.get("SASAC_WORKDIR", str(REPO_ROOT / "data" / "work")),
            warehouse=os.environ.get("SASAC_WAREHOUSE", str(REPO_ROOT / "data" / "marts" / "warehouse.duckdb")),
        )

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
