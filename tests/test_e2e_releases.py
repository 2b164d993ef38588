"""Releases on the whole graph: a first run of 2009Q1–Q2 is release 1; a late file and a corrected file for
2009Q1 make release 2, whose causes name them by submission id; a run with nothing new makes no release; a forced
re-check is release 3; the documents release 1 published stay under releases/1 byte for byte after release 2
rewrote them."""

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

# Three runs of the whole graph on two quarters.
pytestmark = pytest.mark.slow

QUARTERS = ("2009Q1", "2009Q2")
LATE_FILE = "10117472-0_2009Q1.xlsx"  # held back from the first run, arrives after release 1
CORRECTED = "10119436-9_2009Q1.xlsx"  # gets a corrected v2 after release 1
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
    # The whole graph again on the same files: no verdict moves, but the published re-check log
    # (marts.submission_rechecks) gains its rows: a release whose only cause is the forced re-check.
    rechecked = run_demo(root, inbox, recheck=True)
    with duckdb.connect(str(second.work_db), read_only=True) as con:
        ids = dict(con.execute("select file_name, submission_id from raw.submissions where file_name in (?, ?)",
                               [LATE_FILE, corrected]).fetchall())
    return {"first": first, "second": second, "third": third, "rechecked": rechecked, "published": published,
            "republished": republished, "receipts": receipts,
            "late_id": ids[LATE_FILE], "corrected_id": ids[corrected]}


def _ledger(run: DemoRun, sql: str) -> list[tuple]:
    with duckdb.connect(str(run.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_two_releases_with_their_quarters_and_no_release_for_a_run_with_nothing_new(runs) -> None:
    assert (runs["first"].summary.release, runs["second"].summary.release) == (1, 2)
    assert "发布版本 release 2" in runs["second"].summary.text()
    assert runs["third"].summary.unchanged and runs["third"].summary.release is None
    assert runs["rechecked"].summary.release == 3
    assert _ledger(runs["third"], "select release_no from releases.releases order by 1") == [(1,), (2,), (3,)]
    assert _ledger(runs["third"], "select distinct cause from releases.release_causes where release_no = 3") == \
        [("forced_recheck",)]
    quarters = _ledger(runs["third"], "select release_no, period from releases.release_quarters order by all")
    assert (1, "2009Q1") in quarters and (1, "2009Q2") in quarters and (2, "2009Q1") in quarters


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
    assert {t for t, _, _ in rows} == {"releases", "release_quarters", "release_causes"}
    assert all(comment for _, _, comment in rows)
    assert not {c for _, c, _ in rows} & {"person_key", "enterprise_name", "id_number", "name"}


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
