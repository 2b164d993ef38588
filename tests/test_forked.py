"""Receipts are written by forked children: the result is the serial one, in order, and errors are not lost."""

from __future__ import annotations

import os

import pytest

from pipelines.lib.exports.forked import MIN_ITEMS_PER_WORKER, map_forked


def test_results_come_back_in_order_from_more_than_one_process() -> None:
    items = list(range(4 * MIN_ITEMS_PER_WORKER + 7))
    parent = os.getpid()
    results = map_forked(lambda i: (i * i, os.getpid()), items, workers=2)
    assert [r[0] for r in results] == [i * i for i in items]
    pids = {r[1] for r in results}
    assert len(pids) == 2 and parent not in pids


def test_children_see_what_the_parent_held_without_it_being_sent() -> None:
    rows = {i: f"行{i}" for i in range(300)}  # a closure over the parent's memory, never pickled
    assert map_forked(lambda i: rows[i], list(rows), workers=2) == list(rows.values())


def test_little_work_stays_in_this_process() -> None:
    assert {pid for pid in map_forked(lambda _: os.getpid(), list(range(MIN_ITEMS_PER_WORKER)))} == {os.getpid()}


def test_an_error_in_a_child_is_raised_in_the_parent() -> None:
    def fail_on_250(i: int) -> int:
        if i == 250:
            raise ValueError("坏数据")
        return i

    with pytest.raises(ValueError, match="坏数据"):
        map_forked(fail_on_250, list(range(400)), workers=2)
