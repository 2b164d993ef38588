"""Delivering an alert: one JSON line in ``<workdir>/logs/alerts.jsonl``, and an e-mail when SMTP is configured.

The line is written for every alert, mail or no mail, so the working area always holds the full history of what
went wrong and whether anybody was told. A mail that cannot be sent never loses the alert: the failure is the
line's ``email`` field and a log record.

No personal data ever goes in an alert. Callers pass run ids, quarters, step names, error classes and
messages, host names and command output, never a person's name, 身份证号 or a row of a submission; alerts
leave the restricted working area by e-mail. Long texts are cut with :func:`truncate`.

Settings come from the environment (``AlertSettings.from_env``):

- ``SASAC_ALERT_SMTP_HOST``: the mail relay; unset means no e-mail (the line is still written).
- ``SASAC_ALERT_SMTP_PORT``: default 25.
- ``SASAC_ALERT_SMTP_SECURITY``: ``none`` | ``starttls`` | ``ssl``; default ``starttls``.
- ``SASAC_ALERT_SMTP_USER`` and ``SASAC_ALERT_SMTP_PASSWORD_FILE``: both or neither; the password lives in
  that file (readable by the service account only, ASCII: smtplib sends it so), never in the environment file.
- ``SASAC_ALERT_FROM``: default ``sasac-skills@<host name>``.
- ``SASAC_ALERT_TO``: recipients, comma-separated; required when the host is set.
- ``SASAC_ALERT_TIMEOUT``: seconds for each SMTP step; default 10.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import smtplib
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

log = logging.getLogger(__name__)

ALERTS_FILE = Path("logs") / "alerts.jsonl"
MESSAGE_LIMIT = 2000  # characters of an error message or command output an alert carries

HOST_ENV = "SASAC_ALERT_SMTP_HOST"
PORT_ENV = "SASAC_ALERT_SMTP_PORT"
SECURITY_ENV = "SASAC_ALERT_SMTP_SECURITY"
USER_ENV = "SASAC_ALERT_SMTP_USER"
PASSWORD_FILE_ENV = "SASAC_ALERT_SMTP_PASSWORD_FILE"
FROM_ENV = "SASAC_ALERT_FROM"
TO_ENV = "SASAC_ALERT_TO"
TIMEOUT_ENV = "SASAC_ALERT_TIMEOUT"

SECURITIES = ("none", "starttls", "ssl")


class AlertConfigError(ValueError):
    """An alert setting in the environment is wrong; the message is one line naming the variable."""


@dataclass(frozen=True)
class AlertSettings:
    smtp_host: str | None = None
    smtp_port: int = 25
    security: str = "starttls"
    user: str | None = None
    password_file: Path | None = None
    sender: str | None = None
    recipients: tuple[str, ...] = ()
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.smtp_port <= 65535:
            raise AlertConfigError(f"{PORT_ENV} 应为 1–65535 之间的整数，现为 {self.smtp_port}")
        if self.security not in SECURITIES:
            raise AlertConfigError(f"{SECURITY_ENV} 应为 none、starttls 或 ssl 之一，现为 {self.security!r}")
        if self.timeout <= 0:
            raise AlertConfigError(f"{TIMEOUT_ENV} 应为正数（秒），现为 {self.timeout}")
        if self.smtp_host and not self.recipients:
            raise AlertConfigError(f"已设置 {HOST_ENV}，但 {TO_ENV} 为空：请填写收件人（多个用逗号分隔）")
        if bool(self.user) != (self.password_file is not None):
            raise AlertConfigError(f"{USER_ENV} 与 {PASSWORD_FILE_ENV} 须同时设置或同时不设")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> AlertSettings:
        def value(name: str) -> str | None:
            text = environ.get(name, "").strip()
            return text or None  # `NAME=` in an environment file means unset

        password_file = value(PASSWORD_FILE_ENV)
        return cls(
            smtp_host=value(HOST_ENV),
            smtp_port=_number(PORT_ENV, value(PORT_ENV), 25, int),
            security=(value(SECURITY_ENV) or "starttls").lower(),
            user=value(USER_ENV),
            password_file=Path(password_file) if password_file else None,
            sender=value(FROM_ENV),
            recipients=tuple(r.strip() for r in (value(TO_ENV) or "").split(",") if r.strip()),
            timeout=_number(TIMEOUT_ENV, value(TIMEOUT_ENV), 10.0, float),
        )

    @property
    def configured(self) -> bool:
        return self.smtp_host is not None

    @property
    def from_address(self) -> str:
        return self.sender or f"sasac-skills@{socket.gethostname()}"


def _number(name: str, text: str | None, default, kind):
    if text is None:
        return default
    try:
        return kind(text)
    except ValueError:
        raise AlertConfigError(f"{name} 应为数字，现为 {text!r}") from None


def truncate(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying so, so one huge error never makes a huge mail."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit] + f"……（已截断，共 {len(text)} 字符）"


def send_alert(workdir: Path, kind: str, subject: str, body: str, details: dict,
               settings: AlertSettings | None = None) -> dict:
    """Mail the alert if SMTP is configured, then append one line recording it and the mail's outcome.

    ``kind`` names what happened (``run_failure``, ``daemon_down``, ``daemon_recovered``); ``subject`` and
    ``body`` are what a person reads (Chinese); ``details`` is a JSON-able dict for machines. None of them may
    hold personal data (see the module docstring). Without ``settings`` they are read from the environment;
    a wrong setting is recorded as the mail's failure, not raised, so the alert still reaches the file.

    Returns the recorded line. Raises only if the line cannot be written: that is a fault of the working area.
    """
    try:
        if settings is None:
            settings = AlertSettings.from_env()
        outcome = deliver(settings, subject, body)
    except AlertConfigError as exc:
        outcome = f"failed: {exc}"
    record = {
        "time": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "kind": kind,
        "subject": subject,
        "body": body,
        "details": details,
        "email": outcome,
    }
    append_line(Path(workdir) / ALERTS_FILE, record)
    if outcome.startswith("failed"):
        log.error("告警邮件未发出（%s）：%s；告警已记入 %s", outcome, subject, Path(workdir) / ALERTS_FILE)
    else:
        log.info("告警：%s（邮件：%s）", subject, outcome)
    return record


def deliver(settings: AlertSettings, subject: str, body: str) -> str:
    """``sent``, ``not_configured`` or ``failed: <reason>``; never raises."""
    if not settings.configured:
        return "not_configured"
    try:
        with _connect(settings) as smtp:
            if settings.user and settings.password_file is not None:
                password = settings.password_file.read_text(encoding="utf-8").rstrip("\r\n")
                smtp.login(settings.user, password)
            smtp.send_message(compose(settings, subject, body))
    # Whatever goes wrong with the mail (refused, timed out, TLS, login, an unreadable password file), the
    # alert itself must survive to the file: the reason is the outcome.
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"
    return "sent"


def _connect(settings: AlertSettings) -> smtplib.SMTP:
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.timeout
    if settings.security == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    smtp = smtplib.SMTP(host, port, timeout=timeout)
    if settings.security == "starttls":
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp


def compose(settings: AlertSettings, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.from_address
    message["To"] = ", ".join(settings.recipients)
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=settings.from_address.rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies back to the sender
    # base64 keeps the Chinese body intact through relays that do not speak 8BITMIME.
    message.set_content(body, charset="utf-8", cte="base64")
    return message


def append_line(path: Path, record: dict) -> None:
    """One ``os.write`` on an ``O_APPEND`` descriptor: the kernel appends it whole, so the sensor in the
    daemon and the watchdog under systemd can alert at the same moment without interleaving their lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(record, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        written = os.write(fd, data)
    finally:
        os.close(fd)
    if written != len(data):
        raise OSError(f"告警记录 {path} 只写入了 {written}/{len(data)} 字节（磁盘已满？）")
