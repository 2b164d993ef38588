"""Read submissions in a child process, so that a reader crash (calamine aborts on some hostile files) or a
runaway file costs that one file, never the run.

The parent sends one job at a time (path, format) and gets back a pickled ``Workbook`` or a Chinese reason.
When the child dies or overruns ``READ_SECONDS`` the file in hand is rejected, the child is replaced and
the next file goes on. The child's stderr is discarded: a native reader's panic text may quote cells.
The child dies with its parent (PR_SET_PDEATHSIG), so killing a run leaves no reader behind.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import subprocess
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from pipelines.lib import children
from pipelines.lib.children import job_pipes, receive, send
from pipelines.lib.intake.readers import ReadError, SubmissionFile, read_submission
from pipelines.lib.machine import WORKER_PROCESSES

READ_SECONDS = 300  # one file; the limits keep a legitimate one far below this
IN_FLIGHT = 2  # jobs sent ahead to one reader (ReaderSet.read_many)
CRASH_REASON = "读取该文件时读取程序异常终止，文件可能已损坏或含有异常结构，请用Excel重新导出后报送"
TIMEOUT_REASON = f"读取该文件超过{READ_SECONDS}秒仍未完成，文件可能含有异常结构，请用Excel重新导出后报送"
# A reader's frames are one file's: a polars thread pool per child (one thread per core, in each of the readers
# and in the parent that checks) only adds threads that wait on each other.
_CHILD_ENV = {"POLARS_MAX_THREADS": "1"}

def read_job(path: str, fmt: str) -> tuple[str, object]:
    """("ok", Workbook) or ("error", Chinese reason); anything unexpected names only the exception type."""
    try:
        return "ok", read_submission(SubmissionFile(Path(path), fmt))
    except ReadError as exc:
        return "error", str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken file must never stop the quarter
        return "crash", type(exc).__name__


def main() -> None:
    jobs, out = job_pipes()  # the child's stderr goes nowhere (ReaderProcess._start)
    while True:
        try:
            job = receive(jobs)
        except EOFError:
            return
        send(out, read_job(*job))


class ReaderProcess:
    """One child reader, restarted after a crash; use as a context manager."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        return children.start("pipelines.lib.intake.worker", stderr=subprocess.DEVNULL,
                              env={**os.environ, **_CHILD_ENV})

    def _stop(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.proc.wait()
            for fh in (self.proc.stdin, self.proc.stdout):
                with contextlib.suppress(OSError):
                    fh.close()
            self.proc = None

    def send(self, path: Path, fmt: str) -> bool:
        if self.proc is None:
            self.proc = self._start()
        try:
            send(self.proc.stdin, (str(path), fmt))
            return True
        except OSError:
            self._stop()
            return False

    def receive(self) -> tuple[str, object]:
        try:
            return receive(self.proc.stdout)
        except (EOFError, OSError, pickle.UnpicklingError):
            self._stop()
            return "died", CRASH_REASON

    def read(self, path: Path, fmt: str) -> tuple[str, object]:
        """Like :func:`read_job`, plus ("died", reason) when the child crashed or overran."""
        if not self.send(path, fmt):
            return "died", CRASH_REASON
        ready, _, _ = select.select([self.proc.stdout], [], [], READ_SECONDS)
        if not ready:
            self._stop()
            return "died", TIMEOUT_REASON
        return self.receive()

    def __enter__(self) -> ReaderProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._stop()
            self.proc = None


class ReaderSet:
    """``size`` reader children kept for many batches (a quarter's intake), started when first needed.

    Starting a child costs ~0.3 s of CPU (Python, polars, calamine). Restarted for every batch of 250 files,
    they spent 80 CPU-s on a 9,000-file quarter; kept, 58 (measured with the same checks, 2026-11-29)."""

    def __init__(self, size: int = WORKER_PROCESSES) -> None:
        self.readers = [ReaderProcess() for _ in range(max(1, size))]

    def read_many(self, jobs: list[tuple[str, Path, str]]) -> Iterator[tuple[str, str, object]]:
        """(key, status, value) for every (key, path, format) job, read side by side, in the order they finish.
        A crash or an overrun costs the job in hand only.

        Each child has up to ``IN_FLIGHT`` jobs sent: the next one already waits in its pipe when it answers,
        so it does not idle while this process, busy checking the previous batch, gets round to it."""
        readers = self.readers[:max(1, min(len(self.readers), len(jobs)))]
        pending = list(reversed(jobs))
        sent: dict[int, deque[tuple[str, Path, str]]] = {i: deque() for i in range(len(readers))}
        started: dict[int, float] = {}  # reader index -> when it began the first job it was sent

        def give_back(i: int) -> None:  # the jobs queued behind a dead child's own are not its fault
            while sent[i]:
                pending.append(sent[i].pop())

        try:
            while pending or any(sent.values()):
                for i, reader in enumerate(readers):
                    while len(sent[i]) < IN_FLIGHT and pending:
                        job = pending.pop()
                        if reader.send(job[1], job[2]):
                            if not sent[i]:
                                started[i] = time.monotonic()
                            sent[i].append(job)
                        elif sent[i]:  # it died on the job in hand: that one is answered below
                            pending.append(job)
                            break
                        else:
                            yield job[0], "died", CRASH_REASON
                busy = [i for i in sent if sent[i]]
                if not busy:
                    continue
                pipes = [readers[i].proc.stdout for i in busy if readers[i].proc is not None]
                ready = select.select(pipes, [], [], 1.0)[0] if pipes else []
                for i in busy:
                    reader = readers[i]
                    if reader.proc is not None and reader.proc.stdout in ready:
                        key = sent[i].popleft()[0]
                        status, value = reader.receive()
                        yield key, status, value
                        if status == "died":
                            give_back(i)
                        started[i] = time.monotonic()
                    elif reader.proc is None:  # a send found it dead: the job in hand is its
                        yield sent[i].popleft()[0], "died", CRASH_REASON
                        give_back(i)
                    elif time.monotonic() - started[i] > READ_SECONDS:
                        reader._stop()
                        yield sent[i].popleft()[0], "died", TIMEOUT_REASON
                        give_back(i)
        finally:
            # Left early (the caller stopped reading): a child still holding jobs would hand their answers to
            # the next batch's first files. It is replaced instead.
            for i in sent:
                if sent[i]:
                    readers[i]._stop()

    def close(self) -> None:
        for reader in self.readers:
            reader.__exit__(None, None, None)

    def __enter__(self) -> ReaderSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_many(jobs: list[tuple[str, Path, str]], size: int = WORKER_PROCESSES) -> Iterator[tuple[str, str, object]]:
    """``ReaderSet.read_many`` with children for these jobs only."""
    with ReaderSet(min(size, len(jobs))) as readers:
        yield from readers.read_many(jobs)


if __name__ == "__main__":
    main()
