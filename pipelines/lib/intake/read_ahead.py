"""Read the next batch while the current one is checked and loaded.

The reader children keep both cores busy while a batch is read; checking a batch is mostly one core of
polars in this process. Reading batch n+1 in a thread while batch n is checked overlaps the two.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_POLL_SECONDS = 0.2


def read_ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """The items of ``items``, produced by a background thread that keeps up to ``depth`` of them ready.

    An exception in the producer is raised here, at the item it would have produced. When the consumer stops
    early, the producer stops after the item in hand (a batch being read is finished, never abandoned midway).
    """
    ready: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: object) -> bool:
        while not stop.is_set():
            try:
                ready.put((kind, value), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, who raises it
            put("error", exc)

    producer = threading.Thread(target=produce, name="intake-read-ahead", daemon=True)
    producer.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "done":
                return
            if kind == "error":
                raise value  # type: ignore[misc]
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        producer.join()
