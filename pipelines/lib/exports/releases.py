"""Releases: every publication that changed a quarter's figures is numbered, with its causes, and the documents
it wrote are kept under ``<marts dir>/releases/<N>/`` exactly as published.

The ledger lives in the working database (schema ``releases``), which the backup keeps and the restore puts
back; each publication copies it into the published warehouse. Which quarters a release changed is the
publication's own answer (``publish._changed_periods``); its causes are what the run already knows:

- the files received since the last publication (``raw.submissions``): a first filing of a quarter not yet
  published, a late file (a quarter already published, the enterprise's first file for it) or a resubmission
  (the enterprise had filed for that quarter before), each with its submission id;
- a rule or reference-data change: the digest of the seeds, dbt models, macros, tests and the intake's rules
  differs from the last release's (the rules version);
- a registry change: the inbox's registry.csv differs from the last release's;
- a forced re-check (``sasac-skills run --recheck``).

A release with none of these (a program update that moved figures) says so. No personal data: enterprises by
organisation code, files by submission id.

A release also records the headline figures it published for every quarter it changed (``headlines.py``), and
rebuilds from them the revisions triangle and its mean absolute revisions; ``revisions.py`` reads them back for
the documents.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.lib.domain.contract import REGISTRY_FILE
from pipelines.lib.domain.fingerprint import code_digest
from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import DBT_PROJECT_DIR
from pipelines.lib.domain.warehouse import create_raw_tables, transaction
from pipelines.lib.exports.disclosure import NOTHING_WITHHELD, Withheld
from pipelines.lib.exports.headlines import read_headlines
from pipelines.lib.exports.history import (
    HISTORY_SCHEMA,
    Snapshotted,
    create_as_of_macros,
    describe_history,
    history_tables,
    history_withheld,
    revisions_sql,
)
from pipelines.lib.exports.publish import BeforeSwap, copy_schemas
from pipelines.lib.intake.rules_version import RULE_CODE_DIRS

SCHEMA = "releases"
# Which files were already looked at by a publication (working area only: not published).
SEEN_SCHEMA = "releases_work"
RELEASES_DIR = "releases"
# What the rules version is the digest of: reference data and every rule, in dbt and at the door.
RULE_ROOTS = (DBT_PROJECT_DIR / "seeds", DBT_PROJECT_DIR / "models", DBT_PROJECT_DIR / "macros",
              DBT_PROJECT_DIR / "tests", *RULE_CODE_DIRS)
VERSION_CHARS = 12

# The causes and their labels: the one place they are named.
CAUSES = {
    "new_filing": "首次报送",
    "late_file": "迟报文件",
    "resubmission": "重新报送（更正）",
    "rules_change": "规则或参考数据变更",
    "registry_change": "企业名录变更",
    "forced_recheck": "强制重新核对",
    "first_publication": "首次发布（无新文件，如全部未报送的季度）",
    "other": "程序更新或其他",
}

# The ledger's tables, their comments and columns (name, SQL type, comment), in order: ledger.json beside this module.
_LEDGER_FILE = Path(__file__).with_name("ledger.json")
LEDGER = {table: spec for table, spec in json.loads(_LEDGER_FILE.read_text(encoding="utf-8")).items()
          if not table.startswith("_")}
# Rebuilt whole from release_headlines after every release (their declarations are in ledger.json too).
DERIVED = ("revisions_triangle", "mean_absolute_revisions")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def ensure_ledger(con: duckdb.DuckDBPyConnection) -> None:
    with transaction(con):  # its tables and comments, one commit (transaction's why)
        con.execute(f"create schema if not exists {SCHEMA}")
        con.execute(f"create schema if not exists {SEEN_SCHEMA}")
        for table, spec in LEDGER.items():
            body = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in spec["columns"])
            con.execute(f"create table if not exists {SCHEMA}.{table} ({body})")
            con.execute(f"comment on table {SCHEMA}.{table} is {_quote(spec['comment'])}")
            for name, _, comment in spec["columns"]:
                con.execute(f"comment on column {SCHEMA}.{table}.{name} is {_quote(comment)}")
        con.execute(f"create table if not exists {SEEN_SCHEMA}.seen_submissions (submission_id VARCHAR PRIMARY KEY)")


def _period_indexes(con: duckdb.DuckDBPyConnection) -> None:
    """A temporary table of each released quarter's index (Period.index): delays are differences of it."""
    periods = [p for (p,) in con.execute(f"select distinct period from {SCHEMA}.release_quarters").fetchall()]
    con.execute("create or replace temp table period_indexes (period VARCHAR, period_index INTEGER)")
    con.executemany("insert into period_indexes values (?, ?)", [(p, Period.parse(p).index) for p in periods])


def _rebuild_triangle(con: duckdb.DuckDBPyConnection) -> None:
    """The revisions triangle and its mean absolute revisions, from the headlines every release recorded."""
    _period_indexes(con)
    for table in DERIVED:
        con.execute(f"delete from {SCHEMA}.{table}")
    con.execute(f"""
        insert into {SCHEMA}.revisions_triangle by name
        with horizons as (
            select r.release_no, r.released_at,
                   (select max(q.period) from {SCHEMA}.release_quarters q where q.release_no <= r.release_no) as horizon
            from {SCHEMA}.releases r
        ),
        firsts as (
            select period, figure, min(release_no) as first_release from {SCHEMA}.release_headlines group by all
        ),
        cells as (
            select f.period, f.figure, h.release_no, h.released_at, hi.period_index - fi.period_index as delay_quarters,
                   (select max(x.release_no) from {SCHEMA}.release_headlines x where x.period = f.period
                    and x.figure = f.figure and x.release_no <= h.release_no) as value_release
            from firsts f
            join horizons h on h.release_no >= f.first_release
            join period_indexes hi on hi.period = h.horizon
            join period_indexes fi on fi.period = f.period
        ),
        final as (
            select c.period, c.figure, v.figure_zh, c.release_no, c.released_at, c.delay_quarters,
                   c.value_release = c.release_no and c.release_no > fv.release_no as is_revision,
                   v.value, fv.value as first_value, v.value - fv.value as revision
            from cells c
            join {SCHEMA}.release_headlines v
              on v.period = c.period and v.figure = c.figure and v.release_no = c.value_release
            join (select h.* from {SCHEMA}.release_headlines h join firsts f on f.period = h.period
                  and f.figure = h.figure and f.first_release = h.release_no) fv
              on fv.period = c.period and fv.figure = c.figure
        )
        select * from final order by period, figure, release_no""")
    con.execute(f"""
        insert into {SCHEMA}.mean_absolute_revisions by name
        with last_at_delay as (
            select * from {SCHEMA}.revisions_triangle
            qualify row_number() over (partition by period, figure, delay_quarters order by release_no desc) = 1
        ),
        final as (
            select figure, any_value(figure_zh) as figure_zh, delay_quarters, count(*) as quarters,
                   avg(abs(revision)) as mean_absolute_revision
            from last_at_delay where revision is not null group by figure, delay_quarters
        )
        select * from final order by figure, delay_quarters""")


def _digest12(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:VERSION_CHARS]


def rules_version() -> str:
    return code_digest(RULE_ROOTS)[:VERSION_CHARS]


def registry_version(inbox: Path) -> str | None:
    try:
        return _digest12((inbox / REGISTRY_FILE).read_bytes())
    except OSError:
        return None


def _file_causes(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """(cause, period, org code, submission id) of every file not seen by an earlier publication."""
    return con.execute(f"""
        with files as (
            select submission_id, period, org_code, arrived_at from raw.submissions where outcome <> 'ignored'
        ),
        new as (
            select * from files where submission_id not in (select submission_id from {SEEN_SCHEMA}.seen_submissions)
        ),
        published as (select distinct period from {SCHEMA}.release_quarters)
        select
            case
                when exists (select 1 from files f where f.period = n.period and f.org_code = n.org_code
                             and (f.arrived_at < n.arrived_at or (f.arrived_at = n.arrived_at
                                  and f.submission_id < n.submission_id))) then 'resubmission'
                when n.period in (select period from published) then 'late_file'
                else 'new_filing'
            end,
            n.period, n.org_code, n.submission_id
        from new n
        order by 2, 3, n.arrived_at, 4
    """).fetchall()


def record_release(work_db: Path, changed: list[str], run_id: str, inbox: Path, recheck: bool,
                   headlines: list[tuple[str, str, str, float | None]] = ()) -> int | None:
    """Record the publication in the ledger: a new release when ``changed`` names quarters, with the
    ``headlines`` (period, figure, label, value: headlines.read_headlines) it published for them; the files it saw
    either way (a file that moved nothing is no cause of a later release). Returns the new release number."""
    with duckdb.connect(str(work_db)) as con:
        create_raw_tables(con)  # a working database the intake never wrote to has no files: no file causes
        ensure_ledger(con)
        con.execute("begin")
        causes = _file_causes(con)
        con.execute(f"insert into {SEEN_SCHEMA}.seen_submissions select submission_id from raw.submissions"
                    f" on conflict do nothing")
        if not changed:
            con.execute("commit")
            return None
        last = con.execute(f"select release_no, rules_version, registry_version from {SCHEMA}.releases"
                           " order by release_no desc limit 1").fetchone()
        number = 1 if last is None else last[0] + 1
        rules, registry = rules_version(), registry_version(inbox)
        rows = [(c, p, o, s, None) for c, p, o, s in causes]
        if last is not None and last[1] != rules:
            rows += [("rules_change", p, None, None, rules) for p in changed]
        if last is not None and last[2] != registry:
            rows.append(("registry_change", None, None, None, None))
        if recheck:
            rows.append(("forced_recheck", None, None, None, None))
        if not rows:
            rows.append(("other" if last is not None else "first_publication", None, None, None, None))
        con.execute(f"insert into {SCHEMA}.releases values (?, ?, ?, ?, ?, ?)",
                    [number, dt.datetime.now().replace(microsecond=0), rules, registry, recheck, run_id])
        con.executemany(f"insert into {SCHEMA}.release_quarters values (?, ?)", [[number, p] for p in changed])
        con.executemany(f"insert into {SCHEMA}.release_causes values (?, ?, ?, ?, ?, ?, ?)",
                        [[number, c, CAUSES[c], p, o, s, r] for c, p, o, s, r in rows])
        con.executemany(f"insert into {SCHEMA}.release_headlines values (?, ?, ?, ?, ?)",
                        [[number, *h] for h in headlines if h[0] in changed])
        _rebuild_triangle(con)
        con.execute("commit")
    return number


def _cause_of(condition: str) -> tuple[str, str]:
    """SQL: the distinct causes of the release (``c``, already restricted to it) meeting ``condition``, as the
    codes joined by commas and the labels joined by 、, both in the codes' order."""
    distinct = f"(select distinct cause, cause_zh from causes c where {condition})"
    return (f"(select string_agg(cause, ',' order by cause) from {distinct})",
            f"(select string_agg(cause_zh, '、' order by cause) from {distinct})")


def record_history(work_db: Path, number: int, marts: list[Snapshotted]) -> int:
    """After release ``number``'s snapshots: the moment they were taken, and every figure of ``marts`` that
    moved since the previous release, with its cause (the enterprise's own file for that quarter, else the
    quarter's causes, else the release's). A quarter this release published for the first time is no revision.
    Returns the number of revisions."""
    own = _cause_of("c.period = r.period and c.org_code = r.org_code")
    quarter = _cause_of("c.period = r.period")
    release = _cause_of("true")
    with duckdb.connect(str(work_db)) as con:
        ensure_ledger(con)
        con.execute("begin")
        con.execute(f"insert into {SCHEMA}.release_snapshots values (?, now()::timestamp)", [number])
        has_previous = con.execute(f"select count(*) from {SCHEMA}.release_snapshots where release_no = ?",
                                   [number - 1]).fetchone()[0]
        present = set(history_tables(con))
        for snap in marts if has_previous else []:
            sql = revisions_sql(con, snap, SCHEMA, number) if snap.table in present else None
            if sql is None:
                continue
            con.execute(f"""
                insert into {SCHEMA}.revisions
                with causes as (select * from {SCHEMA}.release_causes where release_no = {number}),
                first_published as (
                    select period from {SCHEMA}.release_quarters where release_no = {number}
                    except select period from {SCHEMA}.release_quarters where release_no < {number}
                ),
                r as ({sql})
                select figure, entity, period, previous_value, new_value, {number},
                       coalesce({own[0]}, {quarter[0]}, {release[0]}), coalesce({own[1]}, {quarter[1]}, {release[1]})
                from r
                where period is null or period not in (select period from first_published)
            """)
        con.execute("commit")
        return con.execute(f"select count(*) from {SCHEMA}.revisions where release_no = ?", [number]).fetchone()[0]


@dataclass
class History:
    """How a release keeps the marts' history: ``take`` runs the dbt snapshots on the working database;
    ``marts`` are the snapshotted marts (:func:`pipelines.lib.exports.history.snapshotted_marts`)."""
    take: Callable[[], None]
    marts: list[Snapshotted]
    withheld: Withheld
    # What the release step cost in this run (wall and CPU seconds of the snapshots and the revisions; CPU of this
    # process, where dbt runs): the run log and `make bench` report it. Empty when the run made no release.
    cost: dict[str, float] = field(default_factory=dict)


def releasing(work_db: Path, run_id: str, inbox: Path, recheck: bool, history: History | None = None) -> BeforeSwap:
    """The publication's hook: record the release and, when there is one, take the marts' history and list the
    revisions; then copy the ledger and the history into the new warehouse, with the as-of table macros."""
    def before_swap(con: duckdb.DuckDBPyConnection, changed: list[str], first: bool) -> dict[str, int]:
        number = record_release(work_db, changed, run_id, inbox, recheck, read_headlines(con, changed))
        if number is not None and history is not None:
            wall, cpu = time.perf_counter(), time.process_time()
            history.take()
            history.cost["snapshot_s"], history.cost["snapshot_cpu_s"] = time.perf_counter() - wall, \
                time.process_time() - cpu
            wall, cpu = time.perf_counter(), time.process_time()
            history.cost["revisions"] = record_history(work_db, number, history.marts)
            history.cost["revisions_s"], history.cost["revisions_cpu_s"] = time.perf_counter() - wall, \
                time.process_time() - cpu
        schemas = (SCHEMA, HISTORY_SCHEMA) if history is not None else (SCHEMA,)
        counts = copy_schemas(con, work_db, schemas, history_withheld(history.withheld) if history else NOTHING_WITHHELD)
        with transaction(con):  # hundreds of comments: one commit (transaction's why)
            describe_history(con)
            create_as_of_macros(con, SCHEMA)
        return counts
    return before_swap


def release_of_run(work_db: Path, run_id: str) -> int | None:
    with duckdb.connect(str(work_db), read_only=True) as con:
        has = con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = 'releases'",
                          [SCHEMA]).fetchone()[0]
        row = con.execute(f"select release_no from {SCHEMA}.releases where run_id = ?", [run_id]).fetchone() \
            if has else None
    return row[0] if row else None


def keep_documents(work_db: Path, marts_dir: Path, run_id: str, files: list[Path], replaced: bool) -> int:
    """Keep ``files`` (written under ``marts_dir`` by the run ``run_id``) in its release's folder, byte for byte;
    returns how many. ``replaced``: the writer puts a new file in place of the old (rename), so a hard link
    keeps these bytes; a writer that rewrites the file in place gets a copy."""
    number = release_of_run(work_db, run_id)
    if number is None:
        return 0
    folder = marts_dir / RELEASES_DIR / str(number)
    for path in files:
        kept = folder / path.relative_to(marts_dir)
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.unlink(missing_ok=True)
        if replaced:
            try:
                os.link(path, kept)
                continue
            except OSError:  # another file system, or links not allowed: a copy keeps the bytes as well
                pass
        shutil.copyfile(path, kept)
    return len(files)


# --------------------------------------------------------------------------------------------------
# Reading releases back (the command line)
# --------------------------------------------------------------------------------------------------
@dataclass
class Release:
    number: int
    released_at: dt.datetime
    rules_version: str
    quarters: list[str]
    causes: list[tuple[str, str | None, str | None, str | None, str | None]]  # label, period, org, id, rules

    def lines(self, marts_dir: Path) -> list[str]:
        out = [f"发布版本 {self.number}  发布时间 {self.released_at:%Y-%m-%d %H:%M:%S}  规则版本 {self.rules_version}",
               f"  改变的季度：{'、'.join(self.quarters)}", "  原因："]
        filings: dict[tuple[str, str | None], int] = {}
        for label, period, org, sid, rules in self.causes:
            if label == CAUSES["new_filing"]:  # a first publication's files: counted, not listed
                filings[(label, period)] = filings.get((label, period), 0) + 1
            elif sid is not None:
                out.append(f"    {label} {period} 企业 {org or '?'} 报送编号 {sid}")
            elif rules is not None:
                out.append(f"    {label} {period} 规则版本 {rules}")
            else:
                out.append(f"    {label}")
        out += [f"    {label} {period}：{n} 份文件" for (label, period), n in sorted(filings.items())]
        folder = marts_dir / RELEASES_DIR / str(self.number)
        kept = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        out.append(f"  本版本发布的文件 documents: {folder}  (共 {kept} 份)")
        return out


def read_releases(warehouse: Path) -> list[Release]:
    """Every release recorded in the published warehouse, oldest first (none before the first release)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        has = con.execute("select count(*) from duckdb_tables() where schema_name = ? and table_name = 'releases'",
                          [SCHEMA]).fetchone()[0]
        if not has:
            return []
        heads = con.execute(f"select release_no, released_at, rules_version from {SCHEMA}.releases order by 1").fetchall()
        quarters = con.execute(f"select release_no, period from {SCHEMA}.release_quarters order by 1, 2").fetchall()
        causes = con.execute(f"select release_no, cause_zh, period, org_code, submission_id, rules_version"
                             f" from {SCHEMA}.release_causes order by all").fetchall()
    return [Release(n, at, rules, [p for m, p in quarters if m == n], [tuple(c[1:]) for c in causes if c[0] == n])
            for n, at, rules in heads]
