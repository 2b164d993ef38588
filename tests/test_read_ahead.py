"""The intake reads the next batch in a thread while it checks the current one: nothing lost, nothing reordered."""

from __future__ import annotations

import threading

import pytest

from pipelines.lib.intake.read_ahead import read_ahead


def test_every_item_arrives_once_in_order() -> None:
    assert list(read_ahead(iter(range(50)))) == list(range(50))


def test_the_producer_runs_ahead_of_the_consumer_by_one_item() -> None:
    produced: list[int] = []
    step = threading.Event()

    def items():
        for i in range(5):
            produced.append(i)
            yield i
            step.set()

    got = read_ahead(items())
    assert next(got) == 0
    step.wait(5)
    # item 0 handed over, item 1 being produced (or ready) — never more.
    assert len(produced) <= 2
    assert list(got) == [1, 2, 3, 4]


def test_an_error_while_producing_is_raised_at_the_consumer_after_the_items_before_it() -> None:
    def items():
        yield "batch 1"
        raise OSError("disk full")

    got = read_ahead(items())
    assert next(got) == "batch 1"
    with pytest.raises(OSError, match="disk full"):
        next(got)


def test_a_consumer_that_stops_early_stops_the_producer() -> None:
    produced: list[int] = []

    def items():
        for i in range(1000):
            produced.append(i)
            yield i

    got = read_ahead(items())
    assert next(got) == 0
    got.close()  # what a failed check batch does to the generator
    assert len(produced) < 10
    assert not any(t.name.startswith("intake-read-ahead") for t in threading.enumerate())
