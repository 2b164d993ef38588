"""The quarterly submission contract (高技能人才工作季度报表, version 1) as data.

This module is the single source of truth for the workbook's sheets and columns: the reader,
the structural checks, the template writer, the synthetic generator, the raw warehouse tables
and the generated docs all read it. See ../shared/contract/SUBMISSION.md for the prose version.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipelines.lib.domain.reference import skill_levels

CONTRACT_VERSION = 1

# Column value types. Parsing lives in pipelines.lib.intake.values; DuckDB types below.
CODE9 = "code9"  # 组织机构代码, GB 11714-1997
TEXT = "text"
PERIOD = "period"  # YYYYQn
ENUM = "enum"
INT = "int"  # count, >= 0
AMOUNT = "amount"  # 万元, >= 0
YUAN = "yuan"  # 元, >= 0
NUMBER = "number"  # e.g. training hours
BOOL = "bool"  # 是/否
DATE = "date"
ID_NUMBER = "id_number"  # 身份证号, GB 11643-1999; personal data

DUCKDB_TYPES = {
    CODE9: "VARCHAR",
    TEXT: "VARCHAR",
    PERIOD: "VARCHAR",
    ENUM: "VARCHAR",
    INT: "BIGINT",
    AMOUNT: "DOUBLE",
    YUAN: "DOUBLE",
    NUMBER: "DOUBLE",
    BOOL: "BOOLEAN",
    DATE: "DATE",
    ID_NUMBER: "VARCHAR",
}

NUMERIC_TYPES = frozenset({INT, AMOUNT, YUAN, NUMBER})

SECTORS = ("现代制造业", "现代服务业", "其他")

# 国家职业资格 levels: 五级 (初级工) … 一级 (高级技师). High-skill = 三级 and above. The seed
# ref_skill_levels.csv owns them; the contract only names them for the intake and the generator.
SKILL_LEVELS = skill_levels().all
HIGH_SKILL_LEVELS = skill_levels().high_skill
TECHNICIAN_LEVELS = skill_levels().technician  # the only levels a 首席技师 may hold

TRAINING_TYPES = ("岗位技能提升培训", "技师研修", "校企合作培训", "新技术新工艺培训", "安全生产培训", "其他")

BOOL_TRUE = ("是", "Y", "YES", "1", "√", "TRUE", "T", "对")
BOOL_FALSE = ("否", "N", "NO", "0", "×", "X", "FALSE", "F", "错")


@dataclass(frozen=True)
class Column:
    header: str  # the Chinese header a clerk sees
    key: str  # the English column name in the warehouse
    type: str
    rule: str = ""  # what a clerk must respect, in Chinese (template notes, docs)
    clause: str = ""  # policy clause the column serves, e.g. §三.1
    required: bool = True  # the column must be present in the sheet (D02)
    mandatory: bool = False  # every row must carry a value (D05)
    enum: tuple[str, ...] = ()
    personal: bool = False  # personal information: never reaches the warehouse as is

    @property
    def duckdb_type(self) -> str:
        return DUCKDB_TYPES[self.type]


@dataclass(frozen=True)
class Sheet:
    name: str  # Chinese sheet name, also the CSV file stem in format B
    key: str
    table: str  # raw warehouse table (schema raw)
    description: str
    columns: tuple[Column, ...]
    required: bool = True
    single_row: bool = False
    clause: str = ""
    # Columns the intake derives from a row rather than reads from a cell, stored after the typed ones:
    # the ID's sex and birth date are the truth every model uses; the typed cells are only checked (D10).
    derived: tuple[tuple[str, str], ...] = ()
    by_key: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {c.key: c for c in self.columns})

    def column(self, key: str) -> Column:
        return self.by_key[key]

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns)


def _count(header: str, key: str, rule: str = "", clause: str = "", mandatory: bool = True) -> Column:
    return Column(header, key, INT, rule or "非负整数", clause, mandatory=mandatory)


def _amount(header: str, key: str, rule: str = "", clause: str = "") -> Column:
    return Column(header, key, AMOUNT, rule or "万元，保留两位小数，不小于0", clause, mandatory=True)


def _flag(header: str, key: str, clause: str) -> Column:
    return Column(header, key, BOOL, "填“是”或“否”", clause, mandatory=True)


PROFILE = Sheet(
    name="基本情况",
    key="profile",
    table="profiles",
    description="企业基本情况与技能人才结构（季末时点数），仅一行数据",
    single_row=True,
    columns=(
        Column("组织机构代码", "org_code", CODE9, "9位，如 MA62K026-0，校验位须正确", mandatory=True),
        Column("企业名称", "enterprise_name", TEXT, "与名录一致", mandatory=True),
        Column("报告期", "period", PERIOD, "如 2008Q2，须与报送期一致", mandatory=True),
        Column("所属集团组织机构代码", "group_org_code", CODE9, "集团本部填本单位代码", mandatory=True),
        Column("行业代码", "industry_code", TEXT, "GB/T 4754-2002 大类，2位数字"),
        Column("重点领域", "sector", ENUM, "现代制造业/现代服务业/其他", "§二", enum=SECTORS),
        _count("职工总数", "employees_total", "不小于技能劳动者总数"),
        _count("一线职工人数", "frontline_workers", "不大于职工总数"),
        _count("技能劳动者总数", "skilled_workers", "不小于五个等级人数之和"),
        _count("初级工人数", "level5_junior", "国家职业资格五级"),
        _count("中级工人数", "level4_intermediate", "国家职业资格四级"),
        _count("高级工人数", "level3_senior", "国家职业资格三级（高技能人才）", "§二"),
        _count("技师人数", "level2_technician", "国家职业资格二级（高技能人才）", "§二"),
        _count("高级技师人数", "level1_senior_technician", "国家职业资格一级（高技能人才）", "§二"),
        _count("首席技师人数", "chief_technicians", "不大于技师与高级技师人数之和", "§三.4"),
        _count("重点培养对象人数", "key_trainees", "", "§三.1"),
        _count("设立个人培训账户人数", "training_accounts", "", "§三.1"),
        Column("填报人", "preparer", TEXT, required=False),
        Column("联系电话", "phone", TEXT, required=False),
        Column("填报日期", "submitted_on", DATE, "不早于报告期开始", required=False),
    ),
)

FUNDS = Sheet(
    name="经费情况",
    key="funds",
    table="funds",
    description="本季发生额，单位万元，仅一行数据",
    single_row=True,
    clause="§四.2",
    columns=(
        _amount("职工工资总额", "payroll", "万元，大于0"),
        _amount("教育培训经费提取额", "fund_extracted", "按工资总额不低于{fund_ratio_min}提取（按年度考核）", "§四.2"),
        _amount("教育培训经费使用额", "fund_spent", "", "§四.2"),
        _amount("其中：一线职工教育培训", "fund_spent_frontline", "不大于使用额；不低于使用额的{frontline_share_min}（按年度考核）", "§四.2"),
        _amount("其中：高技能人才培养", "fund_spent_high_skill", "不大于使用额", "§四.2"),
        _amount("其中：校企合作定向培训", "fund_school_enterprise", "不大于使用额", "§三.1"),
        _amount("高技能人才成果转化奖励", "innovation_rewards", "", "§三.4"),
    ),
)

GOVERNANCE = Sheet(
    name="制度建设",
    key="governance",
    table="governance",
    description="制度建设情况（季末状态），仅一行数据",
    single_row=True,
    columns=(
        _flag("高技能人才工作领导小组", "has_leading_group", "§四.1"),
        _flag("高技能人才培养规划", "has_training_plan", "§三.1"),
        _flag("高技能人才信息库", "has_talent_database", "§三.1"),
        _flag("首席技师制度", "has_chief_technician_system", "§三.4"),
        _flag("技师研修制度", "has_technician_study_system", "§三.2"),
        _flag("高技能人才后备梯队制度", "has_reserve_echelon_system", "§三.2"),
        _flag("纳入经营管理者任期考核", "in_manager_assessment", "§三.1"),
        Column("本季度向职工代表大会报告日期", "congress_report_date", DATE, "本季度未报告则留空", "§三.1"),
    ),
)

INCENTIVES = Sheet(
    name="激励情况",
    key="incentives",
    table="incentives",
    description="激励与待遇情况，收入单位为元，仅一行数据",
    single_row=True,
    clause="§三.4",
    columns=(
        Column("高技能人才年平均收入", "avg_income_high_skill", YUAN, "元", "§三.4", mandatory=True),
        Column("一般技能人才年平均收入", "avg_income_general_skill", YUAN, "元", "§三.4", mandatory=True),
        Column("同级专业技术人员年平均收入", "avg_income_professional", YUAN, "元", "§三.4", mandatory=True),
        _count("本季评选劳动模范等先进人数", "model_workers_total"),
        _count("其中：高技能人才", "model_workers_high_skill", "不大于先进总人数", "§三.4"),
        _count("从高技能人才中选拔干部人数", "cadres_from_high_skill", "", "§三.4"),
        _count("在高技能人才中发展党员人数", "party_members_from_high_skill", "", "§三.4"),
        _count("推荐为人大代表、政协委员人数", "deputies_from_high_skill", "", "§三.4"),
    ),
)

INNOVATION = Sheet(
    name="岗位创新",
    key="innovation",
    table="innovation",
    description="岗位创新、岗位成才活动（选填），仅一行数据",
    single_row=True,
    required=False,
    clause="§三.3",
    columns=(
        _count("合理化建议数", "suggestions", "", "§三.3"),
        _count("技术革新项目数", "innovations", "", "§三.3"),
        _count("最佳操作法数", "best_practices", "", "§三.3"),
        _count("刷新纪录数", "new_records", "", "§三.3"),
        _count("参与职工人数", "participants", "", "§三.3"),
    ),
)

ROSTER = Sheet(
    name="人才信息库",
    key="roster",
    table="roster",
    description="季末全部高技能人才名单，以及初级工、中级工中的重点培养对象，一人一行",
    clause="§三.1",
    derived=(("id_sex", "VARCHAR"), ("id_birth_date", "DATE")),
    columns=(
        Column("身份证号", "id_number", ID_NUMBER, "18位（末位可为X）或15位旧号，表内不得重复", mandatory=True, personal=True),
        Column("姓名", "name", TEXT, "", mandatory=True, personal=True),
        Column("性别", "sex", ENUM, "男/女，须与身份证号一致", enum=("男", "女")),
        Column("出生日期", "birth_date", DATE, "须与身份证号一致"),
        Column("职业（工种）", "occupation", TEXT, required=False),
        Column("技能等级", "skill_level", ENUM, "高级工/技师/高级技师；初级工、中级工仅限重点培养对象",
               "§二", mandatory=True, enum=SKILL_LEVELS),
        Column("职业资格证书编号", "cert_no", TEXT, required=False),
        Column("取证日期", "cert_date", DATE, "不晚于报告期末"),
        Column("是否一线", "is_frontline", BOOL, "填“是”或“否”"),
        Column("是否首席技师", "is_chief_technician", BOOL, "仅技师、高级技师可为“是”", "§三.4"),
        Column("是否重点培养对象", "is_key_trainee", BOOL, "填“是”或“否”", "§三.1"),
        Column("个人培训账户", "has_training_account", BOOL, "是否设立个人培训账户", "§三.1"),
    ),
)

TRAINING = Sheet(
    name="培训记录",
    key="training",
    table="training",
    description="本季每人每次培训一行",
    clause="§三.1",
    columns=(
        Column("身份证号", "id_number", ID_NUMBER, "应在本单位本期或以前各期人才信息库中", mandatory=True, personal=True),
        Column("培训项目名称", "course_name", TEXT, required=False),
        Column("培训类型", "training_type", ENUM, "见下拉列表", enum=TRAINING_TYPES),
        Column("开始日期", "start_date", DATE, "", mandatory=True),
        Column("结束日期", "end_date", DATE, "不早于开始日期，且在报告期内", mandatory=True),
        Column("学时", "hours", NUMBER, "大于0，不超过{max_training_hours}", mandatory=True),
        Column("培训费用", "cost", YUAN, "元，不小于0"),
        Column("培训机构", "provider", TEXT, required=False),
        Column("是否取得证书", "certified", BOOL, "填“是”或“否”"),
    ),
)

SHEETS: tuple[Sheet, ...] = (PROFILE, FUNDS, GOVERNANCE, INCENTIVES, INNOVATION, ROSTER, TRAINING)
SHEETS_BY_NAME = {s.name: s for s in SHEETS}
SHEETS_BY_KEY = {s.key: s for s in SHEETS}

# The enterprise registry (名录), registry.csv at the root of an inbox.
REGISTRY_COLUMNS: tuple[Column, ...] = (
    Column("组织机构代码", "org_code", CODE9, mandatory=True),
    Column("企业名称", "enterprise_name", TEXT, mandatory=True),
    Column("所属集团组织机构代码", "group_org_code", CODE9, mandatory=True),
    Column("行业代码", "industry_code", TEXT),
    Column("重点领域", "sector", ENUM, enum=SECTORS),
    Column("起始报告期", "active_from", PERIOD, mandatory=True),
    Column("终止报告期", "active_to", PERIOD, "留空表示仍在报送", required=False),
)

# Optional per-period arrivals log written by whoever receives the files (portal, mailroom):
# <inbox>/<period>/收件登记.csv. Git does not keep file times, so the demo inbox relies on it.
REGISTRY_FILE = "registry.csv"  # the inbox's 名录, beside the period folders (contract §4)
ARRIVALS_FILE = "收件登记.csv"
ARRIVALS_COLUMNS: tuple[Column, ...] = (
    Column("文件名", "file_name", TEXT, mandatory=True),
    Column("收到时间", "arrived_at", TEXT, "YYYY-MM-DD HH:MM:SS（北京时间）", mandatory=True),
)


def raw_table_columns(sheet: Sheet) -> list[tuple[str, str]]:
    """Columns of the raw warehouse table for a sheet: personal columns replaced by person_key, then the
    derived columns."""
    cols: list[tuple[str, str]] = [("submission_id", "VARCHAR"), ("source_row", "INTEGER")]
    if any(c.personal for c in sheet.columns):
        cols.append(("person_key", "VARCHAR"))
    cols += [(c.key, c.duckdb_type) for c in sheet.columns if not c.personal]
    return cols + list(sheet.derived)
