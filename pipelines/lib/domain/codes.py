"""Check characters of Chinese identifiers: 组织机构代码 (GB 11714-1997), 身份证号 (GB 11643-1999)."""

from __future__ import annotations

import datetime as dt
import re

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643-1999: weights of the 17 body digits, and the check character for each sum mod 11. The one
# definition; the vectorised intake check (intake/checks.py) uses the same two.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
_ORG_BODY_RE = re.compile(r"^[0-9A-Z]{8}$")

# First two digits of a valid 行政区划代码 (provinces, autonomous regions, municipalities).
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


def org_check_char(body: str) -> str:
    """GB 11714 check character for an 8-character body (digits, A–Z)."""
    total = sum(int(ch, 36) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    c9 = 11 - total % 11
    return {10: "X", 11: "0"}.get(c9, str(c9))


def normalize_org_code(text: str) -> str:
    """Upper-case, drop the dash and spaces: 'ma62k026-0' -> 'MA62K0260'."""
    return re.sub(r"[\s\-－—]", "", str(text)).upper()


def org_code_problem(code: str) -> str | None:
    """None when ``code`` (normalised, 9 chars) is a valid 组织机构代码, else a Chinese reason."""
    if len(code) != 9 or not _ORG_BODY_RE.match(code[:8]) or not re.match(r"^[0-9X]$", code[8]):
        return "应为8位本体代码加1位校验码（如 MA62K026-0）"
    expected = org_check_char(code[:8])
    if code[8] != expected:
        return check_char_problem(8, expected, code[:8])
    return None


def check_char_problem(body_length: int, expected: str, body: str | None = None) -> str:
    """A check character that does not match: usually one character of the body was mistyped, so the clerk is
    asked to check the whole code, told what the last character would be for the body as typed (an ID's body
    is personal data and is not repeated)."""
    typed = f"“{body}”" if body else ""
    return (f"校验位与前{body_length}位不符：按所填前{body_length}位{typed}计算，最后一位应为{expected}；"
            "请对照原件核对整个号码，前面任何一位抄错都会如此，不要只改最后一位")


def format_org_code(code: str) -> str:
    """Display form with the dash: 'MA62K0260' -> 'MA62K026-0'."""
    return f"{code[:8]}-{code[8:]}" if len(code) == 9 else code


def id_check_char(body17: str) -> str:
    return ID_CHECK_CHARS[sum(int(ch) * w for ch, w in zip(body17, ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(text: str) -> str:
    return re.sub(r"\s", "", str(text)).upper()


def id_birth_date(id_number: str) -> dt.date | None:
    try:
        if len(id_number) == 18:
            return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        if len(id_number) == 15:
            return dt.date(1900 + int(id_number[6:8]), int(id_number[8:10]), int(id_number[10:12]))
    except ValueError:
        return None
    return None


def id_sex(id_number: str) -> str:
    """男 when the sequence digit (17th of 18, 15th of 15) is odd."""
    digit = id_number[16] if len(id_number) == 18 else id_number[14]
    return "男" if int(digit) % 2 else "女"


def id_number_problem(id_number: str) -> str | None:
    """None when valid, else a Chinese reason a clerk can act on."""
    if len(id_number) == 18:
        if not re.match(r"^\d{17}[\dX]$", id_number):
            return "应为18位，前17位为数字，末位为数字或X"
    elif len(id_number) == 15:
        if not id_number.isdigit():
            return "15位旧身份证号应全为数字"
    else:
        return f"位数错误（{len(id_number)}位），应为18位或15位"
    if id_number[:2] not in PROVINCE_PREFIXES:
        return f"地区码“{id_number[:2]}”不存在"
    if id_birth_date(id_number) is None:
        return "出生日期部分不是有效日期"
    if len(id_number) == 18:
        expected = id_check_char(id_number[:17])
        if id_number[17] != expected:
            return check_char_problem(17, expected)
    return None


# What a receipt may show of an ID: the first ID_MASK_HEAD characters (region) and the last ID_MASK_TAIL.
ID_MASK_HEAD, ID_MASK_TAIL = 4, 2


def mask_id_number(id_number: str) -> str:
    if len(id_number) < 8:
        return "*" * len(id_number)
    hidden = len(id_number) - ID_MASK_HEAD - ID_MASK_TAIL
    return id_number[:ID_MASK_HEAD] + "*" * hidden + id_number[-ID_MASK_TAIL:]
