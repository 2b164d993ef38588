"""Failures are loud: a failed run and a stopped daemon each leave one alert line and send one mail.

Everything here is real: a local SMTP server (aiosmtpd), a Dagster run that fails on an ephemeral instance,
the run-failure sensor evaluated on it, and the watchdog run as the console command against an empty
DAGSTER_HOME where no daemon runs.
"""

from __future__ import annotations

import email
import email.policy
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from pipelines.defs.ops import build_ops_sensors
from pipelines.defs.ops.alerts import build_run_failure_sensor
from pipelines.lib.ops.alerts import AlertConfigError, AlertSettings, send_alert
from pipelines.lib.ops.watchdog import decide
from tests.conftest import REPO

CLI = str(Path(sys.executable).parent / "sasac-skills")
RECIPIENT = "ops@sasac.example"


class MailDrop:
    """An aiosmtpd handler that keeps what it received."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # the name aiosmtpd calls
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[MailDrop, int]]:
    drop, port = MailDrop(), free_port()
    controller = Controller(drop, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield drop, port
    finally:
        controller.stop()


def smtp_env(port: int) -> dict[str, str]:
    return {"SASAC_ALERT_SMTP_HOST": "127.0.0.1", "SASAC_ALERT_SMTP_PORT": str(port),
            "SASAC_ALERT_SMTP_SECURITY": "none", "SASAC_ALERT_FROM": "sasac-skills@etl.example",
            "SASAC_ALERT_TO": RECIPIENT, "SASAC_ALERT_TIMEOUT": "5"}


def alert_lines(workdir: Path) -> list[dict]:
    path = workdir / "logs" / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@dg.asset
def planted_failure() -> None:
    raise RuntimeError("planted")


def test_a_failed_run_sends_one_mail_and_records_one_line(smtp_server, tmp_path: Path, monkeypatch) -> None:
    drop, port = smtp_server
    for name, value in {**smtp_env(port), "SASAC_WORKDIR": str(tmp_path / "work"),
                        "SASAC_DAGSTER_URL": "http://sasac-etl:3000/"}.items():
        monkeypatch.setenv(name, value)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([planted_failure], instance=instance, raise_on_error=False,
                                tags={"dagster/partition": "2009Q2"})
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=run).for_run_failure()
        build_run_failure_sensor()(context)

    assert len(drop.messages) == 1
    recipients, message = drop.messages[0]
    assert recipients == [RECIPIENT]
    assert message["Subject"] == f"【高技能人才平台】运行失败 2009Q2 run {run.run_id[:8]}"
    body = message.get_content()
    assert run.run_id in body and "planted_failure" in body and "RuntimeError: planted" in body
    assert f"http://sasac-etl:3000/runs/{run.run_id}" in body

    [line] = alert_lines(tmp_path / "work")
    assert line["kind"] == "run_failure" and line["email"] == "sent"
    assert line["details"]["run_id"] == run.run_id and line["details"]["quarters"] == "2009Q2"
    assert line["details"]["failed_steps"] == ["planted_failure"]
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_mail_server_down_still_records_the_alert(tmp_path: Path) -> None:
    settings = AlertSettings.from_env(smtp_env(free_port()))  # nothing listens there: connection refused
    record = send_alert(tmp_path, "run_failure", "【高技能人才平台】运行失败 run 1a2b3c4d", "正文",
                        {"run_id": "1a2b3c4d"}, settings)
    assert record["email"].startswith("failed")
    [line] = alert_lines(tmp_path)
    assert line["email"].startswith("failed") and line["subject"].endswith("1a2b3c4d")


def test_smtp_login_reads_the_password_file(tmp_path: Path) -> None:
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret-pass", handled=False)

    drop, port = MailDrop(), free_port()
    controller = Controller(drop, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    try:
        (tmp_path / "password").write_text("s3cret-pass\n", encoding="utf-8")
        env = {**smtp_env(port), "SASAC_ALERT_SMTP_USER": "sasac",
               "SASAC_ALERT_SMTP_PASSWORD_FILE": str(tmp_path / "password")}
        record = send_alert(tmp_path, "daemon_down", "主题", "正文", {}, AlertSettings.from_env(env))
        (tmp_path / "password").write_text("wrong\n", encoding="utf-8")
        refused = send_alert(tmp_path, "daemon_down", "主题", "正文", {}, AlertSettings.from_env(env))
    finally:
        controller.stop()
    assert record["email"] == "sent" and len(drop.messages) == 1
    assert seen[0] == (b"sasac", b"s3cret-pass")
    assert refused["email"].startswith("failed: SMTPAuthenticationError")
    assert [line["email"] for line in alert_lines(tmp_path)] == ["sent", refused["email"]]


@pytest.mark.parametrize(("env", "named"), [
    ({"SASAC_ALERT_SMTP_PORT": "smtp"}, "SASAC_ALERT_SMTP_PORT"),
    ({"SASAC_ALERT_SMTP_PORT": "70000"}, "SASAC_ALERT_SMTP_PORT"),
    ({"SASAC_ALERT_SMTP_SECURITY": "tls"}, "SASAC_ALERT_SMTP_SECURITY"),
    ({"SASAC_ALERT_SMTP_HOST": "mail.example"}, "SASAC_ALERT_TO"),
    ({"SASAC_ALERT_SMTP_USER": "sasac"}, "SASAC_ALERT_SMTP_PASSWORD_FILE"),
])
def test_wrong_settings_are_refused_in_one_line(env: dict[str, str], named: str) -> None:
    with pytest.raises(AlertConfigError) as raised:
        AlertSettings.from_env(env)
    assert isinstance(raised.value, ValueError)
    assert named in str(raised.value) and "\n" not in str(raised.value)


def test_unset_settings_mean_no_mail(tmp_path: Path) -> None:
    settings = AlertSettings.from_env({"SASAC_ALERT_SMTP_HOST": ""})
    assert not settings.configured and settings.smtp_port == 25 and settings.security == "starttls"
    assert send_alert(tmp_path, "daemon_recovered", "主题", "正文", {}, settings)["email"] == "not_configured"


def _append_many(workdir: str, writer: int) -> None:
    for n in range(50):
        # Well over PIPE_BUF (4 KiB), where a write that is not one O_APPEND write would interleave.
        send_alert(Path(workdir), "run_failure", f"写入者 {writer} 第 {n} 条", "告警正文" * 2000, {"n": n},
                   AlertSettings())


def test_concurrent_writers_never_interleave_lines(tmp_path: Path) -> None:
    fork = multiprocessing.get_context("fork")
    writers = [fork.Process(target=_append_many, args=(str(tmp_path), w)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(60)
        assert writer.exitcode == 0
    lines = alert_lines(tmp_path)
    assert len(lines) == 200 and all(len(line["body"]) == 8000 for line in lines)


def test_the_code_location_has_the_sensor_stopped_unless_automation_is_on() -> None:
    assert {s.name for s in build_ops_sensors()} == {"run_failure_alert", "dead_run_sensor"}
    running = build_run_failure_sensor({"SASAC_AUTOMATION": "on", "SASAC_SENSOR_INTERVAL": "45"})
    stopped = build_run_failure_sensor({})
    assert running.default_status == dg.DefaultSensorStatus.RUNNING and running.minimum_interval_seconds == 45
    assert stopped.default_status == dg.DefaultSensorStatus.STOPPED and stopped.minimum_interval_seconds == 60


def test_the_watchdog_alerts_once_when_no_daemon_runs(smtp_server, tmp_path: Path) -> None:
    drop, port = smtp_server
    home, workdir = tmp_path / "dagster_home", tmp_path / "work"
    home.mkdir()
    shutil.copy(REPO / "deploy" / "dagster.yaml", home / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SASAC_ALERT_")}
    env.update({**smtp_env(port), "DAGSTER_HOME": str(home)})

    def watchdog() -> subprocess.CompletedProcess:
        return subprocess.run([CLI, "watchdog", "--workdir", str(workdir)], env=env, capture_output=True,
                              text=True, timeout=180, check=False)

    first = watchdog()
    assert first.returncode == 1, first.stderr
    [line] = alert_lines(workdir)
    assert line["kind"] == "daemon_down" and line["email"] == "sent"
    assert "Daemon(s) not running" in line["details"]["check_output"]
    assert len(drop.messages) == 1 and "守护进程未运行" in drop.messages[0][1]["Subject"]

    second = watchdog()
    assert second.returncode == 1, second.stderr
    assert len(alert_lines(workdir)) == 1 and len(drop.messages) == 1
    assert "Traceback" not in first.stderr + second.stderr


def test_the_watchdog_refuses_to_guess_without_dagster_home(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("SASAC_ALERT_")}
    result = subprocess.run([CLI, "watchdog", "--workdir", str(tmp_path)], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 2 and "DAGSTER_HOME" in result.stderr and "Traceback" not in result.stderr
    assert alert_lines(tmp_path) == []


def test_the_watchdog_alerts_on_changes_and_repeats_a_long_outage_rarely() -> None:
    t0, repeat = datetime(2026, 1, 16, 6, 0, tzinfo=timezone(timedelta(hours=8))), timedelta(hours=6)
    first = decide(None, healthy=True, now=t0, repeat=repeat)
    assert first.alert is None
    down = decide(first.state, healthy=False, now=t0 + timedelta(minutes=5), repeat=repeat)
    assert down.alert == "daemon_down"
    still = decide(down.state, healthy=False, now=t0 + timedelta(hours=5), repeat=repeat)
    assert still.alert is None and still.state["since"] == down.state["since"]
    again = decide(still.state, healthy=False, now=t0 + timedelta(hours=6, minutes=5), repeat=repeat)
    assert again.alert == "daemon_down"
    back = decide(again.state, healthy=True, now=t0 + timedelta(hours=7), repeat=repeat)
    assert back.alert == "daemon_recovered"
    assert decide(back.state, healthy=True, now=t0 + timedelta(hours=8), repeat=repeat).alert is None
