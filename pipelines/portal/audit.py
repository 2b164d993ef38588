"""The audit log: who did what to which object, when — ids and codes only, never a name, a password or a file's content."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pipelines.portal import db


def record(path: Path, event: str, outcome: str, user_id: str | None = None, org_code: str | None = None,
           obj: str | None = None) -> None:
    at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with db.connect(path) as con:
        con.execute("insert into audit_log (at, event, user_id, org_code, object, outcome) values (?,?,?,?,?,?)",
                    (at, event, user_id, org_code, obj, outcome))


def entries(path: Path) -> list[dict]:
    with db.connect(path) as con:
        return [dict(r) for r in con.execute("select * from audit_log order by seq")]
