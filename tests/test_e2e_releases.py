"""Releases on the whole graph: a first run of 2009Q1–Q2 is release 1; a late file and a corrected file for
2009Q1 make release 2, whose causes name them by submission id; a run with nothing new makes no release; a raised
fund_ratio_min from 2009Q2 on (a row of the thresholds seed, in a copy of the dbt project) is release 3, caused by
the rules change; a run with nothing new after it makes no release. The documents release 1 published stay under
releases/1 byte for byte after release 2 rewrote them; the marts' history (dbt snapshots) gives every release's
marts back (``release export``) and lists every figure each release moved (``releases.revisions``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.lib.domain.codes import normalize_org_code
from pipelines.lib.exports.receipts import receipt_name
from pipelines.lib.exports.releases import CAUSES, RELEASES_DIR
from tests.conftest import DEMO_INBOX, REPO, DemoRun, run_demo
from tests.test_recheck import set_threshold

# Four runs of the whole graph on two quarters.
pytestmark = pytest.mark.slow

QUARTERS = ("2009Q1", "2009Q2")
LATE_FILE = "10117472-0_2009Q1.xlsx"  # held back from the first run, arrives after release 1
CORRECTED = "10119436-9_2009Q1.xlsx"  # gets a corrected v2 after release 1
# Release 3: the training-fund ratio's minimum raised from 2009Q2 on (the README's rule-change steps).
RAISED = [("0.015", "2006Q1", "2009Q1"), ("0.03", "2009Q2", "")]
ARRIVALS = "收件登记.csv"


def _arrivals_without(folder: Path, name: str) -> str:
    lines = (folder / ARRIVALS).read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(name + ",")]
    (folder / ARRIVALS).write_text("".join(kept), encoding="utf-8")
    return next(line for line in lines if line.startswith(name + ","))


def _correct(folder: Path) -> str:
    """A v2 of CORRECTED with a higher 教育培训经费提取额; returns its file name."""
    wb = openpyxl.load_workbook(folder / CORRECTED)
    ws = wb["经费情况"]
    col = next(c.column for c in ws[1] if c.value == "教育培训经费提取额")
    ws.cell(row=2, column=col).value = float(ws.cell(row=2, column=col).value) + 1.0
    v2 = CORRECTED.replace(".xlsx", "_v2.xlsx")
    wb.save(folder / v2)
    with (folder / ARRIVALS).open("a", encoding="utf-8") as fh:
        fh.write(f"{v2},2009-07-20 10:00:00\n")
    return v2


def _cli(run: DemoRun, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "release", *args, "--warehouse", str(run.warehouse)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=120)


def _run_with_project(root: Path, inbox: Path, project: Path) -> str:
    """``sasac-skills run --all`` in a process of its own, with the dbt project ``project`` (a changed rule);
    returns its summary."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "SASAC_DBT_PROJECT_DIR": str(project), "SASAC_DEMO": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--all", "--inbox", str(inbox), "--workdir", str(root / "work"),
         "--warehouse", str(root / "marts" / "warehouse.duckdb"), "--quiet"],
        env=env, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("releases")
    inbox, held = root / "inbox", root / "held"
    inbox.mkdir()
    held.mkdir()
    shutil.copy2(DEMO_INBOX / "registry.csv", inbox / "registry.csv")
    for quarter in QUARTERS:
        shutil.copytree(DEMO_INBOX / quarter, inbox / quarter)
    q1 = inbox / QUARTERS[0]
    shutil.move(q1 / LATE_FILE, held / LATE_FILE)
    late_arrival = _arrivals_without(q1, LATE_FILE)

    first = run_demo(root, inbox)
    marts = first.marts_dir
    shutil.copy2(first.warehouse, root / "release1.duckdb")  # the marts release 1 published, as it published them
    published = {name: (marts / name).read_bytes()
                 for name in ("report/2009Q1.html", "report/2009Q2.html", "target_tracking.xlsx")}

    shutil.move(held / LATE_FILE, q1 / LATE_FILE)
    with (q1 / ARRIVALS).open("a", encoding="utf-8") as fh:
        fh.write(late_arrival.replace("2009-04", "2009-07"))
    corrected = _correct(q1)
    second = run_demo(root, inbox)
    republished = {name: (marts / name).read_bytes() for name in ("report/2009Q1.html", "target_tracking.xlsx")}
    receipts = {name: (marts / name).read_bytes() for name in (
        f"receipts/2009Q1/{receipt_name(normalize_org_code(f.split('_')[0]))}" for f in (LATE_FILE, CORRECTED))}
    third = run_demo(root, inbox)
    shutil.copy2(third.warehouse, root / "release2.duckdb")

    project = root / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    set_threshold(project, "fund_ratio_min", RAISED)
    raised = _run_with_project(root, inbox, project)
    settled = _run_with_project(root, inbox, project)
    with duckdb.connect(str(second.work_db), read_only=True) as con:
        ids = dict(con.execute("select file_name, submission_id from raw.submissions where file_name in (?, ?)",
                               [LATE_FILE, corrected]).fetchall())
    return {"first": first, "second": second, "third": third, "raised": raised, "settled": settled,
            "published": published, "republished": republished, "receipts": receipts,
            "release1": root / "release1.duckdb", "release2": root / "release2.duckdb", "root": root,
            "late_id": ids[LATE_FILE], "corrected_id": ids[corrected]}


def _ledger(run: DemoRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_three_releases_with_their_quarters_and_no_release_for_a_run_with_nothing_new(runs) -> None:
    assert (runs["first"].summary.release, runs["second"].summary.release) == (1, 2)
    assert "发布版本 release 2" in runs["second"].summary.text()
    assert runs["third"].summary.unchanged and runs["third"].summary.release is None
    assert "发布版本 release 3" in runs["raised"]
    assert "无变化" in runs["settled"] and "发布版本 release" not in runs["settled"]
    assert _ledger(runs["third"], "select release_no from releases.releases order by 1") == [(1,), (2,), (3,)]
    quarters = _ledger(runs["third"], "select release_no, period from releases.release_quarters order by all")
    assert (1, "2009Q1") in quarters and (1, "2009Q2") in quarters and (2, "2009Q1") in quarters
    # the raised minimum is in force from 2009Q2 on: release 3 changed that quarter only
    assert [p for n, p in quarters if n == 3] == ["2009Q2"]


def test_release_3_is_caused_by_the_rules_change_with_its_rules_version(runs) -> None:
    causes = _ledger(runs["third"], "select cause, cause_zh, period, c.rules_version, r.rules_version"
                                    " from releases.release_causes c join releases.releases r using (release_no)"
                                    " where release_no = 3")
    assert [c[:3] for c in causes] == [("rules_change", CAUSES["rules_change"], "2009Q2")]
    assert causes[0][3] == causes[0][4] and causes[0][3] != _ledger(
        runs["third"], "select rules_version from releases.releases where release_no = 2")[0][0]


def test_release_2_names_the_late_and_the_corrected_file_by_submission_id(runs) -> None:
    causes = _ledger(runs["third"], "select cause, cause_zh, period, submission_id from releases.release_causes"
                                    " where release_no = 2 order by all")
    assert ("late_file", CAUSES["late_file"], "2009Q1", runs["late_id"]) in causes
    assert ("resubmission", CAUSES["resubmission"], "2009Q1", runs["corrected_id"]) in causes
    assert len(causes) == 2  # nothing else arrived, no rule changed
    first = {c for (c,) in _ledger(runs["third"], "select cause from releases.release_causes where release_no = 1")}
    assert first == {"new_filing"}


def test_the_ledger_carries_chinese_column_comments_and_no_personal_data(runs) -> None:
    rows = _ledger(runs["third"], "select table_name, column_name, comment from duckdb_columns()"
                                  " where schema_name = 'releases'")
    assert {t for t, _, _ in rows} == {"releases", "release_quarters", "release_causes", "release_headlines",
                                       "revisions_triangle", "mean_absolute_revisions", "release_snapshots",
                                       "revisions"}
    assert all(comment for _, _, comment in rows)
    assert not {c for _, c, _ in rows} & {"person_key", "enterprise_name", "id_number", "name"}
    # the marts' history: every column commented (the mart's comment, or what dbt's column means), no pseudonym
    history = _ledger(runs["third"], "select table_name, column_name, comment from duckdb_columns()"
                                     " where schema_name = 'history'")
    assert history and all(comment for _, _, comment in history)
    assert "person_key" not in {c for _, c, _ in history}


def test_release_show_prints_the_causes_and_list_every_release(runs) -> None:
    shown = _cli(runs["third"], "show", "2")
    assert shown.returncode == 0, shown.stderr
    assert CAUSES["late_file"] in shown.stdout and runs["late_id"] in shown.stdout
    assert CAUSES["resubmission"] in shown.stdout and runs["corrected_id"] in shown.stdout
    assert "2009Q1" in shown.stdout
    listed = _cli(runs["third"], "list")
    assert listed.returncode == 0 and [line.split()[0] for line in listed.stdout.splitlines()] == ["1", "2", "3"]
    unknown = _cli(runs["third"], "show", "4")
    assert unknown.returncode == 1 and "没有发布版本 4" in unknown.stderr


def test_release_1_documents_stay_byte_identical_after_release_2(runs) -> None:
    marts = runs["third"].marts_dir
    kept = marts / RELEASES_DIR / "1"
    for name, data in runs["published"].items():
        assert (kept / name).read_bytes() == data, name
    # release 2 rewrote the 2009Q1 report and the workbook: kept under releases/2 as it published them
    for name, data in runs["republished"].items():
        assert data != runs["published"][name] and (marts / RELEASES_DIR / "2" / name).read_bytes() == data, name
    # the receipts release 2 rewrote (the late and the corrected enterprise's, at least) are kept as it wrote them
    for name, data in runs["receipts"].items():
        assert (marts / RELEASES_DIR / "2" / name).read_bytes() == data, name




def test_the_next_quarters_release_leaves_every_row_of_the_quarter_before_it_as_it_was(tmp_path: Path) -> None:
    """2006Q1, then 2006Q2 in a run of its own: release 2 changes 2006Q2 only. No quarter-grain mart row of 2006Q1
    moves when the next quarter's files arrive (a column counting the year's quarters, or marking the year's latest
    version, once did), so no release lists a quarter its files did not touch."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(DEMO_INBOX / "registry.csv", inbox / "registry.csv")
    for quarter in ("2006Q1", "2006Q2"):
        shutil.copytree(DEMO_INBOX / quarter, inbox / quarter)
        run = run_demo(tmp_path, inbox, quarter)
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        quarters = con.execute("select release_no, period from releases.release_quarters order by all").fetchall()
        moved = con.execute("select figure, entity from releases.revisions where period = '2006Q1'").fetchall()
    assert quarters == [(1, "2006Q1"), (2, "2006Q2")]
    assert moved == []
