"""How the automation starts: the schedule and the sensors run on their own only in production, and how often the
sensors look. One place, read by every schedule and sensor of the code location."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

# Set by the production deployment (deploy/production.env) so the daemon starts the schedule and the sensor on
# its own; anywhere else (`make dev`, tests) they start stopped and opening the UI runs nothing.
AUTOMATION_ENV = "SASAC_AUTOMATION"


def automation_running(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the schedule and the inbox sensor start running (production) or stopped (everywhere else)."""
    return environ.get(AUTOMATION_ENV, "").strip().lower() in ("on", "1", "true", "yes")


def default_schedule_status(environ: Mapping[str, str] = os.environ) -> dg.DefaultScheduleStatus:
    return dg.DefaultScheduleStatus.RUNNING if automation_running(environ) else dg.DefaultScheduleStatus.STOPPED


def default_sensor_status(environ: Mapping[str, str] = os.environ) -> dg.DefaultSensorStatus:
    return dg.DefaultSensorStatus.RUNNING if automation_running(environ) else dg.DefaultSensorStatus.STOPPED


SENSOR_INTERVAL_ENV = "SASAC_SENSOR_INTERVAL"


def sensor_interval(environ: Mapping[str, str] = os.environ) -> int:
    """Seconds between two evaluations of each sensor (the inbox, dead runs, failure alerts); default a minute."""
    text = environ.get(SENSOR_INTERVAL_ENV, "").strip() or "60"
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{SENSOR_INTERVAL_ENV} 应为正整数（秒），现为 {text!r}")
    return int(text)
