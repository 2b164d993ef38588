"""The intake on real xlsx / CSV files into a real DuckDB file: readers, D-rules, pseudonyms, versions."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.domain import contract as c
from pipelines.lib.domain.periods import Period
from pipelines.lib.forms.submission_writer import write_csv_zip
from pipelines.lib.intake.pseudonym import (
    DEMO_KEY,
    MissingKeyError,
    load_key,
    person_key,
    person_keys_of_canonical,
)
from pipelines.lib.intake.run import run_intake
from tests.factories import (
    ENTERPRISE,
    LI,
    OTHER,
    WANG,
    ZHANG,
    clean_submission,
    registry_csv,
    write_arrivals,
    write_submission,
)

KEY = b"test-key-0123456789abcdef"


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    box = tmp_path / "inbox"
    box.mkdir()
    registry_csv(box / "registry.csv")
    return box


def ingest(inbox: Path, db: Path, period: str = "2008Q2"):
    with duckdb.connect(str(db)) as con:
        report = run_intake(inbox, [Period.parse(period)], con, db.parent / "archive", KEY)
    return report


def findings(db: Path, where: str = "true") -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            f"select rule_id, severity, is_fatal, sheet, source_row, column_name, message_zh from raw.findings"
            f" where {where} order by rule_id, sheet, source_row").fetchall()


def rules_found(db: Path) -> set[str]:
    return {f[0] for f in findings(db)}


def outcome(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [r[0] for r in con.execute("select outcome from raw.submissions order by arrived_at").fetchall()]


# --- readers ---------------------------------------------------------------------------------


def test_clean_xlsx_loads_every_row_with_no_finding(inbox: Path, tmp_path: Path) -> None:
    write_submission(inbox, clean_submission())
    db = tmp_path / "w.duckdb"
    report = ingest(inbox, db)
    assert findings(db) == []
    assert (report.accepted, report.rejected) == (1, 0)
    assert report.rows_in == report.rows_loaded == 1 + 1 + 1 + 1 + 1 + 3 + 2
    with duckdb.connect(str(db), read_only=True) as con:
        profile = con.execute("select org_code, period, employees_total, level3_senior from raw.profiles").fetchall()
        assert profile == [(ENTERPRISE, "2008Q2", 1000, 1)]
        assert con.execute("select payroll, fund_extracted from raw.funds").fetchall() == [(1000.0, 20.0)]
        assert con.execute("select count(*) from raw.roster where person_key like 'p_%'").fetchone() == (3,)


def test_batches_of_one_file_load_exactly_what_one_batch_loads(inbox: Path, tmp_path: Path) -> None:
    """The intake commits BATCH_FILES files at a time to bound its memory: batching must not change a row."""
    write_submission(inbox, clean_submission(ENTERPRISE))
    write_submission(inbox, clean_submission(OTHER))
    (inbox / "2008Q2" / "broken_2008Q2.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    tables = ["submissions", "findings", "profiles", "roster", "training", "funds"]
    contents, reports = {}, {}
    for batch_files in (1, 1000):
        db = tmp_path / f"batch{batch_files}.duckdb"
        with duckdb.connect(str(db)) as con:
            r = run_intake(inbox, [Period.parse("2008Q2")], con, tmp_path / f"archive{batch_files}", KEY,
                           batch_files=batch_files)
            contents[batch_files] = {t: con.execute(f"select * exclude (archive_path) from raw.{t} order by all")
                                     .fetchall() if t == "submissions" else
                                     con.execute(f"select * from raw.{t} order by all").fetchall() for t in tables}
        reports[batch_files] = (r.accepted, r.rejected, r.rows_in, r.rows_loaded, r.findings, r.by_period)
    assert contents[1] == contents[1000]
    assert reports[1] == reports[1000] and reports[1][:2] == (2, 1)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_csv_folder_in_each_encoding_reads_chinese_without_mojibake(inbox: Path, tmp_path: Path, encoding: str) -> None:
    write_submission(inbox, clean_submission(), fmt="csv", encoding=encoding)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert findings(db) == []
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select enterprise_name, sector from raw.profiles").fetchall() == [("北京测试机械厂", "现代制造业")]
        assert con.execute("select file_format from raw.submissions").fetchall() == [("csv_dir",)]


def test_csv_zip_with_gbk_is_read(inbox: Path, tmp_path: Path) -> None:
    (inbox / "2008Q2").mkdir()
    write_csv_zip(inbox / "2008Q2" / f"{ENTERPRISE}_2008Q2.zip", clean_submission(), encoding="gb18030")
    db = tmp_path / "w.duckdb"
    report = ingest(inbox, db)
    assert report.accepted == 1 and findings(db) == []


def test_headers_with_spaces_full_width_and_a_merged_title_row_are_matched(inbox: Path, tmp_path: Path) -> None:
    import xlsxwriter

    sub = clean_submission()
    path = write_submission(inbox, sub)
    # Rewrite 基本情况 by hand: a merged title row, headers padded and typed with full-width digits in values.
    wb = xlsxwriter.Workbook(path)
    for sheet in c.SHEETS:
        ws = wb.add_worksheet(sheet.name)
        first = 0
        if sheet.key == "profile":
            ws.merge_range(0, 0, 0, 5, "基本情况（2008年第二季度）")
            first = 1
        for i, col in enumerate(sheet.columns):
            ws.write_string(first, i, f" {col.header}\u3000" if sheet.key == "profile" else col.header)
        for r, row in enumerate(sub[sheet.name], start=first + 1):
            for i, col in enumerate(sheet.columns):
                v = row.get(col.key)
                if v is None:
                    continue
                text = v.isoformat() if isinstance(v, dt.date) else ("是" if v is True else "否" if v is False else str(v))
                if col.key == "employees_total":
                    text = "１０００ "  # full-width digits and a trailing space
                ws.write_string(r, i, text)
    wb.close()
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    found = findings(db)
    assert [(f[0], f[1], f[4]) for f in found] == [("D02", "warning", 2)]  # header not in row 1: reported
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select employees_total from raw.profiles").fetchone() == (1000,)


def test_corrupt_file_is_rejected_with_reason_and_the_quarter_goes_on(inbox: Path, tmp_path: Path) -> None:
    write_submission(inbox, clean_submission())
    (inbox / "2008Q2" / f"{OTHER}_2008Q2.xlsx").write_bytes(b"PK\x03\x04 truncated garbage")
    db = tmp_path / "w.duckdb"
    report = ingest(inbox, db)
    assert (report.files_seen, report.accepted, report.rejected) == (2, 1, 1)
    (rule, severity, fatal, *_rest, message), = findings(db)
    assert (rule, severity, fatal) == ("D01", "error", True)
    assert "无法打开" in message
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select org_code from raw.submissions where outcome = 'rejected'").fetchone() == (OTHER,)


def test_text_in_a_numeric_column_is_kept_flagged_and_accounted(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["培训记录"][1]["hours"] = "三十二"
    sub["基本情况"][0]["employees_total"] = "一千"
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    report = ingest(inbox, db)
    assert report.rows_in == report.rows_loaded  # no row silently dropped
    found = findings(db)
    assert ("D13", "error", False, "培训记录", 3, "学时") == found[-1][:6]
    assert any(f[0] == "D05" and f[5] == "职工总数" and "一千" in f[6] for f in found)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*), count(hours) from raw.training").fetchone() == (2, 1)


# --- D-rules at the door: each with a failing case (the clean case above passes them all) ------


def test_d01_missing_required_sheet_is_fatal(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    from pipelines.lib.forms.submission_writer import Layout, write_xlsx
    (inbox / "2008Q2").mkdir()
    write_xlsx(inbox / "2008Q2" / f"{ENTERPRISE}_2008Q2.xlsx", sub, Layout(omit_sheets=frozenset({"经费情况"})))
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert outcome(db) == ["rejected"]
    assert [(f[0], f[2], f[3]) for f in findings(db)] == [("D01", True, "经费情况")]


def test_d01_two_rows_in_a_single_row_sheet_is_fatal(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["经费情况"].append(dict(sub["经费情况"][0]))
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert outcome(db) == ["rejected"]
    assert any(f[0] == "D01" and "实际2行" in f[6] for f in findings(db))


def test_d02_missing_required_column_is_fatal_and_unknown_column_is_listed(inbox: Path, tmp_path: Path) -> None:
    from pipelines.lib.forms.submission_writer import Layout, write_xlsx

    (inbox / "2008Q2").mkdir()
    write_xlsx(inbox / "2008Q2" / f"{ENTERPRISE}_2008Q2.xlsx", clean_submission(),
               Layout(omit_columns={"基本情况": frozenset({"skilled_workers"})}))
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert outcome(db) == ["rejected"]
    assert any(f[0] == "D02" and f[2] and "技能劳动者总数" in f[6] for f in findings(db))

    db2 = tmp_path / "w2.duckdb"
    (inbox / "2008Q2" / f"{ENTERPRISE}_2008Q2.xlsx").unlink()
    write_xlsx(inbox / "2008Q2" / f"{ENTERPRISE}_2008Q2.xlsx", clean_submission(),
               Layout(header_text={("基本情况", "phone"): "备注"}))
    ingest(inbox, db2)
    assert outcome(db2) == ["accepted"]  # 联系电话 is optional; 备注 is unknown: a warning
    assert [(f[0], f[1]) for f in findings(db2)] == [("D02", "warning")]


@pytest.mark.parametrize(
    ("field", "value", "fatal", "needle"),
    [
        ("org_code", "MA62K026-1", True, "按所填前8位“MA62K026”计算，最后一位应为0；请对照原件核对整个号码"),
        ("org_code", "MA62K0270", True, "校验位"),
        ("group_org_code", "M000100Y-5", False, "按所填前8位“M000100Y”计算，最后一位应为4"),
    ],
)
def test_d03_org_code_check_character(inbox: Path, tmp_path: Path, field: str, value: str, fatal: bool,
                                      needle: str) -> None:
    sub = clean_submission()
    sub["基本情况"][0][field] = value
    write_submission(inbox, sub, name=f"{ENTERPRISE}_2008Q2.xlsx")
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d03 = [f for f in findings(db) if f[0] == "D03" and f[1] == "error"]
    assert d03 and d03[0][2] is fatal and needle in d03[0][6]
    assert outcome(db) == (["rejected"] if fatal else ["accepted"])


def test_d03_valid_code_not_in_registry_is_fatal(inbox: Path, tmp_path: Path) -> None:
    from tests.factories import org

    stranger = org("MA99ZZ99")
    sub = clean_submission(code=stranger)
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert outcome(db) == ["rejected"]
    assert any(f[0] == "D03" and "不在报送名录" in f[6] for f in findings(db))


def test_d04_period_must_equal_the_folder_it_was_filed_under(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission(period="2008Q2")
    sub["基本情况"][0]["period"] = "2008Q1"
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert outcome(db) == ["rejected"]
    assert any(f[0] == "D04" and f[2] and "2008Q1" in f[6] for f in findings(db))


def test_d05_negative_and_fractional_counts_and_zero_payroll(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["基本情况"][0]["frontline_workers"] = -3
    sub["基本情况"][0]["key_trainees"] = 1.5
    sub["经费情况"][0]["payroll"] = 0.0
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d05 = {f[5] for f in findings(db) if f[0] == "D05"}
    assert d05 == {"一线职工人数", "重点培养对象人数", "职工工资总额"}
    assert outcome(db) == ["accepted"]  # loaded and flagged


def test_d09_invalid_and_duplicate_ids(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["人才信息库"][0]["id_number"] = ZHANG[:-1] + ("0" if ZHANG[-1] != "0" else "1")
    sub["人才信息库"].append(dict(sub["人才信息库"][1]))
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d09 = [f for f in findings(db) if f[0] == "D09"]
    assert [(f[3], f[4]) for f in d09] == [("人才信息库", 2), ("人才信息库", 5)]
    assert f"按所填前17位计算，最后一位应为{ZHANG[-1]}；请对照原件核对整个号码" in d09[0][6]
    assert ZHANG[:17] not in d09[0][6]  # the body as typed is personal data: not repeated
    assert "与第3行重复" in d09[1][6]
    assert ZHANG not in d09[0][6]  # the message never carries the full ID


def test_d10_sex_birth_date_and_age_against_the_id(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["人才信息库"][0]["sex"] = "女"
    sub["人才信息库"][1]["birth_date"] = dt.date(1975, 2, 3)
    old = "11010519300101005"
    from tests.factories import person_id

    sub["人才信息库"][2].update(id_number=person_id(old), birth_date=dt.date(1930, 1, 1), sex="男")
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d10 = [(f[4], f[5]) for f in findings(db) if f[0] == "D10"]
    assert sorted(d10) == [(2, "性别"), (3, "出生日期"), (4, "出生日期")]


def test_d10_blank_sex_or_birth_date_is_a_finding_and_raw_roster_keeps_the_ids_values(inbox: Path,
                                                                                          tmp_path: Path) -> None:
    """The contract leaves 性别 and 出生日期 optional cells, but both are checked against the ID: a blank one is a
    D10 warning saying what the ID gives, and raw.roster carries the ID's values whatever was typed."""
    from pipelines.lib.domain.codes import id_birth_date, id_sex

    sub = clean_submission()
    sub["人才信息库"][0]["birth_date"] = None
    sub["人才信息库"][1]["sex"] = None
    sub["人才信息库"][2]["sex"] = "女" if id_sex(sub["人才信息库"][2]["id_number"]) == "男" else "男"
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d10 = sorted((f[4], f[5], f[6]) for f in findings(db) if f[0] == "D10")
    first, second = sub["人才信息库"][0]["id_number"], sub["人才信息库"][1]["id_number"]
    assert d10[:2] == [(2, "出生日期", f"第2行“出生日期”未填写，按身份证号应为“{id_birth_date(first)}”，请填写并核对"),
                       (3, "性别", f"第3行“性别”未填写，按身份证号应为“{id_sex(second)}”，请填写并核对")]
    assert [(r, col) for r, col, _ in d10[2:]] == [(4, "性别")]
    assert outcome(db) == ["accepted"]
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select source_row, sex, birth_date, id_sex, id_birth_date from raw.roster"
                           " order by source_row").fetchall()
    assert [(r[3], r[4]) for r in rows] == [(id_sex(p["id_number"]), id_birth_date(p["id_number"]))
                                            for p in sub["人才信息库"]]
    assert rows[0][2] is None and rows[1][1] is None  # the typed cells stay as typed


def test_d11_level_chief_and_cert_date(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["人才信息库"][2]["is_key_trainee"] = False  # 中级工 not a key trainee
    sub["人才信息库"][0]["is_chief_technician"] = True  # 高级工 cannot be 首席技师
    sub["人才信息库"][1]["cert_date"] = dt.date(2008, 7, 1)  # after 2008Q2 ends
    sub["人才信息库"].append(dict(sub["人才信息库"][0], id_number=LI[:-1] + "9", skill_level="特级工"))
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d11 = sorted((f[4], f[5]) for f in findings(db) if f[0] == "D11")
    assert d11 == [(2, "是否首席技师"), (3, "取证日期"), (4, "技能等级"), (5, "技能等级")]


def test_d11_boundary_cert_on_the_last_day_of_the_quarter_passes(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["人才信息库"][1]["cert_date"] = dt.date(2008, 6, 30)
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert findings(db) == []


def test_d13_training_dates_and_hours(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["培训记录"][0].update(end_date=dt.date(2008, 7, 2))  # ends after the quarter
    sub["培训记录"][1].update(start_date=dt.date(2008, 5, 10), end_date=dt.date(2008, 5, 1), hours=2000.5)
    sub["培训记录"].append(dict(sub["培训记录"][0], end_date=dt.date(2008, 6, 30), hours=2000.0))  # boundary: ok
    sub["培训记录"].append(dict(sub["培训记录"][0], end_date=dt.date(2008, 6, 30), hours=3000))  # a whole figure
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    d13 = sorted((f[4], f[5]) for f in findings(db) if f[0] == "D13")
    assert d13 == [(2, "结束日期"), (3, "学时"), (3, "结束日期"), (5, "学时")]
    with duckdb.connect(str(db), read_only=True) as con:
        typed = dict(con.execute("select source_row, observed_value || '|' || message_zh from raw.findings"
                                 " where rule_id = 'D13' and column_name = '学时'").fetchall())
    # as the clerk typed them: 3000, not 3000.0; 2000.5 keeps its decimal; the limit reads 2000 (the seed's row)
    assert typed[5].startswith("3000|") and "学时3000不在合理范围" in typed[5] and "3000.0" not in typed[5], typed
    assert typed[3].startswith("2000.5|") and "不超过2000" in typed[3], typed


# --- pseudonyms ------------------------------------------------------------------------------


def test_no_raw_id_or_name_reaches_any_warehouse_table(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["人才信息库"][0]["id_number"] = ZHANG[:-1] + "0"  # invalid: its finding must not leak it either
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    secrets = {ZHANG, ZHANG[:-1] + "0", LI, WANG, "张三", "李四", "王五"}
    with duckdb.connect(str(db), read_only=True) as con:
        cols = con.execute("select table_schema, table_name, column_name from information_schema.columns"
                           " where data_type = 'VARCHAR'").fetchall()
        for schema, table, col in cols:
            values = {r[0] for r in con.execute(f'select distinct "{col}" from {schema}.{table}').fetchall()}
            assert not any(s in (v or "") for v in values for s in secrets), (table, col)


def test_pseudonym_is_stable_across_quarters_enterprises_and_legacy_numbers(inbox: Path, tmp_path: Path) -> None:
    write_submission(inbox, clean_submission(period="2008Q2"), period="2008Q2")
    moved = clean_submission(code=OTHER, period="2008Q3")
    legacy = ZHANG[:6] + ZHANG[8:17]  # the same person's 15-digit number
    moved["人才信息库"][0]["id_number"] = legacy
    moved["培训记录"][0]["id_number"] = legacy
    write_submission(inbox, moved, period="2008Q3")
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        run_intake(inbox, [Period.parse("2008Q2"), Period.parse("2008Q3")], con, tmp_path / "archive", KEY)
        keys = con.execute(
            "select p.org_code, r.person_key from raw.roster r join raw.profiles p using (submission_id)"
            " where r.source_row = 2 order by p.period").fetchall()
    assert keys[0][1] == keys[1][1] == person_key(ZHANG, KEY)
    assert keys[0][0] != keys[1][0]
    assert person_key(ZHANG, KEY) != person_key(ZHANG, b"another-key-0123456789")


def test_key_comes_from_the_environment_and_demo_key_only_on_request() -> None:
    assert load_key({"SASAC_HMAC_KEY": "a-long-enough-secret"}) == b"a-long-enough-secret"
    assert load_key({"SASAC_DEMO": "1"}) == DEMO_KEY
    with pytest.raises(MissingKeyError, match="SASAC_HMAC_KEY"):
        load_key({})


# --- versions, archive, idempotence ----------------------------------------------------------


def test_resubmission_supersedes_and_both_versions_stay_in_the_audit(inbox: Path, tmp_path: Path) -> None:
    first = write_submission(inbox, clean_submission())
    fixed = clean_submission()
    fixed["经费情况"][0]["fund_extracted"] = 25.0
    second = write_submission(inbox, fixed, name=f"{ENTERPRISE}_2008Q2_v2.xlsx")
    write_arrivals(inbox, "2008Q2", {first.name: "2008-07-10 09:00:00", second.name: "2008-07-20 15:30:00"})
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select file_name, arrived_at, is_late, outcome from raw.submissions order by arrived_at"
                           ).fetchall()
    assert [(r[0], r[2], r[3]) for r in rows] == [(first.name, False, "accepted"), (second.name, True, "accepted")]
    assert rows[1][1] == dt.datetime(2008, 7, 20, 15, 30)


def test_archive_is_content_addressed_and_rerun_changes_nothing(inbox: Path, tmp_path: Path) -> None:
    path = write_submission(inbox, clean_submission())
    write_submission(inbox, clean_submission(code=OTHER), fmt="csv")
    db = tmp_path / "w.duckdb"
    first = ingest(inbox, db)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    archived = tmp_path / "archive" / sha[:2] / f"{sha}.xlsx"
    assert archived.read_bytes() == path.read_bytes()
    zipped = next((tmp_path / "archive").rglob("*.zip"))
    assert sorted(zipfile.ZipFile(zipped).namelist()) == sorted(f"{s.name}.csv" for s in c.SHEETS)

    def snapshot() -> dict[str, list]:
        with duckdb.connect(str(db), read_only=True) as con:
            return {t: con.execute(f"select * from raw.{t} order by all").fetchall()
                    for t in ("submissions", "findings", "profiles", "roster", "training", "registry")}

    before = snapshot()
    again = ingest(inbox, db)
    assert (first.accepted, again.already_ingested, again.accepted, again.rejected) == (2, 2, 0, 0)
    assert snapshot() == before


def test_files_in_equal_accepted_plus_rejected_and_rows_reconcile(inbox: Path, tmp_path: Path) -> None:
    write_submission(inbox, clean_submission())
    bad = clean_submission(code=OTHER)
    bad["基本情况"][0]["period"] = "2007Q4"
    write_submission(inbox, bad)
    (inbox / "2008Q2" / "notes.txt").write_text("not a submission", encoding="utf-8")
    db = tmp_path / "w.duckdb"
    report = ingest(inbox, db)
    assert report.files_seen == report.accepted + report.rejected == 3
    assert report.rows_in == report.rows_loaded + report.rows_rejected and report.rows_rejected == 10
    with duckdb.connect(str(db), read_only=True) as con:
        loaded = sum(con.execute(f"select count(*) from raw.{s.table}").fetchone()[0] for s in c.SHEETS)
        accepted_rows = con.execute("select sum(rows_in) from raw.submissions where outcome = 'accepted'").fetchone()[0]
    assert loaded == accepted_rows == report.rows_loaded


def test_wrong_check_character_is_attributed_to_the_enterprise_named_by_the_file(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["基本情况"][0]["org_code"] = "MA62K026-1"
    write_submission(inbox, sub, name="MA62K026-0_2008Q2.xlsx")
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select org_code, outcome from raw.submissions").fetchall() == [(ENTERPRISE, "rejected")]
        assert con.execute("select distinct org_code from raw.findings").fetchall() == [(ENTERPRISE,)]
    # the mismatch with the file name is not reported again on top of the D03 error
    assert [f[0] for f in findings(db)] == ["D03"]


def test_a_missing_column_is_reported_once_not_once_per_row(inbox: Path, tmp_path: Path) -> None:
    from pipelines.lib.forms.submission_writer import Layout, write_xlsx

    (inbox / "2008Q2").mkdir()
    write_xlsx(inbox / "2008Q2" / f"{ENTERPRISE}_2008Q2.xlsx", clean_submission(),
               Layout(omit_columns={"人才信息库": frozenset({"skill_level"})}))
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert [(f[0], f[3]) for f in findings(db)] == [("D02", "人才信息库")]


def test_d10_age_is_counted_in_completed_years_on_the_birthday(inbox: Path, tmp_path: Path) -> None:
    from tests.factories import person_id

    sub = clean_submission(period="2011Q2")  # the period ends 2011-06-30
    sub["人才信息库"][2].update(id_number=person_id("11010519400630005"), birth_date=dt.date(1940, 6, 30), sex="男")
    sub["人才信息库"][1].update(id_number=person_id("11010519410701002"), birth_date=dt.date(1941, 7, 1), sex="女")
    write_submission(inbox, sub, period="2011Q2")
    db = tmp_path / "w.duckdb"
    ingest(inbox, db, period="2011Q2")
    # 71 on the very day the period ends (born in a leap year, the period's year is not one) is over 70;
    # 69 the day before the 70th birthday is not
    d10 = [(f[4], f[6]) for f in findings(db) if f[0] == "D10"]
    assert d10 == [(4, "第4行 报告期末年龄71岁，不在16—70岁之间，请核对出生日期或身份证号")]


def test_d11_a_junior_level_with_a_blank_key_trainee_cell_is_flagged(inbox: Path, tmp_path: Path) -> None:
    sub = clean_submission()
    sub["人才信息库"][2]["is_key_trainee"] = None  # 中级工, 是否重点培养对象 left blank
    write_submission(inbox, sub)
    db = tmp_path / "w.duckdb"
    ingest(inbox, db)
    assert [(f[0], f[4], f[5]) for f in findings(db)] == [("D11", 4, "技能等级")]


# --- the registry and the arrivals log ---------------------------------------------------------------

_HEADER = ",".join(col.header for col in c.REGISTRY_COLUMNS)
_ROW = f"{ENTERPRISE[:8]}-{ENTERPRISE[8]},北京测试机械厂,{ENTERPRISE[:8]}-{ENTERPRISE[8]},36,现代制造业,2006Q1,"


@pytest.mark.parametrize(("content", "said"), [
    (b"", "空文件"),
    ((_HEADER + "\n" + _ROW + "\n").encode("utf-16"), "UTF-16"),
    (_HEADER.encode() + b"\n\x81\xff\xfe\x80,\xff\n", "编码无法识别"),
    ((_HEADER + "\n" + _ROW + '\n"MA0000A1-9,未闭合的引号\n').encode(), "第3行格式错误"),
    ((_HEADER + "\n" + _ROW + "\n" + _ROW + "\n").encode(), "第3行：组织机构代码MA62K0260与第2行重复"),
    ((_HEADER + "\n" + _ROW.replace("2006Q1", "2006年") + "\n").encode(), "第2行：起始报告期"),
    ((_HEADER.replace("企业名称,", "") + "\n").encode(), "第1行（表头）缺少列：企业名称"),
])
def test_every_registry_error_is_one_line_naming_the_file_and_the_line(tmp_path: Path, content: bytes,
                                                                      said: str) -> None:
    from pipelines.lib.intake.inbox import InboxError, read_registry

    (tmp_path / "registry.csv").write_bytes(content)
    with pytest.raises(InboxError) as caught:
        read_registry(tmp_path)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "registry.csv") in message
    assert said.replace("MA62K0260", ENTERPRISE) in message


def test_a_bad_arrivals_log_line_is_a_finding_on_that_line_and_the_rest_still_counts(inbox: Path,
                                                                                     tmp_path: Path) -> None:
    a = write_submission(inbox, clean_submission())
    b = write_submission(inbox, clean_submission(OTHER))
    log = inbox / "2008Q2" / "收件登记.csv"
    log.write_text(f'文件名,收到时间\n{a.name},下周二\n"未闭合,2008-07-01\n{b.name},2008-07-20 09:00:00\n',
                   encoding="utf-8")
    ingest(inbox, tmp_path / "w.duckdb")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        arrived = dict(con.execute("select file_name, arrived_at from raw.submissions").fetchall())
    assert arrived[b.name] == dt.datetime(2008, 7, 20, 9, 0)  # the good line still counts
    assert arrived[a.name] == dt.datetime.fromtimestamp(a.stat().st_mtime).replace(microsecond=0)
    notes = findings(tmp_path / "w.duckdb", "sheet = '收件登记.csv'")
    assert [(f[0], f[4]) for f in notes] == [("D15", 2)] and "第2行" in notes[0][6]


def test_the_batches_are_checkpointed_once_at_the_end_and_the_threshold_is_restored(inbox: Path,
                                                                                    tmp_path: Path) -> None:
    """Each batch's commit stays in the write-ahead log until the intake ends (load.checkpoint_once): then one
    checkpoint folds it into the file, and the connection's own threshold is back."""
    write_submission(inbox, clean_submission(ENTERPRISE))
    write_submission(inbox, clean_submission(OTHER))
    db = tmp_path / "w.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("set checkpoint_threshold = '32.0 MiB'")
        report = run_intake(inbox, [Period.parse("2008Q2")], con, tmp_path / "archive", KEY, batch_files=1)
        assert con.execute("select current_setting('checkpoint_threshold')").fetchone()[0] == "32.0 MiB"
        wal = db.with_name(db.name + ".wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed while the connection is still open
        assert con.execute("select count(*) from raw.submissions").fetchone()[0] == report.accepted == 2


def test_a_batch_committed_before_the_checkpoint_survives_a_killed_process(tmp_path: Path) -> None:
    """The one checkpoint at the end is no risk to a stopped run: every commit is in the log on disk, which
    DuckDB replays when the file is opened again."""
    db = tmp_path / "w.duckdb"
    script = (
        "import os, duckdb\n"
        "from pipelines.lib.domain.warehouse import transaction\n"
        "from pipelines.lib.intake.load import checkpoint_once\n"
        f"con = duckdb.connect({str(db)!r})\n"
        "con.execute('create table t (n integer)')\n"
        "con.execute('checkpoint')\n"
        "with checkpoint_once(con):\n"
        "    with transaction(con):\n"
        "        con.execute('insert into t select * from range(100000)')\n"
        "    os._exit(9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], check=False)
    assert done.returncode == 9
    assert db.with_name(db.name + ".wal").stat().st_size > 0  # the batch was never checkpointed
    with duckdb.connect(str(db)) as con:
        assert con.execute("select count(*), sum(n) from t").fetchone() == (100000, 4999950000)


@pytest.mark.parametrize("key", [KEY, b"k" * 100])  # 100 bytes: longer than SHA-256's block, so HMAC hashes it
def test_the_pseudonym_is_the_contracts_hmac_sha256_of_the_canonical_id(key: bytes) -> None:
    ids = [ZHANG, LI, WANG, "11010519491231002X"]
    expected = ["p_" + hmac.digest(key, i.encode(), hashlib.sha256).hex()[:20] for i in ids]
    assert person_keys_of_canonical(ids, key) == expected
