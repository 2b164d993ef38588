"""Backup and restore (docs/operations.md, "Backup and restore"): the restore drill on real runs and an empty
machine's new paths, a tampered backup, a non-empty target, and the working area's lock."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from benchmarks.marts_checksum import checksums
from pipelines.lib.ops.backup import MANIFEST, complete_backups
from tests.test_cli import cli, one_line_error

DEMO = {"SASAC_DEMO": "1"}
RECHECKS = "submission_rechecks"


@dataclass(frozen=True)
class Site:
    """One installation's three locations, as `run` takes them."""

    root: Path

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def workdir(self) -> Path:
        return self.root / "work"

    @property
    def warehouse(self) -> Path:
        return self.root / "marts" / "warehouse.duckdb"

    @property
    def args(self) -> list[str]:
        return ["--inbox", str(self.inbox), "--workdir", str(self.workdir), "--warehouse", str(self.warehouse)]


def _ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _generated(root: Path) -> Site:
    site = Site(root)
    _ok(cli("generate", "--out", str(site.inbox), "--enterprises", "4", "--first", "2008Q1", "--last", "2008Q2",
            "--seed", "3"))
    return site


def _tree(root: Path) -> dict[str, tuple[bytes | None, int]]:
    """Every entry below ``root``: its bytes (None for a folder) and modification time."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (None if path.is_dir() else path.read_bytes(), st.st_mtime_ns)
    return out


def _only_backup(out: Path) -> Path:
    (backup,) = complete_backups(out)
    return backup


@pytest.mark.slow
def test_restore_drill_onto_an_empty_machine_gives_back_the_same_marts(tmp_path: Path) -> None:
    old = _generated(tmp_path / "old")
    _ok(cli("run", "--all", *old.args, "--quiet", env=DEMO))
    _ok(cli("portal", "add-user", "--staff", "--name", "演练", env={**DEMO, "SASAC_WORKDIR": str(old.workdir)}))
    backups = tmp_path / "backups"
    made = _ok(cli("backup", "--out", str(backups), *old.args, env=DEMO))
    assert "SASAC_HMAC_KEY" in made.stdout
    manifest = json.loads((_only_backup(backups) / MANIFEST).read_text(encoding="utf-8"))
    assert "SASAC_HMAC_KEY" in manifest["hmac_key"] and manifest["code_digest"] and manifest["absent"] == [
        "work/warehouse.duckdb.wal", "portal/uploads", "published/warehouse.duckdb.wal"]

    new = Site(tmp_path / "empty_machine")
    restored = _ok(cli("restore", str(backups), *new.args, env=DEMO))
    assert "当前的 SASAC_HMAC_KEY 与备份时的相同" in restored.stdout and str(new.inbox) in restored.stdout

    assert checksums(new.warehouse) == checksums(old.warehouse)
    old_work, new_work = old.workdir / "warehouse.duckdb", new.workdir / "warehouse.duckdb"
    assert checksums(new_work, schema="raw") == checksums(old_work, schema="raw")
    assert len(checksums(new_work, schema="raw")) >= 5
    assert _tree(new.inbox) == _tree(old.inbox)  # bytes and times: a file's time may be its arrival time
    assert _tree(new.workdir / "archive") == _tree(old.workdir / "archive")
    for name in ("target_tracking.xlsx", "report/index.html", "data_docs/index.html",
                 "releases/1/target_tracking.xlsx"):
        assert (new.warehouse.parent / name).read_bytes() == (old.warehouse.parent / name).read_bytes()
    # the release ledger is in the working database: restored with it, published again by the next run
    assert checksums(new_work, schema="releases") == checksums(old_work, schema="releases")
    assert checksums(new.warehouse, schema="releases") == checksums(old.warehouse, schema="releases")
    with sqlite3.connect(new.workdir / "portal.sqlite") as con:
        assert con.execute("select count(*) from users where is_staff").fetchone() == (1,)

    # Re-judged from the restored archive by the same rules: the same marts. submission_rechecks records this
    # run's re-checks (one row per held file, none of them changed): that table alone gains rows.
    _ok(cli("run", "--all", *new.args, "--recheck", "--quiet", env=DEMO))
    after, before = checksums(new.warehouse), checksums(old.warehouse)
    assert {t: after[t] for t in after if t != RECHECKS} == {t: before[t] for t in before if t != RECHECKS}
    with duckdb.connect(str(new.warehouse), read_only=True) as con:
        held, changed = con.execute(f"select count(*), count(*) filter (where is_changed) from marts.{RECHECKS}"
                                    ).fetchone()
        files = con.execute("select count(*) from marts.submission_versions").fetchone()[0]
    assert before[RECHECKS][0] == 0 and held == files > 0 and changed == 0
    with duckdb.connect(str(new.warehouse), read_only=True) as con:  # the numbering goes on after the restore
        releases = con.execute("select release_no, cause from releases.release_causes where release_no > 1"
                               " group by all order by all").fetchall()
    assert releases == [(2, "forced_recheck")]


def test_a_tampered_backup_is_refused_in_one_line_and_nothing_is_written(tmp_path: Path) -> None:
    site = _generated(tmp_path / "site")
    site.workdir.mkdir()
    backups = tmp_path / "backups"
    _ok(cli("backup", "--out", str(backups), *site.args, env=DEMO))
    victim = next((_only_backup(backups) / "inbox" / "2008Q2").glob("*.xlsx"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x01
    victim.write_bytes(bytes(data))

    new = Site(tmp_path / "new")
    result = cli("restore", str(backups), *new.args, env=DEMO)
    line = one_line_error(result)
    assert result.returncode == 1 and victim.name in line and "SHA-256" in line and "未恢复任何文件" in line
    assert not new.root.exists()


def test_a_non_empty_target_needs_force_and_keeps_what_came_after_the_backup(tmp_path: Path) -> None:
    site = _generated(tmp_path / "site")
    site.workdir.mkdir()
    backups = tmp_path / "backups"
    _ok(cli("backup", "--out", str(backups), *site.args, env=DEMO))
    registry = site.inbox / "registry.csv"
    before = registry.read_bytes()
    registry.write_bytes(before + b"damaged\n")
    late = site.inbox / "2008Q2" / "late_after_backup.xlsx"
    late.write_bytes(b"a filing that reached the inbox after the backup")

    refused = cli("restore", str(backups), *site.args, env=DEMO)
    assert refused.returncode == 1 and "--force" in one_line_error(refused)
    assert registry.read_bytes() == before + b"damaged\n"

    _ok(cli("restore", str(backups), *site.args, "--force", env=DEMO))
    assert registry.read_bytes() == before and late.is_file()


_HOLD = """
import sys, time
from pathlib import Path
from pipelines.lib.ops.work_lock import describe_holder, work_lock
with work_lock(Path(sys.argv[1]), describe_holder("演练持有者")):
    print("ready", flush=True)
    time.sleep(120)
"""


def _holding(workdir: Path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(workdir)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    return holder


def test_backup_waits_for_the_lock_then_gives_up_naming_the_holder(tmp_path: Path) -> None:
    site = _generated(tmp_path / "site")
    backups = tmp_path / "backups"
    holder = _holding(site.workdir)
    try:
        result = cli("backup", "--out", str(backups), *site.args, "--wait-seconds", "1", env=DEMO)
        line = one_line_error(result)
        assert result.returncode == 1 and "演练持有者" in line and f"PID {holder.pid}" in line and "备份未进行" in line
        assert "备份等它结束" in result.stderr  # it said whom it waited for
        assert not backups.exists()  # nothing written while it waited
    finally:
        holder.kill()
        holder.wait()


def test_restore_refuses_at_once_while_the_target_is_locked(tmp_path: Path) -> None:
    site = _generated(tmp_path / "site")
    site.workdir.mkdir()
    backups = tmp_path / "backups"
    _ok(cli("backup", "--out", str(backups), *site.args, env=DEMO))
    target = Site(tmp_path / "target")
    holder = _holding(target.workdir)
    try:
        result = cli("restore", str(backups), *target.args, env=DEMO)
        line = one_line_error(result)
        assert result.returncode == 1 and "演练持有者" in line and f"PID {holder.pid}" in line
        assert not target.inbox.exists()
    finally:
        holder.kill()
        holder.wait()
