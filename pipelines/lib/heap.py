"""Python's cyclic garbage collector in a process that runs one quarter's job and exits (the CLI's ``run``).

A full collection walks every object alive: Dagster's definitions, the parsed dbt manifest, the imports. Their
number only grows during a run, so each full collection costs more than the last, all of it on the main thread.
``gc.freeze()`` moves what is alive into a generation the collector skips, so the full collections walk only
what the run still creates. Frozen objects are never freed, which only a process that exits
after the run can afford; elsewhere (tests, ``dagster dev``) every run would keep its manifest for good. So
freezing is a no-op until the process declares itself one-shot.
"""

from __future__ import annotations

import gc

_one_shot = False


def declare_one_shot() -> None:
    """This process runs one job and exits: what is alive now (the imports) and at each later
    :func:`freeze_long_lived` is exempt from collection from here on."""
    global _one_shot
    _one_shot = True
    gc.freeze()


def freeze_long_lived() -> None:
    """Exempt every object alive now from later collections, in a one-shot process only."""
    if _one_shot:
        gc.freeze()
