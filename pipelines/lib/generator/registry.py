"""Synthetic enterprises: groups, sectors, industry codes, names, valid 组织机构代码 and size parameters."""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib.domain import contract
from pipelines.lib.domain.codes import format_org_code, org_check_char
from pipelines.lib.generator.config import GeneratorConfig

# GB/T 4754-2002 divisions (2 digits) by §二 focus area, with the trades found there.
INDUSTRIES: dict[str, tuple[tuple[str, str], ...]] = {
    "现代制造业": (("35", "机床"), ("36", "装备"), ("37", "汽车"), ("39", "电气"), ("40", "电子"),
                   ("27", "医药"), ("26", "化工"), ("41", "仪表")),
    "现代服务业": (("53", "公交"), ("52", "运输"), ("58", "物流"), ("60", "通信"), ("61", "信息"),
                   ("66", "酒店"), ("63", "商贸")),
    "其他": (("44", "热力"), ("45", "燃气"), ("46", "水务"), ("47", "建工"), ("72", "置业")),
}
OCCUPATIONS: dict[str, tuple[str, ...]] = {
    "现代制造业": ("车工", "钳工", "铣工", "焊工", "维修电工", "数控车工", "装配钳工", "工具钳工", "化学检验工", "磨工"),
    "现代服务业": ("汽车驾驶员", "汽车修理工", "中式烹调师", "计算机网络管理员", "电子商务师", "公交车驾驶员", "仓库保管工"),
    "其他": ("维修电工", "锅炉操作工", "燃气输送工", "混凝土工", "架子工", "管道工", "焊工", "电力线路工"),
}
PLACE_WORDS = ("京华", "燕京", "北辰", "西山", "永定", "通惠", "潮白", "京西", "昌平", "怀柔", "密云", "房山",
               "石景", "丰泽", "朝晖", "海淀", "顺义", "大兴", "延庆", "平谷", "东城", "宣武", "崇文", "门头")
SUFFIXES = ("有限公司", "股份有限公司", "有限责任公司")
SECTOR_WEIGHTS = (("现代制造业", 0.5), ("现代服务业", 0.3), ("其他", 0.2))


@dataclass
class Enterprise:
    org_code: str  # 9 characters, no dash
    name: str
    group_code: str
    industry_code: str
    sector: str
    occupations: tuple[str, ...]
    employees0: int
    skilled_ratio: float  # skilled workers / employees
    frontline_ratio: float
    skilled_growth: float  # per quarter
    base_share: float  # planned high-skill share at the first period
    final_share: float  # planned share in the target year
    lagging: bool
    wage0: float  # 万元 per employee per quarter, 2006
    fund_ratio: float
    frontline_share: float
    income_general0: int  # 元 per year, 2006
    income_premium: float  # high-skill over general, 2006
    professional_discount: float  # high-skill / professional (> 1: equal treatment with margin)
    preparer: str
    phone: str

    @property
    def display_code(self) -> str:
        return format_org_code(self.org_code)

    @property
    def is_hq(self) -> bool:
        return self.group_code == self.org_code


def _org_code(rng: random.Random, used: set[str]) -> str:
    while True:
        if rng.random() < 0.8:
            body = f"{rng.choice(('1011', '1012', '1020', '7000', '8020'))}{rng.randrange(10000):04d}"
        else:
            # Newer codes mix letters in (like MA62K026).
            alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
            body = "M" + "".join(rng.choice(alphabet) for _ in range(7))
        code = body + org_check_char(body)
        if code not in used:
            used.add(code)
            return code


def build_enterprises(config: GeneratorConfig, rng: random.Random) -> list[Enterprise]:
    """Groups first (each HQ reports too), then subsidiaries spread over the groups."""
    used: set[str] = set()
    names: set[str] = set()
    lo, hi = config.employees_range
    out: list[Enterprise] = []
    group_info: list[tuple[str, str, str]] = []  # (code, place word, sector)
    n_lagging = _count(config.violation_rates.get("C05", 0.0), config.n_enterprises)
    lagging = set(rng.sample(range(config.n_enterprises), min(n_lagging, config.n_enterprises)))
    for i in range(config.n_enterprises):
        code = _org_code(rng, used)
        if i < config.n_groups:
            sector = rng.choices([s for s, _ in SECTOR_WEIGHTS], [w for _, w in SECTOR_WEIGHTS])[0]
            place = PLACE_WORDS[i % len(PLACE_WORDS)]
            group_info.append((code, place, sector))
            group_code = code
        else:
            group_code, place, sector = group_info[i % config.n_groups]
            if rng.random() < 0.2:  # groups are diversified
                sector = rng.choice(contract.SECTORS)
        industry, trade = rng.choice(INDUSTRIES[sector])
        if group_code == code:
            name = f"北京{place}{trade}集团有限责任公司"
        else:
            name = f"北京{place}{trade}{rng.choice(PLACE_WORDS)}{rng.choice(SUFFIXES)}"
        while name in names:
            name = name.replace("北京", f"北京{rng.choice(PLACE_WORDS)}", 1)
        names.add(name)
        # Skewed towards the small end: most reporting units are modest subsidiaries.
        employees = int(math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * rng.random() ** 2))
        is_lagging = i in lagging
        base = rng.uniform(0.10, 0.13) if is_lagging else rng.uniform(0.155, 0.20)
        out.append(
            Enterprise(
                org_code=code, name=name, group_code=group_code, industry_code=industry, sector=sector,
                occupations=OCCUPATIONS[sector], employees0=employees,
                skilled_ratio=rng.uniform(0.55, 0.8), frontline_ratio=rng.uniform(0.6, 0.85),
                skilled_growth=rng.uniform(0.0, 0.01), base_share=base,
                final_share=rng.uniform(0.25, 0.30), lagging=is_lagging, wage0=rng.uniform(0.7, 1.5),
                fund_ratio=rng.uniform(0.018, 0.026), frontline_share=rng.uniform(0.65, 0.8),
                income_general0=rng.randrange(20000, 30000, 100), income_premium=rng.uniform(0.28, 0.4),
                professional_discount=rng.uniform(1.03, 1.1),
                preparer=rng.choice("王李张刘陈杨赵黄周吴") + rng.choice(("丽", "敏", "强", "静", "军", "燕")),
                phone=f"010-{rng.randrange(6000, 8999)}{rng.randrange(1000, 9999)}",
            )
        )
    return out


def _count(rate: float, n: int) -> int:
    """Units planted for a rate: rounded, and at least one when the rate is above zero."""
    if rate <= 0 or n <= 0:
        return 0
    return max(1, round(rate * n))


def write_registry(path: Path, enterprises: list[Enterprise], config: GeneratorConfig) -> None:
    """registry.csv (UTF-8): headers from contract.REGISTRY_COLUMNS, codes written with the dash."""
    values = {
        "org_code": lambda e: e.display_code,
        "enterprise_name": lambda e: e.name,
        "group_org_code": lambda e: format_org_code(e.group_code),
        "industry_code": lambda e: e.industry_code,
        "sector": lambda e: e.sector,
        "active_from": lambda e: str(config.first),
        "active_to": lambda e: "",
    }
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([c.header for c in contract.REGISTRY_COLUMNS])
        for e in enterprises:
            writer.writerow([values[c.key](e) for c in contract.REGISTRY_COLUMNS])
