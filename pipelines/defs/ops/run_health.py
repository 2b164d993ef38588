"""Runs whose worker died are marked failed, so the queue moves and the inbox sensor can run the quarter again.

Dagster's run monitoring (``run_monitoring`` in deploy/dagster.yaml) fails runs stuck starting or cancelling
and runs over their maximum time, but the default run launcher cannot tell whether a started run's worker
still lives. Every run worker records which process it is when its first step starts (``WORKER_TAG``,
pipelines/defs/resources.py); this sensor marks a started run failed when that process is gone, or when a
run started long ago and never recorded one (it died before its first step).
"""

from __future__ import annotations

import time

import dagster as dg

from pipelines.defs.automation import sensor_interval
from pipelines.defs.resources import WORKER_TAG
from pipelines.lib.ops import liveness

# A worker records itself within seconds of starting; one that has not after this long never will.
UNRECORDED_GRACE_SECONDS = 600


def dead_runs(records: list, now: float) -> list[tuple[dg.DagsterRun, str]]:
    """``(run, why)`` of every started run whose worker is gone (records: Dagster run records)."""
    out = []
    for record in records:
        run = record.dagster_run
        worker = run.tags.get(WORKER_TAG)
        started = record.start_time or record.create_timestamp.timestamp()
        if worker is not None and not liveness.is_alive(worker):
            out.append((run, f"运行进程 PID {worker.partition(':')[0]} 已不存在"))
        elif worker is None and now - started > UNRECORDED_GRACE_SECONDS:
            out.append((run, f"运行开始 {UNRECORDED_GRACE_SECONDS} 秒后仍未记录运行进程"))
    return out


def build_run_health_sensor(default_status: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    @dg.sensor(minimum_interval_seconds=sensor_interval(), default_status=default_status,
               description="运行进程已不存在的运行标记为失败，使队列继续、收件箱传感器重新运行该季度")
    def dead_run_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        records = context.instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        dead = dead_runs(list(records), time.time())
        for run, why in dead:
            message = f"{why}：标记为失败，收件箱传感器将按退避间隔重新运行其季度"
            context.log.warning(f"{run.run_id}: {message}")
            context.instance.report_run_failed(run, message=message)
        return dg.SkipReason(f"已将 {len(dead)} 个失去运行进程的运行标记为失败" if dead else "没有失去运行进程的运行")

    return dead_run_sensor
