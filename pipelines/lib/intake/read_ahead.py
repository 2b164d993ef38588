"""Read the next batch while the current one is checked and loaded.

The reader processes keep the cores busy while a batch is read; checking a batch is mostly one core of
polars in this process. Producing batch n+1 in a thread while batch n is checked overlaps the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


def read_ahead(items: Iterable[T]) -> Iterator[T]:
    """The items of ``items``, each produced by a background thread while the one before it is in use.

    An exception in the producer is raised here, at the item it would have produced. When the consumer stops
    early, the item being produced is finished (a batch being read is never abandoned midway) and no other
    is started.
    """
    source = iter(items)
    with ThreadPoolExecutor(1, thread_name_prefix="intake-read-ahead") as ahead:
        pending = ahead.submit(next, source, _DONE)
        while (item := pending.result()) is not _DONE:
            pending = ahead.submit(next, source, _DONE)
            yield item  # type: ignore[misc]
