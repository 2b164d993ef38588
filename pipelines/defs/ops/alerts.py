"""The run-failure alert: every failed run of the code location is mailed and recorded in the working area.

``run_failure_alert`` is a Dagster run-failure sensor, so the daemon evaluates it: it covers every job of the
code location run in DAGSTER_HOME (the schedule's, the inbox sensor's, the UI's). ``sasac-skills run`` executes
on a throw-away instance and reports its failure in the terminal, not here. When the daemon itself is down
nothing here runs; that is the watchdog's job (``sasac-skills watchdog``).

The alert names the run, its quarters, the failed steps and their error class and message (cut to 2,000
characters), never data of a submission. Settings: pipelines/lib/ops/alerts.py; ``SASAC_DAGSTER_URL`` (the
UI's address as people reach it, e.g. ``http://sasac-etl:3000``) adds a link to the run;
``SASAC_SENSOR_INTERVAL`` sets how often the daemon looks for failed runs (pipelines/defs/automation.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import dagster as dg

from pipelines.defs.automation import default_sensor_status, sensor_interval
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.ops.alerts import send_alert, truncate

SUBJECT_PREFIX = "【高技能人才平台】"
DAGSTER_URL_ENV = "SASAC_DAGSTER_URL"


def run_quarters(tags: Mapping[str, str]) -> str:
    """The quarters a run covers, from its tags: ``2009Q2``, ``2006Q1–2010Q4``, or empty."""
    if tags.get("dagster/partition"):
        return tags["dagster/partition"]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}–{end}"
    return ""


def root_error(error) -> str:
    """``RuntimeError: …`` of the innermost cause: Dagster wraps a step's own exception in its step error."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return truncate(error.message) if error is not None else ""


def run_failure_text(run: dg.DagsterRun, run_message: str, step_errors: Mapping[str, str],
                     dagster_url: str | None) -> tuple[str, str, dict]:
    """Subject, body and details of the alert for a failed run."""
    quarters = run_quarters(run.tags)
    subject = " ".join(filter(None, [f"{SUBJECT_PREFIX}运行失败", quarters, f"run {run.run_id[:8]}"]))
    link = f"{dagster_url.rstrip('/')}/runs/{run.run_id}" if dagster_url else None
    lines = [
        "季度报表流水线的一次运行失败了。",
        f"运行 ID：{run.run_id}",
        f"作业：{run.job_name}",
        f"季度：{quarters or '（未分区）'}",
        f"失败步骤：{'、'.join(step_errors) or '（无步骤失败，运行本身失败）'}",
        f"失败信息：{truncate(run_message)}",
    ]
    lines += [f"  {step}：{error}" for step, error in step_errors.items()]
    if link:
        lines.append(f"详情：{link}")
    lines.append("修复后可在 Dagster 界面重新执行该运行，或用 sasac-skills run 重跑相应季度。")
    details = {
        "run_id": run.run_id,
        "job": run.job_name,
        "quarters": quarters,
        "failure_reason": run.tags.get("dagster/failure_reason", ""),
        "failed_steps": list(step_errors),
        "errors": dict(step_errors),
        "message": truncate(run_message),
        "url": link,
    }
    return subject, "\n".join(lines), details


def step_errors_of(events: Sequence[dg.DagsterEvent]) -> dict[str, str]:
    return {event.step_key or "?": root_error(getattr(event.event_specific_data, "error", None))
            for event in events}


def build_run_failure_sensor(environ: Mapping[str, str] = os.environ) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert",
        minimum_interval_seconds=sensor_interval(environ),
        default_status=default_sensor_status(environ),
        description="运行失败时写入告警记录（logs/alerts.jsonl），并按 SASAC_ALERT_* 设置发邮件",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
        step_errors = step_errors_of(context.get_step_failure_events())
        run_message = context.failure_event.message or ""
        if not step_errors:
            # A run that fails outside any step (its worker died, a resource did not start) says why here.
            run_message = "\n".join(filter(None, [run_message, root_error(
                getattr(context.failure_event.event_specific_data, "error", None))]))
        subject, body, details = run_failure_text(context.dagster_run, run_message, step_errors,
                                                  os.environ.get(DAGSTER_URL_ENV, "").strip() or None)
        # Read inside: a run-failure sensor takes no resources in every Dagster version; this is the same
        # working area the runs were given.
        record = send_alert(Path(PlatformConfig.from_env().workdir), "run_failure", subject, body, details)
        context.log.info(f"告警已记录：{subject}（邮件：{record['email']}）")

    return run_failure_alert
