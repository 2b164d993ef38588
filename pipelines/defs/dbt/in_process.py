"""dbt run inside the Dagster step's process (dbt's programmatic ``dbtRunner``), not as a subprocess.

Why: a ``dbt build`` subprocess pays Python's start, dbt's imports and a partial parse of the project
before it runs a node (3–4 s each; the flag build's own work is under 1 s). Measured on a
1,000-enterprise quarter: the two subprocesses cost 18.8 s, in-process 13.4 s (imports 1.7 s and one parse
1.2 s, paid once per run; the parsed manifest is handed to the second build).

What stays dagster-dbt's: which nodes a step selects (``get_updated_cli_invocation_params_for_context``) and
how a dbt result becomes Dagster events (``DbtCoreCliEventMessage.to_default_asset_events``, fed the same
dict a JSON log line holds). dbt's own log lines go to stdout as before (the run's log file). A failed
node fails the step after its events are reported, as with the subprocess.

dbt-duckdb keeps its DuckDB database open in a class-level environment until the process exits; it is closed
after every build, so the steps that follow (GX, publishing) can open the file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtProject
from dagster_dbt.asset_utils import (
    extract_runtime_selection_from_args,
    get_updated_cli_invocation_params_for_context,
)
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from pipelines.lib import heap

# The events dagster-dbt turns into Dagster events (DbtCoreCliEventMessage.is_result_event); the rest
# (thousands of debug events a build) are not converted.
RESULT_EVENTS = frozenset({"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"})

# One parsed project per (run, target folder): the run's second build reuses the first one's parse.
_parsed: dict[tuple[str, str], Any] = {}


def _common_args(project: DbtProject, target_path: Path) -> list[str]:
    # No dbt.log: at its default (debug) level dbt formats ~5,600 events a build into it, 10% of the core build
    # (1,000 enterprises, in process, three runs each: 6.22-6.32 s, 5.54-5.71 s without; "warn" measured in
    # between). Each node's line, warnings and errors still reach the run's log through stdout, and the SQL of
    # every node is under the target folder (compiled/, run/).
    return ["--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir),
            "--target-path", str(target_path), "--log-path", str(target_path), "--log-level-file", "none",
            "--no-use-colors"]


def parse(project: DbtProject, target_path: Path) -> Any:
    """``dbt parse`` of the project into ``target_path``: the parsed manifest (also written there)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(["parse", "--quiet", *_common_args(project, target_path)])
    if not result.success:
        raise DagsterDbtCliRuntimeError(f"dbt parse of {project.project_dir} failed: {result.exception}"
                                        ) from result.exception
    return result.result


def _manifest(run_id: str, project: DbtProject, target_path: Path) -> Any:
    key = (run_id, str(target_path))
    if key not in _parsed:
        manifest = parse(project, target_path)
        _parsed.clear()  # a long-lived process (tests, dagster dev) keeps only the current run's
        _parsed[key] = manifest
        heap.freeze_long_lived()  # the manifest lives as long as the run
    return _parsed[key]


def _close_duckdb() -> None:
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    env = DuckDBConnectionManager._ENV  # dbt-duckdb's own handle on the database; no public accessor
    if env is not None:
        env.close()
    DuckDBConnectionManager.close_all_connections()


def build(context: dg.AssetExecutionContext, args: Sequence[str], project: DbtProject,
          target_path: Path) -> Iterator[Any]:
    """``dbt <args>`` on the nodes this step selects, yielding the Dagster events dagster-dbt would.

    The events are reported once dbt is done: turning them into Dagster events while dbt ran held the GIL
    against dbt's own threads (1,000 enterprises: dbt's core build took 7.5-9.2 s inside the step that way,
    5.8-6.5 s this way)."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    cleaned, selects, excludes = extract_runtime_selection_from_args(list(args))
    params = get_updated_cli_invocation_params_for_context(
        context=context, manifest={}, dagster_dbt_translator=None,  # both come from context.assets_def
        runtime_selects=selects, runtime_excludes=excludes)
    parsed = _manifest(context.run.run_id, project, target_path)
    results: list[dict[str, Any]] = []
    errors: list[str] = []

    def on_event(msg: Any) -> None:  # on dbt's threads
        if msg.info.name in RESULT_EVENTS:
            results.append(msg_to_dict(msg))
        elif msg.info.level == "error":
            errors.append(msg.info.msg)

    context.log.info(f"dbt (in process): {' '.join([*cleaned, *params.selection_args])}")
    try:
        result = dbtRunner(manifest=parsed, callbacks=[on_event]).invoke(
            [*cleaned, *params.selection_args, *_common_args(project, target_path)])
    finally:
        _close_duckdb()
    for raw in results:
        yield from DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={}).to_default_asset_events(
            manifest=params.manifest, dagster_dbt_translator=params.dagster_dbt_translator, context=context,
            target_path=target_path, project=params.dbt_project)
    if not result.success:
        detail = "\n".join(errors) or str(result.exception or "")
        raise DagsterDbtCliRuntimeError(f"dbt {' '.join(cleaned)} failed:\n{detail}") from result.exception
