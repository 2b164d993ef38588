"""Accounts: created by the commission from the CLI, argon2id hashes, a one-time password changed at first
login, passwords held to pipelines.portal.passwords, every other session ended when the credentials change.
Repeated failures are throttled by pipelines.portal.throttle, never by locking the account."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.lib.domain.codes import format_org_code, normalize_org_code, org_code_problem
from pipelines.portal import db, passwords

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane), not the library's heavier default (64 MiB,
# 3 passes, 4 lanes): every login pays for it on the shared 2-core machine; older hashes are upgraded at login.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the login names nobody, so a wrong login name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing that reads as another


class AccountError(Exception):
    """Something the commission typed cannot be done; the message is Chinese."""


@dataclass(frozen=True)
class User:
    id: str
    login: str
    display_name: str
    org_code: str | None
    is_staff: bool
    must_change: bool

    @property
    def org_display(self) -> str:
        return format_org_code(self.org_code) if self.org_code else "国资委"


def _user(row: sqlite3.Row) -> User:
    return User(row["id"], row["login"], row["display_name"], row["org_code"], bool(row["is_staff"]),
                bool(row["must_change"]))


def login_key(text: str) -> str:
    """A login name as it is matched: full-width forms and case do not matter (「10117472－X－01」 is 10117472-x-01)."""
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def _ensure_login_keys(con: sqlite3.Connection) -> None:
    """Accounts created before logins were matched this way get their key."""
    for uid, login in con.execute("select id, login from users where login_key is null").fetchall():
        con.execute("update users set login_key = ? where id = ?", (login_key(login), uid))


def one_time_password() -> str:
    return "".join(secrets.choice(_OTP_ALPHABET) for _ in range(14))


def parse_org(text: str) -> str:
    code = normalize_org_code(text or "")
    problem = org_code_problem(code)
    if problem:
        raise AccountError(f"组织机构代码“{text}”{problem}")
    return code


def add_user(path: Path, name: str, org: str | None = None, staff: bool = False,
             login: str | None = None) -> tuple[User, str]:
    """A new account and its one-time password (shown once, stored only as a hash)."""
    if staff == bool(org):
        raise AccountError("请指定 --org 组织机构代码（企业账户）或 --staff（国资委工作人员账户）之一")
    name = (name or "").strip()
    if not name:
        raise AccountError("请用 --name 填写使用人姓名")
    code = parse_org(org) if org else None
    password = one_time_password()
    uid = secrets.token_urlsafe(16)
    with db.connect(path) as con:
        _ensure_login_keys(con)
        if not login:
            prefix = format_org_code(code) if code else "staff"
            taken = {r[0] for r in con.execute("select login_key from users where login_key like ?",
                                               (f"{login_key(prefix)}-%",))}
            login = next(f"{prefix}-{n:02d}" for n in range(1, 10_000) if login_key(f"{prefix}-{n:02d}") not in taken)
        try:
            con.execute(
                "insert into users (id, login, login_key, display_name, org_code, is_staff, password_hash, must_change,"
                " created_at) values (?,?,?,?,?,?,?,1,?)",
                (uid, login, login_key(login), name, code, int(staff), _HASHER.hash(password),
                 dt.datetime.now(dt.UTC).isoformat()))
        except sqlite3.IntegrityError:
            raise AccountError(f"登录名“{login}”已被使用，请换一个") from None
    return User(uid, login, name, code, staff, True), password


def _by_login(con: sqlite3.Connection, login: str) -> sqlite3.Row:
    _ensure_login_keys(con)
    row = con.execute("select * from users where login_key = ?", (login_key(login),)).fetchone()
    if row is None:
        raise AccountError(f"没有登录名为“{login}”的账户")
    return row


def disable_user(path: Path, login: str) -> None:
    with db.connect(path) as con:
        uid = _by_login(con, login)["id"]
        con.execute("update users set disabled = 1 where id = ?", (uid,))
        con.execute("delete from sessions where user_id = ?", (uid,))  # signed out everywhere, now


def reset_password(path: Path, login: str) -> str:
    """A new one-time password; the account is enabled again and every session of it ends."""
    password = one_time_password()
    with db.connect(path) as con:
        uid = _by_login(con, login)["id"]
        con.execute("update users set password_hash = ?, must_change = 1, disabled = 0 where id = ?",
                    (_HASHER.hash(password), uid))
        con.execute("delete from sessions where user_id = ?", (uid,))
    return password


def user_by_id(path: Path, uid: str) -> User | None:
    with db.connect(path) as con:
        row = con.execute("select * from users where id = ? and disabled = 0", (uid,)).fetchone()
    return _user(row) if row else None


def authenticate(path: Path, login: str, password: str) -> tuple[User | None, str, str | None]:
    """(user or None, outcome for the audit log, user id when the login named an account).

    A disabled account is refused even with the right password, and answers like a wrong one. A wrong login
    name costs as long as a wrong password."""
    with db.connect(path) as con:
        _ensure_login_keys(con)
        row = con.execute("select * from users where login_key = ?", (login_key(login[:200]),)).fetchone()
    if row is None:
        _verify(_DUMMY_HASH, password)
        return None, "unknown_login", None
    if row["disabled"]:
        _verify(_DUMMY_HASH, password)
        return None, "disabled", row["id"]
    if _verify(row["password_hash"], password):
        if _HASHER.check_needs_rehash(row["password_hash"]):
            with db.connect(path) as con:
                con.execute("update users set password_hash = ? where id = ?", (_HASHER.hash(password), row["id"]))
        return _user(row), "ok", row["id"]
    return None, "bad_password", row["id"]


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(user_id: str, path: Path, current: str, new: str, repeat: str) -> str | None:
    """Why the new password cannot be set (Chinese), or None."""
    with db.connect(path) as con:
        row = con.execute("select * from users where id = ?", (user_id,)).fetchone()
        earlier = [r[0] for r in con.execute(
            "select password_hash from password_history where user_id = ? order by set_at desc limit ?",
            (user_id, passwords.HISTORY))]
    if row is None or not _verify(row["password_hash"], current):
        return "当前密码不正确"
    if new != repeat:
        return "两次输入的新密码不一致"
    if new == current:
        return "新密码不能与当前密码相同"
    problem = passwords.policy_problem(new, row["login"], row["org_code"], row["display_name"])
    if problem:
        return problem
    if any(_verify(h, new) for h in earlier):
        return f"新密码不能与最近{passwords.HISTORY}次使用过的密码相同"
    return None


def set_password(path: Path, user_id: str, new: str, keep_session: str | None = None) -> None:
    """The account's new password; every session of the account but ``keep_session`` (the id hash of the one
    that changed it) ends at once."""
    hashed = _HASHER.hash(new)
    with db.connect(path) as con:
        con.execute("update users set password_hash = ?, must_change = 0 where id = ?", (hashed, user_id))
        con.execute("insert into password_history (user_id, password_hash, set_at) values (?,?,?)",
                    (user_id, hashed, time.time()))
        con.execute("delete from password_history where user_id = ? and rowid not in (select rowid from"
                    " password_history where user_id = ? order by set_at desc limit ?)",
                    (user_id, user_id, passwords.HISTORY))
        con.execute("delete from sessions where user_id = ? and id_hash is not ?", (user_id, keep_session))
