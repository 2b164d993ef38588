"""The inbox sensor: a new or changed file in a period folder requests that quarter's run."""

import hashlib
import json
import os
from pathlib import Path

import dagster as dg

from pipelines.defs.partitions import range_tags
from pipelines.lib.domain.periods import Period, is_period


def period_fingerprints(inbox: Path) -> dict[str, str]:
    """A fingerprint per period folder from its entries' names, sizes and modification times.

    Entries are looked at, never followed (a symlink is fingerprinted as itself) and never opened, so no
    entry of a hostile inbox can stop or mislead the sensor: what it is gets decided by the intake.
    """
    out: dict[str, str] = {}
    if not inbox.is_dir():
        return out
    registry = inbox / "registry.csv"
    try:
        st = registry.stat()
        registry_stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        registry_stamp = ""
    for folder in sorted(p for p in inbox.iterdir() if is_period(p.name) and not p.is_symlink() and p.is_dir()):
        h = hashlib.sha256(registry_stamp.encode())
        for root, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(files + dirs):
                entry = Path(root) / name
                try:
                    st = os.lstat(entry)
                except OSError:
                    continue
                rel = os.fsencode(entry.relative_to(folder))
                h.update(rel + f"\0{st.st_mode}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
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
        changed = changed_periods(previous, current)
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
