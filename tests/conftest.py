"""Shared fixtures: one real run of the whole quarterly graph on the committed demo inbox."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

DEMO_INBOX = REPO / "data" / "raw"

os.environ.setdefault("SASAC_DEMO", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

# A suite started as a background job (nohup, `make test &` in a script) inherits SIGINT ignored. Each in-process
# Dagster run then leaves SIGTERM mapped to the same (dagster._utils.interrupts), and every server a test starts
# afterwards inherits SIGTERM ignored: the SIGTERM that stops it does nothing and the server outlives the suite
# (seen: the dbt docs and Dagster UI tests failed, their servers left running). Python's own SIGINT handler, as in
# a terminal, keeps SIGTERM a signal that stops a process.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


# Lines the ground-truth test leaves for the end of the session, so CI shows the figures on a pass too.
CONFUSION_REPORT: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test that needs the whole-graph demo run belongs to the slow tier; say so at collection, not in CI time."""
    unmarked = [item.nodeid for item in items
                if "demo_run" in getattr(item, "fixturenames", ()) and item.get_closest_marker("slow") is None]
    if unmarked:
        raise pytest.UsageError("these tests use the whole-graph demo run but are not marked slow: "
                                + ", ".join(unmarked))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if CONFUSION_REPORT:
        terminalreporter.section("precision and recall per rule")
        for line in CONFUSION_REPORT:
            terminalreporter.write_line(line)


@dataclass(frozen=True)
class DemoRun:
    inbox: Path
    workdir: Path
    warehouse: Path
    summary: object  # pipelines.run.RunSummary

    @property
    def marts_dir(self) -> Path:
        return self.warehouse.parent

    @property
    def work_db(self) -> Path:
        return self.workdir / "warehouse.duckdb"


def snapshot(warehouse: Path) -> dict[str, list[tuple]]:
    """Every mart's rows, ordered: two warehouses with equal snapshots hold the same marts."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts' order by 1").fetchall()]
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in tables}


def run_demo(root: Path, inbox: Path = DEMO_INBOX, period: str | None = None, recheck: bool = False) -> DemoRun:
    from pipelines.lib.domain.periods import Period
    from pipelines.run import run_quarters

    workdir, warehouse = root / "work", root / "marts" / "warehouse.duckdb"
    summary = run_quarters(inbox=inbox, warehouse=warehouse, workdir=workdir,
                           period=Period.parse(period) if period else None, quiet=True, recheck=recheck)
    assert summary.success, summary.text()
    return DemoRun(inbox, workdir, warehouse, summary)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """``sasac-skills run --all`` on data/raw, in-process, into a temporary folder."""
    return run_demo(tmp_path_factory.mktemp("demo_run"))


def copy_of_run(run: DemoRun, root: Path) -> DemoRun:
    """A writable copy under ``root`` of ``run``'s inbox, working area and outputs, for a test that goes on from
    the demo run (a resubmission, a re-run) without running the whole demo again. A later run there finds what
    it would have found after a run of its own: every file held, the marts, receipts and releases published.
    (The archive paths in raw.submissions still name the original's archive: a --recheck would read from there.)"""
    shutil.copytree(run.inbox, root / "inbox")
    shutil.copytree(run.workdir, root / "work")
    shutil.copytree(run.marts_dir, root / "marts")
    return DemoRun(root / "inbox", root / "work", root / "marts" / run.warehouse.name, run.summary)


@pytest.fixture
def demo_inbox_copy(tmp_path: Path) -> Path:
    """A writable copy of the demo inbox, for tests that add or change files."""
    target = tmp_path / "inbox"
    shutil.copytree(DEMO_INBOX, target)
    return target


def cut_inbox(inbox: Path, period: str, target: Path) -> Path:
    """A copy of ``inbox`` holding its registry and the period folders up to ``period``: what had arrived by the
    end of ``period``'s filing window."""
    from pipelines.lib.domain.periods import Period

    target.mkdir(parents=True)
    shutil.copy2(inbox / "registry.csv", target / "registry.csv")
    for folder in sorted(inbox.iterdir()):
        if folder.is_dir() and Period.parse(folder.name) <= Period.parse(period):
            shutil.copytree(folder, target / folder.name)
    return target


@pytest.fixture(scope="session")
def late_joiner_full(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The late joiner's inbox (tests/factories.py: it files from 2008Q3 on) run through 2008Q4."""
    from tests.factories import write_late_joiner_inbox

    root = tmp_path_factory.mktemp("late_joiner_full")
    write_late_joiner_inbox(root / "inbox", ("2008Q2", "2008Q3", "2008Q4"))
    return run_demo(root, root / "inbox")


@pytest.fixture(scope="session")
def late_joiner_cut(late_joiner_full: DemoRun, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], DemoRun]:
    """The run over the late joiner's inbox cut at a quarter, each cut run once for every test file that reads it
    (the point-in-time test compares it with the full run; test_e2e_late_joiner.py reads the cut at 2008Q3, the
    late joiner's only quarter)."""
    runs: dict[str, DemoRun] = {}

    def cut(period: str) -> DemoRun:
        if period not in runs:
            root = tmp_path_factory.mktemp(f"late_joiner_{period}")
            runs[period] = run_demo(root, cut_inbox(late_joiner_full.inbox, period, root / "inbox"))
        return runs[period]

    return cut
