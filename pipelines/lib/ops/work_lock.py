"""The working area's one lock: every writer (a CLI run, a daemon or UI run, a backup, a restore) holds it.

An exclusive ``flock`` on ``<workdir>/run.lock``. The lock belongs to the open file, so the kernel releases it
the moment its holder dies, however it dies: a stale lock file never blocks anyone. The holder writes who it
is (the Dagster run id or the command, its PID, when it started) into the file, so whoever is refused or has
to wait can say why in one line.

Within one process the lock is re-entrant: the CLI takes it before it looks at its fingerprint, and the job
it then executes in-process takes it again at its first step (as every daemon and UI run does); the inner
holder only renames the holder (the run id becomes known), a second ``flock`` on the same file from the same
process would otherwise wait for itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOCK_FILE = "run.lock"


class WorkAreaBusy(Exception):
    """Another writer holds the working area; ``holder`` says who, as it wrote it."""

    def __init__(self, workdir: Path, holder: str) -> None:
        self.workdir = workdir
        self.holder = holder
        super().__init__(f"另一次运行正在使用工作目录 {workdir}（{holder}），请等它结束后再运行")


@dataclass
class _Held:
    handle: IO[str]
    depth: int


_held: dict[Path, _Held] = {}  # the locks this process holds, by lock file: what makes re-entry possible
_held_guard = threading.Lock()


def describe_holder(what: str) -> str:
    """The text a holder writes: what it is, its PID and when it started (local time, to the second)."""
    started = dt.datetime.now().isoformat(sep=" ", timespec="seconds")
    return f"{what}，PID {os.getpid()}，开始于 {started}"


def read_holder(workdir: Path) -> str:
    try:
        return (Path(workdir) / LOCK_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def _write(handle: IO[str], holder: str) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(holder)
    handle.flush()


def _try_lock(handle: IO[str]) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def work_lock(workdir: Path, holder: str, wait_seconds: float = 0.0, poll_seconds: float = 2.0,
              on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the working area's lock for the block.

    ``holder`` is written into the lock file (see :func:`describe_holder`). When another process holds the
    lock, this waits up to ``wait_seconds`` (telling ``on_wait`` who holds it, once), then raises
    :class:`WorkAreaBusy` naming the holder; ``wait_seconds=0`` refuses at once.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = (workdir / LOCK_FILE).resolve()
    with _held_guard:
        held = _held.get(path)
        if held is not None:
            held.depth += 1
    if held is not None:
        outer = read_holder(workdir)
        _write(held.handle, holder)
        try:
            yield
        finally:
            with _held_guard:
                held.depth -= 1
            _write(held.handle, outer)
        return
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the block, closed below
    try:
        deadline = time.monotonic() + wait_seconds
        told = False
        while not _try_lock(handle):
            current = read_holder(workdir) or "持有者未知"
            if time.monotonic() >= deadline:
                raise WorkAreaBusy(workdir, current)
            if on_wait is not None and not told:
                on_wait(current)
                told = True
            time.sleep(poll_seconds)
        _write(handle, holder)
        with _held_guard:
            _held[path] = _Held(handle, 1)
        try:
            yield
        finally:
            with _held_guard:
                del _held[path]
    finally:
        handle.close()  # releases the lock
