"""Read submissions in worker processes, so that a reader crash (calamine aborts on some hostile files) or a
runaway file costs that one file, never the run.

The readers are a ``concurrent.futures.ProcessPoolExecutor`` whose workers are forked from a fork server that
has imported the readers once (``multiprocessing``'s "forkserver" start method: a worker starts without
paying for Python, polars and calamine again, and inherits nothing of the intake's own memory or threads).
A worker answers a (path, format) job with a ``Workbook`` or a Chinese reason.

A worker that dies (a native reader's abort, the OOM killer) breaks the whole pool: every job in it fails
with ``BrokenProcessPool``. The pool is then replaced, and when more than one job was in it, each of them is
read again alone, so that the one that breaks a pool by itself is the one rejected; a worker that holds one
file past ``READ_SECONDS`` is killed the same way. The workers' stdout and stderr go nowhere (a native
reader's panic text may quote cells), and a worker exits when the process that owns the pool exits,
however it ended (``multiprocessing.parent_process``'s sentinel), so killing a run leaves no reader behind.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.queues
import os
import signal
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pipelines.lib.intake.readers import ReadError, SubmissionFile, read_submission
from pipelines.lib.machine import WORKER_PROCESSES
from pipelines.lib.ops import liveness

READ_SECONDS = 300  # one file; the limits keep a legitimate one far below this
IN_FLIGHT = 2  # jobs in the pool per worker: the next one is ready when a worker answers (ReaderPool.read_many)
CRASH_REASON = "读取该文件时读取程序异常终止，文件可能已损坏或含有异常结构，请用Excel重新导出后报送"
TIMEOUT_REASON = f"读取该文件超过{READ_SECONDS}秒仍未完成，文件可能含有异常结构，请用Excel重新导出后报送"

Job = tuple[str, Path, str]  # (key, path, format)


def read_job(path: str, fmt: str) -> tuple[str, object]:
    """("ok", Workbook) or ("error", Chinese reason); anything unexpected names only the exception type."""
    try:
        return "ok", read_submission(SubmissionFile(Path(path), fmt))
    except ReadError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken file must never stop the quarter
        return "crash", type(exc).__name__


def _start_worker(identities: multiprocessing.queues.SimpleQueue) -> None:
    """The pool's initializer, in each worker: which process it is (so a stuck one can be killed), output to
    nowhere, and an exit with its owner."""
    identities.put(liveness.identity())
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    owner = multiprocessing.parent_process()
    if owner is not None:
        threading.Thread(target=_exit_with, args=(owner.sentinel,), name="reader-owner", daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])  # ready when the owning process has exited
    os._exit(1)


def _context() -> multiprocessing.context.BaseContext:
    ctx = multiprocessing.get_context("forkserver")
    # Has effect when the process's fork server is not running yet; one already running still works (each
    # worker then imports the readers itself, with polars's default thread pool). reader_env first: it must
    # precede polars's import.
    ctx.set_forkserver_preload(["pipelines.lib.intake.reader_env", "pipelines.lib.intake.worker"])
    return ctx


class ReaderPool:
    """``size`` reader processes kept for many batches (a quarter's intake), started when first needed.

    For one caller at a time: a broken pool's jobs are all this caller's, which is what tells the file that
    broke it. Use as a context manager, or ``close``."""

    def __init__(self, size: int | None = None) -> None:
        self.size = max(1, size or WORKER_PROCESSES)
        self._pool: ProcessPoolExecutor | None = None
        self._identities: multiprocessing.queues.SimpleQueue | None = None  # what the pool's workers said they are

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = _context()
            self._identities = ctx.SimpleQueue()
            self._pool = ProcessPoolExecutor(self.size, mp_context=ctx, initializer=_start_worker,
                                             initargs=(self._identities,))
        return self._pool

    def _kill_workers(self) -> None:
        """SIGKILL to every worker of the current pool still alive (a stuck reader never returns on its own)."""
        identities = self._identities
        while identities is not None and not identities.empty():
            worker = identities.get()
            if liveness.is_alive(worker):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(worker.partition(":")[0]), signal.SIGKILL)

    def _discard(self, *, kill: bool = False) -> None:
        """Shut the pool down, its workers killed first when one may be stuck; the next job starts a new one."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if kill:
            self._kill_workers()
        pool.shutdown(wait=True, cancel_futures=True)

    def _submit(self, job: Job) -> Future:
        try:
            return self._executor().submit(read_job, str(job[1]), job[2])
        except BrokenProcessPool:  # a worker died while idle (the OOM killer, an operator): not this file's doing
            self._discard()
            return self._executor().submit(read_job, str(job[1]), job[2])

    @staticmethod
    def _outcome(future: Future) -> tuple[str, object] | None:
        """The worker's answer; None when the pool broke (or was shut down) under the job."""
        try:
            return future.result()
        except (BrokenProcessPool, CancelledError):
            return None
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # noqa: BLE001 - escaped read_job (a native panic): the worker would have died of it
            return "died", CRASH_REASON

    def _alone(self, job: Job) -> tuple[str, str, object]:
        """One job with nothing else in the pool: what breaks the pool now is this file's doing."""
        future = self._submit(job)
        if not wait([future], timeout=READ_SECONDS).done:
            self._discard(kill=True)
            return job[0], "died", TIMEOUT_REASON
        outcome = self._outcome(future)
        if outcome is None:
            self._discard()
            return job[0], "died", CRASH_REASON
        return (job[0], *outcome)

    def _collect(self, done: set[Future], running: dict[Future, Job], lost: list[Job]
                 ) -> Iterator[tuple[str, str, object]]:
        """The answers of the finished futures ``done``, taken out of ``running``; the jobs the pool lost go to
        ``lost``."""
        for future in done:
            job = running.pop(future)
            outcome = self._outcome(future)
            if outcome is None:
                lost.append(job)
            else:
                yield (job[0], *outcome)

    def read_many(self, jobs: list[Job]) -> Iterator[tuple[str, str, object]]:
        """(key, status, value) for every (key, path, format) job, read side by side, in the order they finish.
        A crash or an overrun costs the file responsible only."""
        todo: deque[Job] = deque(jobs)
        suspects: deque[Job] = deque()  # in a pool that broke: each is read again alone
        running: dict[Future, Job] = {}
        try:
            while todo or suspects or running:
                if suspects and not running:
                    yield self._alone(suspects.popleft())
                    continue
                while todo and not suspects and len(running) < self.size * IN_FLIGHT:
                    job = todo.popleft()
                    running[self._submit(job)] = job
                done = wait(running, timeout=READ_SECONDS, return_when=FIRST_COMPLETED).done
                if not done:  # nothing finished for READ_SECONDS: a file holds a worker
                    lost = list(running.values())
                    running.clear()
                    self._discard(kill=True)
                    if len(lost) == 1:
                        yield lost[0][0], "died", TIMEOUT_REASON
                    else:
                        suspects.extend(lost)
                    continue
                lost: list[Job] = []
                yield from self._collect(done, running, lost)
                if not lost:
                    continue
                # The pool broke: it fails every job still in it at once (or some had finished just before).
                yield from self._collect(wait(running, timeout=READ_SECONDS).done, running, lost)
                lost += running.values()
                running.clear()
                self._discard(kill=True)
                if len(lost) == 1:  # it was alone in the pool
                    yield lost[0][0], "died", CRASH_REASON
                else:
                    suspects.extend(lost)
        finally:
            if running:  # left early (the caller stopped reading): a job still being read is not waited for
                self._discard(kill=True)

    def close(self) -> None:
        self._discard()

    def __enter__(self) -> ReaderPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_many(jobs: list[Job], size: int = WORKER_PROCESSES) -> Iterator[tuple[str, str, object]]:
    """``ReaderPool.read_many`` with a pool for these jobs only."""
    with ReaderPool(min(size, len(jobs))) as readers:
        yield from readers.read_many(jobs)
