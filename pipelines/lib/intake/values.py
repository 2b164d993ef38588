"""Vectorised parsing of cells read as text into the contract's types.

Every sheet is read as strings (calamine would otherwise null a text cell in a numeric column
without a word), normalised (NFKC: full-width digits and letters to half-width, U+3000 to a
space; trimmed), then cast here. Each parser returns the typed value and a boolean "failed"
expression: a non-blank cell that did not cast. The caller turns failures into findings.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from pipelines.lib.domain import contract as c

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d")
_INVISIBLE = "[\u200b\u200c\u200d\ufeff]"


def normalized(expr: pl.Expr) -> pl.Expr:
    """NFKC, invisible characters removed, trimmed; blank becomes null."""
    text = expr.str.normalize("NFKC").str.replace_all(_INVISIBLE, "").str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def normalize_header(text: str) -> str:
    import unicodedata

    return "".join(unicodedata.normalize("NFKC", str(text)).split())


def _number(expr: pl.Expr) -> pl.Expr:
    return expr.str.replace_all(",", "").cast(pl.Float64, strict=False)


# Beyond what an Int64 holds a count cannot be cast at all; the plausibility bounds are far below it anyway.
_INT_MAX = 9.0e18


def parse_int(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    num = _number(expr)
    ok = num.is_not_null() & (num >= 0) & (num == num.floor()) & (num < _INT_MAX)
    return pl.when(ok).then(num).otherwise(None).cast(pl.Int64), expr.is_not_null() & ~ok


def parse_non_negative(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    num = _number(expr)
    ok = num.is_not_null() & (num >= 0) & num.is_finite()
    return pl.when(ok).then(num).otherwise(None), expr.is_not_null() & ~ok


def parse_bool(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    up = expr.str.to_uppercase()
    value = (
        pl.when(up.is_in(list(c.BOOL_TRUE)))
        .then(True)
        .when(up.is_in(list(c.BOOL_FALSE)))
        .then(False)
        .otherwise(None)
    )
    return value, expr.is_not_null() & value.is_null()


def parse_date(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    serial = pl.when(expr.str.contains(r"^\d{5}(\.0+)?$")).then(
        pl.lit(_EXCEL_EPOCH) + pl.duration(days=expr.str.extract(r"^(\d{5})").cast(pl.Int64))
    )
    value = pl.coalesce(*(expr.str.strptime(pl.Date, f, strict=False) for f in _DATE_FORMATS), serial)
    return value, expr.is_not_null() & value.is_null()


def parse_enum(expr: pl.Expr, allowed: tuple[str, ...]) -> tuple[pl.Expr, pl.Expr]:
    ok = expr.is_in(list(allowed))
    return pl.when(ok).then(expr).otherwise(None), expr.is_not_null() & ~ok


def parse_code(expr: pl.Expr) -> pl.Expr:
    """Normalised 组织机构代码 (dash and spaces removed, upper case); validity is checked per row."""
    return expr.str.replace_all(r"[\s\-－—]", "").str.to_uppercase()


def parse_period(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    text = expr.str.replace_all(r"\s", "").str.to_uppercase()
    ok = text.str.contains(r"^\d{4}Q[1-4]$")
    return pl.when(ok).then(text).otherwise(None), expr.is_not_null() & ~ok


def parse_column(expr: pl.Expr, column: c.Column) -> tuple[pl.Expr, pl.Expr]:
    """Typed value and cast-failure flag for one contract column (codes and IDs are checked elsewhere)."""
    t = column.type
    if t == c.INT:
        return parse_int(expr)
    if t in (c.AMOUNT, c.YUAN, c.NUMBER):
        return parse_non_negative(expr)
    if t == c.BOOL:
        return parse_bool(expr)
    if t == c.DATE:
        return parse_date(expr)
    if t == c.ENUM:
        return parse_enum(expr, column.enum)
    if t == c.PERIOD:
        return parse_period(expr)
    if t == c.CODE9:
        return parse_code(expr), pl.lit(False)
    return expr, pl.lit(False)
