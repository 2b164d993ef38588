"""Where an upload waits while it is checked, and what a restart clears.

An upload is written into ``<storage>/staging/`` and moved beside the others only once its database row is
written; a crash at any moment in between (mid-upload, mid-check) leaves the file in the staging folder, or a
stored file no row names. Both are personal data nobody will ever ask for: at start the portal removes them and
says how many in its log.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from pipelines.portal import db

log = logging.getLogger("pipelines.portal")
STAGING = "staging"


def staging_dir(storage: Path) -> Path:
    return storage / STAGING


def new_staged(storage: Path, suffix: str) -> Path:
    folder = staging_dir(storage)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{secrets.token_hex(16)}{suffix}"


def keep(staged: Path) -> Path:
    """The staged file moved beside the kept uploads (the same file system: an atomic rename)."""
    kept = staged.parent.parent / staged.name
    staged.replace(kept)
    return kept


def sweep(storage: Path, db_path: Path) -> int:
    """Remove every staged file and every stored file no upload row names; how many were removed."""
    with db.connect(db_path) as con:
        named = {r[0] for r in con.execute("select stored_name from uploads where stored_name is not null")}
    removed = 0
    candidates = list(staging_dir(storage).glob("*")) + [p for p in storage.glob("*") if p.is_file()]
    for path in candidates:
        if path.is_file() and (path.parent.name == STAGING or path.name not in named):
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        log.warning("报送平台启动：清除了 %d 个中断上传留下的文件 (removed %d files left by interrupted uploads)",
                    removed, removed)
    return removed
