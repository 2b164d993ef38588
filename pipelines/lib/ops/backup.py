"""Backup of everything a run cannot recreate, and the restore of such a backup onto any (new) paths.

What is kept (docs/operations.md, "Backup and restore"): the inbox as it stands (every period folder with its
files and 收件登记.csv, the registry), the working area's raw archive (content-addressed files), its working
database (every raw version's audit rows), the last successful run's record, the portal's database (copied with
SQLite's online backup, so a running portal never blocks it) and the uploads it names, and the published outputs.
Not kept: the pseudonym key ``SASAC_HMAC_KEY`` (in the secret store; the manifest says so), logs, dbt's artifacts.

A backup holds the working area's lock (pipelines.lib.ops.work_lock) for the whole copy: no run writes a DuckDB
file meanwhile, so a plain file copy of each is consistent. It is written under a temporary name and renamed at
the end, so an interrupted backup never looks complete. Layout: ``<out>/sasac-backup-<YYYYMMDD-HHMMSS>/`` holding
``manifest.json`` and the folders ``inbox/``, ``work/``, ``portal/``, ``published/``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shutil
import socket
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.lib.domain.fingerprint import STATE_FILE, code_digest
from pipelines.lib.ops.work_lock import describe_holder, work_lock

FORMAT = "sasac-skills-backup/1"
MANIFEST = "manifest.json"
NAME_PREFIX = "sasac-backup-"
NAME_PATTERN = re.compile(r"sasac-backup-\d{8}-\d{6}(-\d+)?")
PARTIAL_MARK = ".partial-"
KEY_NOTE = ("假名化密钥 SASAC_HMAC_KEY 不在备份中（保存在密钥库）；恢复后必须设置同一密钥，否则新报表的假名与库中的对不上 "
            "(the pseudonym key is not included: set the same SASAC_HMAC_KEY after a restore)")
_KEY_CHECK_MESSAGE = b"sasac-skills backup key check"
_CHUNK = 1 << 20


class BackupError(Exception):
    """A problem the operator can fix; the message is one line saying what and where."""


@dataclass(frozen=True)
class Item:
    """One thing kept: its name inside the backup, where it lives, and how it is copied."""

    name: str  # a relative path inside the backup folder
    path: Path
    kind: str  # "tree" (a folder, whole), "file", or "sqlite" (copied with the online backup API)


@dataclass(frozen=True)
class Locations:
    """Where one installation keeps what a backup holds (the paths of ``run``'s options, the portal's too)."""

    inbox: Path
    workdir: Path
    warehouse: Path
    portal_db: Path
    portal_storage: Path

    @classmethod
    def of(cls, inbox: Path, workdir: Path, warehouse: Path) -> Locations:
        """The portal's paths as the portal finds them (pipelines.portal.settings.Settings.from_env) for this
        working area: SASAC_PORTAL_DB and SASAC_PORTAL_STORAGE when set, else inside the working area."""
        workdir = Path(workdir).resolve()
        db = os.environ.get("SASAC_PORTAL_DB") or workdir / "portal.sqlite"
        storage = os.environ.get("SASAC_PORTAL_STORAGE") or workdir / "portal_uploads"
        return cls(Path(inbox).resolve(), workdir, Path(warehouse).resolve(), Path(db).resolve(),
                   Path(storage).resolve())

    def items(self) -> list[Item]:
        work, marts = self.workdir, self.warehouse.parent
        return [
            Item("inbox", self.inbox, "tree"),
            Item("work/archive", work / "archive", "tree"),
            Item("work/warehouse.duckdb", work / "warehouse.duckdb", "file"),
            Item("work/warehouse.duckdb.wal", work / "warehouse.duckdb.wal", "file"),  # only after a crash
            Item(f"work/{STATE_FILE}", work / STATE_FILE, "file"),
            Item("portal/portal.sqlite", self.portal_db, "sqlite"),
            Item("portal/uploads", self.portal_storage, "tree"),
            Item("published/warehouse.duckdb", self.warehouse, "file"),
            Item("published/warehouse.duckdb.wal", self.warehouse.with_name(self.warehouse.name + ".wal"), "file"),
            Item("published/target_tracking.xlsx", marts / "target_tracking.xlsx", "file"),
            Item("published/report", marts / "report", "tree"),
            Item("published/receipts", marts / "receipts", "tree"),
            Item("published/data_docs", marts / "data_docs", "tree"),
            Item("published/releases", marts / "releases", "tree"),  # every release's documents as published
        ]

    def as_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items()}


# --- names that survive JSON: an inbox entry's name need not be valid UTF-8 ----------------------------------

def encode_name(rel: str) -> dict[str, str]:
    raw = os.fsencode(rel)
    try:
        return {"path": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"path_hex": raw.hex()}


def decode_name(entry: dict) -> str:
    """The entry's relative path, refused when it could point outside the backup or the target."""
    rel = os.fsdecode(bytes.fromhex(entry["path_hex"])) if "path_hex" in entry else str(entry.get("path", ""))
    parts = Path(rel).parts
    if not parts or Path(rel).is_absolute() or any(p in ("..", ".") for p in parts) or "\0" in rel:
        raise BackupError(f"清单中有不合法的路径：{rel!r}")
    return rel


def link_target(entry: dict) -> str:
    if "target_path_hex" in entry:
        return os.fsdecode(bytes.fromhex(entry["target_path_hex"]))
    return str(entry.get("target_path", ""))


def printable(rel: str) -> str:
    return os.fsencode(rel).decode("utf-8", errors="replace")


# --- hashing and copying ---------------------------------------------------------------------------------

def sha256_of(path: Path, sync: bool = False) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
        if sync:
            os.fsync(f.fileno())  # a backup that says it is complete is on the disk
    return h.hexdigest()


def key_check(key: bytes) -> str:
    """A check value of the key (HMAC of a fixed text): tells whether the key set at a restore is the backup's,
    and reveals nothing of the key."""
    return hmac.new(key, _KEY_CHECK_MESSAGE, hashlib.sha256).hexdigest()[:16]


def current_key_check() -> str | None:
    from pipelines.lib.intake.pseudonym import MissingKeyError, load_key

    try:
        return key_check(load_key())
    except MissingKeyError:
        return None


@dataclass
class Manifest:
    files: list[dict] = field(default_factory=list)  # path, size, sha256, mtime_ns
    links: list[dict] = field(default_factory=list)  # path, target (kept as links: the intake rejects them)
    dirs: list[dict] = field(default_factory=list)  # path, mtime_ns (a CSV folder's time is its arrival time)
    skipped: list[dict] = field(default_factory=list)  # sockets, FIFOs, devices: nothing to copy
    absent: list[str] = field(default_factory=list)  # items this installation does not have (yet)

    def add_file(self, rel: str, target: Path, mtime_ns: int) -> None:
        self.files.append({**encode_name(rel), "size": target.stat().st_size,
                           "sha256": sha256_of(target, sync=True), "mtime_ns": mtime_ns})


def _walk(root: Path, rel: str) -> Iterator[tuple[str, Path, os.stat_result]]:
    """Every entry below ``root`` (not following links), parents before children, in name order."""
    try:
        entries = sorted(os.scandir(root), key=lambda e: os.fsencode(e.name))
    except OSError as exc:
        raise BackupError(f"无法读取 {printable(str(root))}：{exc.strerror}") from None
    for entry in entries:
        path, child = Path(entry.path), f"{rel}/{entry.name}"
        st = path.lstat()
        yield child, path, st
        if stat.S_ISDIR(st.st_mode):
            yield from _walk(path, child)


def _copy_entry(src: Path, st: os.stat_result, dst: Path, rel: str, manifest: Manifest) -> None:
    if stat.S_ISDIR(st.st_mode):
        dst.mkdir()
        manifest.dirs.append({**encode_name(rel), "mtime_ns": st.st_mtime_ns})
    elif stat.S_ISLNK(st.st_mode):
        target = os.readlink(src)
        os.symlink(target, dst)
        manifest.links.append({**encode_name(rel), **{f"target_{k}": v for k, v in encode_name(target).items()},
                               "mtime_ns": st.st_mtime_ns})  # target_path, or target_path_hex
    elif stat.S_ISREG(st.st_mode):
        try:
            shutil.copy2(src, dst, follow_symlinks=False)
        except OSError as exc:
            raise BackupError(f"无法复制 {printable(str(src))}：{exc.strerror}") from None
        manifest.add_file(rel, dst, st.st_mtime_ns)
    else:
        manifest.skipped.append(encode_name(rel))


def _copy_sqlite(src: Path, dst: Path) -> None:
    """The portal's database as of one moment, while the portal may be writing it (SQLite's online backup)."""
    source = sqlite3.connect(f"{src.as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
            target.execute("pragma journal_mode=delete")  # one self-contained file; the portal turns WAL on again
        finally:
            target.close()
    finally:
        source.close()


def _copy_item(item: Item, root: Path, manifest: Manifest) -> None:
    if not os.path.lexists(item.path):
        manifest.absent.append(item.name)
        return
    dst = root / item.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    st = item.path.stat()
    if item.kind == "tree":
        if not item.path.is_dir():
            raise BackupError(f"{item.path} 不是文件夹")
        dst.mkdir()
        manifest.dirs.append({**encode_name(item.name), "mtime_ns": st.st_mtime_ns})
        for rel, path, entry_st in _walk(item.path, item.name):
            _copy_entry(path, entry_st, root / rel, rel, manifest)
    elif item.kind == "sqlite":
        _copy_sqlite(item.path, dst)
        manifest.add_file(item.name, dst, st.st_mtime_ns)
    else:
        _copy_entry(item.path, item.path.lstat(), dst, item.name, manifest)


def _restore_dir_times(root: Path, manifest: Manifest) -> None:
    for entry in sorted(manifest.dirs, key=lambda d: -len(decode_name(d))):  # children first
        os.utime(root / decode_name(entry), ns=(entry["mtime_ns"], entry["mtime_ns"]))


# --- backup ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BackupResult:
    path: Path
    files: int
    bytes: int
    seconds: float
    removed: list[Path]  # older backups beyond --keep


def _check_sources(source: Locations, out: Path) -> None:
    if not (source.inbox / "registry.csv").is_file():
        raise BackupError(f"收件箱 {source.inbox} 中没有 registry.csv：请用 --inbox 指定要备份的收件箱")
    if not source.workdir.is_dir():
        raise BackupError(f"工作目录 {source.workdir} 不存在：请用 --workdir 指定要备份的工作目录")
    for item in source.items():
        if item.kind == "tree" and out.is_relative_to(item.path):
            raise BackupError(f"备份目录 {out} 不能位于要备份的 {item.path} 之内")


def _new_name(out: Path) -> str:
    base = NAME_PREFIX + dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = base, 1
    while (out / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def _drop_abandoned(out: Path) -> None:
    """Remove what an interrupted backup left (``.<name>.partial-<pid>`` whose process is gone)."""
    for path in out.glob(f".{NAME_PREFIX}*{PARTIAL_MARK}*"):
        try:
            os.kill(int(path.name.rsplit(PARTIAL_MARK, 1)[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except (ValueError, PermissionError):
            continue


def complete_backups(out: Path) -> list[Path]:
    """The complete backups in ``out``, oldest first (the names sort by time)."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if NAME_PATTERN.fullmatch(p.name) and (p / MANIFEST).is_file())


def backup(source: Locations, out: Path, wait_seconds: float = 3600.0, keep: int = 0,
           on_wait: Callable[[str], None] | None = None) -> BackupResult:
    """Copy everything kept into a new ``<out>/sasac-backup-<time>/``, holding the working area's lock.

    Waits up to ``wait_seconds`` for a run that holds the lock (``WorkAreaBusy`` after that). With ``keep`` > 0
    only the newest ``keep`` complete backups in ``out`` remain afterwards.
    """
    started = time.perf_counter()
    out = Path(out).resolve()
    _check_sources(source, out)
    with work_lock(source.workdir, describe_holder("备份 sasac-skills backup"), wait_seconds=wait_seconds,
                   on_wait=on_wait):
        out.mkdir(parents=True, exist_ok=True)
        _drop_abandoned(out)
        name = _new_name(out)
        partial = out / f".{name}{PARTIAL_MARK}{os.getpid()}"
        partial.mkdir(mode=0o700)  # it holds the inbox's personal data: its owner only
        try:
            manifest = Manifest()
            for item in source.items():
                _copy_item(item, partial, manifest)
            _restore_dir_times(partial, manifest)
            _write_manifest(partial, source, manifest)
            final = out / name
            partial.rename(final)
            _sync_dir(out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    removed = complete_backups(out)[:-keep] if keep > 0 else []
    for old in removed:
        shutil.rmtree(old)
    return BackupResult(final, len(manifest.files), sum(f["size"] for f in manifest.files),
                        time.perf_counter() - started, removed)


def _write_manifest(root: Path, source: Locations, manifest: Manifest) -> None:
    doc = {
        "format": FORMAT,
        "created_at": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "code_digest": code_digest(),
        "sources": source.as_json(),
        "hmac_key": KEY_NOTE,
        "key_check": current_key_check(),
        "absent": manifest.absent,
        "dirs": manifest.dirs,
        "files": manifest.files,
        "links": manifest.links,
        "skipped": manifest.skipped,
    }
    path = root / MANIFEST
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- reading a backup back ---------------------------------------------------------------------------------

def find_backup(path: Path) -> Path:
    """``path`` itself when it is a backup, else the newest complete backup inside it."""
    path = Path(path).resolve()
    if (path / MANIFEST).is_file():
        return path
    found = complete_backups(path)
    if not found:
        raise BackupError(f"{path} 不是备份：其中没有 {MANIFEST}，也没有完整的 {NAME_PREFIX}… 文件夹")
    return found[-1]


def read_manifest(root: Path) -> tuple[dict, Manifest]:
    try:
        doc = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"备份清单 {root / MANIFEST} 无法读取，未恢复任何文件：{exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupError(f"{root / MANIFEST} 不是本平台的备份清单（格式应为 {FORMAT}），未恢复任何文件")
    manifest = Manifest(files=doc.get("files", []), links=doc.get("links", []), dirs=doc.get("dirs", []),
                        skipped=doc.get("skipped", []), absent=doc.get("absent", []))
    return doc, manifest


def verify(root: Path, manifest: Manifest) -> None:
    """Every file the manifest lists is in the backup with its size and SHA-256; else one line naming it."""
    bad = []
    for entry in manifest.files:
        rel = decode_name(entry)
        path = root / rel
        if not path.is_file() or path.is_symlink():
            bad.append((rel, "缺失"))
        elif path.stat().st_size != entry["size"] or sha256_of(path) != entry["sha256"]:
            bad.append((rel, "内容与清单中的 SHA-256 不符"))
    for entry in manifest.links:
        link = root / decode_name(entry)
        if not link.is_symlink() or os.readlink(link) != link_target(entry):
            bad.append((decode_name(entry), "链接缺失或与清单不符"))
    if bad:
        rel, what = bad[0]
        more = f"（另有 {len(bad) - 1} 个文件有问题）" if len(bad) > 1 else ""
        raise BackupError(f"备份已损坏，未恢复任何文件：{printable(rel)} {what}{more}")
