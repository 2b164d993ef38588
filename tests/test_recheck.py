"""Re-check on a rule change (issue 15), at the intake: files already held are judged again from the archive by
the rules of their own period; a run with nothing changed re-checks nothing.

Each step is a fresh process (as every production run is) pointed at a copy of the dbt project whose reference
data the test edits, through the one setting that locates it (SASAC_DBT_PROJECT_DIR).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.factories import ENTERPRISE, OTHER, clean_submission, org, registry_csv, write_submission

REPO = Path(__file__).resolve().parents[1]

INTAKE = """
import json, sys
from pathlib import Path
import duckdb
from pipelines.lib.domain.periods import Period
from pipelines.lib.intake.pseudonym import load_key
from pipelines.lib.intake.run import run_intake
inbox, db, periods, forced = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3].split(','), sys.argv[4]
with duckdb.connect(str(db)) as con:
    r = run_intake(inbox, [Period.parse(p) for p in periods], con, db.parent / 'archive', load_key(),
                   recheck_periods=[Period.parse(p) for p in forced.split(',') if p])
print(json.dumps({'new': r.new_files, 'rechecked': r.recheck.rechecked,
                  'changes': [c.__dict__ for c in r.recheck.changes]}, ensure_ascii=False))
"""


def intake(project: Path, inbox: Path, db: Path, periods: str, forced: str = "") -> dict:
    env = {**os.environ, "SASAC_DBT_PROJECT_DIR": str(project), "SASAC_DEMO": "1"}
    out = subprocess.run([sys.executable, "-c", INTAKE, str(inbox), str(db), periods, forced], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def set_threshold(project: Path, key: str, rows: list[tuple[str, str, str]]) -> None:
    """Replace ``key``'s rows in the project's ref_policy_thresholds.csv by (value, from, to) rows."""
    path = project / "seeds" / "ref_policy_thresholds.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    template = next(line.split(",") for line in lines if line.startswith(f"{key},"))
    kept = [line for line in lines if not line.startswith(f"{key},")]
    new = [",".join([key, value, start, end, *template[4:]]) for value, start, end in rows]
    path.write_text("\n".join(kept + new) + "\n", encoding="utf-8")


def held(db: Path) -> dict[str, tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select file_name, outcome, rules_version, arrived_at, sha256,"
            " (select count(*) from raw.findings f where f.submission_id = s.submission_id and f.rule_id = 'D13')"
            " from raw.submissions s").fetchall()
    return {r[0]: r[1:] for r in rows}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", target, ignore=shutil.ignore_patterns("target", "logs"))
    return target


def test_a_tightened_bound_rejudges_the_held_files_of_its_periods_only(project: Path, tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "work" / "warehouse.duckdb"
    db.parent.mkdir()
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    for period in ("2008Q4", "2009Q1"):
        sub = clean_submission(ENTERPRISE, period)
        sub["培训记录"][0]["hours"] = 1500.0  # within today's 2,000 hours
        write_submission(inbox, sub, period)

    first = intake(project, inbox, db, "2008Q4,2009Q1")
    assert first["new"] == 2 and first["rechecked"] == 0
    before = held(db)
    assert all(v[0] == "accepted" and v[4] == 0 for v in before.values())

    again = intake(project, inbox, db, "2008Q4,2009Q1")
    assert again == {"new": 0, "rechecked": 0, "changes": []}, "nothing changed: nothing is re-read"

    # The commission caps a training at 1,000 hours from 2009Q1 on.
    set_threshold(project, "max_training_hours", [("2000", "2006Q1", "2008Q4"), ("1000", "2009Q1", "")])
    shutil.rmtree(inbox / "2008Q4")  # the inbox no longer holds a file: the archive does
    third = intake(project, inbox, db, "2009Q1")
    assert third["rechecked"] == 1, third
    [change] = third["changes"]
    assert change["period"] == "2009Q1" and change["outcome_before"] == change["outcome_after"] == "accepted"
    assert change["findings_after"] == change["findings_before"] + 1
    after = held(db)
    name_q1 = next(n for n in after if "2009Q1" in n)
    name_q4 = next(n for n in after if "2008Q4" in n)
    assert after[name_q1][4] == 1 and after[name_q1][1] != before[name_q1][1], "flagged by the new rule, new version"
    assert after[name_q4] == before[name_q4], "2008 is judged by the rules of 2008: untouched"
    assert after[name_q1][2:4] == before[name_q1][2:4], "arrival time and archived content stay"
    with duckdb.connect(str(db), read_only=True) as con:
        message = con.execute("select message_zh from raw.findings where rule_id = 'D13'").fetchone()[0]
        log = con.execute("select period, outcome_before, outcome_after, is_changed from raw.rechecks").fetchall()
    assert "1000" in message and log == [("2009Q1", "accepted", "accepted", True)]


def test_a_relaxed_rule_accepts_a_rejected_file_which_then_counts(project: Path, tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "work" / "warehouse.duckdb"
    db.parent.mkdir()
    inbox.mkdir()
    newcomer = org("20000001")
    registry_csv(inbox / "registry.csv")  # the newcomer is not registered yet: its file is rejected (D03)
    write_submission(inbox, clean_submission(newcomer, "2009Q1"), "2009Q1")
    write_submission(inbox, clean_submission(OTHER, "2009Q1"), "2009Q1")
    intake(project, inbox, db, "2009Q1")
    assert sorted(v[0] for v in held(db).values()) == ["accepted", "rejected"]

    registry_csv(inbox / "registry.csv", [(ENTERPRISE, "北京测试机械厂"), (OTHER, "北京测试服务公司"),
                                          (newcomer, "北京新设企业")])
    result = intake(project, inbox, db, "2009Q1")
    assert result["new"] == 0 and result["rechecked"] == 2
    [change] = result["changes"]
    assert (change["outcome_before"], change["outcome_after"]) == ("rejected", "accepted")
    assert change["org_code"] == newcomer
    assert sorted(v[0] for v in held(db).values()) == ["accepted", "accepted"]
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = con.execute("select count(*) from raw.roster r join raw.submissions s using (submission_id)"
                             " where s.org_code = ?", [newcomer]).fetchone()[0]
    assert loaded == 3, "its rows are loaded now"


def test_recheck_on_request_rereads_the_period_and_changes_nothing_when_rules_are_the_same(
        project: Path, tmp_path: Path) -> None:
    inbox, db = tmp_path / "inbox", tmp_path / "work" / "warehouse.duckdb"
    db.parent.mkdir()
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    write_submission(inbox, clean_submission(ENTERPRISE, "2009Q1"), "2009Q1")
    intake(project, inbox, db, "2009Q1")
    before = held(db)
    forced = intake(project, inbox, db, "2009Q1", forced="2009Q1")
    assert forced["rechecked"] == 1 and forced["changes"] == []
    assert held(db) == before


def test_one_run_judges_each_file_by_the_thresholds_of_its_own_period(project: Path, tmp_path: Path) -> None:
    """Issue 9: a threshold changed from 2009Q1 applies to 2009 files only, in the same run as 2008 files."""
    inbox, db = tmp_path / "inbox", tmp_path / "work" / "warehouse.duckdb"
    db.parent.mkdir()
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    set_threshold(project, "max_training_hours", [("2000", "2006Q1", "2008Q4"), ("1000", "2009Q1", "")])
    for period in ("2008Q4", "2009Q1"):
        sub = clean_submission(ENTERPRISE, period)
        sub["培训记录"][0]["hours"] = 1500.0
        write_submission(inbox, sub, period)
    intake(project, inbox, db, "2008Q4,2009Q1")
    with duckdb.connect(str(db), read_only=True) as con:
        flagged = con.execute("select period, expected from raw.findings where rule_id = 'D13'").fetchall()
        versions = dict(con.execute("select period, rules_version from raw.submissions").fetchall())
    assert flagged == [("2009Q1", "(0, 1000]")]
    assert versions["2008Q4"] != versions["2009Q1"]
