"""The GX suites in expectations/ as one flags asset plus one asset check per suite.

The suites run once, in the ``expectation_flags`` asset, which writes their flags and results to
the working database; each suite's asset check then reads its own result from there (checks on
partitioned assets query DuckDB rather than load the asset). A failed suite is a finding, never a
failed run. The gate that stops a run with untrustworthy marts is dbt's own: a failing dbt test
(unique / not_null keys, relationships, accepted values, enforced contracts) fails the dbt build
step, so nothing downstream of the marts — these suites, the flag marts, publication — runs.
"""

import json
from pathlib import Path

import dagster as dg

from pipelines.defs.expectations.process import ExpectationsProcess
from pipelines.defs.groups import EXPECTATIONS
from pipelines.defs.partitions import periods_of, quarterly_partitions
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.warehouse import connect
from pipelines.lib.expectations.suites import load_suites

FLAGS_KEY = dg.AssetKey(["flags", "expectation_flags"])
DOCS_DIRNAME = "data_docs"

RESULTS_DDL = """
create schema if not exists flags;
create table if not exists flags.expectation_results (
    suite varchar, period_from varchar, period_to varchar, success boolean, failing_count bigint,
    metadata_json varchar, primary key (suite, period_from, period_to)
)
"""


def _mart_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", table])


def _target(suite) -> dg.AssetKey:
    # A suite spanning several marts is checked on its first table (the one its rules are about).
    return _mart_key(suite.tables[0])


def suite_validation_pages(docs_dir: Path, suite_name: str) -> list[Path]:
    """The suite's validation pages in the run's Data Docs: GX names their folders ``<suite>__<batch>``."""
    root = docs_dir / "validations"
    if not root.is_dir():
        return []
    folders = [f for f in root.iterdir() if f.is_dir() and f.name.split("__")[0] == suite_name]
    return sorted(p for f in folders for p in f.rglob("*.html"))


def suite_docs_page(docs_dir: Path, suite_name: str) -> Path:
    """The Data Docs page a person opens from a suite's check: its validation page when the suite validated one
    batch, else the suite's own page (its rules; the site's index lists each batch's results), else the index.
    The site is rebuilt by every run, so these are this run's pages."""
    validations = suite_validation_pages(docs_dir, suite_name)
    if len(validations) == 1:
        return validations[0]
    suite_page = docs_dir / "expectations" / f"{suite_name}.html"
    return suite_page if suite_page.exists() else docs_dir / "index.html"


def _docs_links(docs_dir: Path, suite_name: str) -> dict[str, dg.MetadataValue]:
    page = suite_docs_page(docs_dir, suite_name)
    links = {"data_docs": dg.MetadataValue.url(page.resolve().as_uri()),
             "data_docs_path": dg.MetadataValue.path(str(page))}
    validations = suite_validation_pages(docs_dir, suite_name)
    if len(validations) > 1:
        links["data_docs_validations"] = dg.MetadataValue.md(
            "\n".join(f"- [{v.parent.parent.parent.name}]({v.resolve().as_uri()})" for v in validations))
    return links


def _check_result(suite_name: str, target: dg.AssetKey, success: bool, failing: int, meta: dict,
                  docs_dir: Path | None = None) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=suite_name,
        asset_key=target,
        passed=success,
        # Non-compliance is a finding, not a failed run.
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failing_count": failing,
            "sample_failing_keys": dg.MetadataValue.json(meta.get("sample_failing_keys", [])),
            "rows_evaluated": meta.get("rows_evaluated", 0),
            "tables": meta.get("tables", ""),
            "seconds": meta.get("seconds", 0.0),
            **(_docs_links(docs_dir, suite_name) if docs_dir is not None else {}),
        },
    )


def build_expectation_defs() -> tuple[list[dg.AssetsDefinition], list[dg.AssetChecksDefinition]]:
    suites = load_suites()
    mart_deps = sorted({_mart_key(t) for s in suites for t in s.tables}, key=lambda k: k.to_user_string())

    @dg.asset(key=FLAGS_KEY, deps=mart_deps, partitions_def=quarterly_partitions, group_name=EXPECTATIONS,
              kinds={"great_expectations", "duckdb"}, backfill_policy=dg.BackfillPolicy.single_run(),
              description="GX 规则检查发现的问题（每条一行，可追溯到规则与政策条款）")
    def expectation_flags(context: dg.AssetExecutionContext, platform: PlatformConfig,
                          gx: ExpectationsProcess) -> dg.MaterializeResult:
        periods = [str(p) for p in periods_of(context)]
        # The marts are rebuilt whole, so a change in one quarter can move flags of others (the year's Q4
        # rules, the D08 median, the C05 baseline): validate every quarter the warehouse holds.
        with connect(platform.work_db, read_only=True) as con:
            held = [p for (p,) in con.execute("select distinct period from marts.filing_status").fetchall()]
        docs = platform.marts_dir / DOCS_DIRNAME
        run = gx.validate(platform.work_db, sorted({*periods, *held}), docs, log=context.log,
                          suite_names=[s.name for s in suites])
        context.log.info(f"expectations: {len(run.suites)}/{len(suites)} suites validated, {run.flag_count} flags")
        with connect(platform.work_db) as con:
            con.execute(RESULTS_DDL)
            for name, result in run.suites.items():
                con.execute(
                    "insert or replace into flags.expectation_results values (?, ?, ?, ?, ?, ?)",
                    [name, periods[0], periods[-1], result.success, result.failing_count,
                     json.dumps(result.metadata(), ensure_ascii=False, default=str)],
                )
        return dg.MaterializeResult(metadata={
            "flag_count": run.flag_count,
            "data_docs": dg.MetadataValue.path(str(run.docs_index)) if run.docs_index else "",
            **{f"seconds_{k}": round(v, 2) for k, v in run.timings.items()},
        })

    @dg.multi_asset_check(
        specs=[dg.AssetCheckSpec(s.name, asset=_target(s), additional_deps=[FLAGS_KEY],
                                 description=f"GX 规则组 {s.name}（expectations/{s.name}.json）") for s in suites],
        can_subset=True,
    )
    def suite_checks(context: dg.AssetCheckExecutionContext, platform: PlatformConfig):
        periods = [str(p) for p in periods_of(context)]
        with connect(platform.work_db, read_only=True) as con:
            rows = con.execute(
                "select suite, success, failing_count, metadata_json from flags.expectation_results"
                " where period_from = ? and period_to = ?", [periods[0], periods[-1]]).fetchall()
        found = {r[0]: r for r in rows}
        for s in suites:
            check_key = dg.AssetCheckKey(_target(s), s.name)
            if check_key not in context.selected_asset_check_keys:
                continue
            _, success, failing, meta = found.get(s.name, (s.name, False, 0, "{}"))
            yield _check_result(s.name, _target(s), bool(success), int(failing), json.loads(meta),
                                platform.marts_dir / DOCS_DIRNAME)

    return [expectation_flags], [suite_checks]
