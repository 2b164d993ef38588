"""Exports follow what changed: the first publication names the quarters with received files, a receipt or a
report is rewritten only when what it shows changed (digest stored in the file, compared before writing)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from pipelines.lib.exports.publish import publish_warehouse
from pipelines.lib.exports.receipts import receipt_name, stored_digest, write_receipts
from pipelines.lib.exports.report import update_report
from tests.marts_fixture import build_marts_fixture, make_code

PERIOD = "2007Q4"
MODEL_ORG = make_code(0)
NEW_MESSAGE = "测试：改过的问题说明"


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return build_marts_fixture(tmp_path_factory.mktemp("marts") / "warehouse.duckdb")


def _copy(db: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(db, folder / "warehouse.duckdb"))


def _stamps(paths: list[Path]) -> dict[str, tuple[int, bytes]]:
    return {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in paths}


def _change_one_flag(db: Path, org: str = MODEL_ORG) -> None:
    with duckdb.connect(str(db)) as con:
        n = con.execute("update marts.compliance_flags set message_zh = ? where rule_id = 'D05' and org_code = ?"
                        " and period = ?", [NEW_MESSAGE, org, PERIOD]).fetchone()[0]
    assert n == 1


def _receipt_text(path: Path) -> str:
    wb = openpyxl.load_workbook(path, read_only=True)
    text = " ".join(str(v) for row in wb["回执"].iter_rows(values_only=True) for v in row if v is not None)
    wb.close()
    return text


def test_receipts_written_again_only_where_their_rows_changed(db, tmp_path):
    out = tmp_path / "receipts"
    first = write_receipts(db, PERIOD, out)
    assert first.written and not first.unchanged and not first.removed
    assert all(stored_digest(p) for p in first.written)
    before = _stamps(first.paths)

    again = write_receipts(db, PERIOD, out)
    assert again.written == [] and again.unchanged == first.paths
    assert _stamps(again.paths) == before  # neither bytes nor modification times moved

    copy = _copy(db, tmp_path / "changed")
    _change_one_flag(copy)
    third = write_receipts(copy, PERIOD, out)
    assert [p.name for p in third.written] == [receipt_name(MODEL_ORG)]
    assert len(third.unchanged) == len(first.paths) - 1
    after = _stamps(third.paths)
    assert {name for name in before if after[name] != before[name]} == {receipt_name(MODEL_ORG)}
    assert NEW_MESSAGE in _receipt_text(out / PERIOD / receipt_name(MODEL_ORG))


def test_a_receipt_without_a_matching_digest_is_written_again(db, tmp_path):
    out = tmp_path / "receipts"
    paths = write_receipts(db, PERIOD, out).paths
    damaged, foreign = paths[0], paths[1]
    damaged.write_bytes(b"not a workbook")
    wb = openpyxl.Workbook()  # a receipt someone saved over, without the digest property
    wb.save(foreign)
    assert stored_digest(damaged) is None and stored_digest(foreign) is None
    result = write_receipts(db, PERIOD, out)
    assert result.written == [damaged, foreign]
    assert "回执" in openpyxl.load_workbook(damaged).sheetnames and stored_digest(foreign)


def test_receipts_of_enterprises_no_longer_listed_are_removed(db, tmp_path):
    out = tmp_path / "receipts"
    write_receipts(db, PERIOD, out)
    copy = _copy(db, tmp_path / "changed")
    gone = make_code(5)
    with duckdb.connect(str(copy)) as con:
        for table in ("filing_status", "submission_versions"):
            con.execute(f"delete from marts.{table} where org_code = ? and period = ?", [gone, PERIOD])
    result = write_receipts(copy, PERIOD, out)
    assert result.removed == [out / PERIOD / receipt_name(gone)] and not result.removed[0].exists()
    assert result.written == []


def test_report_written_again_only_when_its_inputs_changed(db, tmp_path):
    page = tmp_path / "report" / f"{PERIOD}.html"
    assert update_report(db, PERIOD, page)
    before = (page.stat().st_mtime_ns, page.read_bytes())
    assert b'<meta name="sasac-inputs-sha256" content="' in before[1][:400]
    assert not update_report(db, PERIOD, page)
    assert (page.stat().st_mtime_ns, page.read_bytes()) == before

    copy = _copy(db, tmp_path / "changed")
    with duckdb.connect(str(copy)) as con:  # one more D05 in the quarter: the report's count by rule moves
        con.execute("insert into marts.compliance_flags select * replace ('x' || flag_id as flag_id)"
                    " from marts.compliance_flags where rule_id = 'D05' and period = ?", [PERIOD])
    assert update_report(copy, PERIOD, page)
    assert page.read_bytes() != before[1]


def test_first_publication_names_only_the_quarters_with_received_files(db, tmp_path):
    """A registry from 2006Q1, files for 2007Q4 only: the first publication does not call 2006Q1–2007Q3
    changed; the next one names only what moved."""
    work = _copy(db, tmp_path / "work")
    with duckdb.connect(str(work)) as con:
        con.execute("delete from marts.submission_versions where period <> ?", [PERIOD])
        held = con.execute("select count(distinct period) from marts.filing_status").fetchone()[0]
    assert held == 8  # every quarter since 2006Q1 still has filing rows (all missing, in a real build)
    target = tmp_path / "marts" / "warehouse.duckdb"

    first = publish_warehouse(work, target)
    assert first.first and first.changed == [PERIOD]
    assert first.counts["marts.filing_status"] > 0

    second = publish_warehouse(work, target)
    assert not second.first and second.changed == []

    with duckdb.connect(str(work)) as con:
        con.execute("update marts.compliance_flags set message_zh = 'x' where period = '2007Q3'")
    assert publish_warehouse(work, target).changed == ["2007Q3"]


def test_the_exports_follow_the_quarters_the_publication_recorded(db, tmp_path):
    """The publish assets in a real (ephemeral) Dagster instance: the quarters the publication changed reach the
    exports as its materialization's metadata, not through a file; each export reports what it wrote."""
    import dagster as dg

    from pipelines.defs.dbt.runner import DbtSession
    from pipelines.defs.publish.assets import (
        EXPORT_KEYS,
        FILES_UNCHANGED,
        FILES_WRITTEN,
        PAGES_KEY,
        PUBLISHED_KEY,
        QUARTERS,
        RECEIPTS_KEY,
        REPORTS_KEY,
        WORKBOOK_KEY,
        build_publish_assets,
    )
    from pipelines.defs.resources import PlatformConfig

    workdir = tmp_path / "work"
    _copy(db, workdir)
    platform = PlatformConfig(inbox=str(tmp_path / "inbox"), workdir=str(workdir),
                              warehouse=str(tmp_path / "marts" / "warehouse.duckdb"))
    instance = dg.DagsterInstance.ephemeral()

    def run() -> tuple[dict, dict]:
        result = dg.materialize(build_publish_assets([]), instance=instance, partition_key="2007Q4",
                                # the publication's releases take the marts' history with dbt (dbt snapshot)
                                resources={"platform": platform, "dbt": DbtSession()})
        assert result.success
        meta = {key: {k: v.value for k, v in instance.get_latest_materialization_event(key)
                      .asset_materialization.metadata.items()} for key in (PUBLISHED_KEY, *EXPORT_KEYS)}
        for key in EXPORT_KEYS:
            assert {FILES_WRITTEN, FILES_UNCHANGED, QUARTERS} <= meta[key].keys(), key
        return meta[PUBLISHED_KEY], meta

    published, exported = run()
    assert published["first_publication"] and published["changed_periods"] == [f"{y}Q{q}" for y in (2006, 2007)
                                                                               for q in range(1, 5)]
    receipts, reports = exported[RECEIPTS_KEY], exported[REPORTS_KEY]
    assert receipts[QUARTERS] == reports[QUARTERS] == ", ".join(published["changed_periods"])
    assert receipts[FILES_UNCHANGED] == 0 and receipts[FILES_WRITTEN] > 0
    assert reports[FILES_WRITTEN] == 8 + 1  # eight quarters' reports and their index
    assert exported[WORKBOOK_KEY][FILES_WRITTEN] == 1 and exported[PAGES_KEY][FILES_WRITTEN] > 0

    with duckdb.connect(str(workdir / "warehouse.duckdb")) as con:  # one finding's wording, in 2007Q1
        con.execute("update marts.compliance_flags set message_zh = ? where flag_id = (select min(flag_id)"
                    " from marts.compliance_flags where period = '2007Q1')", [NEW_MESSAGE])
    published, exported = run()
    receipts, reports = exported[RECEIPTS_KEY], exported[REPORTS_KEY]
    assert not published["first_publication"] and published["changed_periods"] == ["2007Q1"]
    assert receipts[QUARTERS] == reports[QUARTERS] == "2007Q1, 2007Q4"  # what changed, and the run's own quarter
    assert receipts[FILES_WRITTEN] == 1 and receipts[FILES_UNCHANGED] > 0
    # the report counts findings by rule: the wording is not on it, nor on the index
    assert reports[FILES_WRITTEN] == 0 and reports[FILES_UNCHANGED] == 2 + 1


def test_a_failed_export_does_not_hide_the_others(db, tmp_path):
    """The exports are written side by side in one step: when the receipts cannot be written (their folder's
    place is taken by a file), the workbook, the pages and the reports are still materialized with their
    metadata, and the step fails naming the receipts."""
    import dagster as dg

    from pipelines.defs.dbt.runner import DbtSession
    from pipelines.defs.publish import assets as publish
    from pipelines.defs.resources import PlatformConfig

    written = [publish.WORKBOOK_KEY, publish.PAGES_KEY, publish.REPORTS_KEY]
    _copy(db, tmp_path / "work")
    marts = tmp_path / "marts"
    marts.mkdir()
    (marts / "receipts").write_text("not a folder")
    platform = PlatformConfig(inbox=str(tmp_path / "inbox"), workdir=str(tmp_path / "work"),
                              warehouse=str(marts / "warehouse.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(publish.build_publish_assets([]), instance=instance, resources={"platform": platform, "dbt": DbtSession()},
                            partition_key="2007Q4", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "published/receipts" in failure.step_failure_data.error.message
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert set(written) <= materialized and publish.RECEIPTS_KEY not in materialized
    for key in written:
        meta = instance.get_latest_materialization_event(key).asset_materialization.metadata
        assert meta[publish.FILES_WRITTEN].value > 0, key
    assert (marts / "target_tracking.xlsx").exists() and (marts / "report" / "index.html").exists()
