"""Stand-ins for ``worker.read_job`` that do to a reader process what a hostile file can do to calamine: kill it
(``os._exit``, a segfault), hold it forever, or kill it a moment after it answered (dying while idle).

Tests put one in place of ``pipelines.lib.intake.worker.read_job``; the pool's workers import it from here. A
file gets an action when a ``hostile.txt`` in its folder or the folder above has a line "<part of its name>
<action>"; every other file is read for real.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from pipelines.lib.intake.worker import read_job

ACTIONS = ("exit", "segfault", "hang", "die-after")


def _action(path: Path) -> str | None:
    for folder in (path.parent, path.parent.parent):
        listed = folder / "hostile.txt"
        if listed.is_file():
            for line in listed.read_text().splitlines():
                part, action = line.split()
                if part in path.name:
                    return action
    return None


def hostile_read(path: str, fmt: str) -> tuple[str, object]:
    action = _action(Path(path))
    if action == "exit":
        os._exit(3)
    if action == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if action == "hang":
        time.sleep(3600)
    if action == "die-after":
        threading.Timer(0.2, os._exit, (4,)).start()
    return read_job(path, fmt)


def mark(folder: Path, part: str, action: str) -> None:
    assert action in ACTIONS
    with (folder / "hostile.txt").open("a") as fh:
        fh.write(f"{part} {action}\n")
