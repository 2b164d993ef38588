"""Keyed pseudonyms for 身份证号 (contract §3).

HMAC-SHA256 with a secret kept outside the repository. A 15-digit legacy number is first
upgraded to its 18-digit form, so a person who re-registered keeps one pseudonym.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from pipelines.lib.domain.codes import id_check_char, normalize_id_number

KEY_ENV = "SASAC_HMAC_KEY"
DEMO_ENV = "SASAC_DEMO"
# Clearly marked: only for the bundled synthetic demo data, never for real submissions.
DEMO_KEY = b"DEMO-KEY-NOT-FOR-PRODUCTION-sasac-skills-2008-8"


class MissingKeyError(RuntimeError):
    pass


def load_key(environ: dict[str, str] | None = None) -> bytes:
    env = os.environ if environ is None else environ
    key = env.get(KEY_ENV, "")
    if key:
        if len(key) < 16:
            raise MissingKeyError(f"{KEY_ENV} 太短：至少16个字符")
        return key.encode()
    if env.get(DEMO_ENV, "") in ("1", "true", "yes"):
        return DEMO_KEY
    raise MissingKeyError(
        f"缺少假名化密钥：请设置环境变量 {KEY_ENV}（至少16个字符，勿提交到代码库）；"
        f"仅演示数据可设 {DEMO_ENV}=1 使用演示密钥"
    )


def canonical_id(id_number: str) -> str:
    text = normalize_id_number(id_number)
    if len(text) == 15 and text.isdigit():
        body = text[:6] + "19" + text[6:]
        return body + id_check_char(body)
    return text


def person_keys_of_canonical(canonicals: list[str], key: bytes) -> list[str]:
    """The pseudonym of each canonical ID: ``p_`` and the first 20 hex digits of its HMAC-SHA-256."""
    # The key is prepared once and copied for each ID (hmac.digest prepares it again for every call).
    keyed = hmac.new(key, digestmod=hashlib.sha256)
    out = []
    for canonical in canonicals:
        mac = keyed.copy()
        mac.update(canonical.encode())
        out.append("p_" + mac.hexdigest()[:20])
    return out


def person_key_of_canonical(canonical: str, key: bytes) -> str:
    return person_keys_of_canonical([canonical], key)[0]


def person_key(id_number: str, key: bytes) -> str:
    return person_key_of_canonical(canonical_id(id_number), key)
