"""The inbox sensor: a quarter is requested when what its run would see changed, and again when its run failed.

What a run of a quarter sees is its inbox folder and the registry (pipelines.lib.domain.fingerprint, the same
digest the CLI's no-change check uses) and the reference data, rules, suites and code (``code_digest``): a
late file, a resubmission, a rule change in the seeds or an upgrade each change it. The cursor remembers, per
quarter, the fingerprint last requested and the run key of that request; a quarter whose run failed (a step
failed, the worker was killed and marked failed, the lock wait timed out) is requested again after a growing
delay, a bounded number of times. Every quarter the sensor does not run says why in the tick's log.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.defs.automation import sensor_interval
from pipelines.defs.partitions import not_loaded_reason, quarterly_partitions, range_tags
from pipelines.lib.domain.fingerprint import code_digest, period_digest
from pipelines.lib.domain.periods import Period, is_period
from pipelines.lib.domain.reference import collection_periods

RETRY_BASE_ENV = "SASAC_RETRY_BASE_SECONDS"
RETRY_MAX_ENV = "SASAC_RETRY_MAX_ATTEMPTS"
TRIGGER_TAG = "sasac/trigger"
# Dagster's own tag for the run key of a sensor's request: how a request is found again among the runs.
RUN_KEY_TAG = "dagster/run_key"
FAILED_STATUSES = (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt n of a failed quarter waits ``base · 2^(n-1)`` seconds after the failure, at most ``cap``; after
    ``max_attempts`` runs the quarter waits for a change (a file, a rule, the code) or a person."""

    base_seconds: float = 300.0
    cap_seconds: float = 6 * 3600.0
    max_attempts: int = 5

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RetryPolicy:
        return cls(base_seconds=float(environ.get(RETRY_BASE_ENV, cls.base_seconds)),
                   max_attempts=int(environ.get(RETRY_MAX_ENV, cls.max_attempts)))

    def delay(self, attempts_made: int) -> float:
        return min(self.base_seconds * 2 ** max(attempts_made - 1, 0), self.cap_seconds)


@dataclass(frozen=True)
class Outcome:
    """How the run of a request ended, if it did: a Dagster run status name and its end (epoch seconds)."""

    status: str
    ended_at: float | None = None

    @property
    def failed(self) -> bool:
        return self.status in {s.value for s in FAILED_STATUSES}


@dataclass
class TickPlan:
    run: list[str] = field(default_factory=list)  # quarters to request now
    attempt: int = 1  # the attempt this request is (1: something changed; more: a retry)
    reasons: list[str] = field(default_factory=list)  # one line per quarter not requested, and why
    state: dict[str, dict] = field(default_factory=dict)  # the next cursor, before the request's key is set


def period_fingerprints(inbox: Path, code: str | None = None) -> dict[str, str]:
    """A fingerprint per period folder: what a run of that quarter would see. Entries are looked at, never
    followed nor opened: what a hostile entry is gets decided by the intake."""
    if not inbox.is_dir():
        return {}
    code = code_digest() if code is None else code
    folders = sorted(p.name for p in inbox.iterdir() if is_period(p.name) and not p.is_symlink() and p.is_dir())
    return {str(Period.parse(name)): hashlib.sha256(
        f"{period_digest(inbox, Period.parse(name))}:{code}".encode()).hexdigest()[:16] for name in folders}


def changed_periods(previous: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    return sorted(p for p, fp in current.items() if previous.get(p) != fp)


def load_state(cursor: str | None) -> dict[str, dict]:
    """The cursor as ``{period: {"fp", "key", "attempt"}}``; an older cursor (period → fingerprint) reads as
    requests with no key, which are never retried."""
    raw = json.loads(cursor) if cursor else {}
    return {p: (v if isinstance(v, dict) else {"fp": v, "key": None, "attempt": 1}) for p, v in raw.items()}


def plan_tick(state: Mapping[str, dict], current: Mapping[str, str], runnable: set[str],
              outcomes: Mapping[str, Outcome | None], now: float, policy: RetryPolicy,
              existing: set[str] | None = None) -> TickPlan:
    """Which quarters to request now, and why each other quarter is not requested (a pure function).

    ``existing`` are the quarters that exist (``collection_periods``), ``runnable`` those the loaded code location
    has a partition for (the same list as of its load); a quarter that exists but is not runnable yet ended after
    the load."""
    existing = runnable if existing is None else existing
    tick = TickPlan(state={p: dict(v) for p, v in state.items() if p in current})
    changed, due = [], []
    for period, fp in sorted(current.items()):
        if period not in runnable:
            tick.reasons.append(not_loaded_reason(Period.parse(period)) if period in existing else
                                f"{period}：不是可报送的季度（早于第一个规划期的基期，或尚未结束），文件已留在收件箱")
            tick.state.pop(period, None)
            continue
        last = state.get(period)
        if last is None or last.get("fp") != fp:
            changed.append(period)
            continue
        outcome = outcomes.get(last.get("key") or "")
        if outcome is None or not outcome.failed:
            continue
        made = int(last.get("attempt", 1))
        if made >= policy.max_attempts:
            tick.reasons.append(f"{period}：运行失败，已自动运行 {made} 次，不再重试；收件箱、参考数据或程序变化后"
                                "会再次运行，也可在界面中手动运行")
            continue
        wait = (outcome.ended_at or now) + policy.delay(made) - now
        if wait > 0:
            tick.reasons.append(f"{period}：上次运行失败，约 {wait:.0f} 秒后第 {made + 1} 次运行")
            continue
        due.append((period, made + 1))
    if changed:
        tick.run = changed + [p for p, _ in due]
    elif due:
        tick.run, tick.attempt = [p for p, _ in due], max(n for _, n in due)
    for period in tick.run:
        tick.state[period] = {"fp": current[period], "key": None, "attempt": 1 if period in changed else tick.attempt}
    return tick


def request_key(periods: list[str], state: Mapping[str, dict], attempt: int) -> str:
    """A run key naming what the run sees, and the attempt (Dagster runs one request per key only once)."""
    seen = hashlib.sha256("+".join(f"{p}:{state[p]['fp']}" for p in periods).encode()).hexdigest()[:16]
    return f"inbox-{seen}-{attempt}"


def run_outcome(instance: dg.DagsterInstance, key: str) -> Outcome | None:
    """The newest run made from a request, by its run key; None while it is not created yet."""
    records = instance.get_run_records(dg.RunsFilter(tags={RUN_KEY_TAG: key}), limit=1)
    if not records:
        return None
    record = records[0]
    ended = record.end_time or (record.update_timestamp.timestamp() if record.update_timestamp else None)
    return Outcome(record.dagster_run.status.value, ended)


def build_inbox_sensor(job, inbox: Path,
                       default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED) -> dg.SensorDefinition:
    @dg.sensor(job=job, minimum_interval_seconds=sensor_interval(), default_status=default_status,
               description="收件箱、参考数据或程序有变化时运行相应季度；运行失败的季度按退避间隔自动重跑")
    def inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        state = load_state(context.cursor)
        keys = {v["key"] for v in state.values() if v.get("key")}
        outcomes = {key: run_outcome(context.instance, key) for key in keys}
        runnable = set(quarterly_partitions.get_partition_keys())
        existing = {str(p) for p in collection_periods()}
        tick = plan_tick(state, period_fingerprints(inbox), runnable, outcomes, time.time(), RetryPolicy.from_env(),
                         existing)
        for reason in tick.reasons:
            context.log.warning(reason)
        if not tick.run:
            return dg.SensorResult(cursor=json.dumps(tick.state, sort_keys=True),
                                   skip_reason="；".join(tick.reasons) or "收件箱、参考数据和程序均无变化")
        key = request_key(tick.run, tick.state, tick.attempt)
        for period in tick.run:
            tick.state[period]["key"] = key
        context.log.info(f"请求运行 {', '.join(tick.run)}（第 {tick.attempt} 次，run key {key}）")
        # One run for everything due (every step writes the one working database, and the marts are rebuilt
        # whole anyway): a single quarter by its partition, several as one range run.
        periods = [Period.parse(p) for p in tick.run]
        tags = {TRIGGER_TAG: "inbox" if tick.attempt == 1 else "retry"}
        if len(periods) == 1:
            request = dg.RunRequest(run_key=key, partition_key=periods[0].partition_key, tags=tags)
        else:
            request = dg.RunRequest(run_key=key, tags={**tags, **range_tags(periods)})
        return dg.SensorResult(run_requests=[request], cursor=json.dumps(tick.state, sort_keys=True))

    return inbox_sensor
