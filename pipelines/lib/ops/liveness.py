"""Whether a process recorded earlier is still the same live process: its PID and the kernel's start time for it.

A PID alone is not enough: the kernel hands a dead run's PID to the next process that asks. The start time
(``/proc/<pid>/stat``, field 22, in clock ticks since boot) tells a reused PID apart.
"""

from __future__ import annotations

import os
from pathlib import Path


def start_ticks(pid: int) -> str | None:
    """The kernel's start time of ``pid``, or None when no such process exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after its closing one.
    return stat.rsplit(")", 1)[1].split()[19]


def identity(pid: int | None = None) -> str:
    """``PID:START`` of this process (or ``pid``), as a run records it."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{start_ticks(pid)}"


def is_alive(recorded: str) -> bool:
    """Whether the process recorded as ``PID:START`` still runs (a zombie counts as dead)."""
    pid_text, _, start = recorded.partition(":")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and start_ticks(pid) == start
