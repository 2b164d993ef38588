"""Structural checks at the door: rules D01–D05, D09–D11 and D13 of RULES.md.

File-level checks (D01, D02) run per workbook; row-level checks run vectorised on each sheet
concatenated over every submission of the run, joined to a small per-submission context frame
(filed period, its dates, the org code in the file name). Rules that need history or other
enterprises (D06–D08, D12, D14–D16) run later, on the warehouse (expectations).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from pipelines.lib.domain import codes
from pipelines.lib.domain import contract as c
from pipelines.lib.domain import findings as fd
from pipelines.lib.domain.findings import ERROR, INFO, WARNING, Finding, row_findings
from pipelines.lib.intake.pseudonym import canonical_id, person_keys_of_canonical
from pipelines.lib.intake.readers import Workbook
from pipelines.lib.intake.values import parse_column

FATAL_RULES = frozenset({"D01", "D02", "D03", "D04"})


# Thresholds the intake applies, as columns of the per-file context: each file is judged by the values in
# force in its own period (ref_policy_thresholds is effective-dated), even when one run mixes periods.
LIMIT_KEYS = ("min_age", "max_age", "max_training_hours", "max_amount_wan", "max_yuan", "max_headcount")

# Plausibility bounds by contract type (the values are effective-dated reference data): a value above its
# bound is a finding and is loaded as blank, so it never reaches a total (like D08 does for unit errors).
_BOUND_BY_TYPE = {c.AMOUNT: ("max_amount_wan", "万元"), c.YUAN: ("max_yuan", "元"), c.INT: ("max_headcount", "")}


def _number_text(column: str) -> pl.Expr:
    """2000.0 -> "2000", 0.5 -> "0.5": a threshold, or a figure the clerk typed, as a person writes it."""
    value = pl.col(column).cast(pl.Float64)
    whole = value.cast(pl.Int64, strict=False).cast(pl.Utf8)
    return pl.when((value == value.floor()) & whole.is_not_null()).then(whole).otherwise(value.cast(pl.Utf8))


def rule_for(sheet: c.Sheet, column: c.Column) -> str:
    """The rule a badly typed cell of this column breaks."""
    if column.type == c.CODE9:
        return "D03"
    if column.type == c.PERIOD:
        return "D04"
    if column.type == c.ID_NUMBER:
        return "D09"
    if sheet.key == "roster" and column.key in ("sex", "birth_date"):
        return "D10"
    if sheet.key == "roster" and column.key in ("skill_level", "cert_date", "is_chief_technician"):
        return "D11"
    if sheet.key == "training" and column.key in ("start_date", "end_date", "hours"):
        return "D13"
    return "D05"


_SEVERITY = {"D10": WARNING}


def _hint(column: c.Column) -> str:
    if column.type == c.INT:
        return "应为非负整数"
    if column.type in (c.AMOUNT, c.YUAN, c.NUMBER):
        return "应为不小于0的数字"
    if column.type == c.BOOL:
        return "应填“是”或“否”"
    if column.type == c.DATE:
        return "应为日期，如2008-05-01"
    if column.type == c.ENUM:
        return "应为以下之一：" + "/".join(column.enum)
    if column.type == c.PERIOD:
        return "应为YYYYQn，如2008Q2"
    return column.rule or "格式不正确"


# --- file level ------------------------------------------------------------------------------


def file_findings(wb: Workbook, submission_id: str) -> list[Finding]:
    """D01 (sheets, single-row counts) and D02 (columns) for one workbook."""
    out: list[Finding] = []
    for sheet in c.SHEETS:
        data = wb.sheets.get(sheet.key)
        if sheet.name in wb.duplicate_sheets:
            names = "、".join(f"“{n}”" for n in wb.duplicate_sheets[sheet.name])
            out.append(fd.fatal(submission_id, "D01",
                                f"工作表“{sheet.name}”有{len(wb.duplicate_sheets[sheet.name])}个（{names}），"
                                "无法确定以哪个为准，请只保留一个后重新报送", sheet=sheet.name, expected=sheet.name))
            continue
        if data is None:
            if sheet.required:
                out.append(fd.fatal(submission_id, "D01", f"缺少必填工作表“{sheet.name}”，请按模板补齐后重新报送",
                                    sheet=sheet.name, expected=sheet.name))
            continue
        if data.missing:
            out.append(fd.fatal(
                submission_id, "D02",
                f"工作表“{sheet.name}”缺少必填列：{'、'.join(data.missing)}，请按模板补齐后重新报送",
                sheet=sheet.name, observed_value="、".join(data.missing)))
        if data.duplicated:
            out.append(Finding(submission_id, "D02", ERROR,
                               f"工作表“{sheet.name}”有重复的列：{'、'.join(data.duplicated)}，仅读取了第一列",
                               sheet=sheet.name, observed_value="、".join(data.duplicated)))
        if data.unknown:
            out.append(Finding(submission_id, "D02", WARNING,
                               f"工作表“{sheet.name}”有模板以外的列：{'、'.join(data.unknown)}，未读取",
                               sheet=sheet.name, observed_value="、".join(data.unknown)))
        if data.header_row != 1:
            out.append(Finding(submission_id, "D02", WARNING,
                               f"工作表“{sheet.name}”的表头在第{data.header_row}行，应在第1行（请勿在表头上方插入标题或合并单元格）",
                               sheet=sheet.name, source_row=data.header_row))
    for name in wb.unknown_sheets:
        out.append(Finding(submission_id, "D01", INFO, f"工作表“{name}”不属于报表模板，未读取", sheet=name))
    for name in wb.hidden_sheets:
        out.append(Finding(submission_id, "D01", WARNING, f"隐藏的工作表“{name}”未读取（只读取可见的工作表）",
                           sheet=name))
    return out


def single_row_findings(sheet: c.Sheet, row_counts: dict[str, int], submission_ids: list[str]) -> list[Finding]:
    """D01: a single-row sheet must hold exactly one data row (blank rows do not count)."""
    out = []
    for sid in submission_ids:
        n = row_counts.get(sid, 0)
        if n > 1 or (n == 0 and sheet.required):
            out.append(fd.fatal(sid, "D01", f"工作表“{sheet.name}”应有且仅有1行数据，实际{n}行",
                                sheet=sheet.name, observed_value=str(n), expected="1"))
    return out


# --- row level -------------------------------------------------------------------------------


def _with_all_columns(sheet: c.Sheet, frame: pl.DataFrame) -> pl.DataFrame:
    missing = [col.key for col in sheet.columns if col.key not in frame.columns]
    return frame.with_columns(pl.lit(None, pl.Utf8).alias(k) for k in missing) if missing else frame


def _cell(column: c.Column) -> pl.Expr:
    return pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit(f"行“{column.header}”"))


def _typing_findings(sheet: c.Sheet, frame: pl.DataFrame, failed: dict[str, pl.Series]) -> list[pl.DataFrame]:
    out = []
    for col in sheet.columns:
        rule = rule_for(sheet, col)
        severity = _SEVERITY.get(rule, ERROR)
        if col.type not in (c.CODE9, c.ID_NUMBER, c.TEXT):
            bad = frame.filter(failed[col.key])
            out.append(row_findings(
                bad, rule_id=rule, severity=severity, sheet=sheet.name, column_name=col.header,
                observed=pl.col(col.key), expected=_hint(col),
                message=pl.concat_str(_cell(col), pl.lit("的值“"), pl.col(col.key),
                                      pl.lit(f"”无法识别，{_hint(col)}")),
                is_fatal=rule in FATAL_RULES and sheet.key == "profile",
            ))
        if col.mandatory:
            blank = frame.filter(pl.col(col.key).is_null())
            out.append(row_findings(
                blank, rule_id=rule, severity=severity, sheet=sheet.name, column_name=col.header,
                message=pl.concat_str(_cell(col), pl.lit("未填写")),
                is_fatal=rule in FATAL_RULES and sheet.key == "profile",
            ))
    return out


# Levels below 高技能 (初级工, 中级工) are on the roster only as key trainees.
_BELOW_HIGH_SKILL = [lvl for lvl in c.SKILL_LEVELS if lvl not in c.HIGH_SKILL_LEVELS]


class IdLookups:
    """``_id_lookup`` for the sheets of one batch: a person on the roster and in the training sheet is looked up
    (and pseudonymised: one HMAC each) once."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self.known: pl.DataFrame | None = None

    def __call__(self, ids: pl.Series) -> pl.DataFrame:
        wanted = ids.drop_nulls().unique()
        if self.known is None:
            self.known = _id_lookup(wanted, self.key)
        else:
            new = wanted.filter(~wanted.is_in(self.known["id_number"].implode()))
            if len(new):
                self.known = pl.concat([self.known, _id_lookup(new, self.key)], how="vertical")
        return self.known.filter(pl.col("id_number").is_in(wanted.implode()))


def _id_lookup(ids: pl.Series, key: bytes) -> pl.DataFrame:
    """Per distinct 身份证号 (``ids``: distinct, no nulls; see IdLookups): problem, pseudonym, and what the ID
    says of sex and birth.

    The common case (18 well-formed characters) is checked vectorised; anything else goes through
    codes.id_number_problem one by one, which also writes the clerk's message.
    """
    frame = pl.DataFrame({"id_number": ids.sort()})
    norm = pl.col("id_number").str.replace_all(r"\s", "").str.to_uppercase()
    digits = [norm.str.slice(i, 1).cast(pl.Int32, strict=False) for i in range(17)]
    check = pl.sum_horizontal(d * w for d, w in zip(digits, codes.ID_WEIGHTS, strict=True)) % 11
    birth = norm.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    fast_ok = (
        norm.str.contains(r"^\d{17}[\dX]$")
        & norm.str.slice(0, 2).is_in(list(codes.PROVINCE_PREFIXES))
        & birth.is_not_null()
        & (pl.lit(codes.ID_CHECK_CHARS).str.slice(check, 1) == norm.str.slice(17, 1))
    )
    # Lazy, so that the normalised ID is computed once, not once per use (~25 here; see check_sheet).
    frame = frame.lazy().with_columns(norm.alias("norm"), fast_ok.alias("ok"), birth.alias("birth")).collect()
    slow = frame.filter(~pl.col("ok"))
    problems = {raw: codes.id_number_problem(n) for raw, n in slow.select("id_number", "norm").iter_rows()}
    slow_birth = {raw: codes.id_birth_date(n) for raw, n in slow.select("id_number", "norm").iter_rows()
                  if problems[raw] is None}
    slow_sex = {raw: codes.id_sex(n) for raw, n in slow.select("id_number", "norm").iter_rows()
                if problems[raw] is None}
    # A well-formed 18-character ID is its own canonical form: only the others go through canonical_id, and
    # the pseudonyms are one HMAC per distinct ID in a tight loop (one per person on the quarter's rosters).
    canonical = frame.select(pl.when(pl.col("ok")).then(pl.col("norm")).otherwise(
        pl.col("norm").replace_strict({n: canonical_id(n) for n in slow["norm"].to_list()}, default=None,
                                      return_dtype=pl.Utf8))).to_series().to_list()
    return frame.select(
        "id_number",
        pl.col("id_number").replace_strict(problems, default=None, return_dtype=pl.Utf8).alias("id_problem"),
        pl.Series("person_key", person_keys_of_canonical(canonical, key), dtype=pl.Utf8),
        pl.when(pl.col("ok")).then(
            pl.when(pl.col("norm").str.slice(16, 1).cast(pl.Int32) % 2 == 1).then(pl.lit("男")).otherwise(pl.lit("女"))
        ).otherwise(pl.col("id_number").replace_strict(slow_sex, default=None, return_dtype=pl.Utf8)).alias("id_sex"),
        pl.when(pl.col("ok")).then(pl.col("birth"))
        .otherwise(pl.col("id_number").replace_strict(slow_birth, default=None, return_dtype=pl.Date)).alias("id_birth_date"),
        pl.when(pl.col("ok")).then(pl.concat_str(  # codes.mask_id_number's rule, on 18 characters
            pl.col("norm").str.slice(0, codes.ID_MASK_HEAD), pl.lit("*" * (18 - codes.ID_MASK_HEAD - codes.ID_MASK_TAIL)),
            pl.col("norm").str.slice(18 - codes.ID_MASK_TAIL, codes.ID_MASK_TAIL)))
        .otherwise(pl.col("norm").replace_strict({n: codes.mask_id_number(n) for n in slow["norm"].to_list()},
                                                 default=None, return_dtype=pl.Utf8)).alias("id_masked"),
    )


def _person_findings(sheet: c.Sheet, frame: pl.DataFrame) -> list[pl.DataFrame]:
    col = sheet.column("id_number")
    bad = frame.filter(pl.col("id_problem").is_not_null())
    out = [row_findings(
        bad, rule_id="D09", severity=ERROR, sheet=sheet.name, column_name=col.header,
        observed=pl.col("id_masked"),
        message=pl.concat_str(_cell(col), pl.lit("（"), pl.col("id_masked"), pl.lit("）"), pl.col("id_problem")),
    )]
    return out


# Roster cells the ID decides (typed cell -> the ID-derived column): the models read only the ID's value, so a
# cell left blank loses nothing, but it is a cell the clerk did not check against the ID (D10).
_ID_DECIDES = {"sex": "id_sex", "birth_date": "id_birth_date"}
_UNREADABLE = "_unreadable"


def _blank_against_id(sheet: c.Sheet, frame: pl.DataFrame) -> list[pl.DataFrame]:
    """D10 for a blank 性别 or 出生日期 beside a valid ID (an unreadable cell has its own D10 already)."""
    out = []
    for key, derived in _ID_DECIDES.items():
        col = sheet.column(key)
        blank = frame.filter(pl.col(key).is_null() & ~pl.col(f"{key}{_UNREADABLE}").fill_null(False)
                             & pl.col(derived).is_not_null())
        out.append(row_findings(
            blank, rule_id="D10", severity=WARNING, sheet=sheet.name, column_name=col.header,
            expected=pl.col(derived).cast(pl.Utf8),
            message=pl.concat_str(_cell(col), pl.lit("未填写，按身份证号应为“"), pl.col(derived).cast(pl.Utf8),
                                  pl.lit("”，请填写并核对")),
        ))
    return out


def _roster_findings(sheet: c.Sheet, frame: pl.DataFrame) -> list[pl.DataFrame]:
    out = _person_findings(sheet, frame)
    first = frame.filter(pl.col("person_key").is_not_null()).group_by("submission_id", "person_key").agg(
        pl.col("source_row").min().alias("first_row"))
    dup = frame.join(first, on=["submission_id", "person_key"]).filter(pl.col("source_row") > pl.col("first_row"))
    out.append(row_findings(
        dup, rule_id="D09", severity=ERROR, sheet=sheet.name, column_name="身份证号", observed=pl.col("id_masked"),
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 身份证号与第"),
                              pl.col("first_row").cast(pl.Utf8), pl.lit("行重复，同一人只应列一行")),
    ))
    sex_bad = frame.filter(pl.col("sex").is_not_null() & pl.col("id_sex").is_not_null()
                           & (pl.col("sex") != pl.col("id_sex")))
    out.append(row_findings(
        sex_bad, rule_id="D10", severity=WARNING, sheet=sheet.name, column_name="性别", observed=pl.col("sex"),
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 性别填为“"),
                              pl.col("sex"), pl.lit("”，与身份证号不符，应为“"), pl.col("id_sex"), pl.lit("”")),
    ))
    birth_bad = frame.filter(pl.col("birth_date").is_not_null() & pl.col("id_birth_date").is_not_null()
                             & (pl.col("birth_date") != pl.col("id_birth_date")))
    out.append(row_findings(
        birth_bad, rule_id="D10", severity=WARNING, sheet=sheet.name, column_name="出生日期",
        observed=pl.col("birth_date").cast(pl.Utf8),
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 出生日期"),
                              pl.col("birth_date").cast(pl.Utf8), pl.lit("与身份证号不符，应为"),
                              pl.col("id_birth_date").cast(pl.Utf8)),
    ))
    out += _blank_against_id(sheet, frame)
    birth = pl.coalesce("id_birth_date", "birth_date")
    # completed years at period end: compare (month, day), not the day of the year (leap years)
    before_birthday = (pl.col("period_end").dt.month() < birth.dt.month()) | (
        (pl.col("period_end").dt.month() == birth.dt.month()) & (pl.col("period_end").dt.day() < birth.dt.day()))
    age = pl.col("period_end").dt.year() - birth.dt.year() - before_birthday.cast(pl.Int32)
    aged = frame.with_columns(age.alias("age")).filter(
        pl.col("age").is_not_null() & ((pl.col("age") < pl.col("min_age")) | (pl.col("age") > pl.col("max_age"))))
    age_range = pl.concat_str(_number_text("min_age"), pl.lit("—"), _number_text("max_age"))
    out.append(row_findings(
        aged, rule_id="D10", severity=WARNING, sheet=sheet.name, column_name="出生日期",
        observed=pl.col("age").cast(pl.Utf8), expected=age_range,
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 报告期末年龄"),
                              pl.col("age").cast(pl.Utf8), pl.lit("岁，不在"), age_range,
                              pl.lit("岁之间，请核对出生日期或身份证号")),
    ))
    # A blank 是否重点培养对象 is not a yes: the person is listed without a reason to be.
    low = frame.filter(pl.col("skill_level").is_in(_BELOW_HIGH_SKILL) & ~pl.col("is_key_trainee").fill_null(False))
    out.append(row_findings(
        low, rule_id="D11", severity=ERROR, sheet=sheet.name, column_name="技能等级", observed=pl.col("skill_level"),
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 技能等级为"),
                              pl.col("skill_level"),
                              pl.lit("，初级工、中级工只有作为重点培养对象才列入人才信息库（“是否重点培养对象”应为“是”）")),
    ))
    chief = frame.filter((pl.col("is_chief_technician") == True)  # noqa: E712
                         & pl.col("skill_level").is_not_null()
                         & ~pl.col("skill_level").is_in(list(c.TECHNICIAN_LEVELS)))
    out.append(row_findings(
        chief, rule_id="D11", severity=ERROR, sheet=sheet.name, column_name="是否首席技师",
        observed=pl.col("skill_level"),
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 首席技师只能是技师或高级技师，此人为"),
                              pl.col("skill_level")),
    ))
    future = frame.filter(pl.col("cert_date") > pl.col("period_end"))
    out.append(row_findings(
        future, rule_id="D11", severity=ERROR, sheet=sheet.name, column_name="取证日期",
        observed=pl.col("cert_date").cast(pl.Utf8),
        message=pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 取证日期"),
                              pl.col("cert_date").cast(pl.Utf8), pl.lit("晚于报告期末"),
                              pl.col("period_end").cast(pl.Utf8)),
    ))
    return out


def _training_findings(sheet: c.Sheet, frame: pl.DataFrame) -> list[pl.DataFrame]:
    out = _person_findings(sheet, frame)
    row = pl.concat_str(pl.lit("第"), pl.col("source_row").cast(pl.Utf8), pl.lit("行 "))
    reversed_ = frame.filter(pl.col("end_date") < pl.col("start_date"))
    out.append(row_findings(
        reversed_, rule_id="D13", severity=ERROR, sheet=sheet.name, column_name="结束日期",
        observed=pl.col("end_date").cast(pl.Utf8),
        message=pl.concat_str(row, pl.lit("结束日期早于开始日期")),
    ))
    outside = frame.filter((pl.col("end_date") < pl.col("period_start")) | (pl.col("end_date") > pl.col("period_end")))
    out.append(row_findings(
        outside, rule_id="D13", severity=ERROR, sheet=sheet.name, column_name="结束日期",
        observed=pl.col("end_date").cast(pl.Utf8),
        message=pl.concat_str(row, pl.lit("结束日期"), pl.col("end_date").cast(pl.Utf8), pl.lit("不在报告期（"),
                              pl.col("period_start").cast(pl.Utf8), pl.lit("至"), pl.col("period_end").cast(pl.Utf8),
                              pl.lit("）内，请填在对应季度的报表中")),
    ))
    hours = frame.filter((pl.col("hours") <= 0) | (pl.col("hours") > pl.col("max_training_hours")))
    out.append(row_findings(
        hours, rule_id="D13", severity=ERROR, sheet=sheet.name, column_name="学时",
        observed=_number_text("hours"),
        expected=pl.concat_str(pl.lit("(0, "), _number_text("max_training_hours"), pl.lit("]")),
        message=pl.concat_str(row, pl.lit("学时"), _number_text("hours"),
                              pl.lit("不在合理范围，应大于0且不超过"), _number_text("max_training_hours")),
    ))
    return out


def _code_problem_frame(values: pl.Series) -> pl.DataFrame:
    rows = [{"code": v, "problem": codes.org_code_problem(v)} for v in values.drop_nulls().unique().sort().to_list()]
    return pl.DataFrame(rows, schema={"code": pl.Utf8, "problem": pl.Utf8})


def _profile_findings(sheet: c.Sheet, frame: pl.DataFrame, registry: pl.DataFrame) -> list[pl.DataFrame]:
    out = []
    problems = _code_problem_frame(pl.concat([frame["org_code"], frame["group_org_code"]]))
    for key, fatal in (("org_code", True), ("group_org_code", False)):
        col = sheet.column(key)
        bad = frame.join(problems, left_on=key, right_on="code").filter(pl.col("problem").is_not_null())
        out.append(row_findings(
            bad, rule_id="D03", severity=ERROR, sheet=sheet.name, column_name=col.header, observed=pl.col(key),
            message=pl.concat_str(pl.lit(f"{col.header}“"), pl.col(key), pl.lit("”"), pl.col("problem")),
            is_fatal=fatal,
        ))
    valid = frame.join(problems, left_on="org_code", right_on="code", how="left").filter(
        pl.col("org_code").is_not_null() & pl.col("problem").is_null())
    known = valid.join(registry.select("org_code", pl.col("group_org_code").alias("registry_group")),
                       on="org_code", how="left")
    unknown = known.filter(pl.col("registry_group").is_null())
    out.append(row_findings(
        unknown, rule_id="D03", severity=ERROR, sheet=sheet.name, column_name="组织机构代码",
        observed=pl.col("org_code"), is_fatal=True,
        message=pl.concat_str(pl.lit("组织机构代码"), pl.col("org_code"),
                              pl.lit("不在报送名录中，请核对代码；如为新纳入监管的企业，请联系国资委更新名录")),
    ))
    group_diff = known.filter(pl.col("registry_group").is_not_null() & pl.col("group_org_code").is_not_null()
                              & (pl.col("group_org_code") != pl.col("registry_group")))
    out.append(row_findings(
        group_diff, rule_id="D03", severity=WARNING, sheet=sheet.name, column_name="所属集团组织机构代码",
        observed=pl.col("group_org_code"), expected=None,
        message=pl.concat_str(pl.lit("所属集团组织机构代码填为"), pl.col("group_org_code"), pl.lit("，名录中为"),
                              pl.col("registry_group"), pl.lit("，以名录为准")),
    ))
    # Only between two well-formed codes: a wrong check character is already a D03 error of its own.
    name_diff = valid.filter(pl.col("file_org_code").is_not_null()
                             & (pl.col("file_org_code") != pl.col("org_code")))
    # Two different registered enterprises: accepting the file as either could replace a filing that is not
    # the sender's to replace (contract §1 makes the sheet authoritative only against an unknown name).
    registered = registry["org_code"].implode()
    both = pl.col("file_org_code").is_in(registered) & pl.col("org_code").is_in(registered)
    out.append(row_findings(
        name_diff.filter(both), rule_id="D03", severity=ERROR, sheet=sheet.name, column_name="组织机构代码",
        observed=pl.col("org_code"), expected=pl.col("file_org_code"), is_fatal=True,
        message=pl.concat_str(pl.lit("文件名中的组织机构代码"), pl.col("file_org_code"), pl.lit("与表内填写的"),
                              pl.col("org_code"), pl.lit("是名录中两家不同的企业，无法确定是哪家企业的报表，"
                                                         "请核对后以本企业的代码命名文件并重新报送")),
    ))
    name_diff = name_diff.filter(~both)
    out.append(row_findings(
        name_diff, rule_id="D03", severity=WARNING, sheet=sheet.name, column_name="组织机构代码",
        observed=pl.col("org_code"),
        message=pl.concat_str(pl.lit("文件名中的组织机构代码"), pl.col("file_org_code"), pl.lit("与表内填写的"),
                              pl.col("org_code"), pl.lit("不一致，以表内为准，请核对")),
    ))
    wrong_period = frame.filter(pl.col("period").is_not_null() & (pl.col("period") != pl.col("filed_period")))
    out.append(row_findings(
        wrong_period, rule_id="D04", severity=ERROR, sheet=sheet.name, column_name="报告期",
        observed=pl.col("period"), is_fatal=True,
        message=pl.concat_str(pl.lit("报告期填为"), pl.col("period"), pl.lit("，但文件报送在"), pl.col("filed_period"),
                              pl.lit("期间，请核对报告期或报送到正确的期间")),
    ))
    early = frame.filter(pl.col("submitted_on") < pl.col("period_start"))
    out.append(row_findings(
        early, rule_id="D04", severity=WARNING, sheet=sheet.name, column_name="填报日期",
        observed=pl.col("submitted_on").cast(pl.Utf8),
        message=pl.concat_str(pl.lit("填报日期"), pl.col("submitted_on").cast(pl.Utf8), pl.lit("早于报告期开始，请核对")),
    ))
    industry = frame.filter(pl.col("industry_code").is_not_null() & ~pl.col("industry_code").str.contains(r"^\d{2}$"))
    out.append(row_findings(
        industry, rule_id="D05", severity=WARNING, sheet=sheet.name, column_name="行业代码",
        observed=pl.col("industry_code"),
        message=pl.concat_str(pl.lit("行业代码“"), pl.col("industry_code"), pl.lit("”应为GB/T 4754-2002大类的2位数字")),
    ))
    return out


def _funds_findings(sheet: c.Sheet, frame: pl.DataFrame) -> list[pl.DataFrame]:
    zero = frame.filter(pl.col("payroll") == 0)
    return [row_findings(
        zero, rule_id="D05", severity=ERROR, sheet=sheet.name, column_name="职工工资总额",
        observed=pl.col("payroll").cast(pl.Utf8), expected="> 0",
        message=pl.lit("职工工资总额应大于0（单位：万元）"),
    )]


def _apply_bounds(sheet: c.Sheet, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.DataFrame]]:
    out, blanks = [], []
    for col in sheet.columns:
        if col.type not in _BOUND_BY_TYPE or col.key not in frame.columns:
            continue
        limit, unit = _BOUND_BY_TYPE[col.type]
        over = pl.col(col.key).cast(pl.Float64) > pl.col(limit)
        bad = frame.filter(over)
        if bad.height == 0:
            continue
        out.append(row_findings(
            bad, rule_id="D05", severity=ERROR, sheet=sheet.name, column_name=col.header,
            observed=_number_text(col.key), expected=pl.concat_str(pl.lit("≤ "), _number_text(limit)),
            message=pl.concat_str(_cell(col), pl.lit("的值"), _number_text(col.key), pl.lit("超过合理上限"),
                                  _number_text(limit), pl.lit(f"{unit}，视为填报错误，不计入汇总，请核对数值和单位")),
        ))
        blanks.append(pl.when(over).then(None).otherwise(pl.col(col.key)).alias(col.key))
    return (frame.with_columns(blanks) if blanks else frame), out


@dataclass
class SheetResult:
    typed: pl.DataFrame  # raw table rows: submission_id, source_row, [person_key], typed columns
    findings: pl.DataFrame


_FAILED, _TYPED = "\x00failed", "\x00typed"  # suffixes no column of the contract can have


def check_sheet(
    sheet: c.Sheet, text: pl.DataFrame, context: pl.DataFrame, registry: pl.DataFrame, key: bytes,
    id_lookups: IdLookups | None = None,
) -> SheetResult:
    """Type and check one sheet concatenated over submissions.

    ``text``: submission_id, source_row and contract keys as strings. ``context``: submission_id,
    filed_period, period_start, period_end, file_org_code and the ``LIMIT_KEYS`` in force.
    """
    text = _with_all_columns(sheet, text)
    parsed = {col.key: parse_column(pl.col(col.key), col) for col in sheet.columns}
    typed_cols = {k: v for k, (v, _) in parsed.items()}
    # One lazy pass for both: each parser's failure test reuses its cast, and only a lazy query lets polars
    # compute such a shared part once (eager selects have no common-subexpression elimination).
    both = text.lazy().with_columns(
        *(f.alias(f"{k}{_FAILED}") for k, (_, f) in parsed.items()),
        *(v.alias(f"{k}{_TYPED}") for k, v in typed_cols.items()),
    ).collect()
    failed = {k: both[f"{k}{_FAILED}"] for k in parsed}
    findings = _typing_findings(sheet, text, failed)
    unreadable = [pl.col(f"{k}{_FAILED}").alias(f"{k}{_UNREADABLE}") for k in _ID_DECIDES if sheet.key == "roster"]
    frame = (both.select("submission_id", "source_row", *(pl.col(f"{k}{_TYPED}").alias(k) for k in typed_cols),
                         *unreadable)
             .join(context, on="submission_id", how="left"))
    personal = any(col.personal for col in sheet.columns)
    if personal:
        lookup = (id_lookups or IdLookups(key))(frame["id_number"])
        frame = frame.join(lookup, on="id_number", how="left")
    if sheet.key == "profile":
        findings += _profile_findings(sheet, frame, registry)
    elif sheet.key == "funds":
        findings += _funds_findings(sheet, frame)
    elif sheet.key == "roster":
        findings += _roster_findings(sheet, frame)
    elif sheet.key == "training":
        findings += _training_findings(sheet, frame)
    elif personal:
        findings += _person_findings(sheet, frame)
    bounded, bound_findings = _apply_bounds(sheet, frame)
    findings += bound_findings
    columns = [name for name, _ in c.raw_table_columns(sheet)]
    typed = bounded.select(columns)
    return SheetResult(typed, pl.concat([fd.empty(), *findings], how="vertical"))
