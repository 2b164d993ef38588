"""Accounts, passwords and the login throttle on a real SQLite database (the server's routes: test_portal_security)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.portal import accounts, db, passwords, sessions, throttle

STRONG = "Yanjing-Zhuangbei-quarterly-7"


@pytest.fixture()
def portal_db(tmp_path: Path) -> Path:
    path = tmp_path / "portal.sqlite"
    db.init(path)
    return path


@pytest.mark.parametrize("weak", ["1234567890", "password12", "qwertyuiop", "1234567890ab", "password1234",
                                  "qwertyuiop12", "aaaaaaaaaaaa", "abcdefghijkl"])
def test_common_or_short_passwords_are_refused(weak: str) -> None:
    assert passwords.policy_problem(weak, "10117472-0-01", "101174720", "赵会计") is not None


def test_a_password_holding_the_login_or_the_org_code_is_refused() -> None:
    assert "登录名" in passwords.policy_problem("xx10117472-0-01-Zebra!", "10117472-0-01", "101174720", "")
    assert "登录名" in passwords.policy_problem("Zebra!101174720mango", "10117472-0-01", "101174720", "")
    assert "登录名" in passwords.policy_problem("Zebra!10117472-0mango", "10117472-0-01", "101174720", "")
    assert passwords.policy_problem(STRONG, "10117472-0-01", "101174720", "赵会计") is None


def test_logins_match_whatever_the_case_or_width(portal_db: Path) -> None:
    user, otp = accounts.add_user(portal_db, "赵会计", org="10202509-X")
    assert user.login == "10202509-X-01"
    for typed in ("10202509-x-01", "１０２０２５０９－Ｘ－０１", " 10202509-X-01 "):
        found, outcome, _ = accounts.authenticate(portal_db, typed, otp)
        assert found is not None and outcome == "ok", typed


def test_the_last_five_passwords_cannot_come_back_and_other_sessions_end(portal_db: Path) -> None:
    user, otp = accounts.add_user(portal_db, "赵会计", org="10117472-0")
    current = otp
    chosen = [f"{word}-Quarterly-Filing-{n}" for n, word in enumerate(["Birch", "Cedar", "Maple", "Aspen", "Larch"])]
    for new in chosen:
        assert accounts.password_problem(user.id, portal_db, current, new, new) is None
        accounts.set_password(portal_db, user.id, new)
        current = new
    assert "最近5次" in accounts.password_problem(user.id, portal_db, current, chosen[1], chosen[1])
    # a sixth one pushes the first out of the history
    assert accounts.password_problem(user.id, portal_db, current, "Willow-Quarterly-Filing-9",
                                     "Willow-Quarterly-Filing-9") is None
    accounts.set_password(portal_db, user.id, "Willow-Quarterly-Filing-9")
    assert accounts.password_problem(user.id, portal_db, "Willow-Quarterly-Filing-9", chosen[0], chosen[0]) is None
    # two browsers; one changes the password: the other's session is gone, the changer's kept
    mine, other = sessions.create(portal_db, user.id), sessions.create(portal_db, user.id)
    accounts.set_password(portal_db, user.id, "Poplar-Quarterly-Filing-3", keep_session=sessions.id_hash(mine))
    assert sessions.load(portal_db, mine.raw_id, 3600, 3600) is not None
    assert sessions.load(portal_db, other.raw_id, 3600, 3600) is None


def test_failures_slow_the_guesser_and_never_the_clerk_elsewhere(portal_db: Path) -> None:
    login, attacker, clerk, now = "10117472-0-01", "203.0.113.9", "198.51.100.7", 1000.0
    for n in range(throttle.FREE_FAILURES):
        assert throttle.must_wait(portal_db, login, attacker, now + n) is None
        throttle.failed(portal_db, login, attacker, now + n)
    wait = throttle.must_wait(portal_db, login, attacker, now + 5)
    assert wait is not None and wait.scope == "account" and 0 < wait.seconds <= throttle.BASE_DELAY
    assert throttle.must_wait(portal_db, login, clerk, now + 5) is None  # the clerk's own address is never slowed
    # the delay grows with every further failure, and stops growing at the cap
    waits = [throttle.failed(portal_db, login, attacker, now + 10 * n) for n in range(1, 12)]
    assert waits == sorted(waits) and waits[-1] == throttle.MAX_DELAY
    throttle.succeeded(portal_db, login, attacker)
    assert throttle.must_wait(portal_db, login, attacker, now + 200) is None


def test_one_address_trying_many_logins_is_slowed_too(portal_db: Path) -> None:
    address, now = "203.0.113.10", 5000.0
    for n in range(throttle.ADDRESS_FREE_FAILURES):
        throttle.failed(portal_db, f"login-{n}", address, now + n)
    wait = throttle.must_wait(portal_db, "yet-another", address, now + throttle.ADDRESS_FREE_FAILURES - 0.5)
    assert wait is not None and wait.scope == "address"
    # after the window, the address's count starts again
    assert throttle.failed(portal_db, "late", address, now + 31 + throttle.ADDRESS_WINDOW + 1) == 0
