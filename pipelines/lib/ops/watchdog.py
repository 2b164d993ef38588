"""The daemon watchdog: alert when the Dagster daemon stops, and when it comes back.

While the daemon is down nothing is automatic — no schedule, no inbox sensor, and no run-failure alert — so
this check runs outside it, from a systemd timer (``sasac-skills watchdog`` every 5 minutes). It asks the
daemon's own liveness check (``dagster-daemon liveness-check``: recent heartbeats in DAGSTER_HOME's storage)
and keeps its last verdict in ``<workdir>/logs/watchdog.json``, so that a change is alerted once: healthy →
down sends ``daemon_down`` (so does a first check finding it down), down → healthy ``daemon_recovered``, and a
daemon that stays down is alerted again at most every ``repeat`` (6 hours by default). A check that cannot run
or does not answer in time counts as down: silence must never pass for health.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.ops.alerts import MESSAGE_LIMIT, AlertSettings, send_alert

log = logging.getLogger(__name__)

STATE_FILE = Path("logs") / "watchdog.json"
CHECK_TIMEOUT_SECONDS = 120  # the check imports Dagster: slow when idle, far slower on a busy host mid-run
SUBJECT_PREFIX = "【高技能人才平台】"


class WatchdogError(Exception):
    """The watchdog cannot check anything (no DAGSTER_HOME): one line for the person who set it up."""


@dataclass(frozen=True)
class Liveness:
    healthy: bool
    output: str  # what the check printed, trimmed: it goes into the alert


@dataclass(frozen=True)
class Decision:
    alert: str | None  # "daemon_down", "daemon_recovered" or None
    state: dict  # what watchdog.json holds after this check


def check_daemon(environ: Mapping[str, str] = os.environ,
                 timeout: float = CHECK_TIMEOUT_SECONDS) -> Liveness:
    """Run ``dagster-daemon liveness-check`` (beside this Python) against the caller's DAGSTER_HOME."""
    if not environ.get("DAGSTER_HOME"):
        # Without it the check looks at a throw-away instance and always says "not running".
        raise WatchdogError("未设置 DAGSTER_HOME：请使用与守护进程相同的 DAGSTER_HOME 运行 watchdog")
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "liveness-check"]
    try:
        done = subprocess.run(command, env=dict(environ), capture_output=True, text=True, timeout=timeout,
                              check=False)
    except subprocess.TimeoutExpired:
        return Liveness(False, f"dagster-daemon liveness-check 在 {timeout:.0f} 秒内没有返回")
    except OSError as exc:
        return Liveness(False, f"无法运行 {command[0]}：{exc}")
    output = "\n".join(part.strip() for part in (done.stdout, done.stderr) if part.strip())
    if len(output) > MESSAGE_LIMIT:
        # A traceback ends with the error: keep the end.
        output = f"……（已截断，共 {len(output)} 字符）" + output[-MESSAGE_LIMIT:]
    return Liveness(done.returncode == 0, output)


def decide(previous: Mapping | None, healthy: bool, now: dt.datetime, repeat: dt.timedelta) -> Decision:
    """Whether this check alerts, and the state to keep (a pure function of the last state and this check)."""
    stamp = now.isoformat(timespec="seconds")
    was = previous.get("status") if previous else None
    status = "healthy" if healthy else "down"
    since = previous.get("since", stamp) if was == status else stamp
    state = {"status": status, "since": since, "checked_at": stamp,
             "last_alert_at": previous.get("last_alert_at") if previous else None}
    alert = None
    if healthy:
        if was == "down":
            alert = "daemon_recovered"
    elif was != "down":
        alert = "daemon_down"
    else:
        last = _parse_time(state["last_alert_at"])
        if last is None or now - last >= repeat:
            alert = "daemon_down"
    if alert:
        state["last_alert_at"] = stamp
    return Decision(alert, state)


def _parse_time(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def load_state(path: Path) -> dict | None:
    """The last check's state; None when there is none, or it is unreadable (then this is a first check)."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("看门狗状态文件 %s 无法读取（%s），按首次检查处理", path, exc)
        return None
    return state if isinstance(state, dict) else None


def save_state(path: Path, state: dict) -> None:
    """Replace the file whole (write beside it, then rename): a check killed midway leaves the old state."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, path)


def alert_text(kind: str, state: Mapping, previous: Mapping | None, liveness: Liveness,
               dagster_home: str) -> tuple[str, str, dict]:
    host = socket.gethostname()
    details = {"host": host, "dagster_home": dagster_home, "since": state["since"],
               "check_output": liveness.output}
    if kind == "daemon_recovered":
        down_since = previous.get("since", "?") if previous else "?"
        details["down_since"] = down_since
        subject = f"{SUBJECT_PREFIX}Dagster 守护进程已恢复 {host}"
        body = "\n".join([
            f"主机 {host} 上的 Dagster 守护进程已恢复运行（{state['checked_at']} 检查）。",
            f"停止时间：约自 {down_since} 起。",
            "停止期间调度、收件箱传感器和运行失败告警都没有运行：请在 Dagster 界面核对这段时间内应运行的季度。",
        ])
        return subject, body, details
    repeated = previous is not None and previous.get("status") == "down"
    details["repeat"] = repeated
    subject = f"{SUBJECT_PREFIX}Dagster 守护进程{'仍' if repeated else ''}未运行 {host}"
    body = "\n".join([
        f"主机 {host} 上的 Dagster 守护进程未运行（自 {state['since']} 起；DAGSTER_HOME={dagster_home}）。",
        "在它恢复之前，季度调度、收件箱传感器和运行失败告警都不会运行，新报送的文件不会被处理。",
        "请检查守护进程（dagster-daemon run）的服务状态和日志，并重新启动它。",
        "检查输出（dagster-daemon liveness-check）：",
        liveness.output or "（无输出）",
    ])
    return subject, body, details


def watch(workdir: Path, repeat: dt.timedelta, settings: AlertSettings | None = None,
          environ: Mapping[str, str] = os.environ) -> tuple[Liveness, dict | None]:
    """Check the daemon once; alert on a change (or a long outage) and keep the state.

    Returns the check and the alert line written, if any. The state is saved only after the alert is
    recorded, so a watchdog that dies in between alerts again at its next check rather than never.
    """
    liveness = check_daemon(environ)
    path = Path(workdir) / STATE_FILE
    previous = load_state(path)
    decision = decide(previous, liveness.healthy, dt.datetime.now().astimezone(), repeat)
    record = None
    if decision.alert:
        subject, body, details = alert_text(decision.alert, decision.state, previous, liveness,
                                            environ.get("DAGSTER_HOME", ""))
        record = send_alert(Path(workdir), decision.alert, subject, body, details, settings)
    save_state(path, decision.state)
    return liveness, record
