"""A real portal for the tests: uvicorn on a free loopback port in a thread of the test process, a real SQLite
database, a real inbox; and a small HTTP client that keeps its cookies by hand (the session cookie is Secure,
which a stock cookie jar would not send over plain HTTP to 127.0.0.1)."""

from __future__ import annotations

import datetime as dt
import http.client
import re
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from pipelines.portal import accounts
from pipelines.portal.app import create_app
from pipelines.portal.settings import Settings
from tests.factories import ENTERPRISE, OTHER, registry_csv

# A fixed business clock: 2008Q2 is open (on time until 2008-07-15 24:00), 2008Q1 open for late filing.
CLOCK = dt.datetime(2008, 7, 10, 10, 30, 0)
PASSWORD = "Neues-Passwort-2008"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Portal:
    settings: Settings
    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def add_user(self, org: str | None, name: str = "测试填报员", staff: bool = False) -> tuple[str, str]:
        user, password = accounts.add_user(self.settings.db_path, name, org=org, staff=staff)
        return user.login, password

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_portal(root: Path, inbox: Path | None = None, clock=lambda: CLOCK, **overrides) -> Portal:
    if inbox is None:
        inbox = root / "inbox"
        inbox.mkdir(parents=True)
        registry_csv(inbox / "registry.csv")
    settings = Settings(inbox=inbox, warehouse=root / "marts" / "warehouse.duckdb", db_path=root / "portal.sqlite",
                        storage=root / "portal_uploads", clock=clock, **overrides)
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "portal did not start"
        time.sleep(0.05)
    return Portal(settings, f"http://127.0.0.1:{port}", server, thread)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    set_cookies: list[str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


@dataclass
class Client:
    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body=None, headers: dict | None = None) -> Reply:
        con = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            h = dict(headers or {})
            if self.cookies:
                h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            con.request(method, path, body=body, headers=h, encode_chunked=not isinstance(body, bytes | None))
            r = con.getresponse()
            data = r.read()
            set_cookies = r.headers.get_all("set-cookie") or []
            for c in set_cookies:
                name, _, rest = c.partition("=")
                value = rest.split(";", 1)[0].strip('"')
                if "max-age=0" in c.lower() or 'expires=thu, 01 jan 1970' in c.lower() or not value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
            return Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, set_cookies, data)
        finally:
            con.close()

    def get(self, path: str) -> Reply:
        return self.request("GET", path)

    def csrf(self, path: str = "/") -> str:
        m = re.search(r'name="csrf" value="([^"]+)"', self.get(path).text)
        return m.group(1) if m else ""

    def post(self, path: str, fields: dict[str, str]) -> Reply:
        return self.request("POST", path, urllib.parse.urlencode(fields).encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def login(self, login: str, password: str) -> Reply:
        token = self.csrf("/login")
        return self.post("/login", {"csrf": token, "login": login, "password": password})

    def change_password(self, current: str, new: str = PASSWORD) -> Reply:
        token = self.csrf("/password")
        return self.post("/password", {"csrf": token, "current": current, "new": new, "repeat": new})

    def upload(self, period: str, filename: str, data: bytes, csrf: str | None = None,
               content_type: str = "application/octet-stream") -> Reply:
        token = self.csrf("/") if csrf is None else csrf
        boundary = uuid.uuid4().hex
        parts = []
        for name, value in (("csrf", token), ("period", period)):
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        quoted = filename.replace('"', "%22")
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", "/upload", b"".join(parts),
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def signed_in(portal: Portal, org: str | None = ENTERPRISE, staff: bool = False) -> Client:
    """A client of a fresh account that has changed its one-time password."""
    login, otp = portal.add_user(org, staff=staff)
    client = Client(portal.port)
    assert client.login(login, otp).location == "/password"
    assert client.change_password(otp).location == "/"
    return client


__all__ = ["CLOCK", "ENTERPRISE", "OTHER", "PASSWORD", "Client", "Portal", "signed_in", "start_portal"]
