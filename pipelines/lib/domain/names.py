"""Names a person can trust: what a file name (or any text someone else chose) looks like wherever it is shown.

A name may hold control characters (a newline splits a log line, a terminal obeys escape sequences) and Unicode's
bidirectional controls (U+202E turns 「报表\u202excod.exe.xlsx」 into what reads as 「报表xslx.exe.docx」). Shown, each
such character is written as its escape (``\\u202E``), so what a person reads is what the name holds; the original
is kept exactly, for the audit, where it is stored (raw.submissions.file_name_original, the portal's uploads).
"""

from __future__ import annotations

import os
import re

# C0 and C1 controls and DEL; the bidirectional embeddings, overrides and isolates, the marks (LRM, RLM, ALM);
# the zero-width characters and line/paragraph separators that hide or split text.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def shown(text: str) -> str:
    """``text`` with every hidden or reordering character escaped as ``\\uXXXX``."""
    return _HIDDEN.sub(lambda m: f"\\u{ord(m.group()):04X}", text)


def original(name: str) -> str:
    """A path name exactly as the file system holds it, as text: undecodable bytes become ``\\xNN`` escapes,
    so every byte can be recovered."""
    return os.fsencode(name).decode("utf-8", errors="backslashreplace")


def shown_file_name(name: str) -> str:
    """A file system name as it is stored for display and shown: undecodable bytes as U+FFFD, hidden
    characters escaped."""
    return shown(os.fsencode(name).decode("utf-8", errors="replace"))
