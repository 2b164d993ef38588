"""Run retention: delete the Dagster runs (and their event logs) of the persistent instance that ended long ago.

Ticks have Dagster's own ``retention:`` setting (deploy/dagster.yaml); runs have none, so the weekly
``sasac-skills prune-runs`` (deploy/systemd/sasac-prune-runs.timer) does it through the instance's public API
(``get_run_records`` and ``delete_run``, both marked public in Dagster 1.13).
Only finished runs go (success, failure, canceled); a queued or running run is never touched. What a run
produced lives in the working area and the warehouse, not in Dagster's storage: deleting a run loses its
event log and the UI's history of it, nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

_BATCH = 100


class RetentionError(Exception):
    """A problem the operator can fix; the message is one line."""


@dataclass(frozen=True)
class PruneResult:
    cutoff: dt.datetime
    deleted: int
    dry_run: bool


def prune_runs(older_than_days: int, dry_run: bool = False) -> PruneResult:
    """Delete every finished run of ``$DAGSTER_HOME``'s instance last updated before now − ``older_than_days``."""
    import dagster as dg

    home = os.environ.get("DAGSTER_HOME", "")
    if not home or not os.path.isdir(home):
        raise RetentionError(f"DAGSTER_HOME {'未设置' if not home else home + ' 不是目录'}：请指向生产环境的 Dagster 目录"
                             "（例如 /srv/sasac/dagster）")
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=older_than_days)
    finished = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]
    runs_filter = dg.RunsFilter(statuses=finished, updated_before=cutoff)
    deleted = 0
    try:
        instance = dg.DagsterInstance.get()
    except dg.DagsterInvalidConfigError as exc:
        raise RetentionError(f"{home}/dagster.yaml 配置有误：{str(exc).splitlines()[0]}") from None
    with instance:
        if dry_run:
            return PruneResult(cutoff, len(instance.get_run_records(runs_filter)), True)
        while True:  # in batches: a first prune after years may find tens of thousands
            records = instance.get_run_records(runs_filter, limit=_BATCH)
            for record in records:
                instance.delete_run(record.dagster_run.run_id)
            deleted += len(records)
            if len(records) < _BATCH:
                break
    return PruneResult(cutoff, deleted, False)
