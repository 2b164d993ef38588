"""How many worker processes this machine gets: one setting for the intake's readers and the exports' forks.

``SASAC_WORKERS`` sets it; by default it is the number of CPUs this process may run on. Each worker holds its
share of a batch (readers) or of a quarter's marts (exports), so a machine short of memory sets fewer.
"""

from __future__ import annotations

import os

ENV = "SASAC_WORKERS"


def cpus() -> int:
    """The CPUs this process may use (its affinity mask where the OS has one), at least 1."""
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13+
    if counted is not None:
        return max(1, counted() or 1)
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def worker_processes() -> int:
    """``SASAC_WORKERS`` when set (a whole number ≥ 1), else :func:`cpus`."""
    setting = os.environ.get(ENV, "").strip()
    if not setting:
        return cpus()
    try:
        n = int(setting)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{ENV} must be a whole number of processes, at least 1 (got {setting!r})")
    return n


WORKER_PROCESSES = worker_processes()
