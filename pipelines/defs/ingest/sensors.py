"""The inbox sensor: a new or changed file in a period folder requests that quarter's run."""

import hashlib
import json
from pathlib import Path

import dagster as dg

from pipelines.lib.periods import Period, is_period


def period_fingerprints(inbox: Path) -> dict[str, str]:
    """A fingerprint per period folder from its entries' names, sizes and modification times."""
    out: dict[str, str] = {}
    if not inbox.is_dir():
        return out
    registry = inbox / "registry.csv"
    registry_stamp = f"{registry.stat().st_size}:{registry.stat().st_mtime_ns}" if registry.is_file() else ""
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and is_period(p.name)):
        h = hashlib.sha256(registry_stamp.encode())
        for entry in sorted(folder.rglob("*")):
            if entry.is_file():
                st = entry.stat()
                h.update(f"{entry.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        out[str(Period.parse(folder.name))] = h.hexdigest()[:16]
    return out


def changed_periods(previous: dict[str, str], current: dict[str, str]) -> list[str]:
    return sorted(p for p, fp in current.items() if previous.get(p) != fp)


def build_inbox_sensor(job, inbox: Path) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
               description="收件箱有新文件或文件变化时，重跑该季度")
    def inbox_sensor(context: dg.SensorEvaluationContext):
        previous = json.loads(context.cursor) if context.cursor else {}
        current = period_fingerprints(inbox)
        for period in changed_periods(previous, current):
            yield dg.RunRequest(
                run_key=f"{period}-{current[period]}",
                partition_key=Period.parse(period).partition_key,
                tags={"sasac/trigger": "inbox"},
            )
        context.update_cursor(json.dumps(current, sort_keys=True))

    return inbox_sensor
