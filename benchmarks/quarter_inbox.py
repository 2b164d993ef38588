"""The inbox both whole-quarter benchmarks measure: N generated enterprises × one quarter."""

from __future__ import annotations

import time
from pathlib import Path

from pipelines.lib.generator import generate
from pipelines.lib.generator.__main__ import config_from_args

PERIOD = "2008Q2"
SEED = 7


def quarter_inbox(enterprises: int, reuse: Path | None, scratch: Path) -> Path:
    """``reuse`` when given (an inbox generated earlier), else a fresh one under ``scratch``, timed."""
    if reuse is not None:
        return reuse
    inbox = scratch / "inbox"
    started = time.perf_counter()
    generate(inbox, config_from_args(enterprises=enterprises, first=PERIOD, last=PERIOD, seed=SEED))
    print(f"generated {enterprises} enterprises × {PERIOD} in {time.perf_counter() - started:.1f} s")
    return inbox
