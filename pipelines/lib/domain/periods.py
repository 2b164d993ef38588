"""Reporting periods written ``YYYYQn`` and the dates that hang off them."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_PERIOD_RE = re.compile(r"^\s*(\d{4})\s*[Qq]\s*([1-4])\s*$")

# Day of the month after the quarter by which a submission is due (contract §1, configurable).
DEFAULT_DEADLINE_DAY = 15


class PeriodError(ValueError):
    """A string that is not a period ``YYYYQn``."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    quarter: int

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD_RE.match(str(text))
        if not m:
            raise PeriodError(f"报告期“{text}”格式不对，应为 YYYYQn，如 2008Q2")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def from_date(cls, day: dt.date) -> Period:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.quarter - 2, 1)

    @property
    def end(self) -> dt.date:
        return self.next().start - dt.timedelta(days=1)

    def next(self) -> Period:
        return Period(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    @property
    def index(self) -> int:
        """Quarters since year 0: differences are distances in quarters."""
        return self.year * 4 + self.quarter - 1

    def deadline(self, day_of_month: int = DEFAULT_DEADLINE_DAY) -> dt.datetime:
        """End of the filing deadline: the given day of the month after the quarter, 24:00."""
        nxt = self.next().start
        return dt.datetime(nxt.year, nxt.month, day_of_month) + dt.timedelta(days=1)

    @property
    def partition_key(self) -> str:
        """The Dagster partition key: the quarter as people write it (``2008Q2``)."""
        return str(self)

    @classmethod
    def from_partition_key(cls, key: str) -> Period:
        return cls.parse(key)


def period_range(first: Period, last: Period) -> list[Period]:
    out, p = [], first
    while p <= last:
        out.append(p)
        p = p.next()
    return out


def is_period(text: str) -> bool:
    return bool(_PERIOD_RE.match(str(text)))
