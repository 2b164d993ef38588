"""`make dev` as a person meets it: the Dagster UI started on loopback, read through its own API and in
headless chromium, then stopped.

Opening the UI must not start anything (schedule and sensor stopped), the "join the community" pop-up must
not cover the graph, partitions are every quarter from the first plan's start to the latest ended one, and Ctrl-C/SIGTERM stops everything in seconds.
Set SASAC_SCREENSHOT_DIR to keep the pictures (docs/screenshots/ holds the committed ones).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipelines.defs import groups
from pipelines.lib.domain.reference import collection_periods, latest_ended_quarter
from pipelines.lib.expectations.suites import load_suites
from tests.chromium import dump_dom, free_port, pixel, screenshot, wait_for_http
from tests.conftest import DEMO_INBOX, REPO
from tests.test_report_browser import read_png

DAGSTER = str(Path(sys.executable).parent / "dagster")
STOP_SECONDS = 15

QUERY = """
{
  repositoriesOrError { ... on RepositoryConnection { nodes {
    name
    schedules { name scheduleState { status } }
    sensors { name sensorState { status } }
  } } }
  assetNodes { assetKey { path } groupName partitionKeys description dependencyKeys { path } opNames }
}
"""


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["data"]


def _group_alive(pgid: int) -> bool:
    """A live (not zombie) process is still in group ``pgid``."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _children_pgids(pid: int) -> set[int]:
    """Process groups of ``pid``'s children (dagster dev runs in a session of its own)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(fields[2]))
    return out


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    root = tmp_path_factory.mktemp("dagster_ui")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "SASAC_AUTOMATION"} | {
        "DAGSTER_HOME": str(home), "SASAC_DEMO": "1", "SASAC_INBOX": str(DEMO_INBOX),
        "SASAC_WORKDIR": str(root / "work"), "SASAC_WAREHOUSE": str(root / "marts" / "warehouse.duckdb")}
    log = open(root / "dev.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
    # what `make dev` execs
    dev = subprocess.Popen(["bash", str(REPO / "scripts" / "dagster-dev.sh"), DAGSTER, "-m", "pipelines.definitions",
                            "-h", "127.0.0.1", "-p", str(port)], cwd=REPO, env=env, stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    pgids: set[int] = set()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/server_info", 240, alive=lambda: dev.poll() is None)
        pgids = _children_pgids(dev.pid)
        deadline = time.monotonic() + 240
        while not graphql(port, "{ assetNodes { id } }").get("assetNodes"):  # the code location loads lazily
            assert time.monotonic() < deadline, (root / "dev.log").read_text()[-3000:]
            time.sleep(2)
        yield port, root, dev, pgids
    finally:
        pgids = pgids or (_children_pgids(dev.pid) if dev.poll() is None else set())
        if dev.poll() is None:
            dev.send_signal(signal.SIGKILL)
            dev.wait()
        for pgid in pgids:
            if _group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        log.close()


@pytest.mark.slow
def test_the_ui_reads_in_quarters_runs_nothing_by_itself_and_stops_promptly(dagster_ui) -> None:
    port, root, dev, pgids = dagster_ui
    data = graphql(port, QUERY)
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert {s["name"]: s["scheduleState"]["status"] for s in repo["schedules"]} == {"quarterly_schedule": "STOPPED"}
    assert {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]} == {
        "inbox_sensor": "STOPPED", "dead_run_sensor": "STOPPED", "run_failure_alert": "STOPPED"}
    nodes = {"/".join(n["assetKey"]["path"]): n for n in data["assetNodes"]}
    filing = nodes["marts/filing_status"]
    # every quarter from the first plan's start to the latest ended one by the real clock
    assert filing["partitionKeys"] == [str(p) for p in collection_periods()]
    assert filing["partitionKeys"][0] == "2006Q1" and filing["partitionKeys"][-1] == str(latest_ended_quarter())
    assert {n["groupName"] for n in nodes.values()} == set(groups.FLOW)
    assert not any("{{" in (n["description"] or "") or "select " in (n["description"] or "").lower()
                   for n in nodes.values())
    # GX validation is its own step, after exactly the marts its suites validate; each export is its own asset,
    # the four written side by side by one step
    deps = {name: {"/".join(d["path"]) for d in n["dependencyKeys"]} for name, n in nodes.items()}
    assert deps["flags/expectation_flags"] == {f"marts/{t}" for s in load_suites() for t in s.tables}
    exports = ("published/tracking_workbook", "published/inspection_pages", "published/quarterly_reports",
               "published/receipts")
    assert all("published/warehouse" in deps[name] for name in exports)
    gx_step = nodes["flags/expectation_flags"]["opNames"]
    export_steps = {tuple(nodes[name]["opNames"]) for name in exports}
    assert len(gx_step) == 1 and export_steps == {("published_exports",)}, (gx_step, export_steps)
    # nothing was queued by opening the UI
    runs = graphql(port, "{ runsOrError { ... on Runs { results { runId } } } }")["runsOrError"]["results"]
    assert runs == []

    # the asset graph as a person sees it: no pop-up dimming the page, every group drawn
    url = f"http://127.0.0.1:{port}/asset-groups"
    png = screenshot(url, root / "dagster_asset_graph.png", root / "profile-1")
    width, height, rows = read_png(png)
    assert (width, height) == (1600, 1000)
    for x, y in ((5, 5), (800, 150), (1500, 900)):
        assert min(pixel(rows, width, x, y)) >= 235, (x, y, pixel(rows, width, x, y))  # white, not greyed over
    dom = dump_dom(url, root / "profile-2")
    assert "Join the Dagster community" not in dom
    for name in groups.FLOW:
        assert name in dom, name
    partitions = screenshot(f"http://127.0.0.1:{port}/assets/marts/filing_status?view=partitions",
                            root / "dagster_partitions.png", root / "profile-3")
    if os.environ.get("SASAC_SCREENSHOT_DIR"):
        for picture in (png, partitions):
            shutil.copy(picture, Path(os.environ["SASAC_SCREENSHOT_DIR"]) / picture.name)

    # Ctrl-C / SIGTERM: everything gone within seconds, not a minute
    started = time.monotonic()
    dev.send_signal(signal.SIGTERM)
    dev.wait(timeout=STOP_SECONDS)
    while any(_group_alive(g) for g in pgids) and time.monotonic() - started < STOP_SECONDS:
        time.sleep(0.2)
    assert not any(_group_alive(g) for g in pgids), "dagster dev outlived its stop"
    assert time.monotonic() - started < STOP_SECONDS
