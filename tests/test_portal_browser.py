"""A clerk in a real browser (Playwright driving Debian's headless chromium, never a downloaded build) against
the portal on loopback: first login, three planted mistakes, the corrected file, and — slow — the quarterly run
and the receipt. Another enterprise's clerk reaches none of it.

Screenshots of each page are written to $SASAC_PORTAL_SCREENSHOTS when set (the README's come from there).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import openpyxl
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pipelines.lib.domain.codes import format_org_code
from pipelines.portal import status
from pipelines.portal.settings import beijing_now
from tests.factories import ENTERPRISE, OTHER, clean_submission, write_submission
from tests.portal_harness import PASSWORD, Portal, start_portal

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Offline flags: without them chromium tries to reach Google and can hang.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
         "--mute-audio", "--lang=zh-CN"]
PERIOD = "2008Q2"
CLI = str(Path(sys.executable).parent / "sasac-skills")


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def _shot(page: Page, name: str, tmp: Path) -> None:
    target = Path(os.environ.get("SASAC_PORTAL_SCREENSHOTS") or tmp)
    target.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target / f"portal_{name}.png"), full_page=True)
    assert (target / f"portal_{name}.png").stat().st_size > 5_000


def _workbooks(tmp: Path) -> tuple[Path, Path]:
    """The clerk's workbook with three planted mistakes, and the corrected one."""
    name = f"{format_org_code(ENTERPRISE)}_{PERIOD}.xlsx"
    wrong = clean_submission(ENTERPRISE, PERIOD)
    del wrong["激励情况"]  # a required sheet left out
    wang = wrong["人才信息库"][2]["id_number"]
    wrong["人才信息库"][2]["id_number"] = wang[:-1] + ("0" if wang[-1] != "0" else "1")  # a wrong check character
    wrong["培训记录"][0]["end_date"] = dt.date(2008, 7, 20)  # a date outside the quarter
    return (write_submission(tmp / "wrong", wrong, PERIOD, name=name),
            write_submission(tmp / "right", clean_submission(ENTERPRISE, PERIOD), PERIOD, name=name))


def _first_login(page: Page, portal: Portal, org: str, tmp: Path, shots: bool = False) -> None:
    login, otp = portal.add_user(org, name="赵会计")
    page.goto(f"{portal.url}/login")
    if shots:
        _shot(page, "login", tmp)
    page.fill("#login", login)
    page.fill("#password", otp)
    with page.expect_navigation():
        page.click("button:has-text('登录')")
    assert page.url.endswith("/password")
    if shots:
        _shot(page, "password", tmp)
    page.fill("#current", otp)
    page.fill("#new", PASSWORD)
    page.fill("#repeat", PASSWORD)
    with page.expect_navigation():
        page.click("button:has-text('保存新密码')")
    assert page.url == f"{portal.url}/"


def _upload(page: Page, path: Path, period: str = PERIOD) -> None:
    page.select_option("#period", period)
    page.set_input_files("#file", str(path))
    with page.expect_navigation():
        page.click("button:has-text('上传并校验')")
    assert re.search(r"/submissions/[A-Za-z0-9_-]{22,}$", page.url), page.url


def _clerk_fixes_three_mistakes(browser: Browser, portal: Portal, tmp: Path) -> tuple[Page, list[str]]:
    """The clerk's morning: returns the clerk's page and the URLs of what they uploaded."""
    wrong, right = _workbooks(tmp)
    page = browser.new_context(locale="zh-CN").new_page()
    _first_login(page, portal, ENTERPRISE, tmp, shots=True)
    _shot(page, "home", tmp)
    _upload(page, wrong)
    rejected_url = page.url
    rows = page.locator("tr.finding")
    assert rows.count() == 3
    text = " | ".join(rows.nth(i).inner_text() for i in range(3))
    assert "激励情况" in text and "应有且仅有1行" in text  # the missing sheet
    assert "人才信息库" in text and "第4行" in text and "身份证号" in text and "校验位与前17位不符" in text
    assert "培训记录" in text and "结束日期" in text and "不在报告期" in text
    assert "未转交" in page.inner_text("body")
    _shot(page, "findings", tmp)
    assert not (portal.settings.inbox / PERIOD).exists()  # nothing forwarded

    with page.expect_navigation():
        page.click("text=← 返回")
    _upload(page, right)
    body = page.inner_text("body")
    assert "已通过校验并转交收件箱，未发现问题" in body and "待季度处理" in body
    _shot(page, "accepted", tmp)
    accepted_url = page.url
    assert sorted(p.name for p in (portal.settings.inbox / PERIOD).iterdir()) == [
        f"{format_org_code(ENTERPRISE)}_{PERIOD}.xlsx", "收件登记.csv"]
    return page, [rejected_url, accepted_url, f"{accepted_url}/file", f"{portal.url}/history/{ENTERPRISE}"]


def _stranger_reaches_nothing(browser: Browser, portal: Portal, urls: list[str], tmp: Path) -> None:
    page = browser.new_context(locale="zh-CN").new_page()
    _first_login(page, portal, OTHER, tmp)
    home = page.inner_text("body")
    assert format_org_code(ENTERPRISE) not in home, home
    assert "尚无上传记录" in home, home
    for url in urls:
        response = page.goto(url)
        assert response.status == 404, url
        assert "页面不存在，或您无权查看该内容" in page.inner_text("body")


def test_a_clerk_fixes_three_mistakes_and_files(browser: Browser, tmp_path: Path) -> None:
    portal = start_portal(tmp_path)
    try:
        _, urls = _clerk_fixes_three_mistakes(browser, portal, tmp_path)
        _stranger_reaches_nothing(browser, portal, urls, tmp_path)
    finally:
        portal.stop()


@pytest.mark.slow
def test_the_quarterly_run_processes_the_filing_and_the_receipt_downloads(browser: Browser, tmp_path: Path) -> None:
    portal = start_portal(tmp_path)
    try:
        page, urls = _clerk_fixes_three_mistakes(browser, portal, tmp_path)
        run = subprocess.run(
            [CLI, "run", "--period", PERIOD, "--inbox", str(portal.settings.inbox), "--warehouse",
             str(portal.settings.warehouse), "--workdir", str(tmp_path / "work"), "--quiet"],
            capture_output=True, text=True, timeout=1200, env={**os.environ, "SASAC_DEMO": "1"})
        assert run.returncode == 0, run.stdout + run.stderr
        page.goto(f"{portal.url}/")
        body = page.inner_text("body")
        assert "季度处理已完成" in body and "已采用" in body
        _shot(page, "processed", tmp_path)
        with page.expect_download() as download:
            page.click(f"text={PERIOD} 回执")
        saved = tmp_path / "receipt.xlsx"
        download.value.save_as(saved)
        assert download.value.suggested_filename == f"回执_{format_org_code(ENTERPRISE)}_{PERIOD}.xlsx"
        cells = " ".join(str(c.value) for ws in openpyxl.load_workbook(saved).worksheets for row in ws.iter_rows()
                         for c in row if c.value is not None)
        assert PERIOD in cells and ("北京测试机械厂" in cells)
        _stranger_reaches_nothing(browser, portal, [*urls, f"{portal.url}/receipts/{PERIOD}/{ENTERPRISE}"], tmp_path)
    finally:
        portal.stop()


@pytest.mark.slow
def test_today_the_quarter_the_portal_opens_is_run_received_and_marted_without_a_plan(browser: Browser,
                                                                                      tmp_path: Path) -> None:
    """The real clock (no frozen one): the newest quarter the portal opens is one the run accepts, whether or not
    a plan of the reference data covers it; the receipt downloads, and the marts hold the quarter with the plan
    columns empty and 无规划期."""
    portal = start_portal(tmp_path, clock=beijing_now)
    try:
        period = str(status.open_quarters(beijing_now(), portal.settings.late_quarters)[0].period)
        name = f"{format_org_code(ENTERPRISE)}_{period}.xlsx"
        filed = write_submission(tmp_path / "today", clean_submission(ENTERPRISE, period), period, name=name)
        page = browser.new_context(locale="zh-CN").new_page()
        _first_login(page, portal, ENTERPRISE, tmp_path)
        assert page.locator(f"#period option[value='{period}']").count() == 1
        _upload(page, filed, period)
        assert "已通过校验并转交收件箱" in page.inner_text("body")
        warehouse = portal.settings.warehouse
        run = subprocess.run(
            [CLI, "run", "--period", period, "--inbox", str(portal.settings.inbox), "--warehouse", str(warehouse),
             "--workdir", str(tmp_path / "work"), "--quiet"],
            capture_output=True, text=True, timeout=1200, env={**os.environ, "SASAC_DEMO": "1"})
        assert run.returncode == 0, run.stdout + run.stderr
        page.goto(f"{portal.url}/")
        assert "季度处理已完成" in page.inner_text("body")
        with page.expect_download() as download:
            page.click(f"text={period} 回执")
        saved = tmp_path / "receipt.xlsx"
        download.value.save_as(saved)
        cells = " ".join(str(c.value) for ws in openpyxl.load_workbook(saved).worksheets for row in ws.iter_rows()
                         for c in row if c.value is not None)
        assert period in cells and "无规划期" in cells

        with duckdb.connect(str(warehouse), read_only=True) as con:
            share = con.execute(
                "select high_skill_share, beijing_average, plan_name, baseline_period, baseline_share, target_year, "
                "target_share, trajectory_share, projected_target_year_share, required_gain_per_year, status, c05_ok "
                "from marts.high_skill_share_tracking where grain = 'enterprise' and entity_code = ? "
                "and period_type = 'quarter' and period = ?", [ENTERPRISE, period]).fetchone()
            assert share[0] == pytest.approx(2 / 800)  # the share is tracked as in any quarter
            assert share[2:] == (None,) * 8 + ("无规划期", None)
            # everything not tied to a plan is marted for the quarter: funds, coverage, governance, filing, flags
            for table in ("fund_tracking", "training_coverage_tracking", "governance_matrix", "filing_status"):
                assert con.execute(f"select count(*) from marts.{table} where period = ?", [period]).fetchone()[0], table
            assert con.execute("select status from marts.filing_status where org_code = ? and period = ?",
                               [ENTERPRISE, period]).fetchone()[0] in ("按时", "逾期")
            assert con.execute("select count(*) from marts.submission_versions where period = ? and is_current",
                               [period]).fetchone()[0] == 1
    finally:
        portal.stop()
