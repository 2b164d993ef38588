"""The one Jinja2 environment of the generated pages: the quarterly reports, the reports index, the inspection
pages (exports/templates/) and the Data Docs (expectations/templates/).

Autoescaping is on, so no value reaches a page unescaped; an undefined name is an error, not an empty cell; and
``None`` prints as nothing, as the pages have always shown a missing value. The filters are the one wording of
shares (``pct``), differences of shares (``pp``, 百分点), organisation codes (``org_code``), counts (``count``,
``num``) and dates (``date``) in every page. Python computes what a page shows (the chart geometry included:
``charts.py``); the templates say how it is marked up.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from pathlib import Path
from typing import Any

import jinja2

from pipelines.lib.domain.codes import format_org_code
from pipelines.lib.exports.display import gain_text, pct, pp

LIB = Path(__file__).resolve().parents[1]
# template name prefix -> folder: "exports/report.html.j2", "expectations/suite.html.j2"
FOLDERS = {"exports": LIB / "exports" / "templates", "expectations": LIB / "expectations" / "templates"}


def num(v: Any, digits: int = 0) -> str:
    """A count or amount with thousands separators; a float keeps ``digits`` decimals; — when missing."""
    if v is None:
        return "—"
    return f"{v:,.{digits}f}" if isinstance(v, float) or digits else f"{v:,}"


def count(v: Any) -> str:
    """A count with thousands separators, 0 when missing."""
    return f"{v or 0:,}"


def date(v: dt.date | dt.datetime | None, fmt: str = "%Y-%m-%d") -> str:
    return "—" if v is None else v.strftime(fmt)


def _blank_none(v: Any) -> Any:
    return "" if v is None else v


@functools.cache
def environment() -> jinja2.Environment:
    """Built once a process; each template is compiled once and cached by it (a run writes 11,000 pages)."""
    env = jinja2.Environment(
        loader=jinja2.PrefixLoader({k: jinja2.FileSystemLoader(v) for k, v in FOLDERS.items()}),
        autoescape=True, undefined=jinja2.StrictUndefined, finalize=_blank_none,
        trim_blocks=True, lstrip_blocks=True, auto_reload=False)
    env.filters.update(pct=pct, pp=pp, gain=gain_text, org_code=format_org_code, num=num, count=count, date=date)
    return env


def preload() -> None:
    """Compile every template now: before forking the children that write the pages, so they inherit them
    compiled rather than each compiling its own."""
    env = environment()
    for name in env.list_templates(filter_func=lambda n: n.endswith(".j2")):
        env.get_template(name)


def render(template: str, /, **context: Any) -> str:
    return environment().get_template(template).render(**context)


@functools.cache
def templates_digest() -> str:
    """Digest of every template's source: part of a page's inputs digest, so a changed template rewrites the
    pages it draws although their data did not change."""
    h = hashlib.sha256()
    for prefix, folder in sorted(FOLDERS.items()):
        for path in sorted(p for p in folder.iterdir() if p.is_file()):
            h.update(f"{prefix}/{path.name}".encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()
