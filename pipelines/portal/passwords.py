"""What a password must be: long, not common, not the account's own name, not one of its last few.

Numbers live here and nowhere else; docs/portal.md states them. "Common" is zxcvbn's judgement (its shipped
frequency lists of leaked passwords, names, words and keyboard patterns, no network): a password it can guess
in fewer than 10^8 tries (score below 3) is refused, however long.
"""

from __future__ import annotations

import unicodedata

from zxcvbn import zxcvbn

MIN_LENGTH = 12
MIN_STRENGTH = 3  # zxcvbn's score, 0-4: 3 means "safely unguessable" (~10^8-10^10 guesses)
HISTORY = 5  # a new password may not be any of the account's last five
# zxcvbn's running time grows with the length; a password longer than this is judged on its first part.
JUDGED_LENGTH = 100


def _folded(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def identity_words(login: str, org_code: str | None, display_name: str) -> list[str]:
    """What a password must not contain: the login and the organisation code (with and without its hyphen)."""
    words = [login]
    if org_code:
        words += [org_code, f"{org_code[:8]}-{org_code[8:]}"]
    return [_folded(w) for w in words if w] + ([_folded(display_name)] if display_name else [])


def policy_problem(new: str, login: str, org_code: str | None, display_name: str) -> str | None:
    """Why ``new`` is not acceptable as a password (Chinese), or None. The history is checked by the caller."""
    if len(new) < MIN_LENGTH:
        return f"新密码至少需要{MIN_LENGTH}个字符"
    folded = _folded(new)
    for word in identity_words(login, org_code, "")[:3]:
        if word and word in folded:
            return "新密码不能包含登录名或组织机构代码"
    verdict = zxcvbn(new[:JUDGED_LENGTH], user_inputs=identity_words(login, org_code, display_name))
    if verdict["score"] < MIN_STRENGTH:
        return "新密码过于常见或容易猜到（如常用密码、连续数字或键盘顺序），请换一个更长、更少见的密码"
    return None
