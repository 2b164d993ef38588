"""The run's GX process: a child started with ``spawn`` when the run starts, which imports GX while the earlier
steps (intake, the core dbt build) run, and then runs the suites for the ``expectation_flags`` asset.

A Dagster resource, so the hand-off is the graph's own: Dagster sets up the resource once for a run whose steps
need it, before the first step, and tears it down after the last. GX stays out of the run's process: the
exports fork children after the GX step, and a process that has imported GX (and its threads) is not one to
fork; a child started with ``spawn`` holds nothing of the run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import PrivateAttr

from pipelines.lib.expectations.runner import prepare_gx

if TYPE_CHECKING:
    from pipelines.lib.expectations.runner import ExpectationRun


class ExpectationsProcess(dg.ConfigurableResource):
    """One GX child per run, ready before the GX step: ``validate`` once."""

    _pool: ProcessPoolExecutor | None = PrivateAttr(default=None)
    _ready: Future | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ExpectationsProcess]:
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._ready = self._pool.submit(prepare_gx)  # the child starts now and imports GX
        try:
            yield self
        finally:
            self._close()

    def _close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def validate(self, *args: Any, log: Any, **kwargs: Any) -> ExpectationRun:
        """``run_expectations(*args, **kwargs)`` in the child, which then exits (the exports fork next). Should the
        child die, or the resource not be set up for a run, the suites run in this step instead."""
        from pipelines.lib.expectations.runner import run_expectations

        if self._pool is not None:
            try:
                return self._pool.submit(run_expectations, *args, **kwargs).result()
            except BrokenProcessPool:
                log.warning("the GX child process died; the suites run in this step instead")
            finally:
                self._close()
        return run_expectations(*args, **kwargs)
