"""dbt in the step's process through dbt's documented programmatic entry point, ``dbtRunner``.

A ``dbt build`` subprocess (dagster-dbt's ``DbtCliResource``) starts Python, imports dbt and parses the project
again before its first node, for each of the run's two builds; here the run parses the project once and both
builds reuse that manifest (``dbtRunner(manifest=...)``). docs/architecture.md has the measurement behind the
choice.

What dagster-dbt's resource did for a step is done here from public parts: the nodes a step selects come from the
asset and check specs ``@dbt_assets`` wrote (their ``dagster_dbt/unique_id`` metadata), and each node result of
``dbtRunnerResult.result`` becomes a ``MaterializeResult`` (models, seeds) or an ``AssetCheckResult`` (data
tests). dbt's own lines (``n of m OK …``) still go to stdout, which the run's log and its progress read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtProject
from pydantic import PrivateAttr

from pipelines.lib import heap

UNIQUE_ID = "dagster_dbt/unique_id"  # the spec metadata @dbt_assets writes on every asset and check it defines
SELECT_TAG = "dagster_dbt/select"  # the op tag @dbt_assets writes: the step's dbt selection
MATERIALIZED = frozenset({"model", "seed", "snapshot"})
# No dbt.log: each node's line, warnings and errors reach the run's log through stdout, and the SQL of every
# node is under the target folder (compiled/, run/). No manifest.json or run_results.json either: the run reads
# each node's result from dbtRunnerResult, the parse is kept in memory (DbtSession), dbt keeps its partial parsing
# as it always does (the flag leaves it alone), and Dagster's assets come from the project's own manifest
# (project.py); dbt would otherwise serialise the whole manifest after the parse and after every build.
COMMON_FLAGS = ["--no-use-colors", "--log-level-file", "none", "--no-write-json"]


class DbtFailure(dg.Failure):
    """A dbt invocation that failed: the step fails with its failing nodes and their messages."""


def _paths(project: DbtProject, target: Path) -> list[str]:
    return ["--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir),
            "--target-path", str(target), "--log-path", str(target), *COMMON_FLAGS]


def _release_database() -> None:
    """Close the DuckDB file dbt-duckdb holds until its process exits: the steps after a build (GX, publishing)
    open that file, and DuckDB admits one writer. Both calls are public: dbt's adapter factory drops its
    adapters, and dbt-duckdb's ``close_all_connections`` is the hook it registers to run at exit."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    from dbt.adapters.factory import reset_adapters

    reset_adapters()
    DuckDBConnectionManager.close_all_connections()


class DbtSession(dg.ConfigurableResource):
    """The run's dbt: one parse of the project per target folder, shared by the run's dbt steps."""

    _manifests: dict[str, Any] = PrivateAttr(default_factory=dict)

    def manifest(self, project: DbtProject, target: Path) -> Any:
        """The parsed project (dbt's ``Manifest``), parsed into ``target`` on first use in this run."""
        key = str(target)
        if key not in self._manifests:
            from dbt.cli.main import dbtRunner

            result = dbtRunner().invoke(["parse", "--quiet", *_paths(project, target)])
            if not result.success:
                raise DbtFailure(description=f"dbt parse of {project.project_dir} failed: {result.exception}"
                                 ) from result.exception
            self._manifests[key] = result.result
            heap.freeze_long_lived()  # the manifest lives as long as the run
        return self._manifests[key]

    def invoke(self, args: list[str], project: DbtProject, target: Path) -> Any:
        """``dbt <args>`` on the parsed project (dbt's ``dbtRunnerResult``); the working database is let go when
        it ends."""
        from dbt.cli.main import dbtRunner

        try:
            return dbtRunner(manifest=self.manifest(project, target)).invoke([*args, *_paths(project, target)])
        finally:
            _release_database()

    def build(self, context: dg.AssetExecutionContext, args: list[str], project: DbtProject,
              target: Path) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        """``dbt <args>`` on the nodes this step selects, yielding one Dagster event per node result."""
        selection = _selection(context, self.manifest(project, target))
        context.log.info(f"Running dbt command: `dbt {' '.join([*args, *selection])}`.")
        result = self.invoke([*args, *selection], project, target)
        node_results = list(result.result.results) if result.result is not None else []
        yield from node_events(context, node_results)
        failed = [f"{r.node.unique_id}: {r.message}" for r in node_results if str(r.status) in ("error", "fail")]
        if not result.success:
            detail = "\n".join(failed) or str(result.exception or "")
            raise DbtFailure(description=f"dbt {' '.join(args)} failed:\n{detail}") from result.exception


    def snapshot(self, project: DbtProject, target: Path, database: Path) -> None:
        """``dbt snapshot`` of every snapshot of the project on ``database`` (the marts' history, taken by a run
        that makes a release: pipelines/lib/exports/history.py), reusing the run's parse."""
        import os

        from dbt.cli.main import dbtRunner

        os.environ["SASAC_BUILD_DB"] = str(database)
        manifest = self.manifest(project, target)
        try:
            result = dbtRunner(manifest=manifest).invoke(["snapshot", *_paths(project, target)])
        finally:
            _release_database()
        if not result.success:
            node_results = list(result.result.results) if result.result is not None else []
            failed = [f"{r.node.unique_id}: {r.message}" for r in node_results if str(r.status) == "error"]
            raise DbtFailure(description="dbt snapshot failed:\n" + ("\n".join(failed) or str(result.exception or ""))
                             ) from result.exception


def _spec_ids(context: dg.AssetExecutionContext) -> tuple[dict[str, dg.AssetKey], dict[str, dg.AssetCheckKey]]:
    assets_def = context.assets_def
    assets = {spec.metadata[UNIQUE_ID]: spec.key for spec in assets_def.specs if UNIQUE_ID in spec.metadata}
    checks = {spec.metadata[UNIQUE_ID]: spec.key for spec in assets_def.check_specs if UNIQUE_ID in spec.metadata}
    return assets, checks


def _selection(context: dg.AssetExecutionContext, manifest: Any) -> list[str]:
    """The step's nodes: the op's own selection when it runs whole, else each selected node by name."""
    assets, checks = _spec_ids(context)
    chosen = [uid for uid, key in assets.items() if key in context.selected_asset_keys]
    chosen_checks = [uid for uid, key in checks.items() if key in context.selected_asset_check_keys]
    if len(chosen) == len(assets) and len(chosen_checks) == len(checks):
        return ["--select", context.op_def.tags[SELECT_TAG]]
    names = [".".join(manifest.nodes[uid].fqn) for uid in [*chosen, *chosen_checks]]
    return ["--select", *names, "--indirect-selection", "empty"]


def node_events(context: dg.AssetExecutionContext,
                node_results: list[Any]) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """One Dagster event per dbt node result of a selected asset or check: a model or seed built, a test run."""
    assets, checks = _spec_ids(context)
    for r in node_results:
        uid, status = r.node.unique_id, str(r.status)
        metadata = {"unique_id": uid, "Execution Duration": r.execution_time}
        if r.node.resource_type in MATERIALIZED and uid in assets and status == "success":
            rows = getattr(r.adapter_response, "rows_affected", None) if r.adapter_response else None
            if rows is not None:
                metadata["rows_affected"] = rows
            yield dg.MaterializeResult(asset_key=assets[uid], metadata=metadata)
        elif uid in checks and status in ("pass", "warn", "fail", "error"):
            key = checks[uid]
            yield dg.AssetCheckResult(
                asset_key=key.asset_key, check_name=key.name, passed=status == "pass",
                severity=dg.AssetCheckSeverity.WARN if status == "warn" else dg.AssetCheckSeverity.ERROR,
                metadata={**metadata, "status": status, "failures": r.failures if r.failures is not None else 0})
