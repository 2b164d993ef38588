"""The filing portal under load, on loopback: `sasac-skills portal serve` in its own process, real uploads.

1. Validation of one 1,000-person workbook through the portal: the upload's round trip as the clerk waits for
   it (client clock), and the check itself as the server timed it (limits, reader child, intake checks).
2. ``--concurrent`` (50) clerks of as many enterprises upload at the same moment: every upload must come back
   accepted and forwarded, within ``--budget`` seconds; the slowest round trip and the total are reported.

Each is repeated ``--repeat`` times (the machine is shared and noisy). The quarter is the one the real clock
makes open (reference deadlines), so nothing about time is faked here.

    .venv/bin/python -m benchmarks.bench_portal [--persons 1000] [--concurrent 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_hostile import _roster
from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.forms.submission_writer import write_xlsx
from pipelines.portal import accounts, db
from pipelines.portal.settings import beijing_now
from pipelines.portal.status import open_quarters
from tests.factories import GROUP, clean_submission, org, registry_csv
from tests.portal_harness import Client, free_port


def _clerk(db_path: Path, port: int, code: str) -> Client:
    user, otp = accounts.add_user(db_path, "压测填报员", org=code)
    client = Client(port)
    assert client.login(user.login, otp).location == "/password"
    assert client.change_password(otp).location == "/"
    return client


def _upload(client: Client, period: str, path: Path) -> tuple[float, str]:
    data = path.read_bytes()
    started = time.perf_counter()
    reply = client.upload(period, path.name, data)
    seconds = time.perf_counter() - started
    assert reply.status == 303, (reply.status, reply.text[:300])
    return seconds, reply.location.rsplit("/", 1)[1]


def _server_seconds(db_path: Path, upload_id: str) -> tuple[float, str]:
    with sqlite3.connect(db_path) as con:
        return con.execute("select seconds, outcome from uploads where id = ?", (upload_id,)).fetchone()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--persons", type=int, default=1000)
    ap.add_argument("--concurrent", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", type=float, default=180.0, help="seconds the concurrent uploads must finish in")
    args = ap.parse_args()

    period = str(open_quarters(beijing_now(), 0)[0].period)
    root = Path(tempfile.mkdtemp(prefix="bench_portal_"))
    inbox, workdir = root / "inbox", root / "work"
    inbox.mkdir()
    codes = [org(f"MB{i:06d}") for i in range(args.concurrent)]
    registry_csv(inbox / "registry.csv", [(GROUP, "北京测试集团"), *((c, "北京测试机械厂") for c in codes)])
    db_path = workdir / "portal.sqlite"
    db.init(db_path)

    big = root / "big" / f"{format_org_code(codes[0])}_{period}.xlsx"
    big.parent.mkdir()
    sub = clean_submission(codes[0], period)
    sub["人才信息库"] = _roster(args.persons)
    sub["基本情况"][0].update(level3_senior=args.persons, skilled_workers=args.persons + 700,
                           employees_total=args.persons + 1000)
    write_xlsx(big, sub)
    small = {}
    for c in codes:
        small[c] = root / "small" / f"{format_org_code(c)}_{period}.xlsx"
        small[c].parent.mkdir(exist_ok=True)
        write_xlsx(small[c], clean_submission(c, period))

    port = free_port()
    env = {**os.environ, "SASAC_DEMO": os.environ.get("SASAC_DEMO", "1"), "SASAC_INBOX": str(inbox),
           "SASAC_WORKDIR": str(workdir), "SASAC_WAREHOUSE": str(root / "marts" / "warehouse.duckdb")}
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "portal", "serve", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if Client(port).get("/login").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "portal did not start"
            time.sleep(0.2)
        clerks = [_clerk(db_path, port, c) for c in codes]
        print(f"portal benchmark: period {period}, {args.persons}-person workbook {big.stat().st_size / 1024:.0f} KB, "
              f"{args.concurrent} concurrent uploads of {small[codes[0]].stat().st_size / 1024:.0f} KB, "
              f"{os.cpu_count()} CPUs")
        _upload(clerks[0], period, small[codes[0]])  # the reader children start on the first upload

        for i in range(args.repeat):
            wall, upload_id = _upload(clerks[0], period, big)
            checked, outcome = _server_seconds(db_path, upload_id)
            assert outcome == "accepted", outcome
            print(f"  run {i + 1}: {args.persons}-person workbook  round trip {wall:.2f} s  (server check {checked:.2f} s)")

        for i in range(args.repeat):
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(args.concurrent) as pool:
                results = list(pool.map(lambda ck: _upload(ck[0], period, small[ck[1]]), zip(clerks, codes, strict=True)))
            total = time.perf_counter() - started
            outcomes = [_server_seconds(db_path, uid)[1] for _, uid in results]
            assert outcomes.count("accepted") == args.concurrent, outcomes
            assert total < args.budget, f"{total:.1f} s over the {args.budget:.0f} s budget"
            walls = sorted(w for w, _ in results)
            print(f"  run {i + 1}: {args.concurrent} concurrent uploads all accepted in {total:.1f} s  "
                  f"(round trip median {statistics.median(walls):.1f} s, slowest {walls[-1]:.1f} s)")
        forwarded = [p for p in (inbox / period).iterdir() if p.suffix == ".xlsx"]
        assert len(forwarded) == 1 + args.repeat + args.concurrent * args.repeat, len(forwarded)
        register_lines = (inbox / period / "收件登记.csv").read_text(encoding="utf-8-sig").splitlines()
        assert len(register_lines) == 1 + len(forwarded)
        print(f"  inbox: {len(forwarded)} files forwarded, {len(register_lines) - 1} lines in 收件登记.csv, no error")
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
