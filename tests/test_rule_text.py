"""The one renderer of texts that name thresholds (issue 25, item 8): a title names its thresholds by key and
reads, for each period, the row of ref_policy_thresholds in force then; percentages have one format."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.lib.domain.periods import Period
from pipelines.lib.domain.reference import ThresholdError, load_rules, load_threshold_rows
from pipelines.lib.domain.rule_text import percent_text, render, render_over, threshold_text
from pipelines.lib.expectations.flags import display_text
from tests.test_recheck import set_threshold

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def raised(tmp_path: Path) -> list:
    """The committed seed after the README's rule change: C03's minimum 2.1% from 2009Q1."""
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project" / "seeds", project / "seeds")
    set_threshold(project, "fund_ratio_min", [("0.015", "2006Q1", "2008Q4"), ("0.021", "2009Q1", "")])
    return load_threshold_rows(project / "seeds" / "ref_policy_thresholds.csv")


@pytest.mark.parametrize(("value", "text"), [
    (0.015, "1.5%"), (0.6, "60%"), (1.0, "100%"), (0.0149, "1.49%"), (0.019974, "2%"), (0.11111111, "11.11%"),
])
def test_one_percentage_format_at_most_two_decimals(value, text):
    assert percent_text(value) == text
    assert display_text(value, "percent") == text  # the GX messages' format is the same one


def test_a_threshold_reads_as_its_unit_says():
    assert threshold_text(0.021, "ratio") == "2.1%"
    assert threshold_text(2000.0, "hour") == "2000"
    assert threshold_text(1.0, "count") == "1"
    assert threshold_text(0.05, "万元/人/季") == "0.05"


def test_every_rule_title_renders_with_the_committed_rows():
    rows = load_threshold_rows()
    for rule_id, rule in load_rules().items():
        text = render(rule["title_zh"], rows, "2008Q2")
        assert "{" not in text and text, rule_id
    assert render(load_rules()["D10"]["title_zh"], rows, "2008Q2").endswith("16—70岁")


def test_a_title_reads_the_row_in_force_for_its_period(raised):
    title = load_rules()["C03"]["title_zh"]
    assert render(title, raised, "2008Q4").endswith("的1.5%")
    assert render(title, raised, Period(2009, 1)).endswith("的2.1%")


def test_a_text_over_several_periods_names_each_limit_with_its_quarters(raised):
    title = load_rules()["C03"]["title_zh"]
    assert render_over(title, raised, ["2008Q3", "2008Q4"]).endswith("的1.5%")
    both = render_over(title, raised, ["2008Q3", "2009Q2", "2008Q4", "2009Q1"])
    assert both.endswith("的1.5%（2008Q3–2008Q4）；教育培训经费提取额低于职工工资总额的2.1%（2009Q1–2009Q2）"), both
    assert render_over(title, raised, []).endswith("的—"), "no period: the limit is unknown, not made up"


def test_other_placeholders_are_left_to_their_owner_and_a_missing_row_is_an_error(raised):
    assert render("状态（{trajectory}），下限{fund_ratio_min}", raised, "2008Q1") == "状态（{trajectory}），下限1.5%"
    closed = [r for r in raised if not (r.key == "fund_ratio_min" and r.effective_from == Period(2009, 1))]
    with pytest.raises(ThresholdError, match="fund_ratio_min"):
        render("下限{fund_ratio_min}", closed, "2009Q1")
