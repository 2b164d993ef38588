"""Operating the code location: the sensors that recover from failures and make them loud."""

from __future__ import annotations

import dagster as dg

from pipelines.defs.automation import default_sensor_status
from pipelines.defs.ops.alerts import build_run_failure_sensor
from pipelines.defs.ops.run_health import build_run_health_sensor


def build_ops_sensors() -> list[dg.SensorDefinition]:
    """Dead runs marked failed (so the inbox sensor retries them), and every failed run alerted."""
    return [build_run_health_sensor(default_sensor_status()), build_run_failure_sensor()]
