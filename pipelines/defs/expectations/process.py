"""The run's GX process: a child started with ``spawn`` by the core dbt build's step, which imports GX while that
build runs, and then runs the suites for the ``expectation_flags`` asset.

A Dagster resource, so the hand-off is the graph's own: Dagster sets up the resource once for a run whose steps
need it, before the first step, and tears it down after the last. The child starts with the core dbt build
(``start``), not with the resource: during the intake the reader processes keep both cores busy and GX's imports
would slow them, while the core build, mostly dbt's single-threaded Python, leaves a core to spare. GX stays out of the run's process: the
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
    """One GX child per run, started by ``start`` before the GX step: ``validate`` once."""

    _pool: ProcessPoolExecutor | None = PrivateAttr(default=None)
    _ready: Future | None = PrivateAttr(default=None)

    @contextlib.contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[ExpectationsProcess]:
        try:
            yield self
        finally:
            self._close()

    def start(self) -> None:
        """Start the child, which imports GX at once; a second call does nothing."""
        if self._ready is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            self._ready = self._pool.submit(prepare_gx)

    @property
    def started(self) -> bool:
        return self._ready is not None

    def _close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def validate(self, *args: Any, log: Any, **kwargs: Any) -> ExpectationRun:
        """``run_expectations(*args, **kwargs)`` in the child (started now if ``start`` was not called), which then
        exits (the exports fork next). Should the child die, the suites run in this step instead."""
        from pipelines.lib.expectations.runner import run_expectations

        self.start()
        if self._pool is not None:
            try:
                return self._pool.submit(run_expectations, *args, **kwargs).result()
            except BrokenProcessPool:
                log.warning("the GX child process died; the suites run in this step instead")
            finally:
                self._close()
        return run_expectations(*args, **kwargs)
