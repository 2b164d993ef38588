"""Server-side sessions and CSRF tokens: the cookie holds a random id, the database only its hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.portal import db

COOKIE = "sasac_portal"
# Before login there is no stored session: the login form's CSRF token is bound to this cookie instead (a random
# value, and the token is its HMAC under the portal's own key), so anonymous visits add nothing to the database.
LOGIN_COOKIE = "sasac_login"


@dataclass(frozen=True)
class Session:
    raw_id: str
    user_id: str | None
    csrf: str


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def id_hash(session: Session) -> str:
    """How the database names a session (its cookie value is never stored)."""
    return _hash(session.raw_id)


def create(path: Path, user_id: str | None) -> Session:
    raw, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), time.time()
    with db.connect(path) as con:
        con.execute("insert into sessions (id_hash, user_id, csrf, created, seen) values (?,?,?,?,?)",
                    (_hash(raw), user_id, csrf, now, now))
    return Session(raw, user_id, csrf)


def load(path: Path, raw: str | None, idle: int, maximum: int) -> Session | None:
    """The live session this cookie names, or None; an expired one is deleted on sight."""
    if not raw or len(raw) > 100:
        return None
    now = time.time()
    with db.connect(path) as con:
        row = con.execute("select * from sessions where id_hash = ?", (_hash(raw),)).fetchone()
        if row is None:
            return None
        if now - row["seen"] > idle or now - row["created"] > maximum:
            con.execute("delete from sessions where id_hash = ?", (row["id_hash"],))
            return None
        con.execute("update sessions set seen = ? where id_hash = ?", (now, row["id_hash"]))
    return Session(raw, row["user_id"], row["csrf"])


def delete(path: Path, session: Session) -> None:
    with db.connect(path) as con:
        con.execute("delete from sessions where id_hash = ?", (id_hash(session),))


def csrf_ok(session: Session | None, token: object) -> bool:
    return session is not None and isinstance(token, str) and hmac.compare_digest(session.csrf, token)


def purge_expired(path: Path, idle: int, maximum: int) -> int:
    """Remove every session past its idle or absolute lifetime; how many."""
    now = time.time()
    with db.connect(path) as con:
        return con.execute("delete from sessions where seen < ? or created < ?", (now - idle, now - maximum)).rowcount


def login_form_pair(key: bytes) -> tuple[str, str]:
    """(cookie value, form token) for an anonymous login form."""
    raw = secrets.token_urlsafe(32)
    return raw, _sign(key, raw)


def login_form_ok(key: bytes, cookie: str | None, token: object) -> bool:
    return (isinstance(cookie, str) and isinstance(token, str) and 0 < len(cookie) <= 100
            and hmac.compare_digest(_sign(key, cookie), token))


def _sign(key: bytes, raw: str) -> str:
    return hmac.new(key, f"login-form:{raw}".encode(), hashlib.sha256).hexdigest()
