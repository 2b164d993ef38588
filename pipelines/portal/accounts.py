"""Accounts: created by the commission from the CLI, argon2id hashes, a one-time password changed at first
login, lock-out after repeated failures."""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.lib.domain.codes import format_org_code, normalize_org_code, org_code_problem
from pipelines.portal import db

# argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane): ~0.1 s a login on the shared 2-core
# machine where the library's default (64 MiB, 3 passes, 4 lanes) took 0.5 s; older hashes are upgraded at login.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the login names nobody, so a wrong login name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))
_OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing that reads as another
MIN_PASSWORD = 10


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
        if not login:
            prefix = format_org_code(code) if code else "staff"
            taken = {r[0] for r in con.execute("select login from users where login like ?", (f"{prefix}-%",))}
            login = next(f"{prefix}-{n:02d}" for n in range(1, 10_000) if f"{prefix}-{n:02d}" not in taken)
        try:
            con.execute(
                "insert into users (id, login, display_name, org_code, is_staff, password_hash, must_change, created_at)"
                " values (?,?,?,?,?,?,1,?)",
                (uid, login, name, code, int(staff), _HASHER.hash(password), dt.datetime.now(dt.UTC).isoformat()))
        except sqlite3.IntegrityError:
            raise AccountError(f"登录名“{login}”已被使用，请换一个") from None
    return User(uid, login, name, code, staff, True), password


def _by_login(con: sqlite3.Connection, login: str) -> sqlite3.Row:
    row = con.execute("select * from users where login = ?", (login,)).fetchone()
    if row is None:
        raise AccountError(f"没有登录名为“{login}”的账户")
    return row


def disable_user(path: Path, login: str) -> None:
    with db.connect(path) as con:
        uid = _by_login(con, login)["id"]
        con.execute("update users set disabled = 1 where id = ?", (uid,))
        con.execute("delete from sessions where user_id = ?", (uid,))  # signed out everywhere, now


def reset_password(path: Path, login: str) -> str:
    """A new one-time password; the lock-out is lifted, every session of the account ends."""
    password = one_time_password()
    with db.connect(path) as con:
        uid = _by_login(con, login)["id"]
        con.execute("update users set password_hash = ?, must_change = 1, failed_logins = 0, locked_until = 0,"
                    " disabled = 0 where id = ?", (_HASHER.hash(password), uid))
        con.execute("delete from sessions where user_id = ?", (uid,))
    return password


def user_by_id(path: Path, uid: str) -> User | None:
    with db.connect(path) as con:
        row = con.execute("select * from users where id = ? and disabled = 0", (uid,)).fetchone()
    return _user(row) if row else None


def authenticate(path: Path, login: str, password: str, max_failures: int, lock_seconds: int
                 ) -> tuple[User | None, str, str | None]:
    """(user or None, outcome for the audit log, user id when the login named an account).

    A locked or disabled account is refused even with the right password, and answers like a wrong one."""
    with db.connect(path) as con:
        row = con.execute("select * from users where login = ?", (login[:200],)).fetchone()
    if row is None:
        _verify(_DUMMY_HASH, password)
        return None, "unknown_login", None
    now = time.time()
    if row["disabled"]:
        _verify(_DUMMY_HASH, password)
        return None, "disabled", row["id"]
    if row["locked_until"] > now:
        _verify(_DUMMY_HASH, password)
        return None, "locked", row["id"]
    if _verify(row["password_hash"], password):
        with db.connect(path) as con:
            con.execute("update users set failed_logins = 0, locked_until = 0 where id = ?", (row["id"],))
            if _HASHER.check_needs_rehash(row["password_hash"]):
                con.execute("update users set password_hash = ? where id = ?", (_HASHER.hash(password), row["id"]))
        return _user(row), "ok", row["id"]
    with db.connect(path) as con:
        failed = con.execute("update users set failed_logins = failed_logins + 1 where id = ? returning failed_logins",
                             (row["id"],)).fetchone()[0]
        if failed >= max_failures:
            con.execute("update users set locked_until = ?, failed_logins = 0 where id = ?",
                        (now + lock_seconds, row["id"]))
            return None, "locked_now", row["id"]
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
    if row is None or not _verify(row["password_hash"], current):
        return "当前密码不正确"
    if new != repeat:
        return "两次输入的新密码不一致"
    if len(new) < MIN_PASSWORD:
        return f"新密码至少需要{MIN_PASSWORD}个字符"
    if new == current:
        return "新密码不能与当前密码相同"
    if len(set(new)) < 4 or new.lower() in (row["login"].lower(),):
        return "新密码过于简单，请混合使用字母、数字和符号"
    return None


def set_password(path: Path, user_id: str, new: str) -> None:
    with db.connect(path) as con:
        con.execute("update users set password_hash = ?, must_change = 0 where id = ?", (_HASHER.hash(new), user_id))
