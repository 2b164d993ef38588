"""The README's production path on real processes: a code server and `dagster-daemon` with deploy/'s settings on a
fresh DAGSTER_HOME, the sensor's first tick, a CLI run refused during a daemon run, a late resubmission whose run
waits for the CLI's lock, and a run killed with SIGKILL that is marked failed and run again by the sensor.

One daemon for the whole scenario (it is the suite's only daemon test): the steps run in order in one test, and
checks that can watch the same run share it (four runs in all), since each run is a whole quarterly run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import openpyxl
import pytest

from tests.conftest import DEMO_INBOX, REPO

BIN = Path(sys.executable).parent
QUARTERS = ("2008Q1", "2008Q2")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _production_env(root: Path, port: int) -> dict[str, str]:
    """What an operator exports (README, "How it runs in production"): a real key, not the demo's."""
    env = {k: v for k, v in os.environ.items() if k not in ("SASAC_DEMO", "SASAC_HMAC_KEY")}
    for line in (REPO / "deploy" / "production.env").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    env.update({
        "DAGSTER_HOME": str(root / "dagster_home"),
        "SASAC_INBOX": str(root / "inbox"), "SASAC_WORKDIR": str(root / "work"),
        "SASAC_WAREHOUSE": str(root / "marts" / "warehouse.duckdb"),
        "SASAC_HMAC_KEY": secrets.token_hex(24), "DO_NOT_TRACK": "1",
        # the scenario's clocks, shortened: ticks every 5 s (the daemon looks at its sensors no more often than
        # that, so a shorter interval gains nothing), a failed quarter's first retry 1 s after it failed
        "SASAC_SENSOR_INTERVAL": "5", "SASAC_RETRY_BASE_SECONDS": "1", "SASAC_LOCK_WAIT_SECONDS": "600",
    })
    return env


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(args, env=env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Daemon:
    """The services of the production path (a code server and the daemon) on one DAGSTER_HOME."""

    def __init__(self, root: Path, env: dict[str, str], port: int) -> None:
        self.root, self.env, self.port = root, env, port
        self.home = Path(env["DAGSTER_HOME"])
        self.services: list[subprocess.Popen] = []
        self.inbox = Path(env["SASAC_INBOX"])
        self.workdir = Path(env["SASAC_WORKDIR"])
        self.warehouse = Path(env["SASAC_WAREHOUSE"])
        import dagster as dg

        self.instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])

    def start(self, web_port: int | None = None) -> None:
        """The README's services; the webserver too when ``web_port`` is given."""
        n = len(list(self.root.glob("daemon-*.log")))
        workspace = str(self.home / "workspace.yaml")
        self.services = [
            _start([str(BIN / "dagster"), "code-server", "start", "-m", "pipelines.definitions",
                    "-h", "127.0.0.1", "-p", str(self.port)], self.env, self.root / f"code-server-{n}.log"),
            _start([str(BIN / "dagster-daemon"), "run", "-w", workspace], self.env, self.root / f"daemon-{n}.log"),
        ]
        if web_port is not None:
            self.services.append(_start([str(BIN / "dagster-webserver"), "-w", workspace, "-h", "127.0.0.1",
                                         "-p", str(web_port)], self.env, self.root / "webserver.log"))

    def stop(self) -> None:
        for proc in reversed(self.services):
            _stop(proc)

    def kill(self) -> None:
        """SIGKILL to the daemon, the code server and every run worker it started (its process group)."""
        for proc in self.services:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def runs(self) -> list:
        return list(self.instance.get_runs())

    def wait_for(self, what: str, check: Callable[[], object], timeout: float = 300) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.25)
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.root.glob("*.log"))
        raise AssertionError(f"timed out waiting for {what}; runs: "
                             f"{[(r.run_id[:8], r.status.value, dict(r.tags)) for r in self.runs()]}\n{logs}")

    def new_run(self, known: set[str]):
        return self.wait_for("a new run", lambda: next((r for r in self.runs() if r.run_id not in known), None))

    def finished(self, run_id: str):
        import dagster as dg

        done = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
        return self.wait_for(f"run {run_id} to end",
                             lambda: (r := self.instance.get_run_by_id(run_id)) is not None and r.status in done and r)

    def holder(self) -> str:
        from pipelines.lib.ops.work_lock import read_holder

        return read_holder(self.workdir)

    def event_messages(self, run_id: str) -> list[str]:
        return [f"{e.user_message or ''} {e.message or ''}" for e in self.instance.all_logs(run_id)]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("production")
    port = _free_port()
    env = _production_env(root, port)
    home = Path(env["DAGSTER_HOME"])
    home.mkdir()
    # deploy/'s instance settings, with the queue looked at every second instead of Dagster's default 5 s
    # (run_queue's documented dequeue_interval_seconds): each of the scenario's runs waits in the queue first.
    settings = (REPO / "deploy" / "dagster.yaml").read_text(encoding="utf-8")
    (home / "dagster.yaml").write_text(settings + "run_queue:\n  dequeue_interval_seconds: 1\n", encoding="utf-8")
    workspace = (REPO / "deploy" / "workspace.yaml").read_text(encoding="utf-8")
    (home / "workspace.yaml").write_text(re.sub(r"port: \d+", f"port: {port}", workspace), encoding="utf-8")
    inbox = Path(env["SASAC_INBOX"])
    inbox.mkdir()
    shutil.copy(DEMO_INBOX / "registry.csv", inbox / "registry.csv")
    for quarter in QUARTERS:
        shutil.copytree(DEMO_INBOX / quarter, inbox / quarter)
    # The storage is created once, before the services start (as the code server's unit does: ExecStartPre);
    # three processes creating it at once race on its schema.
    subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    daemon = Daemon(root, env, port)
    daemon.web_port = _free_port()
    daemon.start(daemon.web_port)
    try:
        yield daemon
    finally:
        daemon.stop()


def _graphql(port: int, query: str) -> dict | None:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())["data"]
    except OSError:
        return None


def _resubmit(inbox: Path, quarter: str, code: str, version: int) -> str:
    """A corrected workbook arriving late: the enterprise's file re-saved with one figure changed."""
    wb = openpyxl.load_workbook(DEMO_INBOX / quarter / f"{code}_{quarter}.xlsx")
    wb.properties.title = f"更正 {version}"
    name = f"{code}_{quarter}_v{version}.xlsx"
    wb.save(inbox / quarter / f".{name}.part")
    (inbox / quarter / f".{name}.part").rename(inbox / quarter / name)
    return name


def _published_files(warehouse: Path) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {f for (f,) in con.execute("select file_name from marts.submission_versions").fetchall()}


@pytest.mark.slow
def test_the_daemon_runs_recovers_and_shares_one_lock(daemon: Daemon) -> None:
    import dagster as dg

    # 1. The sensor's first tick sees every quarter as new and catches up in one run; the warehouse is published.
    first = daemon.new_run(set())
    assert first.tags["dagster/asset_partition_range_start"] == "2008Q1"
    assert first.tags["dagster/asset_partition_range_end"] == "2008Q2"

    # 2. A CLI run while a daemon run works (the first one: a run of its own would add a whole run to the test)
    # is refused in one line naming that run: its id and its start.
    daemon.wait_for("the daemon run to hold the lock", lambda: first.run_id in daemon.holder())
    cli = subprocess.run([str(BIN / "sasac-skills"), "run", "--period", "2008Q1", "--quiet"], env=daemon.env,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr, cli.stderr
    (line,) = [x for x in cli.stderr.splitlines() if x.strip()]
    assert first.run_id in line and "开始于" in line and "另一次运行" in line, line

    assert daemon.finished(first.run_id).status == dg.DagsterRunStatus.SUCCESS, daemon.event_messages(first.run_id)
    assert daemon.warehouse.is_file()
    assert list((daemon.workdir / "logs").glob(f"run-*-{first.run_id[:8]}.log")), "daemon runs log to work/logs"
    # the webserver on the same workspace shows the automation running and the run
    query = '{ repositoriesOrError { ... on RepositoryConnection { nodes { sensors { name sensorState { status } } } } } '
    query += f'runOrError(runId: "{first.run_id}") {{ ... on Run {{ status }} }} }}'
    data = daemon.wait_for("the webserver", lambda: _graphql(daemon.web_port, query))
    (repo,) = data["repositoriesOrError"]["nodes"]
    assert {s["name"]: s["sensorState"]["status"] for s in repo["sensors"]} == {
        "inbox_sensor": "RUNNING", "dead_run_sensor": "RUNNING", "run_failure_alert": "RUNNING"}
    assert data["runOrError"]["status"] == "SUCCESS"

    # 3. A late resubmission is requested by the next tick; its run, finding a CLI run holding the lock, waits
    # for it (the lock stays the CLI's while the run says it waits), then takes it, succeeds and publishes the file.
    known = {r.run_id for r in daemon.runs()}
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom pathlib import Path\nfrom pipelines.run import run_lock\n"
        "with run_lock(Path(sys.argv[1])):\n    print('ready', flush=True)\n    sys.stdin.readline()\n"),
        str(daemon.workdir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "ready"
        cli_holder = daemon.holder()
        assert cli_holder
        late = _resubmit(daemon.inbox, "2008Q2", "10117472-0", 2)
        second = daemon.new_run(known)
        assert second.tags.get("dagster/partition") == "2008Q2"
        daemon.wait_for("the run to say it waits", lambda: any(
            m and "等待" in m for m in daemon.event_messages(second.run_id)))
        assert daemon.instance.get_run_by_id(second.run_id).status == dg.DagsterRunStatus.STARTED
        assert daemon.holder() == cli_holder
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(30)
    daemon.wait_for("the waiting run to take the lock once it is free", lambda: second.run_id in daemon.holder())
    assert daemon.finished(second.run_id).status == dg.DagsterRunStatus.SUCCESS
    assert late in _published_files(daemon.warehouse)

    # 4. SIGKILL to the daemon, its code server and the run in the middle of it; restarted, the run is marked
    # failed (its worker is gone), the queue moves, and the sensor runs its quarter again after the back-off.
    known |= {second.run_id}
    _resubmit(daemon.inbox, "2008Q1", "10117472-0", 2)
    third = daemon.new_run(known)
    daemon.wait_for("the run to hold the lock", lambda: third.run_id in daemon.holder())
    daemon.kill()
    assert daemon.instance.get_run_by_id(third.run_id).status == dg.DagsterRunStatus.STARTED
    daemon.start()
    failed = daemon.finished(third.run_id)
    assert failed.status == dg.DagsterRunStatus.FAILURE
    assert any(m and "已不存在" in m for m in daemon.event_messages(third.run_id))
    retry = daemon.new_run(known | {third.run_id})
    assert retry.tags.get("sasac/trigger") == "retry" and retry.tags.get("dagster/partition") == "2008Q1"
    assert daemon.finished(retry.run_id).status == dg.DagsterRunStatus.SUCCESS
    alerts = [json.loads(line) for line in (daemon.workdir / "logs" / "alerts.jsonl").read_text().splitlines()]
    assert [a for a in alerts if a["kind"] == "run_failure" and third.run_id in json.dumps(a, ensure_ascii=False)]
