"""The portal's SQLite database in the working area (never the pipeline's DuckDB): one short connection per use."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

SCHEMA = """
create table if not exists users (
    id text primary key,             -- secrets.token_urlsafe: what sessions and the audit log refer to
    login text not null unique,
    display_name text not null,       -- personal data: shown to its owner, never logged
    org_code text,                    -- null for commission staff
    is_staff integer not null default 0,
    password_hash text not null,      -- argon2id
    must_change integer not null default 1,
    disabled integer not null default 0,
    failed_logins integer not null default 0,
    locked_until real not null default 0,
    created_at text not null
);
create table if not exists sessions (
    id_hash text primary key,         -- sha256 of the cookie value: a copy of the database opens no session
    user_id text references users(id),
    csrf text not null,
    created real not null,
    seen real not null
);
create table if not exists uploads (
    id text primary key,              -- secrets.token_urlsafe, in URLs
    user_id text not null references users(id),
    org_code text not null,
    period text not null,
    client_name text not null,        -- the name the browser sent, for display only (never a path)
    stored_name text,                 -- the server's name for its copy; null once a rejected file is dropped
    file_format text not null,
    size_bytes integer not null,
    sha256 text not null,
    uploaded_at text not null,        -- server clock, Beijing time
    outcome text not null,            -- accepted (forwarded) / rejected (not forwarded)
    inbox_name text,                  -- the contract name it was forwarded under
    fatal_count integer not null,
    error_count integer not null,
    warning_count integer not null,
    seconds real not null,
    findings_json text not null
);
create index if not exists uploads_org on uploads(org_code, uploaded_at);
create table if not exists audit_log (
    seq integer primary key autoincrement,
    at text not null,                 -- UTC
    event text not null,
    user_id text,
    org_code text,
    object text,
    outcome text not null
);
"""


def init(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("pragma journal_mode=wal")  # readers never wait for the one writer
        con.executescript(SCHEMA)
    finally:
        con.close()


@contextlib.contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection whose block is one transaction (committed on success, rolled back on error)."""
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    try:
        con.execute("pragma busy_timeout=30000")
        con.execute("begin immediate")
        try:
            yield con
        except BaseException:
            con.execute("rollback")
            raise
        con.execute("commit")
    finally:
        con.close()
