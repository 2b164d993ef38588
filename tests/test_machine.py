"""The number of worker processes is a setting: SASAC_WORKERS, else the CPUs this process may use."""

from __future__ import annotations

import pytest

from pipelines.lib import machine


def test_the_setting_wins_and_the_default_is_the_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(machine.ENV, "3")
    assert machine.worker_processes() == 3
    monkeypatch.delenv(machine.ENV)
    assert machine.worker_processes() == machine.cpus() >= 1


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_a_setting_that_is_not_a_count_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(machine.ENV, value)
    with pytest.raises(ValueError, match=machine.ENV):
        machine.worker_processes()
