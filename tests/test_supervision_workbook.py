"""The supervision loop in the workbook (issue 13, DOMAIN.md 5): the optional
columns 交办日期 / 初始层级 / 反馈日期 / 调解力量 on 纠纷台账 and the optional tabs
督办记录 and 流转记录: their validation at the cell, the demo's data for them,
and compatibility (a workbook without them validates and counts as before)."""

from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

import frictionless
import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.config import load_config
from fengqiao.demo import DEFECTS, LOOP_HEADERS, generate_town, planted_defects
from fengqiao.errors import CATALOGUE
from fengqiao.export import data_package, write_schemas
from fengqiao.ledger import Ledger
from fengqiao.loopchecks import case_lookup, level_before, level_mistakes
from fengqiao.metrics import compute_metrics, parse_period
from fengqiao.render import render_generated
from fengqiao.render.town import guide_context
from fengqiao.retry import RetryPolicy
from fengqiao.schema import TAB_ORDER, load_schema
from fengqiao.sheets_init import init_spreadsheet
from fengqiao.sources.base import RawTable, RawWorkbook, SourceInfo
from fengqiao.template import guide_rows, write_template
from fengqiao.validate import validate_workbook
from sheets_server import (
    SheetsServer,
    loopback_session,
    make_service_account,
    sheets_server,  # noqa: F401  (fixture)
)

LOOP_CODES = {"supervision-unknown-dispute", "transfer-unknown-dispute",
              "supervised-before-received", "transfer-before-received",
              "transfer-same-level", "transfer-wrong-direction",
              "feedback-before-received", "assigned-before-received",
              "assigned-after-closed"}

DISPUTE_HEAD = ["编号", "受理日期", "来源", "村(社区)", "纠纷类型", "涉及人数", "星级", "状态",
                "首次调解成功", "办结日期", "调处层级", "初始层级", "交办日期", "反馈日期", "调解力量"]
SUPERVISION_HEAD = ["纠纷编号", "督办日期", "督办单位", "方式", "逾期说明", "下步措施", "新限办日期"]
TRANSFER_HEAD = ["纠纷编号", "日期", "流向", "转至层级", "转至单位", "原因"]


def case(id_: str, received: str, *, level: str | None = "镇级", initial: str | None = None,
         closed: str | None = None, assigned: str | None = None, feedback: str | None = None,
         force: str | None = None) -> list[Any]:
    values = {"编号": id_, "受理日期": received, "来源": "群众来访", "村(社区)": "东村",
              "纠纷类型": "邻里", "涉及人数": 2, "星级": 2,
              "状态": "已化解" if closed else "调处中", "首次调解成功": "是" if closed else None,
              "办结日期": closed, "调处层级": level, "初始层级": initial, "交办日期": assigned,
              "反馈日期": feedback, "调解力量": force}
    return [values[h] for h in DISPUTE_HEAD]


def book(disputes: list[list[Any]], *, head: list[str] | None = None,
         **sheets: list[list[Any]]) -> RawWorkbook:
    tables = {"纠纷台账": [head or DISPUTE_HEAD, *disputes]} | sheets
    raw = {name: RawTable(name, pd.DataFrame(rows, dtype=object), 1) for name, rows in tables.items()}
    return RawWorkbook(SourceInfo("xlsx", "测试.xlsx", "/nonexistent/测试.xlsx"), raw)


def loop_findings(workbook: RawWorkbook) -> list[tuple[str, str, str]]:
    ledger = validate_workbook(workbook)
    return [f.key() for f in ledger.findings if f.code in LOOP_CODES]


CASES = [case("D1", "2024-03-01", initial="村级", level="镇级"),
         case("D2", "2024-03-10", level="镇级")]


# -- schema and registration -----------------------------------------------------------------


def test_the_new_tabs_and_columns_are_registered_optional_and_quiet() -> None:
    schema = load_schema()
    assert TAB_ORDER[:3] == ("disputes", "supervisions", "transfers")
    for name in ("supervisions", "transfers"):
        tab = schema[name]
        assert not tab.required and not tab.warn_if_missing
        assert tab.field("dispute_id").required and tab.field("date").required
        assert [fk.resource for fk in tab.foreign_keys] == ["disputes"]
    assert schema["supervisions"].title == "督办记录" and schema["transfers"].title == "流转记录"
    sensitive = {(t.name, f.name) for t in schema for f in t.fields if t.is_sensitive(f.name)
                 and t.name in ("supervisions", "transfers")}
    assert sensitive == {("supervisions", "explanation"), ("supervisions", "next_steps"),
                         ("transfers", "reason")}
    disputes = schema["disputes"]
    for name in ("assigned_date", "initial_level", "feedback_date", "mediation_force"):
        assert not disputes.field(name).warn_if_missing and not disputes.field(name).required
    assert disputes.field("mediation_force").enum == (
        "村调委会", "专职调解员", "老干部", "乡贤能人", "律师法律顾问", "行业性专业性调解组织", "部门联调", "其他")
    assert schema["transfers"].field("direction").enum == ("上传", "下传", "专传")
    assert schema["supervisions"].field("mode").enum == (
        "电话督办", "书面督办", "约谈", "现场督办", "提级督办")
    assert set(CATALOGUE) >= LOOP_CODES


def test_a_workbook_without_the_new_tabs_and_columns_has_no_reminder_about_them() -> None:
    head = DISPUTE_HEAD[:11]
    ledger = validate_workbook(book([case("D1", "2024-03-01")[:11]], head=head))
    assert not [f for f in ledger.findings
                if f.code in ("missing-optional-tab", "missing-optional-column")
                and (f.sheet in ("督办记录", "流转记录")
                     or f.column in ("交办日期", "初始层级", "反馈日期", "调解力量"))]
    assert "supervisions" not in ledger.tables
    assert set(ledger.missing_columns["disputes"]) >= {"assigned_date", "initial_level",
                                                        "feedback_date", "mediation_force"}


def test_spellings_staff_use_are_understood() -> None:
    workbook = book(
        [case("D1", "2024-03-01", initial="村", force="调委会")],
        督办台账=[["案件编号", "督办时间", "督办方式", "逾期原因"],
                  ["D1", "2024-03-08", "督办单", "当事人外出"]],
        三传记录=[["案件编号", "流转日期", "流转方向", "转入层级"],
                  ["D1", "2024-03-03", "大事上传", "镇"]])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == []
    assert ledger.tables["supervisions"]["mode"].tolist() == ["书面督办"]
    assert ledger.tables["transfers"][["direction", "to_level"]].values.tolist() == [["上传", "镇级"]]
    assert ledger.tables["disputes"][["initial_level", "mediation_force"]].values.tolist() == [
        ["村级", "村调委会"]]


# -- unknown 纠纷编号 -------------------------------------------------------------------------------


def test_an_unknown_case_in_a_supervision_or_a_transfer_is_a_finding_at_the_cell() -> None:
    workbook = book(CASES,
                    督办记录=[SUPERVISION_HEAD, ["D2", "2024-03-30"], ["D9", "2024-03-30"]],
                    流转记录=[TRANSFER_HEAD, ["D1", "2024-03-02", "上传", "镇级"],
                              ["DX", "2024-03-02", "专传", None, "司法所"]])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("督办记录", "A3", "supervision-unknown-dispute"),
                                       ("流转记录", "A3", "transfer-unknown-dispute")]
    message = next(f.message for f in ledger.findings if f.code == "supervision-unknown-dispute")
    assert message == ("督办记录!A3（纠纷编号）的“D9”在纠纷台账里找不到，这次督办不会算到任何一起纠纷上。"
                       "请核对编号（要和纠纷台账的“编号”一字不差），或先在纠纷台账里登记这起纠纷。")
    # the row still counts (a chase dated in the period), naming no case
    sup = ledger.tables["supervisions"]
    assert len(sup) == 2 and sup["dispute_id"].isna().tolist() == [False, True]


# -- dated before the case was received -----------------------------------------------------------


def test_a_chase_dated_before_the_case_was_received_is_a_finding() -> None:
    workbook = book(CASES, 督办记录=[SUPERVISION_HEAD, ["D2", "2024-03-09", "镇综治中心", "电话督办"],
                                     ["D2", "2024-03-10", "镇综治中心", "电话督办"]])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("督办记录", "B2", "supervised-before-received")]
    found = next(f for f in ledger.findings if f.code == "supervised-before-received")
    assert found.message.startswith(
        "督办记录!B2：督办日期 2024-03-09 早于这起纠纷的受理日期 2024-03-10，这条督办记录不计入统计。")
    # the same day as the receipt is fine; the early one is kept, without a date
    assert ledger.tables["supervisions"]["date"].isna().tolist() == [True, False]


def test_a_transfer_dated_before_the_case_was_received_is_a_finding() -> None:
    workbook = book(CASES, 流转记录=[TRANSFER_HEAD, ["D1", "2024-02-28", "上传", "镇级"],
                                     ["D2", "2024-03-10", "专传", "镇级", "司法所"]])
    assert loop_findings(workbook) == [("流转记录", "B2", "transfer-before-received")]


# -- 上传 / 下传 against the level the case is at ---------------------------------------------------


def test_up_or_down_to_the_level_the_case_is_at_is_a_finding_but_across_is_not() -> None:
    workbook = book(CASES, 流转记录=[
        TRANSFER_HEAD,
        ["D2", "2024-03-11", "上传", "镇级"],     # D2 starts at 镇级 (调处层级, 初始层级 blank)
        ["D2", "2024-03-11", "专传", "镇级", "司法所"],
        ["D1", "2024-03-02", "上传", "镇级"],     # D1 starts at 村级: up is fine
    ])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("流转记录", "D2", "transfer-same-level")]
    found = next(f for f in ledger.findings if f.code == "transfer-same-level")
    assert found.message.startswith(
        "流转记录!D2：流向是“上传”，但转至层级“镇级”就是这起纠纷当时所在的层级，这一格按未填统计。")
    assert ledger.tables["transfers"]["to_level"].isna().tolist() == [True, False, False]


def test_up_to_a_lower_level_and_down_to_a_higher_one_are_findings() -> None:
    workbook = book(CASES, 流转记录=[
        TRANSFER_HEAD,
        ["D2", "2024-03-11", "上传", "村级"],
        ["D1", "2024-03-02", "下传", "县级"],
        ["D1", "2024-03-01", "下传", "村级"],  # D1 at 村级: down to 村级 is the same level
    ])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("流转记录", "D2", "transfer-wrong-direction"),
                                       ("流转记录", "D3", "transfer-wrong-direction"),
                                       ("流转记录", "D4", "transfer-same-level")]
    found = next(f for f in ledger.findings if f.code == "transfer-wrong-direction")
    assert found.message.startswith("流转记录!D2：这起纠纷当时在“镇级”，转至层级“村级”和流向对不上")


def test_the_level_moves_with_earlier_transfers_in_date_order() -> None:
    workbook = book([case("D1", "2024-03-01", initial="村级", level="县级")], 流转记录=[
        TRANSFER_HEAD,
        ["D1", "2024-03-09", "上传", "县级"],    # second by date: from 镇级, up: fine
        ["D1", "2024-03-04", "上传", "镇级"],    # first by date: from 村级, up: fine
        ["D1", "2024-03-09", "上传", "县级"],    # same day, later row: already at 县级
        ["D1", "2024-03-12", "下传", "镇级"],    # from 县级, down: fine
        ["D1", "2024-03-13", "专传", None, "司法所"],  # no level: stays at 镇级
        ["D1", "2024-03-14", "下传", "镇级"],    # still at 镇级: same level
    ])
    assert loop_findings(workbook) == [("流转记录", "D4", "transfer-same-level"),
                                       ("流转记录", "D7", "transfer-same-level")]
    # a blank 初始层级 starts from 调处层级; written, it wins over 调处层级
    assert loop_findings(book([case("D1", "2024-03-01", level="村级")], 流转记录=[
        TRANSFER_HEAD, ["D1", "2024-03-02", "下传", "村级"]])) == [
        ("流转记录", "D2", "transfer-same-level")]
    assert loop_findings(book([case("D1", "2024-03-01", level="村级", initial="镇级")], 流转记录=[
        TRANSFER_HEAD, ["D1", "2024-03-02", "下传", "村级"]])) == []


def test_a_transfer_without_a_usable_date_does_not_move_the_level() -> None:
    workbook = book([case("D1", "2024-03-01", initial="村级", level="镇级")], 流转记录=[
        TRANSFER_HEAD,
        ["D1", "2024-02-20", "上传", "镇级"],   # before receipt: its date is dropped
        ["D1", "2024-03-05", "上传", "镇级"],   # so this one goes up from 村级: fine
    ])
    assert loop_findings(workbook) == [("流转记录", "B2", "transfer-before-received")]


def test_the_level_track_is_column_wise_and_sorts_by_case_date_and_row() -> None:
    cases = case_lookup(pd.Series(["A", "B", "A"], dtype="string"),
                        pd.Series(pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-05"])),
                        pd.Series([None, "县级", None], dtype="string"),
                        pd.Series(["村级", "镇级", "镇级"], dtype="string"))
    # the first row of a repeated id is the case
    assert cases["level"].tolist() == ["村级", "县级"]
    ids = pd.Series(["B", "A", "A", None, "A"], dtype="string")
    dates = pd.Series(pd.to_datetime(["2024-02-01", "2024-02-03", "2024-02-01", "2024-02-01",
                                      None]))
    to = pd.Series(["镇级", "县级", "镇级", "村级", "县级"], dtype="string")
    start = pd.Series(["县级", "村级", "村级", None, "村级"], dtype="string")
    level = level_before(ids, dates, to, start)
    assert level.tolist() == ["县级", "镇级", "村级", pd.NA, pd.NA]
    same, wrong = level_mistakes(pd.Series(["下传", "上传", "上传", "上传", "上传"]), to, level)
    assert same.tolist() == [False] * 5
    assert wrong.tolist() == [False] * 5
    same, wrong = level_mistakes(pd.Series(["上传", "下传", "专传", "上传", "上传"]), to, level)
    assert wrong.tolist() == [True, True, False, False, False]


def _level_by_hand(rows: list[tuple[str | None, int | None, str | None]],
                   start: dict[str, str | None]) -> list[str | None]:
    """The module rule written out row by row, as a reference."""
    out: list[str | None] = [None] * len(rows)
    usable = sorted((case, day, pos) for pos, (case, day, _) in enumerate(rows)
                    if case is not None and day is not None)
    level: dict[str, str | None] = {}
    for case, _, pos in usable:
        current = level.get(case, start.get(case))
        out[pos] = current
        if rows[pos][2] is not None:
            level[case] = rows[pos][2]
        elif case not in level:
            level[case] = current
    return out


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C", None]),
                          st.one_of(st.none(), st.integers(0, 4)),
                          st.sampled_from(["村级", "镇级", "县级", None])), max_size=30),
       st.fixed_dictionaries({c: st.sampled_from(["村级", "镇级", "县级", None]) for c in "ABC"}))
def test_the_column_wise_level_track_matches_the_rule_by_hand(
        rows: list[tuple[str | None, int | None, str | None]],
        start: dict[str, str | None]) -> None:
    ids = pd.Series([r[0] for r in rows], dtype="string")
    days = pd.Series(pd.to_datetime([None if r[1] is None else f"2024-03-0{r[1] + 1}"
                                     for r in rows]), dtype="datetime64[ns]")
    to = pd.Series([r[2] for r in rows], dtype="string")
    starts = pd.Series([start.get(r[0]) if r[0] else None for r in rows], dtype="string")
    got = level_before(ids, days, to, starts).astype(object).where(lambda s: s.notna(), None)
    assert got.tolist() == _level_by_hand(rows, start)


# -- 反馈日期 and 交办日期 on 纠纷台账 --------------------------------------------------------------------


def test_a_feedback_before_the_receipt_is_a_finding() -> None:
    workbook = book([case("D1", "2024-03-10", closed="2024-03-12", feedback="2024-03-09"),
                     case("D2", "2024-03-10", closed="2024-03-12", feedback="2024-03-10")])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("纠纷台账", "N2", "feedback-before-received")]
    found = next(f for f in ledger.findings if f.code == "feedback-before-received")
    assert found.message.startswith(
        "纠纷台账!N2：反馈日期 2024-03-09 早于受理日期 2024-03-10，这次反馈不计入统计。")
    assert ledger.tables["disputes"]["feedback_date"].isna().tolist() == [True, False]


def test_an_assignment_after_the_closure_is_a_finding() -> None:
    workbook = book([case("D1", "2024-03-10", closed="2024-03-12", assigned="2024-03-13"),
                     case("D2", "2024-03-10", closed="2024-03-12", assigned="2024-03-12"),
                     case("D3", "2024-03-10", assigned="2024-03-30")])  # open: nothing to compare
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("纠纷台账", "M2", "assigned-after-closed")]
    found = next(f for f in ledger.findings if f.code == "assigned-after-closed")
    assert found.message.startswith(
        "纠纷台账!M2：交办日期 2024-03-13 晚于办结日期 2024-03-12，交办用时不计入统计。")
    assert ledger.tables["disputes"]["assigned_date"].isna().tolist() == [True, False, False]


def test_an_assignment_before_the_receipt_is_a_finding() -> None:
    workbook = book([case("D1", "2024-03-10", closed="2024-03-12", assigned="2024-03-09"),
                     case("D2", "2024-03-10", closed="2024-03-12", assigned="2024-03-10"),
                     case("D3", "2024-03-10", assigned="2024-03-11")])
    ledger = validate_workbook(workbook)
    assert loop_findings(workbook) == [("纠纷台账", "M2", "assigned-before-received")]
    found = next(f for f in ledger.findings if f.code == "assigned-before-received")
    assert found.message.startswith(
        "纠纷台账!M2：交办日期 2024-03-09 早于受理日期 2024-03-10，交办用时不计入统计。")
    assert ledger.tables["disputes"]["assigned_date"].isna().tolist() == [True, False, False]


@pytest.mark.parametrize("column", ["反馈日期", "交办日期"])
def test_a_closure_that_is_itself_wrong_is_not_compared(column: str) -> None:
    # 办结日期 before 受理日期 is already a finding and counts as blank: no second one
    values = {"反馈日期": {"feedback": "2024-03-01"}, "交办日期": {"assigned": "2024-03-11"}}
    workbook = book([case("D1", "2024-03-10", closed="2024-03-05", **values[column])])
    codes = [f.code for f in validate_workbook(workbook).findings if f.sheet == "纠纷台账"
             and f.code in LOOP_CODES | {"closed-before-received"}]
    assert codes == (["closed-before-received"] if column == "交办日期"
                     else ["closed-before-received", "feedback-before-received"])


# -- the demo --------------------------------------------------------------------------------------

OLD_TABS = ("disputes", "grids", "visits", "key_persons", "key_person_visits", "receptions",
            "leaders", "responsibilities", "needs")


def raw_workbook(tables: dict[str, pd.DataFrame]) -> RawWorkbook:
    """The demo's tables as the readers hand them over (header in row 1),
    without writing a file: the checks, not the xlsx reader, are under test."""
    schema = load_schema()
    raw = {}
    for tab, frame in tables.items():
        cells = [list(frame.columns), *frame.itertuples(index=False, name=None)]
        title = schema[tab].title
        raw[title] = RawTable(title, pd.DataFrame(cells, dtype=object), 1)
    return RawWorkbook(SourceInfo("xlsx", "演示.xlsx", "/nonexistent/演示.xlsx"), raw)


def without_loop(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {tab: tables[tab] for tab in OLD_TABS}
    out["disputes"] = out["disputes"].drop(columns=list(LOOP_HEADERS))
    return out


@pytest.fixture(scope="module")
def town() -> dict[str, pd.DataFrame]:
    return generate_town()


@pytest.fixture(scope="module")
def ledgers(town: dict[str, pd.DataFrame]) -> tuple[Ledger, Ledger]:
    """(the demo, the demo without any supervision-loop tab or column)."""
    return (validate_workbook(raw_workbook(town)),
            validate_workbook(raw_workbook(without_loop(town))))


#: the demo's 2024 figures as fengqiao computed them before issue 13 (commit
#: d28958d, ``metrics`` block): the workbook of that time is the demo without
#: the loop, and the demo with it must still give every one of them
FIGURES_2024_BEFORE = {
    "backlog_cleared": 0, "backlog_start": 3,
    "clearance_rate": {"denominator": 345, "numerator": 339, "value": 0.982609}, "closed": 339,
    "closure_rate": {"denominator": 345, "numerator": 332, "value": 0.962319},
    "disposition_days": {"denominator": 339, "numerator": 5856, "value": 17.274336},
    "first_try_rate": {"denominator": 339, "numerator": 286, "value": 0.843658},
    "followup_rate": {"denominator": 339, "numerator": 315, "value": 0.929204},
    "grid_discovery_rate": {"denominator": 345, "numerator": 131, "value": 0.37971},
    "key_person_followup_rate": {"denominator": 40, "numerator": 34, "value": 0.85},
    "level_mix": {"县级": 21, "村级": 184, "镇级": 134},
    "local_rate": {"denominator": 339, "numerator": 318, "value": 0.938053}, "median_days": 4.0,
    "needs_closure_rate": {"denominator": 80, "numerator": 77, "value": 0.9625},
    "on_time_rate": {"denominator": 339, "numerator": 296, "value": 0.873156},
    "online_rate": {"denominator": 345, "numerator": 14, "value": 0.04058}, "overdue_open": 10,
    "pending_end": 16, "pending_start": 10,
    "petition_batches": {"change": -0.111111, "count": 16, "previous": 18},
    "petition_persons": {"change": -0.303448, "count": 101, "previous": 145}, "received": 345,
    "received_yoy": {"change": -0.019886, "count": 345, "previous": 352},
    "reception_compliance": {"denominator": 15, "numerator": 8, "value": 0.533333},
    "repeat_rate": {"denominator": 345, "numerator": 19, "value": 0.055072},
    "resolution_rate": {"denominator": 345, "numerator": 299, "value": 0.866667}, "resolved": 306,
    "satisfaction_rate": {"denominator": 315, "numerator": 304, "value": 0.965079},
    "visit_coverage": {"denominator": 2325, "numerator": 2184, "value": 0.939355},
}
#: DOMAIN.md 4.2 figures that need a loop tab or column: null without them, never 0
LOOP_FIGURES = ("supervised", "supervision_count", "overdue_explained_rate", "assign_days_median",
                "feedback_rate", "village_kept_rate", "passed_up", "passed_down", "passed_across",
                "force_mix")


def leaves(value: Any, path: str = "") -> dict[str, Any]:
    """Every scalar of a nested contract, by its path."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in leaves(item, f"{path}/{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in leaves(item, f"{path}[{i}]").items()}
    return {path: value}


def test_the_demo_without_the_loop_validates_exactly_as_before(
        ledgers: tuple[Ledger, Ledger]) -> None:
    full, old = ledgers
    # the same 13 findings, word for word, and nothing about the absent tabs and columns
    assert old.findings == [f for f in full.findings if f.code not in LOOP_CODES]
    assert {f.key() for f in old.findings} == set(planted_defects(title_rows=False)[:13])
    assert [f.code for f in full.findings if f.code in LOOP_CODES] == [
        "feedback-before-received", "assigned-after-closed", "supervision-unknown-dispute",
        "supervised-before-received", "transfer-before-received", "transfer-same-level"]
    loop_columns = ("assigned_date", "initial_level", "feedback_date", "mediation_force")
    for tab in OLD_TABS:
        columns = [c for c in old.tables[tab].columns if c not in loop_columns]
        pd.testing.assert_frame_equal(old.tables[tab][columns], full.tables[tab][columns])
        pd.testing.assert_frame_equal(old.excluded[tab], full.excluded[tab])


@pytest.mark.parametrize("label", ["2024", "2024-Q1", "2023-06"])
def test_the_demo_without_the_loop_gives_every_figure_it_gave_before(
        ledgers: tuple[Ledger, Ledger], label: str) -> None:
    full, old = ledgers
    # complete from 2023-01-01, as examples/fengqiao.yml says (the year-earlier counts)
    config = dataclasses.replace(load_config(), ledger_start=date(2023, 1, 1))
    day = date(2024, 12, 31)
    with_loop = compute_metrics(full, parse_period(label), config=config, today=day)
    before = compute_metrics(old, parse_period(label), config=config, today=day)
    if label == "2024":
        for contract in (before, with_loop):
            assert {k: contract["metrics"][k] for k in FIGURES_2024_BEFORE} == FIGURES_2024_BEFORE
    # every figure the old workbook has (metrics, breakdowns, lists, distributions) is the
    # same with the loop; the loop's own figures are null without it, never 0
    mine, theirs = leaves(before), leaves(with_loop)
    known = {k: v for k, v in mine.items() if v is not None}
    assert len(known) > 1000
    assert {k: theirs.get(k) for k in known} == known
    for metric in LOOP_FIGURES:
        if metric in before["metrics"]:
            assert before["metrics"][metric] is None, metric
            assert with_loop["metrics"][metric] is not None, metric


def test_the_demo_keeps_a_realistic_loop(town: dict[str, pd.DataFrame],
                                         ledgers: tuple[Ledger, Ledger]) -> None:
    full, _ = ledgers
    cases = full.tables["disputes"].set_index("id")
    chases, moves = full.tables["supervisions"], full.tables["transfers"]
    # every record names a case, but for the one planted unknown 编号
    assert set(town["supervisions"]["纠纷编号"]) - set(cases.index) == {"DZ2022-0999"}
    assert set(town["transfers"]["纠纷编号"]) <= set(cases.index)
    # most late cases are chased once or twice, by phone or in writing, often with an explanation
    per_case = chases["dispute_id"].value_counts()
    assert per_case.max() <= 3 and (per_case <= 2).mean() > 0.9
    assert chases["mode"].isin(["电话督办", "书面督办"]).mean() > 0.8
    assert 0.5 < chases["explanation"].notna().mean() < 0.8
    deadline = cases["star"].map({1: 5, 2: 15, 3: 60}).astype("float")
    case = chases.dropna(subset=["dispute_id", "date"]).join(cases, on="dispute_id", rsuffix="_case")
    due = case["received_date"] + pd.to_timedelta(deadline[case["dispute_id"]].to_numpy(), "D")
    assert (case["date"] > due.to_numpy()).all()
    assert ((case["date"] < case["closed_date"]) | case["closed_date"].isna()).all()
    end = pd.Timestamp("2024-12-31")
    planted = {d.index + 2 for d in DEFECTS if d.tab == "disputes"}  # sheet rows (header: 1)
    late_open = cases[cases["closed_date"].isna() & (cases["received_date"] + pd.to_timedelta(
        deadline, "D") < end) & ~cases["_row"].isin(planted)]
    assert late_open.index.isin(chases["dispute_id"]).mean() > 0.6
    # 三传: more up than down, some to the county, 专传 to a unit of the 责任清单
    ways = moves["direction"].value_counts()
    assert ways["上传"] > ways["下传"] > 10 and ways["专传"] > 10
    assert ((moves["direction"] == "上传") & (moves["to_level"] == "县级")).sum() > 5
    across = moves.loc[moves["direction"] == "专传", "to_unit"]
    assert set(across) <= set(full.tables["responsibilities"]["unit"])
    # 交办 0–2 days after 受理, 反馈 0–3 days after 办结, every 调解力量 in use
    assigned = (cases["assigned_date"] - cases["received_date"]).dt.days.dropna()
    assert assigned.between(0, 2).all() and assigned.median() == 1
    told = (cases["feedback_date"] - cases["closed_date"]).dt.days.dropna()
    assert told.between(0, 3).all() and len(told) > 0.8 * cases["closed_date"].notna().sum()
    assert cases["mediation_force"].nunique() == 8
    started = cases["initial_level"].value_counts()
    assert started["村级"] > started["镇级"] > 0


# -- the template, the guide page, the Table Schema export and sheets init --------------------------


def test_the_template_has_the_new_tabs_with_dropdowns_and_guide_rows(tmp_path: Path) -> None:
    path = tmp_path / "模板.xlsx"
    write_template(path)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[1:4] == ["纠纷台账", "督办记录", "流转记录"]
    assert [c.value for c in wb["督办记录"][1]] == SUPERVISION_HEAD
    assert [c.value for c in wb["流转记录"][1]] == TRANSFER_HEAD
    assert [c.value for c in wb["纠纷台账"][1]][-4:] == ["交办日期", "初始层级", "反馈日期", "调解力量"]
    lists = {ws.title + "!" + str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
             for ws in wb.worksheets for dv in ws.data_validations.dataValidation
             if dv.type == "list"}
    assert lists["督办记录!D"] == '"电话督办,书面督办,约谈,现场督办,提级督办"'
    assert lists["流转记录!C"] == '"上传,下传,专传"' and lists["流转记录!D"] == '"村级,镇级,县级"'
    assert lists["纠纷台账!V"] == '"村级,镇级,县级"'  # 初始层级
    assert lists["纠纷台账!X"] == '"村调委会,专职调解员,老干部,乡贤能人,律师法律顾问,行业性专业性调解组织,部门联调,其他"'
    # the sensitive headers are marked, and the guide lists the sensitive loop fields
    assert wb["督办记录"]["E1"].fill.fgColor.rgb.endswith("FCE4D6")
    assert wb["督办记录"]["C1"].fill.fgColor.rgb.endswith("DDEBF7")
    guide = "\n".join(str(c) for row in wb["填表说明"].iter_rows(values_only=True) for c in row if c)
    assert "“督办记录”的逾期说明、下步措施" in guide and "“流转记录”的原因" in guide
    rows = {(r["tab"], r["id"]): r for r in guide_rows()}
    assert rows[("transfers", "to_level")]["aliases"] == ["转入层级", "流转层级", "接收层级"]
    assert rows[("supervisions", "explanation")]["sensitive"] is True


def test_the_guide_page_explains_the_new_tabs_and_codes() -> None:
    page = render_generated("guide.md.j2", guide_context() | {"template_url": "t.xlsx"})
    for words in ("督办记录", "流转记录", "逾期说明", "转至层级", "调解力量", "初始层级"):
        assert words in page
    for code in LOOP_CODES:
        assert f"`{code}`" in page


def test_the_table_schema_export_carries_the_loop() -> None:
    package = data_package(load_schema(), by_title=False)
    assert frictionless.Package.validate_descriptor(package).valid
    resources = {r["name"]: r for r in package["resources"]}
    chases = resources["supervisions"]["schema"]
    assert chases["foreignKeys"] == [
        {"fields": ["dispute_id"], "reference": {"resource": "disputes", "fields": ["id"]}}]
    fields = {f["name"]: f for f in chases["fields"]}
    assert fields["explanation"]["x-fengqiao-sensitive"] is True
    assert fields["mode"]["x-fengqiao-enumAliases"]["督办单"] == "书面督办"
    assert "x-fengqiao-sensitive" not in fields["unit"]
    moves = {f["name"]: f for f in resources["transfers"]["schema"]["fields"]}
    assert moves["direction"]["constraints"] == {"required": True, "enum": ["上传", "下传", "专传"]}
    assert moves["reason"]["x-fengqiao-sensitive"] is True
    disputes = {f["name"]: f for f in resources["disputes"]["schema"]["fields"]}
    assert disputes["initial_level"]["constraints"] == {"enum": ["村级", "镇级", "县级"]}
    assert disputes["feedback_date"]["type"] == "date" and "constraints" not in disputes["feedback_date"]


def test_the_data_export_of_the_demo_leaves_out_the_sensitive_loop_fields(
        ledgers: tuple[Ledger, Ledger], tmp_path: Path) -> None:
    full, _ = ledgers
    write_schemas(tmp_path / "out", ledger=full)
    header = (tmp_path / "out" / "supervisions.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "sheet_row,dispute_id,date,unit,mode,new_deadline"
    header = (tmp_path / "out" / "transfers.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header == "sheet_row,dispute_id,date,direction,to_level,to_unit"


def test_sheets_init_writes_the_new_tabs(sheets_server: SheetsServer, tmp_path: Path) -> None:  # noqa: F811
    account = make_service_account(sheets_server, tmp_path)
    book_ = sheets_server.add_spreadsheet("loop-sheet", "清溪镇台账", shared_with={
        "fengqiao-test@demo-project.iam.gserviceaccount.com": "writer"})
    book_.add_sheet("纠纷台账", [["编号", "受理日期", "星级"]])
    report = init_spreadsheet(
        "loop-sheet", credentials_path=str(account.path), schema=load_schema(),
        session=loopback_session(sheets_server), tabs=["disputes", "supervisions", "transfers"],
        retry=RetryPolicy(sleep=lambda s: None, random=lambda: 0.0, timeout=(2.0, 0.5)))
    assert [(t.tab, t.action) for t in report.tabs] == [
        ("disputes", "verified"), ("supervisions", "created"), ("transfers", "created")]
    # the quiet loop columns are not reported missing, as validate does not remind of them
    assert "交办日期" not in report.tabs[0].missing_optional
    assert book_.sheet("督办记录").rows == [SUPERVISION_HEAD]
    rules = [v["rule"]["condition"] for v in book_.sheet("流转记录").validations]
    assert {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": v} for v in ("上传", "下传", "专传")]} in rules
