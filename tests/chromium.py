"""Debian's chromium, headless and offline, pointed at a page served on loopback (the Dagster UI, dbt docs).

Single-page apps draw after their scripts have fetched data: ``--virtual-time-budget`` lets the page's own
timers and requests run before the picture is taken or the DOM dumped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Offline flags: without them chromium tries to reach Google and can hang.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-extensions", "--disable-default-apps", "--mute-audio"]


def _run(profile: Path, args: list[str], budget_ms: int) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1600,1000",
                           f"--virtual-time-budget={budget_ms}", *args], capture_output=True, text=True,
                          timeout=180, check=False)


def screenshot(url: str, out: Path, profile: Path, budget_ms: int = 30000) -> Path:
    result = _run(profile, [f"--screenshot={out}", url], budget_ms)
    assert out.exists(), result.stderr[-2000:]
    return out


def dump_dom(url: str, profile: Path, budget_ms: int = 30000) -> str:
    result = _run(profile, ["--dump-dom", url], budget_ms)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, seconds: float, alive=lambda: True) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert alive(), f"the server died before {url} answered"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"{url} did not answer within {seconds} s")


def pixel(rows: list[bytes], width: int, x: int, y: int) -> tuple[int, int, int]:
    bpp = len(rows[0]) // width
    return tuple(rows[y][x * bpp:x * bpp + 3])
