"""Turn one simulated enterprise-period into the files an enterprise sends, planting the slot's
defect or variant, and say in ground-truth rows exactly what was planted where."""

from __future__ import annotations

import copy
import datetime as dt
import random
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.lib.domain import contract
from pipelines.lib.domain.codes import format_org_code, org_check_char
from pipelines.lib.forms.submission_writer import CLEAN, Layout, write_submission
from pipelines.lib.generator.config import DEFECT_KINDS, VARIANT_KINDS
from pipelines.lib.generator.ground_truth import TruthRow
from pipelines.lib.generator.simulate import QuarterData

PROFILE, FUNDS, ROSTER, TRAINING = (contract.PROFILE.name, contract.FUNDS.name, contract.ROSTER.name,
                                    contract.TRAINING.name)
_FULLWIDTH = str.maketrans("0123456789Q", "０１２３４５６７８９Ｑ")


@dataclass
class WriteTask:
    rel_path: str  # posix, relative to the inbox
    submission: dict[str, list[dict]]
    fmt: str = "xlsx"
    encoding: str = "utf-8"
    layout: Layout = CLEAN
    corrupt: bool = False
    arrived_at: dt.datetime | None = None


@dataclass
class Rendered:
    tasks: list[WriteTask] = field(default_factory=list)
    truth: list[TruthRow] = field(default_factory=list)
    current_file: str = ""  # the version that counts for the marts ('' when none loads)


def write_task(out_dir: Path, task: WriteTask) -> None:
    path = out_dir / task.rel_path
    write_submission(path, task.submission, task.fmt, task.encoding, task.layout)
    if task.corrupt:
        # A workbook cut off mid-upload: the zip directory at its end is gone.
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 2 // 5])


def _wrong_check(correct: str, alphabet: str, rng: random.Random) -> str:
    return rng.choice([c for c in alphabet if c != correct])


def render(qd: QuarterData, kind: str | None, arrived: dt.datetime, csv_rate: float, rng: random.Random) -> Rendered:
    """Files and ground truth for one slot. ``kind`` is a defect or variant name, or None."""
    period = str(qd.period)
    base = f"{format_org_code(qd.org_code)}_{period}"
    sub = qd.submission()
    out = Rendered()

    def truth(**kw) -> None:
        kind_of = "variant" if kw["defect"] in VARIANT_KINDS else "defect"
        rule = DEFECT_KINDS[kw["defect"]][0] if kind_of == "defect" else ""
        out.truth.append(TruthRow(kind=kind_of, period=period, org_code=qd.org_code, rule_id=rule, **kw))

    def add(rel: str, submission: dict, **kw) -> str:
        out.tasks.append(WriteTask(f"{period}/{rel}", submission, arrived_at=kw.pop("arrived", arrived), **kw))
        return f"{period}/{rel}"

    if kind is None:
        if rng.random() < csv_rate:
            fmt = rng.choice(("csv_dir", "csv_zip"))
            name = base + (".zip" if fmt == "csv_zip" else "")
            out.current_file = add(name, sub, fmt=fmt, encoding=rng.choice(("utf-8", "utf-8-sig")))
        else:
            out.current_file = add(base + ".xlsx", sub)
        return out

    if kind == "missing_submission":
        truth(file="", defect=kind, detail=f"名录中应报送，{period} 未收到任何文件")
        return out

    if kind == "gb18030_csv":
        fmt = rng.choice(("csv_dir", "csv_zip"))
        rel = add(base + (".zip" if fmt == "csv_zip" else ""), sub, fmt=fmt, encoding="gb18030")
        truth(file=rel, defect=kind, detail=f"格式B（{fmt}），GB18030 编码")
        out.current_file = rel
        return out

    if kind == "superseded_version":
        first = copy.deepcopy(sub)
        first[PROFILE][0]["level5_junior"] += rng.randint(5, 20)  # the typo the _v2 corrects
        v1 = add(base + ".xlsx", first, arrived=arrived)
        v2 = add(base + "_v2.xlsx", sub, arrived=arrived + dt.timedelta(days=rng.randint(1, 3), hours=rng.randint(1, 6)))
        truth(file=v1, defect=kind, detail=f"被 {Path(v2).name} 替代（第一版初级工人数多填）")
        out.current_file = v2
        return out

    layout = CLEAN
    rel = f"{period}/{base}.xlsx"
    if kind == "corrupt_file":
        out.tasks.append(WriteTask(rel, sub, corrupt=True, arrived_at=arrived))
        truth(file=rel, defect=kind, detail="文件被截断，无法作为 xlsx 打开")
        return out
    if kind == "missing_sheet":
        gone = rng.choice([s.name for s in contract.SHEETS if s.required and s.name != PROFILE])
        layout = Layout(omit_sheets=frozenset({gone}))
        truth(file=rel, defect=kind, sheet=gone, detail=f"缺少必报工作表“{gone}”")
    elif kind == "missing_column":
        sheet = rng.choice([s for s in contract.SHEETS if s.required])
        col = rng.choice([c for c in sheet.columns if c.required and c.mandatory])
        layout = Layout(omit_columns={sheet.name: frozenset({col.key})})
        truth(file=rel, defect=kind, sheet=sheet.name, row=1, detail=f"缺少必填列“{col.header}”")
    elif kind == "merged_title_row":
        sheet = rng.choice([s.name for s in contract.SHEETS if s.required])
        layout = Layout(title_row_sheets=frozenset({sheet}))
        truth(file=rel, defect=kind, sheet=sheet, row=1, detail="第1行为合并标题，列名在第2行")
    elif kind == "bad_org_check_char":
        code = qd.org_code
        wrong = code[:8] + _wrong_check(org_check_char(code[:8]), "0123456789X", rng)
        sub[PROFILE][0]["org_code"] = format_org_code(wrong)
        truth(file=rel, defect=kind, sheet=PROFILE, row=2, detail=f"填报为 {format_org_code(wrong)}")
    elif kind == "level_sum_exceeds_skilled":
        extra = rng.randint(5, 30)
        sub[PROFILE][0]["level5_junior"] += extra
        truth(file=rel, defect=kind, sheet=PROFILE, row=2, detail=f"初级工人数多填 {extra} 人，五级合计大于技能劳动者总数")
    elif kind == "unit_error_yuan":
        funds = sub[FUNDS][0]
        for key in list(funds):
            funds[key] = round(funds[key] * 10000, 2)
        truth(file=rel, defect=kind, sheet=FUNDS, row=2, detail="工资总额和经费按元填写（×10000）")
    elif kind == "roster_count_mismatch":
        prof = sub[PROFILE][0]
        extra = max(3, -(-prof["level3_senior"] // 5))
        prof["level3_senior"] += extra
        # Keep the five-level sum unchanged so only D12 fires, not D06.
        take = min(extra, prof["level4_intermediate"])
        prof["level4_intermediate"] -= take
        prof["level5_junior"] -= extra - take
        truth(file=rel, defect=kind, sheet=PROFILE, row=2, detail=f"高级工人数比人才信息库多 {extra} 人")
    elif kind == "duplicate_person":
        roster = sub[ROSTER]
        counts: dict[str, int] = {}
        for r in roster:
            counts[r["skill_level"]] = counts.get(r["skill_level"], 0) + 1
        # Duplicate within the largest level, so the roster count stays within the D12 tolerance.
        level = max(counts, key=lambda lvl: (counts[lvl], lvl))
        pick = rng.choice([r for r in roster if r["skill_level"] == level])
        roster.append(dict(pick))
        truth(file=rel, defect=kind, sheet=ROSTER, row=len(roster) + 1, id_number=pick["id_number"],
              detail=f"与第{roster.index(pick) + 2}行为同一人")
    elif kind == "bad_id_check_char":
        roster = sub[ROSTER]
        pool = [r for r in roster if r["id_number"] in qd.tenured_ids] or roster
        pick = rng.choice(pool)
        good = pick["id_number"]
        bad = good[:17] + _wrong_check(good[17], "0123456789X", rng)
        pick["id_number"] = bad
        truth(file=rel, defect=kind, sheet=ROSTER, row=roster.index(pick) + 2, id_number=bad,
              detail="身份证号末位校验码错误")
        # The same typo in one extra training row; the person's real trainings stay under the
        # correct ID (on earlier rosters), so coverage is not disturbed.
        event = _event_for(qd, bad, rng)
        sub[TRAINING].append(event)
        truth(file=rel, defect=kind, sheet=TRAINING, row=len(sub[TRAINING]) + 1, id_number=bad,
              detail="培训记录中同一错误身份证号")
    elif kind == "training_outside_quarter":
        events = sub[TRAINING]
        source = rng.choice(events) if events else _event_for(qd, sub[ROSTER][0]["id_number"], rng)
        event = dict(source)
        p = qd.period
        # Stay in the same calendar year so the yearly coverage (C01) is not touched.
        if p.quarter == 1:
            event["start_date"] = p.end - dt.timedelta(days=2)
            event["end_date"] = p.end + dt.timedelta(days=rng.randint(3, 20))
        else:
            event["end_date"] = p.start - dt.timedelta(days=rng.randint(3, 20))
            event["start_date"] = event["end_date"] - dt.timedelta(days=2)
        events.append(event)
        truth(file=rel, defect=kind, sheet=TRAINING, row=len(events) + 1, id_number=event["id_number"],
              detail=f"结束日期 {event['end_date']} 不在报告期内")
    elif kind == "late_file":
        truth(file=rel, defect=kind, detail=f"{arrived:%Y-%m-%d %H:%M:%S} 收到，晚于截止时间")
    elif kind == "header_whitespace_fullwidth":
        layout, sub = _sloppy(sub, rng)
        truth(file=rel, defect=kind, detail="列名带空格、半角括号；取值带空格与全角数字")
    else:
        raise ValueError(f"unknown slot kind {kind!r}")
    out.tasks.append(WriteTask(rel, sub, layout=layout, arrived_at=arrived))
    if kind not in ("corrupt_file", "missing_sheet", "missing_column", "bad_org_check_char"):
        out.current_file = rel
    return out


def _event_for(qd: QuarterData, id_number: str, rng: random.Random) -> dict:
    p = qd.period
    start = p.start + dt.timedelta(days=rng.randint(5, 40))
    return {"id_number": id_number, "course_name": "安全生产知识与技能培训", "training_type": "安全生产培训",
            "start_date": start, "end_date": start + dt.timedelta(days=1), "hours": 16.0, "cost": 480.0,
            "provider": "企业职工培训中心", "certified": False}


def _sloppy(sub: dict, rng: random.Random) -> tuple[Layout, dict]:
    """What a careless clerk types: padded headers, ASCII brackets, full-width digits, stray spaces.
    All of it is valid after trimming and NFKC normalisation (contract §1)."""
    headers: dict[tuple[str, str], str] = {}
    for sheet in contract.SHEETS:
        for col in sheet.columns:
            text = unicodedata.normalize("NFKC", col.header) if "（" in col.header else col.header
            pad = rng.choice(("", " ", "  ", "\u3000"))
            headers[(sheet.name, col.key)] = (" " if rng.random() < 0.2 else "") + text + pad
    sub = copy.deepcopy(sub)
    prof = sub[PROFILE][0]
    prof["org_code"] = prof["org_code"] + " "
    prof["period"] = prof["period"].translate(_FULLWIDTH)
    prof["employees_total"] = str(prof["employees_total"]).translate(_FULLWIDTH)
    prof["phone"] = prof["phone"].translate(_FULLWIDTH)
    if sub[ROSTER]:
        sub[ROSTER][0]["id_number"] = " " + sub[ROSTER][0]["id_number"] + " "
    return Layout(header_text=headers), sub
