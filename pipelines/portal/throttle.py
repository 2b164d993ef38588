"""Failed logins slow the guesser down without locking anyone out (OWASP's authentication guidance).

Two counters, kept in the portal's database so a restart does not reset them:

- per login name × client address: after ``FREE_FAILURES`` wrong passwords in a row, each further attempt from
  that address for that login must wait ``BASE_DELAY · 2^(n - FREE_FAILURES)`` seconds, at most ``MAX_DELAY``;
  a right password resets it. Someone guessing at a clerk's login from elsewhere slows only themselves: the
  clerk, from their own address, is never refused.
- per client address, whatever the login: after ``ADDRESS_FREE_FAILURES`` wrong passwords within
  ``ADDRESS_WINDOW``, the same growing delay, so one address cannot try many logins quickly either.

While a subject must wait, no password is checked: the answer says how long to wait. The numbers are stated
in docs/portal.md. Subjects are stored hashed: the table names no login and no address.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from pipelines.portal import db

FREE_FAILURES = 5
ADDRESS_FREE_FAILURES = 30
ADDRESS_WINDOW = 15 * 60
BASE_DELAY = 2.0
MAX_DELAY = 15 * 60.0
# Rows untouched this long are removed as the table is used.
FORGET_AFTER = 24 * 3600


@dataclass(frozen=True)
class Wait:
    scope: str  # 'account' or 'address'
    seconds: float


def _subject(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _subjects(login_key: str, address: str) -> list[tuple[str, str, int]]:
    return [("account", _subject(login_key, address), FREE_FAILURES),
            ("address", _subject(address), ADDRESS_FREE_FAILURES)]


def delay(failures: int, free: int) -> float:
    """Seconds to wait after ``failures`` consecutive failures, of which ``free`` cost nothing."""
    if failures < free:
        return 0.0
    return min(BASE_DELAY * 2 ** (failures - free), MAX_DELAY)


def must_wait(path: Path, login_key: str, address: str, now: float | None = None) -> Wait | None:
    """The longest wait in force for this login from this address, or None."""
    now = time.time() if now is None else now
    with db.connect(path) as con:
        con.execute("delete from login_failures where last_failure < ?", (now - FORGET_AFTER,))
        waits = []
        for scope, subject, _free in _subjects(login_key, address):
            row = con.execute("select next_allowed from login_failures where scope = ? and subject = ?",
                              (scope, subject)).fetchone()
            if row is not None and row[0] > now:
                waits.append(Wait(scope, row[0] - now))
    return max(waits, key=lambda w: w.seconds, default=None)


def failed(path: Path, login_key: str, address: str, now: float | None = None) -> float:
    """Count a wrong password; returns the wait now in force (0 while the failures are still free)."""
    now = time.time() if now is None else now
    longest = 0.0
    with db.connect(path) as con:
        for scope, subject, free in _subjects(login_key, address):
            row = con.execute("select failures, last_failure from login_failures where scope = ? and subject = ?",
                              (scope, subject)).fetchone()
            failures = 1
            if row is not None and not (scope == "address" and now - row[1] > ADDRESS_WINDOW):
                failures = row[0] + 1
            wait = delay(failures, free)
            longest = max(longest, wait)
            con.execute("insert into login_failures (scope, subject, failures, last_failure, next_allowed)"
                        " values (?,?,?,?,?) on conflict (scope, subject) do update set failures = excluded.failures,"
                        " last_failure = excluded.last_failure, next_allowed = excluded.next_allowed",
                        (scope, subject, failures, now, now + wait))
    return longest


def succeeded(path: Path, login_key: str, address: str) -> None:
    """A right password: this login from this address starts afresh (the address's own count stays)."""
    with db.connect(path) as con:
        scope, subject, _ = _subjects(login_key, address)[0]
        con.execute("delete from login_failures where scope = ? and subject = ?", (scope, subject))
