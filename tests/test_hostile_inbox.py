"""The hostile inbox (tests/hostile_corpus.py): every kind of bad and malicious entry in one quarter.

The intake alone (fast) and the whole quarterly graph (slow) over it: nothing stops the quarter, every
entry is accounted for with the reason expected, good files load in full, nothing escapes the output
folders, and the canaries planted in every file appear in no log, no printed line and no published output.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import zipfile
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain.periods import Period
from pipelines.lib.intake.run import run_intake
from pipelines.lib.intake.worker import CRASH_REASON
from tests.hostile_corpus import BIDI_TAIL, BIDI_TAIL_SHOWN, CANARY_ID, CANARY_NAME, PERIOD, build

KEY = b"test-key-0123456789abcdef"
CANARIES = (CANARY_NAME, CANARY_ID, CANARY_ID[:14])


def _tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _outcomes(db: Path) -> dict[str, tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("""
            select s.file_name, s.outcome, s.outcome_reason, s.rows_in, s.rows_loaded, s.org_code, s.archive_path,
                   string_agg(f.message_zh, ' | ' order by f.message_zh) filter (where f.is_fatal),
                   count(distinct s.submission_id)
            from raw.submissions s left join raw.findings f using (submission_id)
            group by all""").fetchall()
    return {r[0]: r[1:] for r in rows}


def _assert_as_expected(got: dict[str, tuple], expected: dict) -> None:
    assert set(got) == set(expected), (set(got) ^ set(expected))
    wrong = []
    for name, exp in expected.items():
        outcome, reason, rows_in, rows_loaded, _org, _archive, fatal, copies = got[name]
        if copies != exp.copies:
            wrong.append((name, "copies", copies, exp.copies))
        said = reason if exp.outcome == "ignored" else fatal
        if outcome != exp.outcome or (exp.reason and exp.reason not in (said or "")):
            wrong.append((name, outcome, said, exp))
        if exp.rows is not None and not (rows_in == rows_loaded == exp.rows):
            wrong.append((name, "rows", rows_in, rows_loaded, exp.rows))
    assert not wrong, "\n".join(map(str, wrong))


def _no_canary_in_text(text: str, where: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"canary {canary!r} found in {where}"


def test_every_hostile_entry_is_accounted_for_by_the_intake(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                            capfd: pytest.CaptureFixture) -> None:
    inbox, expected, outside = build(tmp_path)
    assert len(expected) >= 40
    db = tmp_path / "work" / "warehouse.duckdb"
    db.parent.mkdir()
    before = _tree(tmp_path)
    caplog.set_level(logging.DEBUG)
    with duckdb.connect(str(db)) as con:
        report = run_intake(inbox, [Period.parse(PERIOD)], con, db.parent / "archive", KEY)

    got = _outcomes(db)
    _assert_as_expected(got, expected)
    entries = sum(e.copies for e in expected.values())
    assert report.files_seen == entries == report.accepted + report.rejected + report.ignored
    # Receipts and archives are named by the registry and by content, never by what a file says.
    assert all(row[4] is None or len(row[4]) == 9 and row[4].isalnum() for row in got.values())
    # The symlink's target was never read: nothing archived holds its bytes.
    archived = {p.read_bytes() for p in (db.parent / "archive").rglob("*") if p.is_file()}
    assert outside.read_bytes() not in archived
    # Nothing written anywhere but the working area.
    assert {p for p in _tree(tmp_path) - before if db.parent not in p.parents} == set()
    out, err = capfd.readouterr()
    _no_canary_in_text(out + err + "\n".join(r.getMessage() for r in caplog.records), "the intake's output and log")


def test_a_hostile_name_is_shown_escaped_and_kept_exactly_for_the_audit(tmp_path: Path) -> None:
    inbox, _expected, _ = build(tmp_path / "in")
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        run_intake(inbox, [Period.parse(PERIOD)], con, tmp_path / "archive", KEY)
        rows = con.execute("select file_name, file_name_original from raw.submissions"
                           " where file_name_original like '%' || chr(8238) || '%'").fetchall()
    ((shown, original),) = rows
    assert shown.endswith(BIDI_TAIL_SHOWN) and "\u202e" not in shown and "\n" not in shown
    assert original.endswith(BIDI_TAIL)


def test_a_rerun_over_the_hostile_inbox_changes_nothing(tmp_path: Path) -> None:
    inbox, expected, _ = build(tmp_path)
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        run_intake(inbox, [Period.parse(PERIOD)], con, tmp_path / "archive", KEY)
        again = run_intake(inbox, [Period.parse(PERIOD)], con, tmp_path / "archive", KEY)
        entries = sum(e.copies for e in expected.values())
        assert again.already_ingested == entries and again.new_files == 0
        assert con.execute("select count(*) from raw.submissions").fetchone()[0] == entries


def test_a_forced_recheck_of_the_hostile_quarter_keeps_every_verdict_and_reason(tmp_path: Path) -> None:
    """Every entry re-judged, from the archive where one was kept and as it stands where none was (a
    link, an over-size file): the same rules give the same outcomes, the same fatal reasons, the same rows."""
    inbox, expected, _ = build(tmp_path)
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        run_intake(inbox, [Period.parse(PERIOD)], con, tmp_path / "archive", KEY)
    before = _outcomes(db)
    with duckdb.connect(str(db)) as con:
        report = run_intake(inbox, [Period.parse(PERIOD)], con, tmp_path / "archive", KEY,
                            recheck_periods=[Period.parse(PERIOD)])
        findings = con.execute("select count(*) from raw.findings where rules_version is null").fetchone()[0]
    assert report.recheck.rechecked == sum(e.copies for e in expected.values() if e.outcome != "ignored")
    assert report.recheck.changes == []
    assert _outcomes(db) == before
    _assert_as_expected(_outcomes(db), expected)
    assert findings == 0


def test_an_absurd_amount_is_a_finding_and_is_loaded_blank(tmp_path: Path) -> None:
    inbox, _, _ = build(tmp_path)
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        run_intake(inbox, [Period.parse(PERIOD)], con, tmp_path / "archive", KEY)
        assert con.execute("select max(payroll) from raw.funds").fetchone()[0] < 1e7
        finding = con.execute("select observed_value, message_zh from raw.findings where column_name = '职工工资总额'"
                              " and rule_id = 'D05'").fetchall()
    assert finding and finding[0][0] == "1e+308" and "不计入汇总" in finding[0][1]


@pytest.fixture
def hostile_reads(monkeypatch: pytest.MonkeyPatch):
    """The reader processes run tests.hostile_readers.hostile_read instead of the real read_job."""
    from pipelines.lib.intake import worker
    from tests import hostile_readers

    monkeypatch.setattr(worker, "read_job", hostile_readers.hostile_read)
    return hostile_readers.mark


def _good_and_hostile(folder: Path, mark, actions: dict[str, str], good: int) -> list[tuple[str, Path, str]]:
    from tests.factories import clean_submission, write_submission

    path = write_submission(folder, clean_submission())
    jobs = []
    for i in range(good):
        jobs.append((f"good{i}", path, "xlsx"))
        if i < len(actions):
            name, action = list(actions.items())[i]
            (folder / f"{name}.xlsx").write_bytes(path.read_bytes())
            mark(folder, name, action)
            jobs.append((name, folder / f"{name}.xlsx", "xlsx"))
    return jobs


def test_a_reader_that_dies_costs_its_file_only_and_the_other_files_are_read(tmp_path: Path, hostile_reads) -> None:
    """A file that kills its process (an abort inside calamine: os._exit, a segfault) breaks the whole pool; the
    files that were in it with it are read again, and only the one that kills a reader by itself is rejected."""
    from pipelines.lib.intake.worker import ReaderPool

    jobs = _good_and_hostile(tmp_path, hostile_reads, {"exits": "exit", "segfaults": "segfault"}, good=6)
    with ReaderPool(size=2) as readers:
        results = {key: (status, value) for key, status, value in readers.read_many(jobs)}
        again = {key: status for key, status, _ in readers.read_many(jobs[:1])}
    assert len(results) == len(jobs)
    assert results.pop("exits") == results.pop("segfaults") == ("died", CRASH_REASON)
    assert {status for status, _ in results.values()} == {"ok"}
    assert again == {"good0": "ok"}


def test_a_reader_held_past_the_limit_is_killed_and_costs_its_file_only(tmp_path: Path, hostile_reads,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from pipelines.lib.intake import worker

    monkeypatch.setattr(worker, "READ_SECONDS", 2)
    jobs = _good_and_hostile(tmp_path, hostile_reads, {"hangs": "hang"}, good=4)
    started = time.monotonic()
    with worker.ReaderPool(size=2) as readers:
        results = {key: (status, value) for key, status, value in readers.read_many(jobs)}
    assert results.pop("hangs") == ("died", worker.TIMEOUT_REASON)
    assert {status for status, _ in results.values()} == {"ok"} and len(results) == 4
    assert time.monotonic() - started < 30


def test_a_reader_that_died_while_idle_costs_no_file(tmp_path: Path, hostile_reads) -> None:
    """The OOM killer or an operator may end a reader between two batches (or two portal uploads)."""
    import time

    from pipelines.lib.intake.worker import ReaderPool

    jobs = _good_and_hostile(tmp_path, hostile_reads, {"then_dies": "die-after"}, good=1)
    with ReaderPool(size=1) as readers:
        assert {key: status for key, status, _ in readers.read_many(jobs[1:])} == {"then_dies": "ok"}
        time.sleep(1.0)  # its worker is gone now
        assert {key: status for key, status, _ in readers.read_many(jobs[:1])} == {"good0": "ok"}


def test_a_file_that_kills_its_reader_is_rejected_and_the_rest_of_the_quarter_is_read(
        tmp_path: Path, hostile_reads) -> None:
    import hashlib

    inbox, expected, _ = build(tmp_path)
    victims = sorted(n for n, e in expected.items() if e.outcome == "accepted" and n.endswith(".xlsx"))[:2]
    assert len(victims) == 2
    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    for name, action in zip(victims, ("exit", "segfault"), strict=True):
        sha = hashlib.sha256((inbox / PERIOD / name).read_bytes()).hexdigest()
        hostile_reads(archive_dir, sha, action)  # the archived copy is the one read, named by its digest
        expected[name] = dataclasses.replace(expected[name], outcome="rejected", reason=CRASH_REASON, rows=None)
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        report = run_intake(inbox, [Period.parse(PERIOD)], con, archive_dir, KEY)
    _assert_as_expected(_outcomes(db), expected)
    assert report.files_seen == sum(e.copies for e in expected.values())


def test_reader_processes_exit_with_the_process_that_owns_them(tmp_path: Path) -> None:
    """However the intake's process ends (kill -9 included), its readers do not outlive it."""
    import subprocess
    import sys
    import time

    from tests.factories import clean_submission, write_submission

    path = write_submission(tmp_path, clean_submission())
    script = (
        "import os, sys, time\n"
        "from pipelines.lib.intake.worker import ReaderPool\n"
        "pool = ReaderPool(2)\n"
        f"assert [s for _, s, _ in pool.read_many([('a', {str(path)!r}, 'xlsx'), ('b', {str(path)!r}, 'xlsx')])]"
        " == ['ok', 'ok']\n"
        "print(' '.join(str(p) for p in pool._pool._processes), flush=True)\n"
        "time.sleep(60)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    workers = [int(p) for p in owner.stdout.readline().split()]
    assert workers and all(Path(f"/proc/{p}").exists() for p in workers)
    owner.kill()
    owner.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.1)
    assert not any(Path(f"/proc/{p}").exists() for p in workers)


@pytest.mark.slow
def test_the_whole_quarter_runs_over_the_hostile_inbox(tmp_path: Path, capfd: pytest.CaptureFixture,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from pipelines.run import run_quarters

    caplog.set_level(logging.DEBUG)
    inbox, expected, outside = build(tmp_path)
    workdir, warehouse = tmp_path / "work", tmp_path / "marts" / "warehouse.duckdb"
    before = _tree(tmp_path)
    summary = run_quarters(inbox=inbox, warehouse=warehouse, workdir=workdir, period=Period.parse(PERIOD), quiet=True)
    assert summary.success, summary.text()
    _assert_as_expected(_outcomes(workdir / "warehouse.duckdb"), expected)

    out, err = capfd.readouterr()
    _no_canary_in_text(out + err + summary.text(), "the run's stdout/stderr")
    _no_canary_in_text("\n".join(r.getMessage() for r in caplog.records), "the run's log records")
    # Nothing written outside the working area and the published folder.
    outputs = {workdir, warehouse.parent}
    assert {p for p in _tree(tmp_path) - before if p not in outputs and not (outputs & set(p.parents))} == set()
    receipts = sorted((warehouse.parent / "receipts" / PERIOD).iterdir())
    assert receipts and all(re.fullmatch(r"[0-9A-Z]{8}-[0-9A-Z]\.xlsx", p.name) for p in receipts)
    # No canary in any published file: text and the members of every xlsx.
    for path in warehouse.parent.rglob("*"):
        if not path.is_file() or path.suffix == ".duckdb":
            continue
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                text = "".join(zf.read(m).decode("utf-8", "replace") for m in zf.namelist())
        else:
            text = path.read_bytes().decode("utf-8", "replace")
        _no_canary_in_text(text, str(path.relative_to(tmp_path)))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        columns = con.execute("select table_schema, table_name, column_name from information_schema.columns"
                              " where data_type = 'VARCHAR'").fetchall()
        for schema, table, column in columns:
            hits = con.execute(f'select count(*) from "{schema}"."{table}" where '
                               + " or ".join(f'contains("{column}", ?)' for _ in CANARIES), list(CANARIES)).fetchone()
            assert hits[0] == 0, f"canary in {schema}.{table}.{column}"
        # the enterprise another's file claimed to be is not recorded as having filed
        statuses = dict(con.execute("select status_code, count(*) from marts.filing_status group by all").fetchall())
    # one filing per enterprise, however many of its accepted files the quarter holds
    assert statuses.get("on_time", 0) + statuses.get("late", 0) == len(
        {re.search(r"[0-9A-Z]{8}-[0-9A-Z]", name).group() for name, e in expected.items() if e.outcome == "accepted"})
    assert outside.read_bytes() not in {p.read_bytes() for p in (workdir / "archive").rglob("*") if p.is_file()}


def test_the_inbox_sensor_fingerprints_the_hostile_quarter_without_following_anything(tmp_path: Path) -> None:
    from pipelines.defs.ingest.sensors import period_fingerprints

    inbox, _, outside = build(tmp_path)
    first = period_fingerprints(inbox)
    assert list(first) == [PERIOD]
    outside.write_bytes(b"changed")  # a symlink's target is not the inbox's business
    assert period_fingerprints(inbox) == first
    (inbox / PERIOD / "late.xlsx").write_bytes(b"x")
    assert period_fingerprints(inbox) != first


def test_the_upload_check_reuses_the_same_limits(tmp_path: Path) -> None:
    from pipelines.lib.intake.limits import inspect_upload
    from tests.factories import clean_submission, write_submission

    inbox, expected, _ = build(tmp_path)
    folder = inbox / PERIOD
    for name, exp in expected.items():
        path = folder / name
        if path.suffix in (".xlsx", ".xlsm", ".zip") and path.is_file() and not path.is_symlink() and exp.reason and (
                "上限" in exp.reason or "压缩比" in exp.reason or "密码" in exp.reason or "宏" in exp.reason):
            assert exp.reason in (inspect_upload(path) or ""), name
    assert inspect_upload(write_submission(tmp_path / "clean", clean_submission())) is None


def _one_sheet_xlsx(path: Path, rows: list[bytes]) -> Path:
    """A workbook of one sheet whose sheetData holds ``rows`` as given (no dimension), nothing else."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", '<workbook><sheets><sheet name="名册" sheetId="1" r:id="rId1"/></sheets></workbook>')
        zf.writestr("xl/_rels/workbook.xml.rels",
                    '<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>')
        zf.writestr("xl/worksheets/sheet1.xml", b"<worksheet><sheetData>" + b"".join(rows) + b"</sheetData></worksheet>")
    return path


def test_the_extent_counts_the_whole_sheet_when_a_late_chunk_first_reaches_far(tmp_path: Path) -> None:
    """The scan counts rows and columns only from the first chunk holding a reference that could reach a limit
    (limits._may_exceed); the chunks before it must still count. Rows 999..1 fill the first megabyte (three
    digits: nothing there can reach these limits), column DZ (130) comes after it, in row 1."""
    from pipelines.lib.intake.limits import LimitError, Limits, inspect_xlsx

    limits = Limits(max_cells=100_000)  # 999 rows x 130 columns is over it; 999 x 26 or 100 x 130 are not
    pad = "填" * 400
    rows = [f'<row r="{r}"><c r="A{r}" t="inlineStr"><is><t>{pad}</t></is></c></row>'.encode() for r in range(999, 0, -1)]
    assert sum(map(len, rows)) > 1024 * 1024
    far = rows[:-1] + [rows[-1].replace(b"</row>", b'<c r="DZ1"><v>1</v></c></row>')]
    with pytest.raises(LimitError, match="999行×130列"):
        inspect_xlsx(_one_sheet_xlsx(tmp_path / "far_late.xlsx", far), limits)
    with pytest.raises(LimitError, match="999行×130列"):  # the same reference in the first chunk
        inspect_xlsx(_one_sheet_xlsx(tmp_path / "far_early.xlsx", [far[-1], *far[:-1]]), limits)
    inspect_xlsx(_one_sheet_xlsx(tmp_path / "near.xlsx", rows), limits)
    inspect_xlsx(_one_sheet_xlsx(tmp_path / "short.xlsx", rows[-100:-1] + far[-1:]), limits)
