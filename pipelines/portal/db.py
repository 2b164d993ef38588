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
create table if not exists password_history (
    user_id text not null references users(id),
    password_hash text not null,      -- argon2id of a password the account had: a new one may not repeat it
    set_at real not null
);
create index if not exists password_history_user on password_history(user_id, set_at);
create table if not exists portal_keys (
    name text primary key,
    value blob not null               -- random bytes made at first start: what the login form's token is signed with
);
create table if not exists login_failures (
    scope text not null,              -- 'account' (login name × address) or 'address'
    subject text not null,            -- sha256 of the normalised login name and the address, or of the address
    failures integer not null,        -- consecutive failures
    last_failure real not null,
    next_allowed real not null,       -- no password is checked for this subject before this time
    primary key (scope, subject)
);
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


# Columns added since a table was first created: a database from an earlier version gains them at start.
ADDED_COLUMNS = (
    ("users", "login_key", "text"),  # the login as matched: NFKC, case-folded (accounts.login_key)
    ("uploads", "client_name_original", "text"),  # the name exactly as the browser sent it, for the audit only
)


def init(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30)
    try:
        con.execute("pragma journal_mode=wal")  # readers never wait for the one writer
        con.executescript(SCHEMA)
        for table, column, sql_type in ADDED_COLUMNS:
            if column not in {r[1] for r in con.execute(f"pragma table_info({table})")}:
                con.execute(f"alter table {table} add column {column} {sql_type}")
        con.execute("create unique index if not exists users_login_key on users(login_key)")
        con.commit()
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


def portal_key(path: Path, name: str = "login_form") -> bytes:
    """A random key the portal makes once and keeps in its database (so every process and restart agrees)."""
    import secrets

    with connect(path) as con:
        con.execute("insert or ignore into portal_keys (name, value) values (?, ?)", (name, secrets.token_bytes(32)))
        return bytes(con.execute("select value from portal_keys where name = ?", (name,)).fetchone()[0])
