"""ground_truth.csv: every planted defect, variant and violation, so tests can score the rules."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

GROUND_TRUTH_FILE = "ground_truth.csv"
KINDS = ("defect", "variant", "violation")


@dataclass(frozen=True)
class TruthRow:
    kind: str  # defect / variant / violation
    period: str  # YYYYQn; year-level violations carry the year's Q4
    org_code: str  # 9 characters, no dash
    file: str = ""  # relative to the inbox, posix; blank when nothing arrived
    rule_id: str = ""
    defect: str = ""  # short English name of what was planted
    sheet: str = ""
    row: int | None = None  # Excel row number, header = 1
    id_number: str = ""  # synthetic ID for person-level items
    detail: str = ""


COLUMNS = tuple(f.name for f in fields(TruthRow))


@dataclass
class GroundTruth:
    rows: list[TruthRow] = field(default_factory=list)

    def add(self, **kwargs) -> None:
        self.rows.append(TruthRow(**kwargs))

    def of(self, kind: str | None = None, rule_id: str | None = None, defect: str | None = None) -> list[TruthRow]:
        return [r for r in self.rows if (kind is None or r.kind == kind) and (rule_id is None or r.rule_id == rule_id)
                and (defect is None or r.defect == defect)]

    def flagged_slots(self) -> set[tuple[str, str]]:
        """(org_code, period) pairs with anything planted: all others must produce no finding."""
        return {(r.org_code, r.period) for r in self.rows if r.kind != "variant"}

    def counts(self) -> Counter:
        return Counter((r.kind, r.rule_id, r.defect) for r in self.rows)

    def sorted(self) -> GroundTruth:
        key = lambda r: (r.period, r.org_code, r.kind, r.rule_id, r.defect, r.file, r.row or 0, r.id_number)  # noqa: E731
        return GroundTruth(sorted(self.rows, key=key))

    def write(self, out_dir: Path) -> Path:
        path = out_dir / GROUND_TRUTH_FILE
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            for r in self.sorted().rows:
                d = asdict(r)
                d["row"] = "" if r.row is None else r.row
                writer.writerow(d)
        return path


def load_ground_truth(out_dir: Path) -> GroundTruth:
    with (Path(out_dir) / GROUND_TRUTH_FILE).open(encoding="utf-8", newline="") as fh:
        rows = [TruthRow(**{**d, "row": int(d["row"]) if d["row"] else None}) for d in csv.DictReader(fh)]
    return GroundTruth(rows)
