"""ground_truth_flows.csv: every talent flow the simulation made, per enterprise and quarter.

One row per person and enterprise-quarter whose high-skill status changed there, with the true cause
(the simulation knows why a person appeared or disappeared; the warehouse has to infer it from the
rosters). ``marts.talent_flows`` is tested against these rows.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

FLOWS_FILE = "ground_truth_flows.csv"
# Into the enterprise's high-skill headcount / out of it; "upgraded" stays inside (高级工 → 技师 → 高级技师).
FLOWS_IN = ("promoted_in", "transfer_in", "new_in")
FLOWS_OUT = ("transfer_out", "retired", "left")
FLOW_KINDS = (*FLOWS_IN, "upgraded", *FLOWS_OUT)


@dataclass(frozen=True)
class FlowRow:
    period: str  # YYYYQn: the flow happened between the previous quarter's roster and this one's
    org_code: str  # 9 characters, no dash
    flow: str  # one of FLOW_KINDS
    id_number: str  # synthetic 身份证号
    counterpart: str = ""  # the other enterprise of a transfer
    level_before: str = ""
    level_after: str = ""
    trained_prior_4q: bool = False  # promoted_in: a training filed in this or the three quarters before


FLOW_COLUMNS = tuple(f.name for f in fields(FlowRow))


def write_flows(out_dir: Path, rows: list[FlowRow]) -> Path:
    path = Path(out_dir) / FLOWS_FILE
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FLOW_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in sorted(rows, key=lambda r: (r.period, r.org_code, r.flow, r.id_number)):
            writer.writerow({**asdict(r), "trained_prior_4q": int(r.trained_prior_4q)})
    return path


def load_flows(out_dir: Path) -> list[FlowRow]:
    with (Path(out_dir) / FLOWS_FILE).open(encoding="utf-8", newline="") as fh:
        return [FlowRow(**{**d, "trained_prior_4q": d["trained_prior_4q"] == "1"}) for d in csv.DictReader(fh)]
