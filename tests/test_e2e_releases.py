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

from pipelines.lib.domain.codes import format_org_code, normalize_org_code
from pipelines.lib.exports.headlines import FUND_RATIO, SHARE_FIGURES
from pipelines.lib.exports.receipts import receipt_name
from pipelines.lib.exports.releases import CAUSES, RELEASES_DIR
from pipelines.lib.exports.revisions import REVISION_COLUMNS
from pipelines.lib.exports.workbook import REVISIONS_SHEET
from tests.conftest import DEMO_INBOX, REPO, DemoRun, run_demo
from tests.page_text import page_text

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
    assert {t for t, _, _ in rows} == {"releases", "release_quarters", "release_causes", "release_headlines",
                                       "revisions_triangle", "mean_absolute_revisions"}
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


# --- revisions explained where people read ------------------------------------------------------------------
def _org(file_name: str) -> str:
    return normalize_org_code(file_name.split("_")[0])


def _names(run: DemoRun) -> dict[str, str]:
    return dict(_ledger(run, "select org_code, enterprise_name from marts.dim_enterprises"))


def _revision_block(html: bytes) -> str:
    """The visible text of a report's 修订说明, "" when it has none."""
    text = page_text(html.decode("utf-8"))
    if "修订说明" not in text:
        return ""
    return text[text.index("修订说明"):text.index("应报企业")]


def test_release_2_records_the_headline_figures_it_published_from_the_marts(runs) -> None:
    rows = _ledger(runs["third"], "select release_no, period, figure, value from releases.release_headlines")
    assert {(n, p) for n, p, _, _ in rows} == set(_ledger(runs["third"], "select * from releases.release_quarters"))
    figures = {f for _, _, f, _ in rows}
    assert {h.figure for h in SHARE_FIGURES} | {"flags_error", "flags_warning", "flags_info"} == figures
    values = {(n, p, f): v for n, p, f, v in rows}
    # the corrected file raised 教育培训经费提取额: the 2009Q1 fund ratio moved, as the mart says
    mart = _ledger(runs["third"], "select extraction_ratio from marts.fund_tracking where grain = 'system'"
                                  " and period_type = 'quarter' and period = '2009Q1'")[0][0]
    assert values[(2, "2009Q1", FUND_RATIO.figure)] == mart != values[(1, "2009Q1", FUND_RATIO.figure)]


def test_the_revised_report_explains_what_moved_and_why_and_release_1s_report_does_not(runs) -> None:
    block = _revision_block(runs["republished"]["report/2009Q1.html"])
    names = _names(runs["third"])
    assert "本报告首次发布：发布版本 1，发布于 <date>" in block and "本版：发布版本 2，发布于 <date>" in block
    for file_name, cause in ((LATE_FILE, "late_file"), (CORRECTED, "resubmission")):
        org = _org(file_name)
        assert f"{CAUSES[cause]}：{format_org_code(org)} {names[org]}" in block, (file_name, block)
    assert runs["late_id"] in block and runs["corrected_id"] in block
    before, after = (_ledger(runs["third"], f"select value from releases.release_headlines where release_no = {n}"
                                            f" and period = '2009Q1' and figure = '{FUND_RATIO.figure}'")[0][0]
                     for n in (1, 2))
    assert f"{FUND_RATIO.label}\n{FUND_RATIO.text(before)}\n{FUND_RATIO.text(after)}" in block, block
    assert _revision_block(runs["published"]["report/2009Q1.html"]) == ""
    assert _revision_block(runs["published"]["report/2009Q2.html"]) == ""
    # the forced re-check (release 3) moved nothing the report shows: no revision, the page stays as release 2 wrote it
    assert (runs["third"].marts_dir / "report" / "2009Q1.html").read_bytes() == runs["republished"]["report/2009Q1.html"]


def test_the_workbook_lists_release_2s_causes_on_its_revisions_sheet(runs, tmp_path: Path) -> None:
    (tmp_path / "wb.xlsx").write_bytes(runs["republished"]["target_tracking.xlsx"])
    ws = openpyxl.load_workbook(tmp_path / "wb.xlsx", read_only=True)[REVISIONS_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == [label for _, label in REVISION_COLUMNS]
    keys = [k for k, _ in REVISION_COLUMNS]
    body = [dict(zip(keys, r, strict=True)) for r in rows[1:]]
    q1 = [r for r in body if str(r["release_no"]) == "2" and r["period"] == "2009Q1"]
    assert {(r["cause_zh"], r["submission_id"], r["org_code"]) for r in q1} == {
        (CAUSES["late_file"], runs["late_id"], format_org_code(_org(LATE_FILE))),
        (CAUSES["resubmission"], runs["corrected_id"], format_org_code(_org(CORRECTED)))}
    assert all(FUND_RATIO.label in r["moved"] and "→" in r["moved"] for r in q1)
    assert not [r for r in body if str(r["release_no"]) == "1"]  # a first publication is no revision


def test_a_reissued_receipt_names_release_2_and_its_cause(runs, tmp_path: Path) -> None:
    def text(name: str) -> str:
        (tmp_path / "r.xlsx").write_bytes(runs["receipts"][name])
        ws = openpyxl.load_workbook(tmp_path / "r.xlsx").active
        return "\n".join(str(c.value) for row in ws.iter_rows() for c in row if c.value is not None)

    for file_name, cause, sid in ((CORRECTED, "resubmission", runs["corrected_id"]),
                                  (LATE_FILE, "late_file", runs["late_id"])):
        receipt = text(f"receipts/2009Q1/{receipt_name(_org(file_name))}")
        assert "本回执随发布版本 2" in receipt and CAUSES[cause] in receipt and sid in receipt, receipt
    assert "重新报送" in text(f"receipts/2009Q1/{receipt_name(_org(CORRECTED))}")
    # release 1's receipts were first issues: no such line
    kept = runs["third"].marts_dir / RELEASES_DIR / "1" / "receipts" / "2009Q1" / receipt_name(_org(CORRECTED))
    ws = openpyxl.load_workbook(kept).active
    assert not any("本回执随发布版本" in str(c.value) for row in ws.iter_rows() for c in row)


def test_the_index_lists_releases_per_quarter_and_the_triangle(runs) -> None:
    text = page_text((runs["third"].marts_dir / "report" / "index.html").read_text(encoding="utf-8"))
    row = text[text.index("\n2009Q1\n"):text.index("修订三角")]
    assert "版本 1，发布于 <date>" in row and "版本 2，发布于 <date>" in row and CAUSES["late_file"] in row and CAUSES["resubmission"] in row, row
    assert "平均绝对修订幅度" in text and "releases.revisions_triangle" in text
    triangle = _ledger(runs["third"], f"""select release_no, delay_quarters, is_revision, value, first_value, revision
                                          from releases.revisions_triangle
                                          where period = '2009Q1' and figure = '{FUND_RATIO.figure}' order by 1""")
    revised = {n for n, p in _ledger(runs["third"], "select * from releases.release_quarters") if p == "2009Q1"} - {1}
    assert 2 in revised
    assert [(n, d, r) for n, d, r, *_ in triangle] == [(n, 1, n in revised) for n in (1, 2, 3)]
    assert triangle[1][5] == triangle[1][3] - triangle[1][4] != 0 and triangle[2][3] == triangle[1][3]
    mean = _ledger(runs["third"], f"""select mean_absolute_revision from releases.mean_absolute_revisions
                                      where figure = '{FUND_RATIO.figure}' and delay_quarters = 1""")
    assert mean == [(abs(triangle[1][5]),)]
