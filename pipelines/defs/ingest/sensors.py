"""The inbox sensor: a new or changed file in a period folder requests that quarter's run."""

import json
from pathlib import Path

import dagster as dg

from pipelines.defs.partitions import range_tags
from pipelines.lib.domain.fingerprint import period_digest
from pipelines.lib.domain.periods import Period, is_period
from pipelines.lib.domain.reference import default_plan_periods


def period_fingerprints(inbox: Path) -> dict[str, str]:
    """A fingerprint per period folder: the run's own inbox digest (pipelines.lib.domain.fingerprint), so the
    sensor asks for a run exactly when a run would find something new. Entries are looked at, never followed
    nor opened: what a hostile entry is gets decided by the intake."""
    if not inbox.is_dir():
        return {}
    folders = sorted(p.name for p in inbox.iterdir() if is_period(p.name) and not p.is_symlink() and p.is_dir())
    return {str(Period.parse(name)): period_digest(inbox, Period.parse(name))[:16] for name in folders}


def changed_periods(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(p for p, fp in current.items() if previous.get(p) != fp)


def build_inbox_sensor(job, inbox: Path,
                       default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=default_status,
               description="收件箱有新文件或文件变化时，重跑该季度")
    def inbox_sensor(context: dg.SensorEvaluationContext):
        previous = json.loads(context.cursor) if context.cursor else {}
        current = period_fingerprints(inbox)
        # A folder for a quarter outside every plan of the reference data waits until its plan's rows are added.
        plan = {str(p) for p in default_plan_periods()}
        changed = [p for p in changed_periods(previous, current) if p in plan]
        current = {p: fp for p, fp in current.items() if p in plan}
        if changed:
            # One run for everything that changed (every step writes the one working database, and the marts
            # are rebuilt whole anyway): a single quarter by its partition, several as one range run.
            periods = [Period.parse(p) for p in changed]
            run_key = "+".join(f"{p}-{current[p]}" for p in changed)
            tags = {"sasac/trigger": "inbox"}
            if len(periods) == 1:
                yield dg.RunRequest(run_key=run_key, partition_key=periods[0].partition_key, tags=tags)
            else:
                yield dg.RunRequest(run_key=run_key, tags={**tags, **range_tags(periods)})
        context.update_cursor(json.dumps(current, sort_keys=True))

    return inbox_sensor
