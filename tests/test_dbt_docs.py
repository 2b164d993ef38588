"""`make docs`: dbt's documentation site for the built warehouse, generated without the network, served on
loopback, rendered by headless chromium. Set SASAC_SCREENSHOT_DIR to keep the picture."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.chromium import dump_dom, free_port, screenshot, wait_for_http
from tests.conftest import REPO

SCRIPT = str(REPO / "scripts" / "dbt-docs.sh")
DBT = str(Path(sys.executable).parent / "dbt")


def _offline(cmd: list[str]) -> list[str]:
    """The command in a network namespace of its own (no interface but loopback): reaching out fails."""
    assert shutil.which("unshare"), "util-linux unshare is needed to prove the docs are built offline"
    return ["unshare", "--map-root-user", "--net", *cmd]


@pytest.mark.slow
def test_make_docs_builds_the_site_offline_and_serves_it_on_loopback(demo_run, tmp_path: Path) -> None:
    site = tmp_path / "dbt_docs"
    env = os.environ | {"DOCS_DB": str(demo_run.work_db), "DOCS_DIR": str(site), "DBT": DBT}
    before = hashlib.sha256(demo_run.work_db.read_bytes()).hexdigest()
    generated = subprocess.run(_offline(["bash", SCRIPT, "generate"]), env=env, capture_output=True, text=True,
                               timeout=600, check=False)
    assert generated.returncode == 0, generated.stdout[-2000:] + generated.stderr[-2000:]
    # the working database is read through a copy: never written, never locked
    assert hashlib.sha256(demo_run.work_db.read_bytes()).hexdigest() == before
    assert not (site / ".db").exists()

    catalog = json.loads((site / "catalog.json").read_text(encoding="utf-8"))
    manifest = json.loads((site / "manifest.json").read_text(encoding="utf-8"))
    node = next(k for k in manifest["nodes"] if k.endswith(".dim_enterprises"))
    assert manifest["nodes"][node]["columns"]["org_code"]["description"].startswith("组织机构代码")  # comments
    assert "org_code" in {c.lower() for c in catalog["nodes"][node]["columns"]}  # the built table's columns
    assert catalog["nodes"][node]["metadata"]["database"] == "warehouse"
    assert any(".int_" in parent for parent in manifest["parent_map"][node])  # lineage

    port = free_port()
    server = subprocess.Popen(["bash", SCRIPT, "serve"], env=env | {"DOCS_PORT": str(port)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert f"http://127.0.0.1:{port}/" in server.stdout.readline()
        wait_for_http(f"http://127.0.0.1:{port}/catalog.json", 30, alive=lambda: server.poll() is None)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=10) as response:
            assert b"dbt" in response.read(4000).lower()
        url = f"http://127.0.0.1:{port}/#!/model/{node}"
        dom = dump_dom(url, tmp_path / "profile-1", budget_ms=20000)
        assert "dim_enterprises" in dom and "企业维表" in dom and "组织机构代码" in dom
        png = screenshot(url, tmp_path / "dbt_docs.png", tmp_path / "profile-2", budget_ms=20000)
        if os.environ.get("SASAC_SCREENSHOT_DIR"):
            shutil.copy(png, Path(os.environ["SASAC_SCREENSHOT_DIR"]) / png.name)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
