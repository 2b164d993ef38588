"""Whether a run would change anything: a fingerprint of every input that decides its outputs.

Inputs are the inbox as seen by the run (the registry and the asked periods' folders: each entry's name,
mode, size and modification time, as make and rsync judge change; the inbox sensor watches the same digest), the reference data, the dbt project, the
expectation suites and the platform's own code. A run whose fingerprint equals that of the last
successful run into the same working area, with the published warehouse still the file it wrote,
has nothing to do: it leaves every output untouched (same bytes, same modification times).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

from pipelines.lib.domain.contract import REGISTRY_FILE
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import DBT_PROJECT_DIR, REPO_ROOT

# Everything that decides what a run writes.
CODE_AND_RULES = (
    REPO_ROOT / "pipelines",
    DBT_PROJECT_DIR / "models",
    DBT_PROJECT_DIR / "macros",
    DBT_PROJECT_DIR / "seeds",
    DBT_PROJECT_DIR / "tests",
    DBT_PROJECT_DIR / "snapshots",
    DBT_PROJECT_DIR / "dbt_project.yml",
    REPO_ROOT / "expectations",
)
_CODE_SUFFIXES = {".py", ".sql", ".yml", ".yaml", ".csv", ".json"}
STATE_FILE = "last_successful_run.json"


def _entry_stamp(path: Path) -> bytes:
    """What change looks like for one inbox entry, without following links or reading content. The name's own
    bytes: a name need not be valid UTF-8."""
    name = os.fsencode(path.name)
    try:
        st = path.lstat()
    except OSError as exc:
        return name + f"\0unstatable:{exc.errno}".encode()
    stamp = name + f"\0{st.st_mode:o}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    if stat.S_ISDIR(st.st_mode):  # a CSV folder: its members count too (lstat: a link is never followed)
        stamp += b"".join(b"\0" + _entry_stamp(p) for p in _listing(path))
    return stamp


def _listing(folder: Path) -> list[Path]:
    """A folder's entries; an unlistable one has none here (the intake reports it, this only notices change)."""
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def period_digest(inbox: Path, period: Period | str) -> str:
    """One period as the intake would see it: the registry and every entry of the period's folder."""
    h = hashlib.sha256(_entry_stamp(inbox / REGISTRY_FILE) + b"\n")
    folder = inbox / str(period)
    if folder.is_dir() and not folder.is_symlink():
        for path in _listing(folder):
            h.update(_entry_stamp(path) + b"\n")
    return h.hexdigest()


def inbox_digest(inbox: Path, periods: list[Period]) -> str:
    return hashlib.sha256("".join(f"[{p}]{period_digest(inbox, p)}" for p in periods).encode()).hexdigest()


def code_digest(roots: tuple[Path, ...] = CODE_AND_RULES) -> str:
    h = hashlib.sha256()
    for root in roots:
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*") if p.is_file() and p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts)
        for path in files:
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def run_fingerprint(inbox: Path, periods: list[Period], warehouse: Path) -> str:
    parts = {"inbox": inbox_digest(inbox, periods), "code": code_digest(),
             "periods": [str(p) for p in periods], "warehouse": str(warehouse.resolve())}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _published_stamp(warehouse: Path) -> list[int] | None:
    try:
        st = warehouse.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def unchanged_since_last_run(workdir: Path, fingerprint: str, warehouse: Path) -> dict | None:
    """The last successful run's record when nothing changed since, else None."""
    try:
        state = json.loads((workdir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if state.get("fingerprint") != fingerprint or state.get("published") != _published_stamp(warehouse):
        return None
    return state


def record_successful_run(workdir: Path, fingerprint: str, warehouse: Path, summary: dict) -> None:
    state = {"fingerprint": fingerprint, "published": _published_stamp(warehouse), "summary": summary}
    tmp = workdir / f".{STATE_FILE}.{os.getpid()}"
    tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(workdir / STATE_FILE)
