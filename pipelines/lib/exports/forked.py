"""Run one function over shards of a list in forked children that inherit the caller's memory.

Receipts are pure-Python xlsxwriter work on rows already in memory: a pool that pickles those rows to
spawned workers loses what the second core gains (docs/measured.md). A forked child already holds them; only the
shard's keys go in and short results come back.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from typing import TypeVar

from pipelines.lib.machine import WORKER_PROCESSES

T = TypeVar("T")
R = TypeVar("R")

MIN_ITEMS_PER_WORKER = 100  # below this a fork costs more than it saves

def _run_shard(fn: Callable, shard: Sequence, out) -> None:
    try:
        out.send(("ok", [fn(item) for item in shard]))
    except BaseException as exc:  # noqa: BLE001 - handed to the parent, who raises it
        try:
            out.send(("error", exc))
        except Exception:  # noqa: BLE001 - an exception that does not pickle still says what it was
            out.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        out.close()


def _fork(fn: Callable, shard: Sequence) -> tuple:
    """A forked child running ``fn`` over ``shard``, and the pipe its answer comes back on."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    # With fork nothing is pickled on the way in: the child starts as a copy of this process.
    child = ctx.Process(target=_run_shard, args=(fn, shard, send), daemon=True)
    child.start()
    send.close()
    return child, receive


def _answer(child, receive) -> tuple[str, object]:
    """("ok", results) or ("error", exception) from a child started by ``_fork``, once it has ended."""
    try:
        status, value = receive.recv()  # before join: a large result must not fill the pipe and block
    except EOFError:
        child.join()
        status, value = "error", RuntimeError(f"a forked worker died (exit code {child.exitcode})")
    child.join()
    return status, value


def _can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def map_forked(fn: Callable[[T], R], items: Sequence[T], workers: int = WORKER_PROCESSES) -> list[R]:
    """``[fn(item) for item in items]``, in order, split over up to ``workers`` forked children.

    Falls back to one process when there is little work or no ``fork`` (a child must not need the parent's
    threads: ``fn`` should do plain Python and file work). An exception in a child is raised here.
    """
    workers = min(workers, len(items) // MIN_ITEMS_PER_WORKER)
    if workers < 2 or not _can_fork():
        return [fn(item) for item in items]
    children = [_fork(fn, items[i::workers]) for i in range(workers)]
    out: list[R] = [None] * len(items)  # type: ignore[list-item]
    error: BaseException | None = None
    for i, child in enumerate(children):
        status, value = _answer(*child)
        if status == "ok":
            out[i::workers] = value
        elif error is None:
            error = value
    if error is not None:
        raise error
    return out
