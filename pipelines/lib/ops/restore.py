"""Restore a backup (pipelines.lib.ops.backup) onto given paths: a new machine's, or the old ones with ``force``.

Nothing is written until every file of the backup has matched its SHA-256 in the manifest. Without ``force``
every target location must be empty. With ``force`` the backup's files replace those at the target and the rest
stay: a filing that reached the inbox after the backup is kept, and the next run reads it; the journal files
beside a replaced database (DuckDB's ``.wal``, SQLite's ``-wal`` and ``-shm``) are removed, since replaying them
onto the restored file would corrupt it. Modification times are those of the backup (a file's time is its
arrival time when the arrivals register lacks it). The target working area's lock is held throughout.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.lib.domain.fingerprint import code_digest
from pipelines.lib.ops.backup import (
    BackupError,
    Item,
    Locations,
    current_key_check,
    decode_name,
    find_backup,
    link_target,
    printable,
    read_manifest,
    verify,
)
from pipelines.lib.ops.work_lock import LOCK_FILE, describe_holder, work_lock

_JOURNALS = {"duckdb": (".wal",), "sqlite": ("-wal", "-shm", "-journal")}


@dataclass
class RestoreResult:
    backup: Path
    created_at: str
    counts: dict[str, list[int]] = field(default_factory=dict)  # section -> [files, bytes]
    same_code: bool = True
    key: str = "unset"  # "same", "different", "unset", or "unknown" (the backup holds no check value)


def _occupied(target: Locations) -> list[Path]:
    """The target locations that already hold something (the working area's lock file does not count)."""
    found = []
    for item in target.items():
        path = item.path
        if item.kind == "tree" and path.is_dir():
            if any(path.iterdir()):
                found.append(path)
        elif os.path.lexists(path):
            found.append(path)
    if target.workdir.is_dir() and any(p.name != LOCK_FILE for p in target.workdir.iterdir()):
        found.append(target.workdir)
    return sorted(set(found))


def _target_of(rel: str, items: list[Item]) -> tuple[Item, Path]:
    for item in items:
        if rel == item.name:
            return item, item.path
        if item.kind == "tree" and rel.startswith(item.name + "/"):
            return item, item.path / rel[len(item.name) + 1:]
    raise BackupError(f"清单中的 {printable(rel)} 不属于任何可恢复的位置，未恢复任何文件")


def _mapped(entries: list[dict], items: list[Item]) -> list[tuple[str, dict, Item, Path]]:
    """Each manifest entry with its relative path, the item it belongs to and where it goes at the target."""
    out = []
    for entry in entries:
        rel = decode_name(entry)
        out.append((rel, entry, *_target_of(rel, items)))
    return out


def _place(src: Path, dst: Path, mtime_ns: int) -> None:
    """Copy under a temporary name, then rename: a reader of the target never sees half a file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.restoring-{os.getpid()}")
    shutil.copy2(src, tmp)
    os.utime(tmp, ns=(mtime_ns, mtime_ns))
    if dst.is_dir() and not dst.is_symlink():
        shutil.rmtree(dst)
    tmp.replace(dst)


def _drop_journals(item: Item, dst: Path) -> None:
    """Journals beside a database the restore replaces: replayed onto the restored file, they would corrupt it."""
    kind = "duckdb" if item.kind == "file" and dst.suffix == ".duckdb" else item.kind
    for suffix in _JOURNALS.get(kind, ()):
        with contextlib.suppress(FileNotFoundError):
            dst.with_name(dst.name + suffix).unlink()


def restore(path: Path, target: Locations, force: bool = False) -> RestoreResult:
    """Verify the backup at ``path`` (a backup, or a folder of backups: the newest), then write it to ``target``."""
    root = find_backup(path)
    doc, manifest = read_manifest(root)
    items = target.items()
    files, links, dirs = (_mapped(entries, items) for entries in (manifest.files, manifest.links, manifest.dirs))
    verify(root, manifest)
    _refuse_if_occupied(target, force)
    with work_lock(target.workdir, describe_holder("恢复 sasac-skills restore"), wait_seconds=0):
        _refuse_if_occupied(target, force)
        result = RestoreResult(root, str(doc.get("created_at", "")), same_code=doc.get("code_digest") == code_digest(),
                               key=_key_state(doc.get("key_check")))
        for _rel, _entry, _item, dst in dirs:
            dst.mkdir(parents=True, exist_ok=True)
        for rel, entry, item, dst in files:
            _drop_journals(item, dst)
            _place(root / rel, dst, entry["mtime_ns"])
            counts = result.counts.setdefault(item.name.split("/", 1)[0], [0, 0])
            counts[0] += 1
            counts[1] += entry["size"]
        for _rel, entry, _item, dst in links:
            if os.path.lexists(dst):
                dst.unlink()
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(link_target(entry), dst)
            os.utime(dst, ns=(entry["mtime_ns"], entry["mtime_ns"]), follow_symlinks=False)
        for _rel, entry, _item, dst in sorted(dirs, key=lambda d: -len(d[0])):  # children first: parents keep theirs
            os.utime(dst, ns=(entry["mtime_ns"], entry["mtime_ns"]))
    return result


def _key_state(backup_check: str | None) -> str:
    now = current_key_check()
    if now is None:
        return "unset"
    if not backup_check:
        return "unknown"
    return "same" if now == backup_check else "different"


def _refuse_if_occupied(target: Locations, force: bool) -> None:
    occupied = _occupied(target)
    if occupied and not force:
        shown = "、".join(str(p) for p in occupied[:3]) + (f" 等 {len(occupied)} 处" if len(occupied) > 3 else "")
        raise BackupError(f"目标位置不是空的：{shown}；恢复会覆盖其中的数据，确认后加 --force，或指定空的 "
                          "--inbox/--workdir/--warehouse")
