"""The tracking workbook, the receipts and the report, on a hand-built published warehouse."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

import duckdb
import openpyxl
import pytest
import xlsxwriter

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.exports import excel
from pipelines.lib.exports.display import column_label
from pipelines.lib.exports.receipts import write_receipts
from pipelines.lib.exports.report import write_report
from pipelines.lib.exports.workbook import DISPLAY_TWINS, TRACKING_SHEETS, write_tracking_workbook
from tests.marts_fixture import INJECTION_VALUE, SCHEMAS, build_marts_fixture, make_code

PERIOD = "2007Q4"
MODEL_ORG = make_code(0)  # MA62K0260, the enterprise with the injected finding values
MISSING_ORG = make_code(3)
REJECTED_ORG = make_code(4)


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_marts_fixture(tmp_path_factory.mktemp("marts") / "warehouse.duckdb")


@pytest.fixture(scope="module")
def workbook(db, tmp_path_factory) -> Path:
    return write_tracking_workbook(db, tmp_path_factory.mktemp("wb") / "target_tracking.xlsx")


@pytest.fixture(scope="module")
def receipts(db, tmp_path_factory) -> list[Path]:
    return write_receipts(db, PERIOD, tmp_path_factory.mktemp("receipts")).paths


def _values(ws) -> list[str]:
    return [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]


def _hidden(ws, i: int) -> bool:
    """Whether the column ``i`` (0-based) is hidden (openpyxl groups neighbouring columns of one format)."""
    return any(d.hidden for d in ws.column_dimensions.values() if d.min <= i + 1 <= d.max)


def _fill(cell) -> str | None:
    """A cell's fill as #RRGGBB (None when unfilled)."""
    return "#" + cell.fill.fgColor.rgb[-6:].upper() if cell.fill.fill_type else None


def _tones(db) -> dict[str, tuple[str, str]]:
    """tone -> (fill_colour, text_colour) as the exported warehouse's reference.ref_tones says."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {t: (f.upper(), c) for t, f, c in con.execute(
            "select tone, fill_colour, text_colour from reference.ref_tones").fetchall()}


def _status_tone(db, domain: str, code: str) -> tuple[str, str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute("select label_zh, tone from reference.ref_statuses where domain = ? and status_code = ?",
                           [domain, code]).fetchone()


# --- fixture ----------------------------------------------------------------------------------
def test_fixture_has_every_mart_and_column_of_the_contract(db):
    doc = (Path(__file__).parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
        for table in tables:
            assert f"`{table}`" in doc
        assert tables == set(SCHEMAS)
        cols = {r[0] for r in con.execute("select column_name from information_schema.columns "
                                          "where table_schema='marts' and table_name='compliance_flags'").fetchall()}
    for c in re.search(r"`compliance_flags` columns: (.*?)\n\n", doc, re.S).group(1).replace("\n", " ").split("`"):
        if re.fullmatch(r"[a-z_0-9]+", c) and c not in ("error", "warning", "info", "intake"):
            assert c in cols, c


# --- excel helpers ----------------------------------------------------------------------------
def test_write_cell_keeps_formula_like_text_as_text(tmp_path):
    path = tmp_path / "cells.xlsx"
    wb = excel.new_workbook(path)
    ws = wb.add_worksheet("t")
    values = [INJECTION_VALUE, "-1", "+86 10 6666", "@SUM(A1)", "=1+1", 42, 1.5, True,
              dt.date(2008, 6, 2), dt.datetime(2008, 1, 15, 9, 30), None, float("nan")]
    for i, v in enumerate(values):
        excel.write_cell(ws, i, 0, v)
    wb.close()
    ws = openpyxl.load_workbook(path)["t"]
    for i in range(5):
        cell = ws.cell(i + 1, 1)
        assert cell.data_type == "s" and cell.value == values[i]
    assert ws.cell(6, 1).value == 42 and ws.cell(6, 1).data_type == "n"
    assert ws.cell(7, 1).value == 1.5
    assert ws.cell(8, 1).value == "是"
    assert ws.cell(9, 1).value == dt.datetime(2008, 6, 2) and ws.cell(9, 1).is_date
    assert ws.cell(10, 1).value == dt.datetime(2008, 1, 15, 9, 30)
    assert ws.cell(11, 1).value is None and ws.cell(12, 1).value is None


def test_display_width_counts_chinese_double():
    assert excel.display_width("ab") == 2
    assert excel.display_width("高技能") == 6


# --- tracking workbook ------------------------------------------------------------------------
def test_workbook_sheets_headers_and_freeze(workbook, db):
    wb = openpyxl.load_workbook(workbook)
    with duckdb.connect(str(db), read_only=True) as con:
        comments = {(t, c): m for t, c, m in con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'").fetchall()}
    assert wb.sheetnames == ["说明"] + [s.name for s in TRACKING_SHEETS]
    assert wb.sheetnames[1:] == ["1 高技能人才比例跟踪", "2 培训覆盖跟踪", "3 经费提取使用跟踪", "4 制度建设落实",
                                 "5 激励待遇", "6 报送情况", "7 问题清单"]
    for s in TRACKING_SHEETS:
        ws = wb[s.name]
        headers = [c.value for c in ws[1]]
        # the header is the head of the column's comment (its dbt description), and every one is Chinese;
        # the columns people read come first (TrackingSheet.shown), the others follow, folded
        keys = [k for k, _ in SCHEMAS[s.table] if k not in DISPLAY_TWINS] + (["enterprise_name"] if s.extra else [])
        order = [k for k in s.shown if k in keys] + [k for k in keys if k not in s.shown]
        table = {k: ("dim_enterprises" if s.extra and k == "enterprise_name" else s.table) for k in keys}
        assert headers == [column_label(comments[(table[k], k)], k) for k in order]
        assert all(re.search(r"[\u4e00-\u9fff]", h) and re.fullmatch(r"[^（：]+(（[^（）]{1,3}）)?", h) for h in headers), headers
        hidden = [_hidden(ws, i) for i in range(len(order))]
        assert hidden == [k not in s.shown for k in order], s.name
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert ws.max_row > 1


def test_workbook_shows_people_no_hashes_codes_or_raw_floats(workbook, db):
    """What is read and printed (the unfolded columns): no hex ids, no English codes, numbers as displayed."""
    wb = openpyxl.load_workbook(workbook)
    with duckdb.connect(str(db), read_only=True) as con:
        sources = dict(con.execute("select status_code, label_zh from reference.ref_statuses "
                                   "where domain = 'flag_source'").fetchall())
        names = {format_org_code(o): n for o, n in con.execute(
            "select org_code, enterprise_name from marts.dim_enterprises").fetchall()}
    for s in TRACKING_SHEETS:
        ws = wb[s.name]
        shown = [i for i in range(ws.max_column) if not _hidden(ws, i)]
        for row in ws.iter_rows(min_row=2):
            for i in shown:
                c = row[i]
                if isinstance(c.value, str):
                    assert not re.fullmatch(r"[0-9a-f]{12,}", c.value), (s.name, c.value)  # a hash
                    assert not re.fullmatch(r"[a-z]+(_[a-z]+)+|system|group|enterprise|sector", c.value), (s.name, c.value)
                elif isinstance(c.value, float):  # exact underneath, a rounded number on screen and paper
                    assert c.number_format != "General", (s.name, c.value)
    ws7 = wb["7 问题清单"]
    h = {c.value: i for i, c in enumerate(ws7[1])}
    rows = list(ws7.iter_rows(min_row=2, values_only=True))
    assert {r[h["来源"]] for r in rows} <= set(sources.values()) and len({r[h["来源"]] for r in rows}) > 1
    named = [r for r in rows if r[h["组织机构代码"]] in names]
    assert named and all(r[h["企业名称"]] == names[r[h["组织机构代码"]]] for r in named)
    for r in rows:  # observed values and thresholds as the receipt shows them, never 0.9259163134
        for k in ("实际值（文本）", "阈值或期望值"):
            assert not re.fullmatch(r"\d+\.\d{3,}", str(r[h[k]] or "")), r[h[k]]


def test_workbook_cells_hold_the_marts_exact_ratios(workbook, db):
    """Full precision (issue 28): a ratio cell is the mart's value, not its rounding; the format rounds it."""
    ws = openpyxl.load_workbook(workbook)["3 经费提取使用跟踪"]
    col = {c.value: i for i, c in enumerate(ws[1])}
    ratio = next(i for h, i in col.items() if str(h).startswith("教育培训经费提取比例"))
    cells = [r[ratio] for r in ws.iter_rows(min_row=2) if r[ratio].value is not None]
    with duckdb.connect(str(db), read_only=True) as con:
        exact = {r for (r,) in con.execute("select extraction_ratio from marts.fund_tracking"
                                           " where extraction_ratio is not null").fetchall()}
    assert cells and all(any(abs(c.value - float(v)) < 1e-15 for v in exact) for c in cells)  # xlsx keeps 15 digits
    assert any(c.value != round(c.value, 3) for c in cells)  # a rounded copy would hold 0.015 for 1.457%
    assert all(c.number_format == excel.RATIO_FMT for c in cells)


def test_workbook_prints_legibly_on_a4_landscape(workbook):
    wb = openpyxl.load_workbook(workbook)
    for ws in wb.worksheets:
        assert ws.page_setup.paperSize == 9 and ws.page_setup.orientation == "landscape", ws.title
        printed = sum(d.width * (min(d.max, ws.max_column) - d.min + 1) for d in ws.column_dimensions.values()
                      if not d.hidden and d.width and d.min <= ws.max_column)
        assert printed <= 210, (ws.title, printed)  # one A4 page wide at ≥ 70 %: 7 pt for the 10 pt text


def test_workbook_formats_org_codes_and_status_colours(workbook, db):
    wb = openpyxl.load_workbook(workbook)
    ws = wb["1 高技能人才比例跟踪"]
    headers = [c.value for c in ws[1]]
    col = {h: i for i, h in enumerate(headers)}
    rows = list(ws.iter_rows(min_row=2))
    share = rows[0][col["高技能人才占技能劳动者比例"]]
    assert share.number_format == "0.0%" and isinstance(share.value, float)
    assert rows[0][col["技能劳动者总数"]].number_format == "#,##0"
    ent = [r for r in rows if r[col["统计口径代码"]].value == "enterprise"]
    assert any(r[col["统计对象代码"]].value == "MA62K026-0" for r in ent)
    assert all(re.fullmatch(r"[0-9A-Z]{8}-[0-9X]", r[col["统计对象代码"]].value) for r in ent)
    fills = {r[col["进度状态"]].value: _fill(r[col["进度状态"]]) for r in rows}
    tones = _tones(db)
    assert fills["进度正常"] == tones["ok"][0] == "#C6EFCE"
    assert fills["严重滞后"] == tones["bad"][0] == "#FFC7CE"
    ws3 = wb["3 经费提取使用跟踪"]
    h3 = {c.value: i for i, c in enumerate(ws3[1])}
    r3 = next(ws3.iter_rows(min_row=2, max_row=2))
    assert r3[h3["职工工资总额（万元）"]].number_format == "#,##0.00"
    assert r3[h3["教育培训经费提取比例"]].number_format == "0.0%"
    ws6 = wb["6 报送情况"]
    h6 = {c.value: i for i, c in enumerate(ws6[1])}
    statuses = {r[h6["报送状态"]].value for r in ws6.iter_rows(min_row=2)}
    assert {"按时", "逾期", "未报送", "被退回", "名录外报送"} <= statuses
    with duckdb.connect(str(db), read_only=True) as con:
        n = con.execute("select count(*) from marts.compliance_flags").fetchone()[0]
    assert wb["7 问题清单"].max_row == n + 1


def test_workbook_readme_lists_benchmark_with_status(workbook):
    text = " ".join(_values(openpyxl.load_workbook(workbook)["说明"]))
    assert "北京市平均水平" in text and "假设值" in text and "已公布" in text and "光明日报" in text
    for s in TRACKING_SHEETS:
        assert s.name in text


def test_workbook_flags_keep_injected_text(workbook):
    ws = openpyxl.load_workbook(workbook)["7 问题清单"]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row if c.value == INJECTION_VALUE]
    assert cells and all(c.data_type == "s" for c in cells)


def test_workbook_is_deterministic(db, workbook, tmp_path):
    again = write_tracking_workbook(db, tmp_path / "again.xlsx")
    assert again.read_bytes() == workbook.read_bytes()


def _table(db, path: Path, rows: list[tuple]) -> Path:
    """One table written by excel.write_table into a constant_memory workbook, a second sheet after it."""
    from pipelines.lib.exports.display import read_display
    with duckdb.connect(str(db), read_only=True) as con:
        display = read_display(con)
    wb = excel.new_workbook(path)
    fmts = excel.Formats(wb, display)
    C = excel.ColumnSpec
    columns = [C("t", "文字"), C("w", "说明", wrap=True, width=12.0), C("ratio", "占比", excel.RATIO),
               C("amount", "金额", excel.AMOUNT), C("n", "人数", excel.COUNT), C("d", "日期", excel.DATE),
               C("ts", "时间", excel.DATETIME), C("ok", "达标", excel.BOOL), C("late", "逾期", excel.BOOL_BAD),
               C("status", "状态", excel.STATUS), C("code", "代码", folded=True)]
    excel.write_table(wb.add_worksheet("表"), fmts, columns, iter(rows), widths_from=rows[:3], print_title="标题")
    excel.write_table(wb.add_worksheet("后"), fmts, columns[:2], iter([("后", "一行")]))
    wb.close()
    return path


def test_table_rows_read_back_as_written(db, tmp_path):
    import decimal
    statuses = list(_status_tone(db, "filing", code)[0] for code in ("on_time", "late", "missing"))
    texts = ["普通文字", INJECTION_VALUE, "a & b < c > d", "-1", "  带空格 ", "\u3000全角空格", "tab\tand\nline",
             "a\x01b\x1fc", "_x0041_ literal", "\x1f", "", "x" * 20_000, "😀" * 17_000, "e\ufffe"]
    rows = []
    for i, text in enumerate(texts):
        rows.append((text, "很长的说明文字，" * (i % 4) + text[:30], 0.92591 * i, decimal.Decimal("12345.675") * i,
                     i, dt.date(2008, 6, i + 1), dt.datetime(2008, 7, 1, 9, i, tzinfo=dt.UTC), i % 2 == 0,
                     i % 3 == 0, statuses[i % 3], f"C{i:03d}"))
    rows += [(None,) * 11,  # a row of nothing is no row
             (7, None, float("nan"), float("inf"), "n/a", "2008-06-30", dt.date(2008, 1, 1), "是", None, "未知状态", 1.5),
             (None, None, -0.00001, float("-inf"), 10**20, None, None, False, True, None, None)]
    path = _table(db, tmp_path / "table.xlsx", rows)
    ws = openpyxl.load_workbook(path)["表"]
    plain = {r: t for r, t in enumerate(texts, start=2) if t.isprintable() and "_x" not in t and "\ufffe" not in t}
    assert {r: ws.cell(r, 1).value or "" for r in plain} == {
        r: t[:16_383] if t.startswith("😀") else t for r, t in plain.items()}
    assert ws.max_row == 1 + len(texts) + 3 and ws.cell(ws.max_row, 5).value == 10**20
    assert all(c.value is None for c in ws[2 + len(texts)])
    # the exact value, shown rounded by its format (the workbook-cells guard: full precision since issue 28)
    assert ws.cell(3, 3).value != round(ws.cell(3, 3).value, 3) and ws.cell(3, 3).number_format == excel.RATIO_FMT
    assert ws.cell(2, 8).value == "是" and ws.cell(3, 8).value == "否" and ws.cell(2, 6).is_date


RICH_LOOKING = ['<r><t>raw</t></r>', '<r>x</r></is></c><c r="Z9"><f>1+1</f></c><c r="Z10" t="inlineStr"><is><r>y</r>',
                '<r></r>']


def test_table_text_that_looks_like_rich_text_stays_text(db, tmp_path):
    # xlsxwriter's write_string puts a text starting with <r> and ending with </r> into the file as raw XML
    rows = [(text,) + (None,) * 10 for text in RICH_LOOKING]
    path = _table(db, tmp_path / "rich.xlsx", rows)
    with zipfile.ZipFile(path) as zf:
        xml = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in xml and '<c r="Z9"' not in xml
    ws = openpyxl.load_workbook(path)["表"]
    assert [ws.cell(r, 1).value for r in (2, 3, 4)] == RICH_LOOKING and ws["Z9"].value is None


def test_write_cell_keeps_rich_looking_text_in_shared_strings(tmp_path):
    path = tmp_path / "shared.xlsx"
    wb = excel.new_workbook(path, constant_memory=False)
    ws = wb.add_worksheet("t")
    bold = wb.add_format({"bold": True})
    for i, text in enumerate(RICH_LOOKING):
        excel.write_cell(ws, i, 0, text, bold if i else None)
    wb.close()
    ws = openpyxl.load_workbook(path)["t"]
    assert [ws.cell(i + 1, 1).value for i in range(len(RICH_LOOKING))] == RICH_LOOKING and ws["Z9"].value is None


# --- receipts -----------------------------------------------------------------------------------
def test_one_receipt_per_filing_status_row(receipts, db):
    with duckdb.connect(str(db), read_only=True) as con:
        orgs = {r[0] for r in con.execute("select org_code from marts.filing_status where period = ?",
                                          [PERIOD]).fetchall()}
    assert len(receipts) == len(orgs)
    assert {p.stem for p in receipts} == {format_org_code(o) for o in orgs}  # the display form, 10117472-0
    assert all(p.parent.name == PERIOD and p.stat().st_size > 0 for p in receipts)


def test_missing_enterprise_receipt_says_not_received(receipts):
    path = next(p for p in receipts if p.stem == format_org_code(MISSING_ORG))
    text = " ".join(_values(openpyxl.load_workbook(path)["回执"]))
    assert "回执" in text and "未收到" in text and "重新报送" in text
    assert f"{MISSING_ORG[:8]}-{MISSING_ORG[8]}" in text and PERIOD in text
    assert "截至报送截止日未收到本期报表" in text  # the D15 finding


def test_receipt_lists_versions_findings_and_standing(receipts, db):
    path = next(p for p in receipts if p.stem == format_org_code(MODEL_ORG))
    ws = openpyxl.load_workbook(path)["回执"]
    text = " ".join(_values(ws))
    assert "北京第一机床厂" in text and "MA62K026-0" in text
    with duckdb.connect(str(db), read_only=True) as con:
        sha, fname = con.execute("select sha256, file_name from marts.submission_versions where org_code = ? "
                                 "and period = ?", [MODEL_ORG, PERIOD]).fetchone()
        msgs = [r[0] for r in con.execute("select message_zh from marts.compliance_flags where org_code = ? and "
                                          "period = ?", [MODEL_ORG, PERIOD]).fetchall()]
    assert fname in text and "采用" in text
    assert all(sha[i:i + 8] in text for i in range(0, 64, 8))  # the SHA-256 in readable groups of 8
    for m in msgs:
        assert m in text
    assert "C03" in text and "年度" in text  # year-level flag on the Q4 receipt
    assert "高技能人才占技能劳动者比例" in text and "北京市平均水平" in text and "培训覆盖率" in text
    # the injected values stay literal text
    inj = [c for row in ws.iter_rows() for c in row if c.value in (INJECTION_VALUE, "-1")]
    assert {c.value for c in inj} == {INJECTION_VALUE, "-1"}
    assert all(c.data_type == "s" for c in inj)


def test_receipt_for_rejected_and_resubmitted(receipts):
    rej = " ".join(_values(openpyxl.load_workbook(next(p for p in receipts if p.stem == format_org_code(REJECTED_ORG)))["回执"]))
    assert "被退回" in rej and "需重新报送" in rej and "人才信息库" in rej
    resub = openpyxl.load_workbook(next(p for p in receipts if p.stem == format_org_code(make_code(1))))["回执"]
    text = " ".join(_values(resub))
    assert "已被更新版本替代" in text and "以第2版" in text


def test_receipts_are_deterministic(db, receipts, tmp_path):
    again = write_receipts(db, PERIOD, tmp_path).paths
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in receipts]


# --- report -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def report(db, tmp_path_factory) -> Path:
    return write_report(db, PERIOD, tmp_path_factory.mktemp("report") / f"{PERIOD}.html")


def test_report_self_contained_with_period_figures(report, db):
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    with duckdb.connect(str(db), read_only=True) as con:
        share, avg = con.execute("select high_skill_share, beijing_average from marts.high_skill_share_tracking "
                                 "where grain='system' and period_type='quarter' and period=?", [PERIOD]).fetchone()
        missing = con.execute("select enterprise_name from marts.filing_status where period=? and "
                              "status_code in ('missing','rejected')", [PERIOD]).fetchall()
    assert f"{share * 100:.1f}%" in page and f"{avg * 100:.1f}%" in page
    assert PERIOD in page and "假设值" in page and "2010年目标" in page
    for (name,) in missing:
        assert name in page
    assert page.count("<svg") >= 5
    assert "<polyline" in page and "<rect" in page
    assert "MA62K026-0" in page


def test_report_is_deterministic(db, report, tmp_path):
    assert write_report(db, PERIOD, tmp_path / "r.html").read_bytes() == report.read_bytes()


def test_xlsxwriter_options_block_formula_conversion(tmp_path):
    wb = excel.new_workbook(tmp_path / "x.xlsx")
    assert wb.strings_to_formulas is False
    wb.close()
    assert isinstance(wb, xlsxwriter.Workbook)


# --- how the deliverables look and print --------------------------------------------------------
def _prints_officially(ws) -> None:
    assert ws.page_setup.orientation == "landscape", ws.title
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and ws.page_setup.fitToHeight == 0  # 1 is the default
    assert "&A" in (ws.oddHeader.center.text or "") + (ws.oddFooter.right.text or "")
    assert "&P" in ws.oddFooter.center.text and "&N" in ws.oddFooter.center.text


def test_workbook_prints_with_header_row_on_every_page(workbook):
    wb = openpyxl.load_workbook(workbook)
    for ws in wb.worksheets:
        _prints_officially(ws)
    for s in TRACKING_SHEETS:
        assert wb[s.name].print_title_rows == "$1:$1"


def test_workbook_readme_cites_the_policy_by_its_title(workbook):
    text = " ".join(_values(openpyxl.load_workbook(workbook)["说明"]))
    assert "京国资党发〔2008〕8号《关于加强国有企业高技能人才工作的意见》" in text


def test_workbook_shows_codes_in_chinese_and_signed_differences(workbook):
    wb = openpyxl.load_workbook(workbook)
    ws = wb["1 高技能人才比例跟踪"]
    col = {c.value: i for i, c in enumerate(ws[1])}
    rows = list(ws.iter_rows(min_row=2))
    assert {r[col["期间类型"]].value for r in rows} == {"季度", "年度"}
    assert {r[col["北京市平均水平数据状态"]].value for r in rows} <= {"已公布", "假设值", None}
    gap = rows[0][col["与北京市平均水平的差距"]]
    assert gap.number_format == excel.SIGNED_PP_FMT and "百分点" in gap.number_format  # the report's wording
    assert gap.value != round(gap.value, 1) and abs(gap.value) > 0.5  # percentage points, exact, shown rounded
    assert rows[0][col["达到目标每年还需提高的占比"]].number_format == excel.SIGNED_PP_YEAR_FMT
    code = col["统计口径代码"]
    assert {r[code].value for r in rows} >= {"enterprise"}  # code columns stay codes, folded
    assert _hidden(ws, code)
    ws7 = wb["7 问题清单"]
    h7 = {c.value: i for i, c in enumerate(ws7[1])}
    severities = {r[h7["严重程度"]].value for r in ws7.iter_rows(min_row=2)}
    assert severities <= {"错误", "警告", "提示"} and "错误" in severities
    assert ws7.column_dimensions[openpyxl.utils.get_column_letter(h7["问题说明"] + 1)].width >= 30  # wrapped


def test_workbook_good_news_is_not_red(workbook, db):
    """逾期/未报送/被退回 = 否 is good news: plain, while 是 is highlighted; a failed check (否) stays red."""
    wb = openpyxl.load_workbook(workbook)
    ws = wb["6 报送情况"]
    h = {c.value: i for i, c in enumerate(ws[1])}
    tones = _tones(db)
    for r in ws.iter_rows(min_row=2):
        late = r[h["是否逾期"]]
        if late.value == "否":
            assert _fill(late) != tones["bad"][0]
        else:
            assert _fill(late) == tones["warn"][0]
    ws4 = wb["4 制度建设落实"]
    h4 = {c.value: i for i, c in enumerate(ws4[1])}
    failed = [r[h4["高技能人才培养规划"]] for r in ws4.iter_rows(min_row=2) if r[h4["高技能人才培养规划"]].value == "否"]
    assert failed and all(_fill(c) == tones["bad"][0] for c in failed)


def test_receipt_prints_as_one_official_page(receipts):
    for path in receipts:
        ws = openpyxl.load_workbook(path)["回执"]
        _prints_officially(ws)
        assert ws.print_area and ws.page_setup.paperSize == 9  # A4


def test_receipt_rows_are_tall_enough_for_their_text(receipts):
    from pipelines.lib.exports.receipts import WIDTHS
    path = next(p for p in receipts if p.stem == format_org_code(MODEL_ORG))
    ws = openpyxl.load_workbook(path)["回执"]
    message_col = next(c.column for row in ws.iter_rows() for c in row if c.value == "问题说明及修改要求")
    width = sum(WIDTHS[message_col - 1:])  # the message spans the last columns
    messages = [c for row in ws.iter_rows(min_col=message_col, max_col=message_col) for c in row
                if c.row > 1 and isinstance(c.value, str) and c.value != "问题说明及修改要求"]
    assert messages
    for c in messages:
        assert ws.row_dimensions[c.row].height >= excel.text_lines(c.value, width) * 13, c.value
    conclusion = next(c for row in ws.iter_rows() for c in row if c.value == "处理结论")
    value = ws.cell(conclusion.row, 3).value
    assert ws.row_dimensions[conclusion.row].height >= excel.text_lines(value, sum(WIDTHS[2:])) * 13


def test_receipt_shows_values_a_clerk_understands(receipts, db):
    from pipelines.lib.exports.display import read_display
    from pipelines.lib.exports.receipts import flag_value
    with duckdb.connect(str(db), read_only=True) as con:
        display = read_display(con)

    def fv(rule, value):
        return flag_value(rule, value, display)

    assert fv("C02", "0.962962963") == "96.3%" and fv("C02", "1") == "100%"
    assert fv("C03", "1.2%") == "1.2%" and fv("D12", "12") == "12"
    assert fv("C06", "false") == "否" and fv("C05", "seriously_lagging") == "严重滞后"
    assert fv("C05", "achieved/on_track") == "已达标/进度正常"
    assert fv("D15", "true") is None
    assert fv("D05", INJECTION_VALUE) == INJECTION_VALUE and fv("D09", "-1") == "-1"
    text = " ".join(_values(openpyxl.load_workbook(next(p for p in receipts if p.stem == format_org_code(MISSING_ORG)))["回执"]))
    assert re.search(r"\d{4}-\d{2}-\d{2} 24:00", text)  # the deadline as the clerk reads it
    assert "seriously_lagging" not in text and "true" not in text


# --- reference data: read from the exported warehouse ------------------------------------------
def test_unexpected_filer_is_coloured_in_workbook_receipt_and_report(workbook, receipts, report, db):
    """名录外报送 (filing status ``unexpected``) takes its tone of reference.ref_statuses everywhere."""
    label, tone = _status_tone(db, "filing", "unexpected")
    assert label == "名录外报送"
    fill, text_colour = _tones(db)[tone]
    ws = openpyxl.load_workbook(workbook)["6 报送情况"]
    h = {c.value: i for i, c in enumerate(ws[1])}
    cells = [r[h["报送状态"]] for r in ws.iter_rows(min_row=2) if r[h["报送状态"]].value == label]
    assert cells and all(_fill(c) == fill.upper() for c in cells)
    codes = [r[h["报送状态代码"]] for r in ws.iter_rows(min_row=2) if r[h["报送状态代码"]].value == "unexpected"]
    assert codes and all(_fill(c) == fill.upper() for c in codes)
    outsider = make_code(999999, "MB")
    rc = openpyxl.load_workbook(next(p for p in receipts if p.stem == format_org_code(outsider)))["回执"]
    status = [c for row in rc.iter_rows() for c in row if c.value == label]
    assert status and _fill(status[0]) == fill.upper()
    page = report.read_text(encoding="utf-8")
    assert re.search(rf'<span class="status {tone}">{label}</span>', page)
    assert re.search(rf"\.{tone}\{{color:{re.escape(text_colour)}\}}", page)


def test_exports_follow_the_reference_data_of_the_warehouse_they_export(db, tmp_path):
    """Change a label, a colour, a rule's level and the benchmark in the warehouse: the exports follow."""
    copy = tmp_path / "warehouse.duckdb"
    copy.write_bytes(db.read_bytes())
    with duckdb.connect(str(copy)) as con:
        con.execute("update reference.ref_tones set fill_colour = '#123456', text_colour = '#654321' where tone = 'muted'")
        con.execute("update reference.ref_statuses set label_zh = '名录外来件' where status_code = 'unexpected'")
        con.execute("update marts.filing_status set status = '名录外来件' where status_code = 'unexpected'")
        con.execute("update reference.ref_severities set label_zh = '严重错误' where severity = 'error'")
        con.execute("update reference.ref_rules set level = 'enterprise-quarter' where rule_id = 'C03'")
        con.execute("update reference.ref_beijing_benchmark set source = '测试来源：仓库中的参考数据' where year = 2005")
        con.execute("comment on column marts.filing_status.status is '报送情况：测试'")
    wb = openpyxl.load_workbook(write_tracking_workbook(copy, tmp_path / "wb.xlsx"))
    ws = wb["6 报送情况"]
    h = {c.value: i for i, c in enumerate(ws[1])}
    assert "报送情况" in h and "报送状态" not in h
    cells = [r[h["报送情况"]] for r in ws.iter_rows(min_row=2) if r[h["报送情况"]].value == "名录外来件"]
    assert cells and all(_fill(c) == "#123456" for c in cells)
    assert "测试来源：仓库中的参考数据" in " ".join(_values(wb["说明"]))
    ws7 = wb["7 问题清单"]
    h7 = {c.value: i for i, c in enumerate(ws7[1])}
    assert "严重错误" in {r[h7["严重程度"]].value for r in ws7.iter_rows(min_row=2)}
    receipt = write_receipts(copy, PERIOD, tmp_path / "receipts").paths
    text = " ".join(_values(openpyxl.load_workbook(next(p for p in receipt if p.stem == format_org_code(MODEL_ORG)))["回执"]))
    c03 = re.search(r"C03 .*?(年度|本季)", text)
    assert "严重错误" in text and c03 and c03.group(1) == "本季"  # no longer a year-level rule
    page = write_report(copy, PERIOD, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<span class="status muted">名录外来件</span>' in page and ".muted{color:#654321}" in page


@pytest.mark.slow
def test_demo_exports_take_headers_and_benchmark_from_the_published_warehouse(demo_run):
    """On a real run: every header is the head of the dbt description that publish carried over as a
    DuckDB column comment, and the benchmark on 说明 is the published reference.ref_beijing_benchmark."""
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        comments = {(t, c): m for t, c, m in con.execute(
            "select table_name, column_name, comment from duckdb_columns() where schema_name = 'marts'").fetchall()}
        sources = [r[0] for r in con.execute("select source from reference.ref_beijing_benchmark").fetchall()]
        unexpected = con.execute("select count(*) from marts.filing_status where status_code = 'unexpected'").fetchone()[0]
        muted = con.execute("select fill_colour from reference.ref_tones where tone = 'muted'").fetchone()[0]
    wb = openpyxl.load_workbook(demo_run.marts_dir / "target_tracking.xlsx")
    for s in TRACKING_SHEETS:
        ws = wb[s.name]
        # the mart's columns, and the columns a sheet joins in (the enterprise name of a finding, from dim_enterprises)
        keys = [(s.table, c) for (t, c) in comments if t == s.table and c not in DISPLAY_TWINS] + (
            [("dim_enterprises", "enterprise_name")]
            if s.extra else [])
        headers = [c.value for c in ws[1]]
        assert len(headers) == len(keys)
        assert all(comments[k] for k in keys)
        assert sorted(headers) == sorted(column_label(comments[(t, k)], k) for t, k in keys)
        assert all(re.search(r"[\u4e00-\u9fff]", h) and re.fullmatch(r"[^（：]+(（[^（）]{1,3}）)?", h) for h in headers), headers
    readme = " ".join(_values(wb["说明"]))
    assert sources and all(src in readme for src in sources)
    ws = wb["6 报送情况"]
    h = {c.value: i for i, c in enumerate(ws[1])}
    outside = [r[h["报送状态"]] for r in ws.iter_rows(min_row=2) if r[h["报送状态代码"]].value == "unexpected"]
    assert len(outside) == unexpected and all(_fill(c) == muted.upper() for c in outside)


def test_receipt_version_table_and_report_use_the_column_comments(receipts, report, db):
    from pipelines.lib.exports.receipts import VERSION_COLUMNS
    with duckdb.connect(str(db), read_only=True) as con:
        comments = dict(con.execute("select column_name, comment from duckdb_columns() where schema_name = 'marts' "
                                    "and table_name = 'submission_versions'").fetchall())
        status = con.execute("select comment from duckdb_columns() where schema_name = 'marts' "
                             "and table_name = 'filing_status' and column_name = 'status'").fetchone()[0]
    ws = openpyxl.load_workbook(next(p for p in receipts if p.stem == format_org_code(MODEL_ORG)))["回执"]
    header_row = next(row for row in ws.iter_rows() if row[0].value == column_label(comments["version_no"], "version_no"))
    expected = [column_label(comments[c], c) for c in VERSION_COLUMNS]
    expected[5:5] = [f"{label}（条）" for (label,) in duckdb.connect(str(db), read_only=True).execute(
        "select label_zh from reference.ref_severities order by sort_order").fetchall()]
    assert [c.value for c in header_row if c.value is not None] == expected
    assert f"<th>{column_label(status, 'status')}</th>" in report.read_text(encoding="utf-8")



@pytest.mark.slow
def test_demo_c07_and_c11_say_beside_them_when_they_rest_on_part_of_the_year(demo_run):
    """C07 (reports to the congress, counted per quarter) and C11 (model workers, summed over the quarters) are
    judged over the year's quarters: where some are missing, the mart's verdict_caveat — the words of the dbt
    macro, never retyped — stands beside the verdict on the workbook's tables 4 and 5 and in the checklist of
    the enterprise's inspection page, and nowhere else."""
    from pipelines.lib.domain.codes import normalize_org_code
    from pipelines.lib.exports.display import read_display

    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        display = read_display(con)
        horizon = con.execute("select max(period) from marts.filing_status").fetchone()[0]
        governance = con.execute("select org_code, period_type, period, verdict_caveat from marts.governance_matrix"
                                 ).fetchall()
        incentives = con.execute("select org_code, year, period, verdict_caveat from marts.incentives_tracking"
                                 ).fetchall()
    assert any(c for *_, c in governance) and any(c for *_, c in incentives)

    wb = openpyxl.load_workbook(demo_run.marts_dir / "target_tracking.xlsx", read_only=True)
    for sheet, table, verdict, keys, want in (
            ("4 制度建设落实", "governance_matrix", "c07_ok", ("org_code", "period_type", "period"),
             [(format_org_code(o), display.label("period_type", t), p, c) for o, t, p, c in governance]),
            ("5 激励待遇", "incentives_tracking", "c11_ok", ("org_code", "year"),
             [(format_org_code(o), str(y), c) for o, y, _, c in incentives])):
        rows = wb[sheet].iter_rows(values_only=True)
        header = list(next(rows))
        at = header.index(display.column_label(table, "verdict_caveat"))
        assert header[at - 1] == display.column_label(table, verdict)  # right after the verdict it qualifies
        cols = [header.index(display.column_label(table, k)) for k in keys]
        got = [(*(str(r[i]) for i in cols), r[at]) for r in rows]
        assert sorted(got, key=str) == sorted(want, key=str)

    pages = sorted((demo_run.marts_dir / "report" / "enterprises").glob("*.html"))
    shown = {(normalize_org_code(p.stem), rule, period, text) for p in pages for period, rule, text in
             re.findall(r'data-field="verdict_caveat" data-period="([^"]*)" data-rule="(C\d\d)">([^<]*)<',
                        p.read_text(encoding="utf-8"))}
    now = horizon if not horizon.endswith("Q4") else None  # a page's column for the quarter so far
    want = {(o, "C07", p, c) for o, t, p, c in governance if c and (t == "year" or p == now)}
    want |= {(o, "C11", p, c) for o, _, p, c in incentives if c}
    orgs = {normalize_org_code(p.stem) for p in pages}
    assert shown and shown == {w for w in want if w[0] in orgs and w[2] <= horizon}
