"""Forward an accepted upload into the quarterly run's inbox: under the contract's name, as a new version
(never over an earlier one), atomically, with its arrival time in the period's 收件登记.csv."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from pipelines.lib.domain import contract as c
from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.domain.periods import Period
from pipelines.lib.intake.readers import ReadError, decode_text

# Beside the period folders, on the same file system (so a rename is atomic); no run or sensor reads it.
STAGING = ".portal-staging"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # contract.ARRIVALS_COLUMNS


@contextlib.contextmanager
def _inbox_lock(inbox: Path) -> Iterator[Path]:
    staging = inbox / STAGING
    staging.mkdir(exist_ok=True)
    with open(staging / "lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield staging
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def version_name(existing: set[str], org_code: str, period: Period, ext: str) -> str:
    """``{代码}_{期}.xlsx`` for the first file, then ``_v2``, ``_v3`` … (the generator's and mailroom's naming)."""
    base = f"{format_org_code(org_code)}_{period}"
    pattern = re.compile(rf"^{re.escape(base)}(?:_v(\d+))?(?:\.[A-Za-z]+)?$")
    taken = [int(m.group(1) or 1) for name in existing if (m := pattern.match(name))]
    n = max(taken, default=0) + 1
    return f"{base}{ext}" if n == 1 else f"{base}_v{n}{ext}"


def _register(staging: Path, folder: Path, name: str, arrived: dt.datetime) -> None:
    """Append one line to the register, rewritten whole and swapped in (a reader never sees half a line)."""
    path = folder / c.ARRIVALS_FILE
    header = ",".join(col.header for col in c.ARRIVALS_COLUMNS)
    text = f"\ufeff{header}\n"
    if path.is_file() and not path.is_symlink():
        try:
            text = decode_text(path.read_bytes())
            text = ("\ufeff" + text) if not text.startswith("\ufeff") else text
        except ReadError:
            pass  # an unreadable register is kept aside, not lost
    if not text.endswith("\n"):
        text += "\n"
    line = io.StringIO()
    csv.writer(line, lineterminator="\n").writerow([name, arrived.strftime(TIME_FORMAT)])
    tmp = staging / f"register-{secrets.token_hex(8)}"
    tmp.write_text(text + line.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def forward(inbox: Path, period: Period, org_code: str, source: Path, ext: str, arrived: dt.datetime) -> str:
    """The name the file now has in ``<inbox>/<period>/``."""
    folder = inbox / str(period)
    with _inbox_lock(inbox) as staging:
        folder.mkdir(exist_ok=True)
        tmp = staging / f"upload-{secrets.token_hex(8)}{ext}"
        shutil.copyfile(source, tmp)
        stamp = time.mktime(arrived.timetuple())  # the file's time says the same as the register
        os.utime(tmp, (stamp, stamp))
        try:
            existing = set(os.listdir(folder))
            with contextlib.suppress(OSError, ReadError):
                existing |= {row[0] for row in csv.reader(io.StringIO(decode_text(
                    (folder / c.ARRIVALS_FILE).read_bytes()))) if row}
            while True:
                name = version_name(existing, org_code, period, ext)
                try:
                    os.link(tmp, folder / name)  # fails rather than replace a file someone else put there
                    break
                except FileExistsError:
                    existing.add(name)
            _register(staging, folder, name, arrived)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return name
