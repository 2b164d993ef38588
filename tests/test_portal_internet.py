"""The portal facing the internet, one test per attack that once got through, on real processes: `sasac-skills portal
serve` on loopback behind a (pretend) proxy at 127.0.0.1 whose X-Forwarded-For and -Proto headers it believes."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.portal import accounts, db, throttle
from pipelines.portal.sessions import COOKIE
from tests.factories import ENTERPRISE, OTHER, clean_submission, registry_csv, write_submission
from tests.portal_harness import PASSWORD, Client, free_port

CLI = str(Path(sys.executable).parent / "sasac-skills")
ATTACKER, CLERK = "203.0.113.9", "198.51.100.7"


@dataclass
class Served:
    root: Path
    port: int
    env: dict[str, str]
    proc: subprocess.Popen | None = None

    @property
    def db_path(self) -> Path:
        return self.root / "work" / "portal.sqlite"

    @property
    def storage(self) -> Path:
        return self.root / "work" / "portal_uploads"

    @property
    def log(self) -> Path:
        return self.root / "portal.log"

    def start(self) -> None:
        self.proc = subprocess.Popen([CLI, "portal", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--proxy", "127.0.0.1"], env=self.env, stdout=self.log.open("ab"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.1)

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(30)

    def client(self, address: str = CLERK, **headers: str) -> Client:
        return ProxiedClient(self.port, headers={"X-Forwarded-For": address, **headers})

    def signed_in(self, org: str = ENTERPRISE, address: str = CLERK) -> tuple[Client, str]:
        user, otp = accounts.add_user(self.db_path, "测试填报员", org=org)
        client = self.client(address)
        assert client.login(user.login, otp).location == "/password"
        assert client.change_password(otp).location == "/"
        return client, user.login


@dataclass
class ProxiedClient(Client):
    """A browser behind the proxy: every request carries the proxy's headers for it."""

    headers: dict[str, str] | None = None

    def request(self, method: str, path: str, body=None, headers: dict | None = None):
        return super().request(method, path, body, {**(self.headers or {}), **(headers or {})})


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    registry_csv(inbox / "registry.csv")
    env = {**os.environ, "SASAC_DEMO": "1", "SASAC_INBOX": str(inbox), "SASAC_WORKDIR": str(tmp_path / "work"),
           "SASAC_WAREHOUSE": str(tmp_path / "marts" / "warehouse.duckdb")}
    db.init(tmp_path / "work" / "portal.sqlite")
    server = Served(tmp_path, free_port(), env)
    server.start()
    yield server
    server.stop()


def _open_period(client: Client) -> str:
    return re.search(r'<option value="(\d{4}Q\d)"', client.get("/").text).group(1)


def test_1_a_password_change_ends_the_other_browsers_session(served: Served) -> None:
    first, login = served.signed_in()
    second = served.client()
    assert second.login(login, PASSWORD).location == "/"
    assert second.get("/").status == 200
    assert first.change_password(PASSWORD, "Birch-Quarterly-Filing-7").location == "/"
    assert second.get("/").location == "/login"  # the other browser is signed out at once
    assert first.get("/").status == 200  # the browser that changed it goes on


def test_2_guesses_from_elsewhere_never_lock_the_clerk_out(served: Served) -> None:
    _, login = served.signed_in()
    attacker = served.client(ATTACKER)
    for round_ in range(3):  # every 15 minutes in the attack; the clock here is the attacker's patience
        for i in range(throttle.FREE_FAILURES):
            attacker.login(login, f"guess-{round_}-{i}")
        assert attacker.login(login, PASSWORD).status == 429  # the guesser waits, even with the right one
        clerk = served.client(CLERK)
        assert clerk.login(login, PASSWORD).location == "/"  # the clerk, from their own address, is let in
    with sqlite3.connect(served.db_path) as con:
        events = {r for (r,) in con.execute("select outcome from audit_log where event = 'login'")}
    assert {"throttle_started", "throttled_account", "ok"} <= events


def test_3_weak_and_reused_passwords_are_refused(served: Served) -> None:
    client, login = served.signed_in()
    for weak in ("1234567890", "password12", "qwertyuiop", "1234567890ab", login + "-Zebra"):
        assert client.change_password(PASSWORD, weak).status == 400, weak
    assert client.change_password(PASSWORD, "Birch-Quarterly-Filing-7").location == "/"
    refused = client.change_password("Birch-Quarterly-Filing-7", PASSWORD)  # an earlier password
    assert refused.status == 400 and "最近5次" in refused.text


def test_4_no_response_takes_a_url_from_the_host_header(served: Served) -> None:
    client, _ = served.signed_in()
    for path in ("/login/", f"/history/{ENTERPRISE}/", "/"):
        evil = client.request("GET", path, headers={"Host": "evil.example"})
        assert evil.status == 400 and "evil.example" not in str(evil.headers)
        own = client.get(path)
        assert "evil.example" not in str(own.headers) and not (own.location or "").startswith("http")


def test_5_anonymous_visits_store_no_session(served: Served) -> None:
    visitor = served.client(ATTACKER)
    for _ in range(1000):
        visitor.cookies.clear()
        assert visitor.get("/login").status == 200
    with sqlite3.connect(served.db_path) as con:
        assert con.execute("select count(*) from sessions").fetchone()[0] == 0


def _with_macro(clean: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(clean)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml")
                data = data.replace(b"</Types>", b'<Default Extension="bin" '
                                                 b'ContentType="application/vnd.ms-office.vbaProject"/></Types>')
            zout.writestr(info.filename, data)
        zout.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0 not really a macro")
    return out.getvalue()


def test_6_a_workbook_with_a_macro_is_refused_and_not_forwarded(served: Served, tmp_path: Path) -> None:
    client, _ = served.signed_in()
    period = _open_period(client)
    clean = write_submission(tmp_path / "clean", clean_submission()).read_bytes()
    reply = client.upload(period, "报表.xlsx", _with_macro(clean))
    page = client.get(reply.location).text
    assert "请另存为不含宏和外部链接的 .xlsx 后重新上传" in page
    folder = Path(served.env["SASAC_INBOX"]) / period
    assert not folder.exists() or not any(folder.iterdir())  # nothing forwarded to the quarterly run


def test_7_a_name_with_a_bidi_override_is_shown_escaped_and_kept_for_the_audit(served: Served, tmp_path: Path) -> None:
    client, _ = served.signed_in()
    period = _open_period(client)
    data = write_submission(tmp_path / "clean", clean_submission()).read_bytes()
    name = "报表\u202excod.exe.xlsx"
    reply = client.upload(period, name, data)
    assert reply.status == 303, reply.text[-2000:]
    page = client.get("/").text
    at = page.find("\u202e")
    shown = page.find("cod.exe")
    assert at < 0 and "报表\\u202Excod.exe.xlsx" in page, page[max(shown - 300, 0):shown + 100]
    with sqlite3.connect(served.db_path) as con:
        assert con.execute("select client_name_original from uploads").fetchone()[0] == name


def test_8_a_crash_mid_upload_leaves_no_file_after_the_restart(served: Served) -> None:
    client, _ = served.signed_in()
    token = client.csrf("/")
    period = _open_period(client)
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="period"\r\n\r\n{period}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.xlsx"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    total = 31 * 1024 * 1024 + len(f"\r\n--{boundary}--\r\n")
    with socket.create_connection(("127.0.0.1", served.port)) as s:
        s.sendall((f"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: {CLERK}\r\n"
                   f"Cookie: {COOKIE}={client.cookies[COOKIE]}\r\nContent-Type: multipart/form-data; "
                   f"boundary={boundary}\r\nContent-Length: {len(head) + total}\r\n\r\n").encode() + head)
        chunk = os.urandom(1 << 20)
        for _ in range(31):  # the whole body; the server dies while it copies or checks the file
            s.sendall(chunk)
        s.sendall(f"\r\n--{boundary}--\r\n".encode())
        time.sleep(0.3)  # the body is in; the server is copying or checking it
        served.kill()
    # What a crash leaves depends on the moment: the file being copied or checked (staging/), or one kept whose
    # row was not written yet (an orphan beside the kept uploads, planted here so that moment is covered too).
    (served.storage / "0123456789abcdef0123456789abcdef.xlsx").write_bytes(b"personal data")
    left = [p for p in served.storage.rglob("*") if p.is_file() and "template" not in p.parts]
    assert left
    served.start()
    assert not [p for p in served.storage.rglob("*") if p.is_file() and "template" not in p.parts]
    deadline = time.monotonic() + 10
    while not re.search(rf"清除中断上传的文件 {len(left)} 个", served.log.read_text(errors="replace")):
        assert time.monotonic() < deadline, served.log.read_text(errors="replace")
        time.sleep(0.1)


def test_9_hsts_on_responses_that_came_over_https(served: Served) -> None:
    proxied = served.client(CLERK, **{"X-Forwarded-Proto": "https"}).get("/login")
    assert proxied.headers.get("strict-transport-security", "").startswith("max-age=")
    assert "strict-transport-security" not in served.client(CLERK).get("/login").headers
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in proxied.headers


def test_other_enterprises_stay_apart_behind_the_proxy(served: Served) -> None:
    mine, _ = served.signed_in(ENTERPRISE)
    assert mine.get(f"/history/{OTHER}").status == 404
