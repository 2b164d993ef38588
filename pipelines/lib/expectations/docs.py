"""GX Data Docs for a run, made self-contained for an office without internet.

GX pages load bootstrap, font-awesome, jQuery, bootstrap-table, vega … from CDNs. Those cannot be
fetched here, so after GX has written the site we strip every external (``http://``, ``https://``,
``//``) stylesheet, script, font and preconnect reference and inline a small stylesheet of our own.
The pages' content (suites, expectations, results, unexpected values) is rendered server-side by
GX and stays readable; only the interactive table widgets and charts are lost.
"""

from __future__ import annotations

import re
import shutil
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

SITE_NAME = "offline"
_GENERATED = ("index.html", "expectations", "validations", "static")

_EXTERNAL = r"""(?:https?:)?//"""
_LINK_RE = re.compile(rf"""<link\b[^>]*\bhref\s*=\s*["']?{_EXTERNAL}[^>]*>""", re.IGNORECASE)
_SCRIPT_RE = re.compile(
    rf"""<script\b[^>]*\bsrc\s*=\s*["']?{_EXTERNAL}[^>]*>.*?</script\s*>""", re.IGNORECASE | re.DOTALL
)
_ANY_SCRIPT_RE = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_IMG_RE = re.compile(rf"""<img\b[^>]*\bsrc\s*=\s*["']?{_EXTERNAL}[^>]*>""", re.IGNORECASE)
_ANCHOR_RE = re.compile(rf"""(<a\b[^>]*?)\s+href\s*=\s*["']{_EXTERNAL}[^"']*["']""", re.IGNORECASE)
_CSS_IMPORT_RE = re.compile(rf"""@import\s+(?:url\()?\s*["']?{_EXTERNAL}[^;]*;""", re.IGNORECASE)
_CSS_URL_RE = re.compile(rf"""url\(\s*["']?{_EXTERNAL}[^)]*\)""", re.IGNORECASE)

OFFLINE_CSS = """
/* sasac offline data docs: replaces the CDN stylesheets GX links to */
body { font-family: "Microsoft YaHei", "PingFang SC", "Noto Sans CJK SC", Arial, sans-serif;
       font-size: 14px; line-height: 1.5; color: #222; margin: 0; padding: 0 1.5em 2em; background: #fff; }
a { color: #0b5cad; } a:hover { text-decoration: underline; }
nav, .navbar { border-bottom: 1px solid #ccd; padding: .5em 0; margin-bottom: 1em; }
.container, .container-fluid { max-width: 1400px; margin: 0 auto; }
.row { display: flex; flex-wrap: wrap; gap: 1em; }
.col-md-2, .col-md-3, .col-lg-2, .col-lg-3 { flex: 0 0 18%; min-width: 12em; }
.col-md-8, .col-md-9, .col-md-10, .col-lg-9, .col-lg-10, .col-12, .col { flex: 1 1 60%; min-width: 20em; }
h1, h2, h3, h4, h5 { color: #123; margin: .8em 0 .4em; }
table { border-collapse: collapse; margin: .5em 0 1em; width: auto; max-width: 100%; }
th, td { border: 1px solid #ccd; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #eef2f7; }
tr:nth-child(even) td { background: #fafbfd; }
.card, .alert { border: 1px solid #dde; border-radius: 4px; padding: .6em 1em; margin: .6em 0; }
.card-header { font-weight: bold; border-bottom: 1px solid #dde; margin-bottom: .4em; }
.text-success, .badge-success { color: #1a7f37; } .text-danger, .badge-danger { color: #b42318; }
.badge { display: inline-block; padding: 0 .4em; border: 1px solid currentColor; border-radius: 3px; }
.collapse:not(.show) { display: block; }
.fas, .fa, .far { display: none; }
code, pre { font-family: Consolas, "Courier New", monospace; background: #f5f5f5; padding: 0 .2em; }
pre { padding: .5em; overflow-x: auto; }
ul.nav, ul.list-group { list-style: none; padding-left: 0; }
.sticky { position: static; }
"""


def make_offline(html: str) -> str:
    """Drop external stylesheets/scripts/fonts from a page and inline OFFLINE_CSS."""
    html = _SCRIPT_RE.sub("", html)
    html = _ANY_SCRIPT_RE.sub(
        "", html
    )  # inline scripts only drive the CDN widgets (jQuery, bootstrap-table, vega)
    html = _LINK_RE.sub("", html)
    html = _IMG_RE.sub("", html)
    html = _ANCHOR_RE.sub(r"\1", html)  # links to the GX website lead nowhere offline
    html = _CSS_IMPORT_RE.sub("", html)
    html = _CSS_URL_RE.sub("none", html)
    style = f'<style id="sasac-offline">{OFFLINE_CSS}</style>'
    if "sasac-offline" not in html:
        m = re.search(r"</head\s*>", html, re.IGNORECASE)
        html = html[: m.start()] + style + html[m.start() :] if m else style + html
    return html


def make_site_offline(docs_dir: Path) -> int:
    """Post-process every page and stylesheet under ``docs_dir``; returns the number of files changed."""
    changed = 0
    for path in sorted(docs_dir.rglob("*")):
        if path.suffix.lower() not in (".html", ".htm", ".css") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = (
            make_offline(text)
            if path.suffix.lower() != ".css"
            else _CSS_URL_RE.sub("none", _CSS_IMPORT_RE.sub("", text))
        )
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed += 1
    return changed


def _href(path: Path, root: Path) -> str:
    return "/".join(quote(part) for part in path.relative_to(root).parts)


def static_index(docs_dir: Path, summary: list[dict[str, Any]]) -> str:
    """A plain-HTML list of the run's suites and validation pages (GX's own index needs JavaScript)."""
    pages = sorted(docs_dir.glob("validations/**/*.html"))
    rows = []
    for s in summary:
        name = s["name"]
        suite_page = docs_dir / "expectations" / f"{name}.html"
        link = (
            f'<a href="{_href(suite_page, docs_dir)}">{escape(name)}</a>'
            if suite_page.exists()
            else escape(name)
        )
        runs = [p for p in pages if p.relative_to(docs_dir).parts[1].split("__")[0] == name]
        run_links = "<br>".join(
            f'<a href="{_href(p, docs_dir)}">{escape(p.relative_to(docs_dir).parts[1])}</a>' for p in runs
        )
        ok = (
            '<span class="text-success">通过</span>'
            if s["success"]
            else '<span class="text-danger">未通过</span>'
        )
        rows.append(
            f"<tr><td>{link}</td><td>{escape(s.get('description_zh') or '')}</td><td>{escape(', '.join(s['tables']))}</td>"
            f"<td>{ok}</td><td>{s['failing_count']}</td><td>{run_links}</td></tr>"
        )
    return (
        '<section id="sasac-index"><h2>校验套件与结果（Great Expectations）</h2>'
        "<table><thead><tr><th>套件</th><th>说明</th><th>集市表</th><th>结果</th><th>不符合行数</th>"
        "<th>校验明细</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def build_offline_docs(context: Any, docs_dir: Path, summary: list[dict[str, Any]] | None = None) -> Path:
    """Build the run's Data Docs into ``docs_dir`` (previous site removed) and make them offline.

    ``summary``: one dict per suite (name, description_zh, tables, success, failing_count)
    for the static index section.
    """
    docs_dir.mkdir(parents=True, exist_ok=True)
    for name in _GENERATED:
        p = docs_dir / name
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
    context.build_data_docs(site_names=[SITE_NAME])
    make_site_offline(docs_dir)
    index = docs_dir / "index.html"
    if summary is not None and index.exists():
        html = index.read_text(encoding="utf-8")
        m = re.search(r"<body\b[^>]*>", html, re.IGNORECASE)
        section = static_index(docs_dir, summary)
        html = html[: m.end()] + section + html[m.end() :] if m else section + html
        index.write_text(html, encoding="utf-8")
    return index
