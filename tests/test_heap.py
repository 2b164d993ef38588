"""The garbage-collection policy of a one-shot run process (pipelines.lib.heap), in a fresh interpreter: freezing
in this test process would keep its objects for the rest of the session."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

_PROBE = """
import gc
from pipelines.lib import heap

heap.freeze_long_lived()
before = gc.get_freeze_count()
heap.declare_one_shot()
declared = gc.get_freeze_count()
kept = [[] for _ in range(1000)]
heap.freeze_long_lived()
print(before, declared, gc.get_freeze_count())
"""


def test_nothing_is_frozen_until_the_process_declares_it_runs_one_job() -> None:
    out = subprocess.run([sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, text=True, check=True)
    before, declared, after = map(int, out.stdout.split())
    assert before == 0
    assert declared > 0  # the imports
    assert after >= declared + 1000  # and what the process made since
