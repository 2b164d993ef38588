"""Where an upload waits while it is checked, and what a restart clears.

An upload is written into ``<storage>/staging/`` and moved beside the others only once its database row is
written; a crash at any moment in between (mid-upload, mid-check) leaves the file in the staging folder, or a
stored file no row names. Both are personal data nobody will ever ask for: at start the portal removes them and
says how many in its log. (A request body arriving is spooled by the web framework into an unnamed temporary
file, which the kernel frees with the process: nothing of it outlives a crash.)
"""

from __future__ import annotations

import secrets
from pathlib import Path

from pipelines.portal import db

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
    staged = [p for p in staging_dir(storage).rglob("*") if p.is_file() or p.is_symlink()]
    for path in staged + [p for p in storage.glob("*") if p.is_file() and p.name not in named]:
        path.unlink(missing_ok=True)
        removed += 1
    return removed

