"""Where the per-enterprise and per-group pages live beside the quarterly reports, and their file names.

Named like the receipts: the organisation code as people read it (10117472-0.html).
"""

from __future__ import annotations

from pipelines.lib.domain.codes import format_org_code

ENTERPRISE_DIR, GROUP_DIR = "enterprises", "groups"


def page_name(org_code: str) -> str:
    return f"{format_org_code(org_code)}.html"
