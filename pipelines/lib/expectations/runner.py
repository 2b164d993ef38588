"""Run the suites in ``expectations/`` against the working DuckDB and write ``flags.expectation_flags``.

The verdicts are the marts' (dbt joins each period's thresholds and states ``c03_ok`` etc.); a suite
asserts them and adds what only it carries: rule, clause, severity and the message. Nothing here
resolves a threshold. Order of work (the working DB admits one writer, so it is held briefly):
1. open the DB read-only, load only the needed columns of the run's rows (``period`` ∈ periods;
   year rows carry ``period = '<year>Q4'``), close it;
2. validate each (suite, table, row filter) group as one GX sub-suite on a pandas batch, with
   ``result_format=COMPLETE`` keyed by a row number, so every unexpected row is found again;
3. turn every unexpected row of an expectation that has a ``rule_id`` into a flag row (its value and
   limit read from the row's own columns), sort them;
4. open the DB read-write and replace the periods' rows of ``flags.expectation_flags``;
5. optionally write the run's Data Docs: plain offline pages from these validation results, failing rows
   identified by their key columns (pipelines.lib.expectations.docs).
"""

from __future__ import annotations

import functools
import logging
import os
import string
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import ThresholdRow, load_threshold_rows
from pipelines.lib.domain.rule_text import threshold_rows_in
from pipelines.lib.expectations.flags import display_text, is_missing, replace_flags, sort_key, value_text
from pipelines.lib.expectations.suites import MART_SCHEMA, ExpectationSpec, Group, load_suites

ROW_ID = "_row"  # row number of the batch (its RangeIndex label)
DOCS_SAMPLE = 20  # failing rows listed per expectation in the Data Docs
SAMPLE_SIZE = 10
FLOAT_DECIMALS = 10  # as dbt's verdict macros round: a message never shows 0.014999999999999998
_PERCENT_SUFFIXES = ("share", "ratio", "coverage", "average", "to_beijing")


@dataclass
class SuiteResult:
    """One suite's outcome for a run: what the lead turns into a Dagster asset check."""

    name: str
    tables: tuple[str, ...]
    success: bool = True
    expectations_evaluated: int = 0
    expectations_failed: int = 0
    rows_evaluated: int = 0  # batch rows validated (sum over the suite's tables / row filters)
    failing_count: int = 0  # unexpected rows, summed over expectations
    flag_count: int = 0
    sample_failing_keys: list[dict[str, Any]] = field(default_factory=list)  # ≤ 10, sorted
    errors: list[str] = field(default_factory=list)  # missing table/column, GX exception
    seconds: float = 0.0

    @property
    def evaluated_count(self) -> int:
        return self.rows_evaluated

    def metadata(self) -> dict[str, Any]:
        """Plain values for Dagster check metadata."""
        return {
            "suite": self.name,
            "tables": ", ".join(self.tables),
            "expectations_evaluated": self.expectations_evaluated,
            "expectations_failed": self.expectations_failed,
            "rows_evaluated": self.rows_evaluated,
            "failing_count": self.failing_count,
            "flag_count": self.flag_count,
            "sample_failing_keys": self.sample_failing_keys,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class ExpectationRun:
    periods: list[str]
    suites: dict[str, SuiteResult]
    flag_count: int
    docs_index: Path | None
    timings: dict[str, float]
    docs_pages: dict[str, Path] = field(default_factory=dict)  # suite -> its Data Docs page

    @property
    def success(self) -> bool:
        return all(s.success for s in self.suites.values())


# --- GX --------------------------------------------------------------------------------------


def import_gx() -> tuple[Any, float]:
    """``import great_expectations`` (analytics off), and how long it took (0 when already imported)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    already = "great_expectations" in sys.modules
    t0 = time.perf_counter()
    import great_expectations as gx

    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return gx, 0.0 if already else time.perf_counter() - t0


def prepare_gx() -> None:
    """GX imported in this process ahead of its use (a picklable task for a child that will run the suites)."""
    import_gx()


def _context(gx: Any, docs_dir: Path | None) -> Any:
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    # No GX site: the Data Docs are written from the results (pipelines.lib.expectations.docs).
    config = DataContextConfig(
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
        progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        analytics_enabled=False,
        data_docs_sites={},
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def _gx_suite(gx: Any, name: str, specs: list[ExpectationSpec], meta: dict[str, Any]) -> Any:
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    exps = [
        ExpectationConfiguration(
            type=e.type, kwargs=dict(e.kwargs), meta={**e.meta, "suite_index": e.index}
        ).to_domain_obj()
        for e in specs
    ]
    return gx.ExpectationSuite(name=name, expectations=exps, meta=dict(meta))


# --- loading ---------------------------------------------------------------------------------


def _quote(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def _frame_key(group: Group) -> tuple:
    return (group.table, group.where, group.period_column)


def _load_frames(con: duckdb.DuckDBPyConnection, groups: list[Group], periods: list[str]) -> dict[tuple, Any]:
    """One read per (table, row filter) with the union of its groups' columns: pandas or an error string."""
    columns_by_table = _mart_columns(con)
    wanted: dict[tuple, tuple[list[str], list[str]]] = {}
    for g in groups:
        cols, keys = wanted.setdefault(_frame_key(g), ([], []))
        cols[:] = dict.fromkeys([*cols, *g.columns()])
        keys[:] = dict.fromkeys([*keys, *g.keys])
    return {
        key: _load(con, *key, cols, keys, periods, columns_by_table) for key, (cols, keys) in wanted.items()
    }


def _load(
    con: duckdb.DuckDBPyConnection,
    table: str,
    where_eq: tuple[tuple[str, Any], ...],
    period_column: str | None,
    cols: list[str],
    keys: list[str],
    periods: list[str],
    columns_by_table: dict[str, dict[str, str]],
) -> Any:
    """Rows of the run's periods, needed columns only, ordered by key (deterministic row numbers)."""
    have = columns_by_table.get(table)
    if have is None:
        return f"集市表 {MART_SCHEMA}.{table} 不存在"
    missing = [c for c in cols if c not in have]
    if missing:
        return f"集市表 {MART_SCHEMA}.{table} 缺少列: {', '.join(missing)}"
    where, params = [], []
    if period_column:
        where.append(f"{_quote(period_column)} in ({', '.join('?' for _ in periods)})")
        params += periods
    for k, v in where_eq:
        if v is None:
            where.append(f"{_quote(k)} is null")
        else:
            where.append(f"{_quote(k)} = ?")
            params.append(v)
    sql = f"select {', '.join(_quote(c) for c in cols)} from {MART_SCHEMA}.{_quote(table)}"
    if where:
        sql += " where " + " and ".join(where)
    order = keys or cols
    sql += " order by " + ", ".join(f"{_quote(c)} nulls first" for c in order)
    df = con.execute(sql, params).df()
    for c in df.columns:
        if df[c].dtype.kind == "f":
            df[c] = df[c].round(FLOAT_DECIMALS)
        elif have[c] == "DATE" and df[c].dtype.kind == "M":
            df[c] = df[c].dt.date  # pandas makes DATE a midnight timestamp; a message wants 2008-10-15
    return df


def _mart_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """table -> column -> DuckDB type."""
    out: dict[str, dict[str, str]] = {}
    for table, column, data_type in con.execute(
        "select table_name, column_name, data_type from information_schema.columns where table_schema = ?",
        [MART_SCHEMA],
    ).fetchall():
        out.setdefault(table, {})[column] = data_type
    return out


# --- results -> flags ------------------------------------------------------------------------


@functools.cache
def _fields(template: str) -> tuple[str, ...]:
    return tuple(f for _, f, _, _ in string.Formatter().parse(template) if f)


class _Format(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _column_display(col: str, v: Any) -> str:
    if isinstance(v, float) and col.endswith(_PERCENT_SUFFIXES):
        return display_text(v, "percent")
    return display_text(v)


def _threshold(spec: ExpectationSpec, row: dict[str, Any]) -> tuple[Any, str | None]:
    """(threshold value, its text if not a plain value) for the failing row, from the mart's columns."""
    m, kw = spec.meta, spec.kwargs
    if spec.threshold_columns:
        lo, hi = (row.get(c) for c in spec.threshold_columns)
        fmt = m.get("value_format")
        return None, f"{display_text(lo, fmt)}–{display_text(hi, fmt)}"
    if spec.threshold_column:
        return row.get(spec.threshold_column), None
    if "value_set" in kw:
        return None, "/".join(value_text(v) or "" for v in kw["value_set"])
    return None, None


def _flag(spec: ExpectationSpec, row: dict[str, Any]) -> dict[str, Any]:
    m = spec.meta
    fmt = m.get("value_format")
    obs = row.get(spec.observed_column) if spec.observed_column else None
    thr, thr_text = _threshold(spec, row)
    template = m.get("message_zh") or m.get("title_zh") or ""
    if m.get("withheld_column") and not is_missing(row.get(m["withheld_column"])):
        template = m["withheld_message_zh"]  # the figures are withheld: the message says why, not "—元"
    values = _Format({c: _column_display(c, row.get(c)) for c in _fields(template) if c in row})
    values["observed"] = display_text(obs, fmt)
    values["threshold"] = m.get("threshold_text") or (
        thr_text if thr_text is not None else display_text(thr, fmt)
    )
    source_row = row.get(m["source_row_column"]) if m.get("source_row_column") else None
    return {
        "rule_id": m.get("rule_id"),
        "clause": m.get("clause"),
        "severity": m.get("severity"),
        "org_code": value_text(row.get(spec.org_column)),
        "period": value_text(row.get(spec.period_column)) if spec.period_column else None,
        "person_key": value_text(row.get(m["person_column"])) if m.get("person_column") else None,
        "observed_value": value_text(obs),
        "threshold": thr_text if thr_text is not None else value_text(thr),
        "message_zh": template.format_map(values),
        "source": spec.suite,
        "submission_id": value_text(row.get(m["submission_column"])) if m.get("submission_column") else None,
        "sheet": m.get("sheet"),
        "source_row": None if is_missing(source_row) else int(source_row),
        "column_name": m.get("column_name"),
        "expectation_type": spec.type,
    }


def _row_number(item: Any) -> int:
    """An unexpected_index_list item: the default RangeIndex label (or a dict holding it)."""
    if isinstance(item, dict):
        item = item.get(ROW_ID)
    return int(item)


def _docs_reference(con: duckdb.DuckDBPyConnection) -> tuple[dict[tuple[str, str], str], dict[str, str], dict[Any, str],
                                                             tuple[ThresholdRow, ...]]:
    """For the Data Docs: the marts' column comments, tone colours, the Chinese labels of the severities
    (keyed by code) and of the period types (keyed by ("period_type", code)), and the thresholds the rule
    titles name, from the reference schema (the seed file when the database has none)."""
    comments = {(t, c): m for t, c, m in con.execute(
        "select table_name, column_name, comment from duckdb_columns() where database_name = current_database()"
        " and schema_name = ? and comment is not null", [MART_SCHEMA]).fetchall()}
    tables = {(s, t) for s, t in con.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = current_database()").fetchall()}
    tones: dict[str, str] = {}
    severities: dict[str, str] = {}
    if ("reference", "ref_tones") in tables:
        colour = dict(con.execute("select tone, text_colour from reference.ref_tones").fetchall())
        # the classes of docs._outcome: nothing found (ok), findings to follow up (warn), a check that broke (bad)
        tones = {cls: colour[t] for cls, t in (("ok", "ok"), ("found", "warn"), ("error", "bad")) if t in colour}
    if ("reference", "ref_severities") in tables:
        severities = dict(con.execute("select severity, label_zh from reference.ref_severities").fetchall())
    if ("reference", "ref_statuses") in tables:  # period_type year -> 年度, as the row filters and keys read
        severities.update({("period_type", c): label for c, label in con.execute(
            "select status_code, label_zh from reference.ref_statuses where domain = 'period_type'").fetchall()})
    thresholds = (threshold_rows_in(con) if ("reference", "ref_policy_thresholds") in tables
                  else tuple(load_threshold_rows()))
    return comments, tones, severities, thresholds


# --- the run ---------------------------------------------------------------------------------


def run_expectations(
    db_path: Path,
    periods: list[str],
    docs_dir: Path | None = None,
    *,
    suites_dir: Path | None = None,
    suite_names: list[str] | None = None,
) -> ExpectationRun:
    """Validate the marts of ``periods`` in the working DB ``db_path``, write their expectation flags.

    ``suites_dir`` (default ``expectations/``) and ``suite_names`` (default all) are there for tests.
    """
    t_start = time.perf_counter()
    periods = sorted({str(Period.parse(p)) for p in periods})
    suites = load_suites(suites_dir, suite_names)
    groups = [g for s in suites for g in s.groups()]
    timings: dict[str, float] = {}

    # 1. read: late and briefly
    t0 = time.perf_counter()
    with duckdb.connect(str(db_path), read_only=True) as con:
        frames = _load_frames(con, groups, periods)
        docs_reference = _docs_reference(con) if docs_dir is not None else None
    timings["load"] = time.perf_counter() - t0

    # 2. validate
    gx, timings["gx_import"] = import_gx()
    from great_expectations.validator.v1_validator import Validator

    t0 = time.perf_counter()
    context = _context(gx, docs_dir)
    datasource = context.data_sources.add_pandas("marts")
    timings["gx_context"] = time.perf_counter() - t0

    results = {s.name: SuiteResult(s.name, s.tables) for s in suites}
    docs: dict[str, list[Any]] = {s.name: [] for s in suites}  # docs.BatchDoc per validated group
    flags: list[dict[str, Any]] = []
    samples: dict[str, list[tuple]] = {s.name: [] for s in suites}
    for suite in suites:
        t_suite = time.perf_counter()
        res = results[suite.name]
        for group in suite.groups():
            frame = frames[_frame_key(group)]
            if isinstance(frame, str):
                res.errors.append(frame)
                res.success = False
                res.expectations_failed += len(group.expectations)
                continue
            specs = {e.index: e for e in group.expectations}
            gx_suite = context.suites.add(_gx_suite(gx, group.name, list(group.expectations), suite.meta))
            batch_def = datasource.add_dataframe_asset(group.name).add_batch_definition_whole_dataframe(
                "rows"
            )
            # lean batch (this group's columns only) plus the row number, which GX returns for each failing
            # row with the group's key columns (organisation, period, person): how the flags and the Data
            # Docs find the row again
            df = frame[group.columns()].reset_index(drop=True)
            df[ROW_ID] = range(len(df))
            res.rows_evaluated += len(df)
            batch_doc = None
            if docs_dir is not None:
                from pipelines.lib.expectations.docs import BatchDoc

                batch_doc = BatchDoc(group.table, group.where, len(df))
                docs[suite.name].append(batch_doc)
            if df.empty:
                res.expectations_evaluated += len(specs)
                continue
            validator = Validator(
                batch_definition=batch_def,
                batch_parameters={"dataframe": df},
                result_format={"result_format": "COMPLETE",
                               "unexpected_index_column_names": [ROW_ID, *group.keys]},
            )
            outcome = validator.validate_expectation_suite(gx_suite)
            columns = {c: df[c].tolist() for c in df.columns}
            for r in outcome.results:
                spec = specs[int(r.expectation_config.meta["suite_index"])]
                res.expectations_evaluated += 1
                exc = r.exception_info or {}
                if exc.get("raised_exception"):
                    res.errors.append(
                        f"{group.name} #{spec.index} {spec.type}: {exc.get('exception_message')}"
                    )
                if batch_doc is not None:
                    batch_doc.expectations.append(_expectation_doc(spec, r))
                if r.success:
                    continue
                res.expectations_failed += 1
                rows = sorted(
                    {_row_number(d) for d in (r.result or {}).get("unexpected_index_list") or []}
                )
                res.failing_count += len(rows)
                for n in rows:
                    row = {c: columns[c][n] for c in columns}
                    samples[suite.name].append(
                        (
                            group.table,
                            spec.rule_id or "",
                            spec.type,
                            *(value_text(row.get(k)) or "" for k in spec.keys),
                            tuple(spec.keys),
                        )
                    )
                    if spec.rule_id:
                        flags.append(_flag(spec, row))
                        res.flag_count += 1
        res.success = res.success and res.expectations_failed == 0 and not res.errors
        top = sorted(samples[suite.name])[:SAMPLE_SIZE]
        res.sample_failing_keys = [
            {
                "table": t[0],
                "rule_id": t[1] or None,
                "expectation_type": t[2],
                **dict(zip(t[-1], t[3:-1], strict=True)),
            }
            for t in top
        ]
        res.seconds = time.perf_counter() - t_suite
        timings[f"suite:{suite.name}"] = res.seconds

    # 3-4. flags, written in one short read-write session
    flags.sort(key=sort_key)
    t0 = time.perf_counter()
    with duckdb.connect(str(db_path)) as con:
        not_run = {s.name for s in load_suites(suites_dir)} - {s.name for s in suites}
        replace_flags(con, periods, flags, keep_sources=not_run)
    timings["write_flags"] = time.perf_counter() - t0

    docs_index, docs_pages = None, {}
    if docs_dir is not None:
        from pipelines.lib.expectations.docs import SuiteDoc, suite_page, write_data_docs

        t0 = time.perf_counter()
        comments, tones, severities, thresholds = docs_reference
        docs_index = write_data_docs(Path(docs_dir), periods, [
            SuiteDoc(s.name, s.meta.get("description_zh") or "", s.tables, results[s.name].failing_count,
                     results[s.name].errors, docs[s.name]) for s in suites], comments, tones, severities, thresholds)
        docs_pages = {s.name: suite_page(Path(docs_dir), s.name) for s in suites}
        timings["data_docs"] = time.perf_counter() - t0

    timings["total"] = time.perf_counter() - t_start
    return ExpectationRun(
        periods=periods, suites=results, flag_count=len(flags), docs_index=docs_index, timings=timings,
        docs_pages=docs_pages,
    )


def _expectation_doc(spec: ExpectationSpec, r: Any) -> Any:
    """What the Data Docs show of one expectation's result: its failing rows by their key columns (and the
    values judged), as GX returned them, the row number left out."""
    from pipelines.lib.expectations.docs import ExpectationDoc

    result = r.result or {}
    items = result.get("unexpected_index_list") or []
    rows = [{**{k: item.get(k) for k in spec.keys if k in item},
             **{k: v for k, v in item.items() if k != ROW_ID and k not in spec.keys}}
            for item in items[:DOCS_SAMPLE] if isinstance(item, dict)]
    exc = r.exception_info or {}
    return ExpectationDoc(
        meta=dict(spec.meta), type=spec.type, kwargs=dict(spec.kwargs), success=bool(r.success),
        unexpected_count=int(result.get("unexpected_count") or len(items)), rows=rows,
        error=exc.get("exception_message") if exc.get("raised_exception") else None,
    )
