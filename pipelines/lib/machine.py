"""How many worker processes this machine gets: one setting for the intake's readers and the exports' forks."""

from __future__ import annotations

import os

# Two, or fewer on a one-core machine. The platform's machine has two cores; at 9,000 enterprises a third
# process only adds memory (each holds its share of a quarter) without a core to run on.
WORKER_PROCESSES = max(1, min(2, os.cpu_count() or 1))
