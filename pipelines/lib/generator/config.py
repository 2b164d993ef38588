"""Generator settings: size of the simulated system, period range, seed, defect and violation rates.

Rates are fractions of eligible units, rounded to a count (at least one when the rate is above
zero and a unit is eligible), so a small demo still carries every kind:
- defect and variant rates are per enterprise-period (one submission slot);
- violation rates are per enterprise-year, except C12 (per enterprise-quarter) and C05
  (``lagging``: the fraction of enterprises whose high-skill share stays flat).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.lib.domain.periods import Period

# Defect kinds: short name -> (rule id, what the intake or marts should say).
DEFECT_KINDS: dict[str, tuple[str, str]] = {
    "corrupt_file": ("D01", "文件损坏无法打开（截断的 .xlsx），致命"),
    "missing_sheet": ("D01", "缺少必报工作表，致命"),
    "missing_column": ("D02", "缺少必填列，致命"),
    "merged_title_row": ("D02", "列名上方有合并标题行，列名在第2行：警告，仍可读取"),
    "bad_org_check_char": ("D03", "基本情况中组织机构代码校验位错误，致命"),
    "level_sum_exceeds_skilled": ("D06", "五个等级人数之和大于技能劳动者总数"),
    "unit_error_yuan": ("D08", "工资总额与经费按“元”填写（×10000）"),
    "bad_id_check_char": ("D09", "身份证号校验位错误"),
    "duplicate_person": ("D09", "人才信息库中同一人出现两次"),
    "roster_count_mismatch": ("D12", "基本情况高级工人数与人才信息库不一致"),
    "training_outside_quarter": ("D13", "培训结束日期不在报告期内"),
    "late_file": ("D15", "逾期报送（警告）"),
    "missing_submission": ("D15", "名录中应报企业未报送（错误）"),
    "superseded_version": ("D16", "更正重报：先到的版本被后到的 _v2 版本替代"),
}

# Variants: unusual but valid submissions that must load with no finding at all.
VARIANT_KINDS: dict[str, str] = {
    "header_whitespace_fullwidth": "列名和取值带首尾空格、全角数字、半角括号，须规范化后无任何问题",
    "gb18030_csv": "格式B：GB18030（GBK）编码的 CSV 压缩包或文件夹，须正确解码",
}

# Violations: rule id -> (short name, level).
VIOLATION_KINDS: dict[str, tuple[str, str]] = {
    "C01": ("untrained_person", "person-year"),
    "C02": ("coverage_below_100", "enterprise-year"),
    "C03": ("low_fund_extraction", "enterprise-year"),
    "C04": ("low_frontline_share", "enterprise-year"),
    "C05": ("lagging_share", "enterprise-quarter"),
    "C06": ("governance_missing", "enterprise-year"),
    "C07": ("no_congress_report", "enterprise-year"),
    "C08": ("no_chief_technician_system", "enterprise-year"),
    "C09": ("income_below_professional", "enterprise-year"),
    "C10": ("income_gap_narrowed", "enterprise-year"),
    "C11": ("model_workers_not_tilted", "enterprise-year"),
    "C12": ("key_trainee_without_account", "enterprise-quarter"),
    "C13": ("no_study_or_reserve_system", "enterprise-year"),
}

FATAL_DEFECTS = frozenset({"corrupt_file", "missing_sheet", "missing_column", "bad_org_check_char"})
# Defects after which the enterprise-period has no loaded data at all.
UNLOADED_DEFECTS = FATAL_DEFECTS | {"missing_submission"}


def default_defect_rates() -> dict[str, float]:
    return {
        "corrupt_file": 0.008,
        "missing_sheet": 0.008,
        "missing_column": 0.008,
        "merged_title_row": 0.01,
        "bad_org_check_char": 0.008,
        "level_sum_exceeds_skilled": 0.01,
        "unit_error_yuan": 0.01,
        "bad_id_check_char": 0.01,
        "duplicate_person": 0.01,
        "roster_count_mismatch": 0.01,
        "training_outside_quarter": 0.01,
        "late_file": 0.02,
        "missing_submission": 0.01,
        "superseded_version": 0.01,
    }


def default_variant_rates() -> dict[str, float]:
    return {"header_whitespace_fullwidth": 0.01, "gb18030_csv": 0.02}


def default_violation_rates() -> dict[str, float]:
    # C02 follows C01 (an untrained person makes coverage < 100%), so it has no rate of its own.
    return {
        "C01": 0.04, "C03": 0.04, "C04": 0.04, "C05": 0.1, "C06": 0.03, "C07": 0.04, "C08": 0.03,
        "C09": 0.04, "C10": 0.04, "C11": 0.04, "C12": 0.01, "C13": 0.03,
    }


@dataclass
class GeneratorConfig:
    n_enterprises: int = 12
    n_groups: int = 3
    first: Period = field(default_factory=lambda: Period(2006, 1))
    last: Period = field(default_factory=lambda: Period(2010, 4))
    seed: int = 2008
    # Employees per enterprise: in this range, log-scale, skewed to the small end (typical SASAC enterprises 200–5,000).
    employees_range: tuple[int, int] = (200, 5000)
    # Share of clean submissions sent as format B (CSV folder or zip, UTF-8 with or without BOM).
    csv_rate: float = 0.06
    defect_rates: dict[str, float] = field(default_factory=default_defect_rates)
    variant_rates: dict[str, float] = field(default_factory=default_variant_rates)
    violation_rates: dict[str, float] = field(default_factory=default_violation_rates)
    # Processes writing files: 0 = auto (several for big periods), 1 = in process. Output is
    # byte-identical either way.
    workers: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.first, str):
            self.first = Period.parse(self.first)
        if isinstance(self.last, str):
            self.last = Period.parse(self.last)
        if self.last < self.first:
            raise ValueError("last period before first period")
        self.n_groups = max(1, min(self.n_groups, self.n_enterprises))
        for name in self.defect_rates:
            if name not in DEFECT_KINDS:
                raise ValueError(f"unknown defect kind {name!r}")
        for name in self.variant_rates:
            if name not in VARIANT_KINDS:
                raise ValueError(f"unknown variant kind {name!r}")
        for rule in self.violation_rates:
            if rule not in VIOLATION_KINDS or rule == "C02":
                raise ValueError(f"unknown or derived violation {rule!r}")


def demo_config() -> GeneratorConfig:
    """The committed demo inbox (data/raw): 12 enterprises in 3 groups, 2006Q1–2010Q4, small files."""
    return GeneratorConfig(n_enterprises=12, n_groups=3, seed=2008, employees_range=(120, 450), csv_rate=0.06)


def clean_config(**kwargs) -> GeneratorConfig:
    """No defects, variants or violations: every submission must load with zero findings."""
    cfg = GeneratorConfig(**kwargs)
    cfg.defect_rates = dict.fromkeys(cfg.defect_rates, 0.0)
    cfg.variant_rates = dict.fromkeys(cfg.variant_rates, 0.0)
    cfg.violation_rates = dict.fromkeys(cfg.violation_rates, 0.0)
    return cfg
