"""Archive and load: every version kept by SHA-256, audit rows and typed rows inserted in one transaction."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.domain import contract as c
from pipelines.lib.domain.reference import thresholds_for
from pipelines.lib.domain.warehouse import SUBMISSIONS_COLUMNS
from pipelines.lib.intake.inbox import Arrival
from pipelines.lib.intake.rules_version import RulesVersions


def archive(arrival: Arrival, archive_dir: Path) -> Path | None:
    """The content-addressed copy (named by SHA-256, never by anything the sender chose); None when there is
    no content to keep (a symlink, an unreadable or special file, OS debris)."""
    if arrival.payload is None or arrival.ignored:
        return None
    ext = ".zip" if arrival.fmt == "csv_dir" else arrival.path.suffix.lower()
    if not re.fullmatch(r"\.[0-9a-z]{1,8}", ext):
        ext = ".bin"
    target = archive_dir / arrival.sha256[:2] / f"{arrival.sha256}{ext}"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(arrival.payload)
        tmp.replace(target)
    return target


def audit_rows(audit: pl.DataFrame, arrivals: list[Arrival], archive_paths: dict[str, Path | None],
               rules_version: RulesVersions) -> pl.DataFrame:
    meta = {a.submission_id: a for a in arrivals}
    deadline_day = {str(a.period): int(thresholds_for(a.period)["deadline_day"]) for a in arrivals}
    extra = pl.DataFrame(
        {
            "submission_id": list(meta),
            "file_name": [a.name for a in meta.values()],
            "file_name_original": [a.original_name for a in meta.values()],
            "file_format": [a.fmt for a in meta.values()],
            "sha256": [a.sha256 for a in meta.values()],
            "size_bytes": [a.size_bytes for a in meta.values()],
            "arrived_at": [a.arrived_at for a in meta.values()],
            "deadline_at": [a.period.deadline(deadline_day[str(a.period)]) for a in meta.values()],
            "archive_path": [str(archive_paths[s]) if archive_paths.get(s) else "" for s in meta],
        },
        schema_overrides={"arrived_at": pl.Datetime("us"), "deadline_at": pl.Datetime("us")},
    )
    return (
        audit.join(extra, on="submission_id")
        .with_columns(
            pl.col("filed_period").alias("period"),
            (pl.col("arrived_at") > pl.col("deadline_at")).alias("is_late"),
            pl.lit(c.CONTRACT_VERSION).alias("contract_version"),
            pl.col("filed_period").replace_strict(
                {str(a.period): rules_version(a.period) for a in arrivals}, return_dtype=pl.Utf8).alias("rules_version"),
        )
        .select([name for name, _ in SUBMISSIONS_COLUMNS])
        .sort("period", "arrived_at", "file_name")
    )


def existing_ids(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("select submission_id from raw.submissions").fetchall()}


def load_registry(con: duckdb.DuckDBPyConnection, registry: pl.DataFrame) -> None:
    con.register("registry_in", registry.to_arrow())
    con.execute("delete from raw.registry")
    con.execute("insert into raw.registry by name select * from registry_in")
    con.unregister("registry_in")


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    con.register("frame_in", frame.to_arrow())
    con.execute(f"insert into raw.{table} by name select * from frame_in")
    con.unregister("frame_in")


# What DuckDB's write-ahead log may hold before a commit folds it into the database file, while the intake runs.
# At the default (16 MB) every batch's commit checkpoints, so the tables' last row groups are compressed and
# written again and again; with the log kept until the intake ends they are written once (docs/measured.md).
# Every commit is still durable (the log is on disk and replayed on open), so a stopped run keeps its batches.
INTAKE_CHECKPOINT_THRESHOLD = "4GB"


@contextlib.contextmanager
def checkpoint_once(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Batches committed inside are folded into the database file by one checkpoint at the end, and the
    connection's own checkpoint threshold is restored, however the block ended."""
    before = con.execute("select current_setting('checkpoint_threshold')").fetchone()[0]
    con.execute(f"set checkpoint_threshold = '{INTAKE_CHECKPOINT_THRESHOLD}'")
    try:
        yield
    finally:
        con.execute(f"set checkpoint_threshold = '{before}'")
    con.execute("checkpoint")
