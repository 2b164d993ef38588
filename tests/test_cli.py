"""The console entry point: mistakes a person can fix are one line and a non-zero exit, never a traceback."""

from __future__ import annotations

import csv
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.console import STAGES
from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import latest_ended_quarter
from tests.conftest import DEMO_INBOX, REPO, snapshot

CLI = str(Path(sys.executable).parent / "sasac-skills")


def cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("SASAC_DEMO", "SASAC_HMAC_KEY")}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env={**base, **(env or {})}, cwd=cwd,
                          timeout=300, check=False)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, result.stdout
    return lines[-1]


def test_a_wrong_period_is_refused_in_one_line(tmp_path: Path) -> None:
    result = cli("run", "--period", "2008Q5", "--inbox", str(DEMO_INBOX), env={"SASAC_DEMO": "1"})
    assert result.returncode == 2
    assert "YYYYQn" in one_line_error(result)


def test_a_quarter_that_has_not_ended_or_precedes_the_first_plan_is_refused_in_one_line(tmp_path: Path) -> None:
    for period in (latest_ended_quarter().next(), Period(2005, 4)):
        result = cli("run", "--period", str(period), "--inbox", str(DEMO_INBOX), "--workdir", str(tmp_path / "w"),
                     env={"SASAC_DEMO": "1"})
        line = one_line_error(result)
        assert result.returncode == 1 and str(period) in line and f"2006Q1 至 {latest_ended_quarter()}" in line


def test_period_or_all_is_required() -> None:
    result = cli("run", "--inbox", str(DEMO_INBOX), env={"SASAC_DEMO": "1"})
    assert result.returncode == 2 and "--all" in one_line_error(result)


def test_a_missing_inbox_is_named(tmp_path: Path) -> None:
    result = cli("run", "--all", "--inbox", str(tmp_path / "nowhere"), "--workdir", str(tmp_path / "w"),
                 env={"SASAC_DEMO": "1"})
    assert result.returncode == 1
    assert "nowhere" in one_line_error(result) and "不存在" in one_line_error(result)


def test_a_missing_key_outside_demo_mode_says_which_variable(tmp_path: Path) -> None:
    result = cli("run", "--all", "--inbox", str(DEMO_INBOX), "--workdir", str(tmp_path / "w"))
    assert result.returncode == 1
    assert "SASAC_HMAC_KEY" in one_line_error(result)


def test_a_locked_working_database_is_reported(tmp_path: Path) -> None:
    work = tmp_path / "w"
    work.mkdir()
    db = work / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, time; c = duckdb.connect({str(db)!r});"
                               " print('ready', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = cli("run", "--period", "2008Q2", "--inbox", str(DEMO_INBOX), "--workdir", str(work),
                     env={"SASAC_DEMO": "1"})
        assert result.returncode == 1
        assert "占用" in one_line_error(result)
    finally:
        holder.kill()
        holder.wait()


def test_a_broken_registry_is_one_line_naming_the_file_and_the_line(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "2008Q2").mkdir(parents=True)
    good = (DEMO_INBOX / "registry.csv").read_text(encoding="utf-8").splitlines()
    (inbox / "registry.csv").write_text("\n".join([*good, good[1]]) + "\n", encoding="utf-8")
    result = cli("run", "--all", "--inbox", str(inbox), "--workdir", str(tmp_path / "w"), env={"SASAC_DEMO": "1"})
    line = one_line_error(result)
    assert result.returncode == 1 and "registry.csv" in line and f"第{len(good) + 1}行" in line and "重复" in line


def test_template_command_writes_the_blank_workbook(tmp_path: Path) -> None:
    out = tmp_path / "模板.xlsx"
    result = cli("template", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert openpyxl.load_workbook(out).sheetnames[0] == "填报说明"


def test_generate_command_writes_an_inbox_with_its_ground_truth(tmp_path: Path) -> None:
    result = cli("generate", "--out", str(tmp_path / "inbox"), "--enterprises", "3", "--first", "2008Q1",
                 "--last", "2008Q2", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "inbox" / "registry.csv").is_file() and (tmp_path / "inbox" / "ground_truth.csv").is_file()
    assert sorted(p.name for p in (tmp_path / "inbox").iterdir() if p.is_dir()) == ["2008Q1", "2008Q2"]


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"]])
def test_help_is_available(args: list[str]) -> None:
    result = cli(*args)
    assert result.returncode == 0 and "Usage" in result.stdout


# --- the run lock and children that die with the run ---------------------------------------------------

_HOLD_LOCK = """
import sys, time
from pathlib import Path
from pipelines.run import run_lock
with run_lock(Path(sys.argv[1])):
    print("ready", flush=True)
    time.sleep(120)
"""


def _run_args(work: Path) -> list[str]:
    return ["run", "--period", "2008Q2", "--inbox", str(DEMO_INBOX), "--workdir", str(work),
            "--warehouse", str(work.parent / "marts" / "warehouse.duckdb"), "--quiet"]


def test_a_second_run_is_refused_in_one_line_naming_the_holder(tmp_path: Path) -> None:
    work = tmp_path / "w"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(work)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = cli(*_run_args(work), env={"SASAC_DEMO": "1"})
        line = one_line_error(result)
        assert result.returncode == 1
        assert "另一次运行" in line and f"PID {holder.pid}" in line and "开始于" in line
    finally:
        holder.kill()
        holder.wait()
    # The kernel released the lock with its holder: nothing stale is left to clean up.
    from pipelines.run import run_lock

    with run_lock(work):
        pass


def _group_members(pgid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live process in process group ``pgid``."""
    out = []
    for stat_path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat_path.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat_path.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append((int(stat_path.parent.name), cmdline))
    return out


def _wait_for(predicate, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def _dbt_building(work: Path) -> bool:
    """The run's core dbt build runs (in the run's process: pipelines/defs/dbt/runner.py): dbt has written the SQL
    of a node it executes into the working area's target folder."""
    return any((work / "dbt_target" / "run").rglob("*.sql"))


@pytest.mark.slow  # three whole-graph runs of a quarter: make test, not the fast loop
def test_kill_9_during_dbt_leaves_nothing_behind_and_the_next_run_starts_at_once(tmp_path: Path) -> None:
    work = tmp_path / "w"
    env = {k: v for k, v in os.environ.items() if k != "SASAC_HMAC_KEY"} | {"SASAC_DEMO": "1"}
    first = subprocess.Popen([CLI, *_run_args(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        # The run leads its own process group (its readers and its GX child are in it); wait until dbt builds, with
        # the working database open.
        assert _wait_for(lambda: _dbt_building(work), 240), "dbt never started"
        second = cli(*_run_args(work), env={"SASAC_DEMO": "1"})
        assert second.returncode == 1 and f"PID {first.pid}" in one_line_error(second)
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert _wait_for(lambda: not _group_members(first.pid), 30), _group_members(first.pid)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    third = cli(*_run_args(work), env={"SASAC_DEMO": "1"})
    assert third.returncode == 0, third.stderr[-2000:]
    assert "完成 2008Q2" in third.stdout
    # What the killed run left half-done is finished as if it had never been interrupted.
    clean_work = tmp_path / "clean" / "w"
    clean = cli(*_run_args(clean_work), env={"SASAC_DEMO": "1"})
    assert clean.returncode == 0, clean.stderr[-2000:]
    assert snapshot(work.parent / "marts" / "warehouse.duckdb") == snapshot(clean_work.parent / "marts" / "warehouse.duckdb")


# --- what the terminal shows ------------------------------------------------------------------------------

ID_NUMBER = re.compile(r"\b\d{17}[\dXx]\b")


def _seed_column(name: str, column: str) -> set[str]:
    with (REPO / "dbt_project" / "seeds" / f"{name}.csv").open(encoding="utf-8-sig", newline="") as fh:
        return {row[column] for row in csv.DictReader(fh)}


@pytest.mark.slow
def test_a_whole_run_prints_a_progress_line_per_stage_and_a_summary_of_every_output(tmp_path: Path) -> None:
    work, warehouse = tmp_path / "work", tmp_path / "marts" / "warehouse.duckdb"
    args = ["run", "--all", "--inbox", str(DEMO_INBOX), "--workdir", str(work), "--warehouse", str(warehouse)]
    result = cli(*args, env={"SASAC_DEMO": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    terminal = result.stdout + result.stderr
    lines = terminal.splitlines()
    assert len(lines) <= 40, terminal
    assert "\x1b[" not in terminal  # not a TTY: no colour
    # one line per stage, with its counts, and no dbt or Dagster log line
    for stage, count in STAGES.values():
        assert any(line.startswith(f"✓ {stage}") and count in line for line in lines), (stage, terminal)
    exports = next(line for line in lines if line.startswith(f"✓ {STAGES['published_exports'][0]}"))
    assert "20/20 个季度" in exports and "回执 新写入" in exports, exports
    assert not any(word in terminal for word in ("Running with dbt", "START sql", "STEP_START", " - dagster - "))
    assert "完成 2006Q1–2010Q4" in terminal
    marts = warehouse.parent
    # every output: the reports index (every quarter), all receipts, the guide, the log file
    assert f"{marts / 'report' / 'index.html'}" in terminal and "共 20 份" in terminal
    assert f"{marts / 'receipts'}" in terminal and str(REPO / "docs" / "analyst-guide.md") in terminal
    log = Path(re.search(r"运行日志 log:\s+(\S+)", terminal).group(1))
    assert log.parent == work / "logs"
    logged = log.read_text(encoding="utf-8")
    assert "Running with dbt" in logged and "STEP_START" in logged and "\x1b[" not in logged
    # rejected enterprises with their Chinese reason, flags by severity (the seed's labels) and by rule
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rejected = con.sql("select period, org_code from marts.filing_status where is_rejected").fetchall()
        rules = [r for (r,) in con.sql("select rule_id from marts.compliance_flags group by 1 order by count(*) desc"
                                       ).fetchall()]
    assert rejected and f"退回的企业 rejected (被退回且尚未更正): {len(rejected)}" in terminal
    period, code = rejected[0]
    assert any(line.strip().startswith(f"{period} {format_org_code(code)}") and "：" in line for line in lines)
    severity_line = next(line for line in lines if "按严重程度" in line)
    assert any(label in severity_line for label in _seed_column("ref_severities", "label_zh"))
    assert f"    {rules[0]} " in terminal
    assert not ID_NUMBER.search(terminal)

    # --quiet: only the summary (nothing changed, so nothing ran; the summary still lists everything)
    quiet = cli(*args, "--quiet", env={"SASAC_DEMO": "1"})
    assert quiet.returncode == 0 and quiet.stdout.startswith("完成 2006Q1–2010Q4") and quiet.stderr == ""
    assert "按严重程度" in quiet.stdout and "报告" in quiet.stdout

    # --verbose streams the dbt and Dagster logs
    verbose = cli("run", "--period", "2008Q2", "--verbose", "--inbox", str(DEMO_INBOX), "--workdir", str(work),
                  "--warehouse", str(warehouse), env={"SASAC_DEMO": "1"})
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    streamed = verbose.stdout + verbose.stderr
    assert "Running with dbt" in streamed and " of " in streamed and "STEP_START" in streamed
