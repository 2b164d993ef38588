"""The quarterly job, its schedule after the filing deadline, and the inbox sensor."""

import dagster as dg

from pipelines.defs.automation import (  # noqa: F401 - the settings, importable where the schedule lives
    AUTOMATION_ENV,
    automation_running,
    default_schedule_status,
    default_sensor_status,
)
from pipelines.defs.ingest.sensors import build_inbox_sensor
from pipelines.defs.partitions import is_partition, not_loaded_reason
from pipelines.defs.resources import PlatformConfig
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import thresholds_for

quarterly_job = dg.define_asset_job(
    "quarterly_run",
    selection=dg.AssetSelection.all(),
    # Every step writes the one working DuckDB file, which admits a single writer: run steps in sequence.
    executor_def=dg.in_process_executor,
    description="收件 → dbt 集市 → GX 规则检查 → 发布（一个季度，或一次覆盖多个季度）",
)


def schedule_cron(deadline_day: int) -> str:
    """The day after the filing deadline, 06:00, in the month after each quarter."""
    return f"0 6 {deadline_day + 1} 1,4,7,10 *"


def quarter_due(scheduled: Period) -> Period:
    """The quarter whose deadline has just passed when the schedule fires in ``scheduled``."""
    return scheduled.previous()


def build_schedule() -> dg.ScheduleDefinition:
    deadline_day = int(thresholds_for(Period(2006, 1))["deadline_day"])

    @dg.schedule(job=quarterly_job, cron_schedule=schedule_cron(deadline_day), execution_timezone="Asia/Shanghai",
                 default_status=default_schedule_status(),
                 description="每季度报送截止日次日 06:00 处理上一季度")
    def quarterly_schedule(context: dg.ScheduleEvaluationContext):
        period = quarter_due(Period.from_date(context.scheduled_execution_time.date()))
        if not is_partition(period):
            return dg.SkipReason(not_loaded_reason(period))
        return dg.RunRequest(partition_key=period.partition_key, tags={"sasac/trigger": "schedule"})

    return quarterly_schedule


def build_automation(platform: PlatformConfig) -> list:
    return [build_schedule(), build_inbox_sensor(quarterly_job, platform.inbox_path, default_sensor_status())]
