"""validate_workbook: every finding code it emits (a failing and a passing
case), the row-exclusion rule, title rows, aliases and full-width input."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pandas as pd
import pytest

from fengqiao.errors import CATALOGUE
from fengqiao.ledger import Ledger
from fengqiao.schema import load_schema
from fengqiao.sources.base import RawTable, RawWorkbook, SourceInfo
from fengqiao.validate import validate_workbook

SCHEMA = load_schema()
D = ["编号", "受理日期", "来源", "村(社区)", "网格编号", "纠纷类型", "当事人", "涉及人数",
     "简要情况", "星级", "调处层级", "责任单位", "包案领导", "状态", "首次调解成功", "办结日期",
     "回访日期", "满意度", "重复事项", "备注"]
GOOD: dict[str, Any] = {
    "编号": "D1", "受理日期": "2024-03-05", "来源": "网格排查", "村(社区)": "东村",
    "网格编号": "G1", "纠纷类型": "邻里", "当事人": "张三、李四", "涉及人数": 2,
    "简要情况": "宅基地边界", "星级": 1, "调处层级": "村级", "责任单位": "司法所",
    "包案领导": "王书记", "状态": "已化解", "首次调解成功": "是", "办结日期": "2024-03-08",
    "回访日期": "2024-03-10", "满意度": "满意", "重复事项": None, "备注": None,
}
GRIDS = [["网格编号", "村(社区)", "户数", "网格长", "网格员"], ["G1", "东村", 80, "赵", "钱"],
         ["G2", "东村", 60, "孙", "李"]]
RESP = [["事项类别", "责任单位", "责任领导", "职务", "办公电话", "备注"],
        ["邻里", "司法所", "周", "所长", "0471-1234567", None]]


def dispute(**changes: Any) -> list[Any]:
    row = dict(GOOD)
    row.update(changes)
    return [row[h] for h in D]


def workbook(**sheets: list[list[Any]]) -> RawWorkbook:
    tables = {name: RawTable(name, pd.DataFrame(rows, dtype=object), 1)
              for name, rows in sheets.items()}
    return RawWorkbook(SourceInfo("xlsx", "测试.xlsx", "/nonexistent/测试.xlsx"), tables)


def full(*dispute_rows: list[Any], **other: list[list[Any]]) -> RawWorkbook:
    """A workbook with every tab present and valid, so only the rows under
    test produce findings."""
    sheets: dict[str, list[list[Any]]] = {
        "纠纷台账": [D, *dispute_rows],
        "督办记录": [["纠纷编号", "督办日期", "督办单位", "方式", "逾期说明", "下步措施", "新限办日期"]],
        "流转记录": [["纠纷编号", "日期", "流向", "转至层级", "转至单位", "原因"]],
        "网格": GRIDS,
        "走访记录": [["日期", "走访人", "网格编号", "户编号", "人次", "发现问题", "关联纠纷编号"]],
        "重点人员": [["人员编号", "类别", "网格编号", "包联人", "随访频次"]],
        "重点人员随访": [["人员编号", "日期", "随访人", "方式"]],
        "领导接访": [["日期", "领导", "职务类别", "方式", "接待人次", "关联纠纷编号"]],
        "领导名册": [["领导", "职务类别", "到岗日期", "离岗日期"]],
        "责任清单": RESP,
        "需求清单": [["编号", "提出日期", "来源", "村(社区)", "需求内容", "类别", "接单单位",
                   "领单党员", "状态", "办结日期"]],
    }
    sheets.update(other)
    return workbook(**sheets)


def keys(ledger: Ledger) -> list[tuple[str, str, str]]:
    return [f.key() for f in ledger.findings]


def cell_keys(ledger: Ledger) -> list[tuple[str, str, str]]:
    """Findings on cells only (tests with short tabs leave optional columns out)."""
    return [f.key() for f in ledger.findings if f.row is not None]


def test_clean_workbook_has_no_findings() -> None:
    ledger = validate_workbook(full(dispute(), dispute(编号="D2", 重复事项="D1")))
    assert keys(ledger) == []
    table = ledger.tables["disputes"]
    assert table["id"].tolist() == ["D1", "D2"]
    assert table["_row"].tolist() == [2, 3]
    assert table["received_date"].tolist() == [pd.Timestamp("2024-03-05")] * 2
    assert table["star"].dtype == "Int64" and table["first_try_success"].dtype == "boolean"
    assert ledger.excluded_count("disputes") == 0
    assert ledger.sheet_names["disputes"] == "纠纷台账"
    assert set(ledger.tables) == set(SCHEMA.tabs)


# -- tab level ------------------------------------------------------------------


def test_missing_tabs() -> None:
    ledger = validate_workbook(workbook(网格=GRIDS))
    assert keys(ledger) == [("纠纷台账", "纠纷台账", "missing-tab")] + [
        (t, t, "missing-optional-tab")
        for t in ("走访记录", "重点人员", "重点人员随访", "领导接访", "责任清单",
                  "需求清单")]
    assert ledger.errors[0].message == (
        "找不到“纠纷台账”工作表。请确认工作表没有被改名或删除；"
        "可以用 fengqiao template 生成的模板对照表名。")
    assert not ledger.has("disputes") and ledger.has("grids")


def test_renamed_tab_found_by_alias() -> None:
    wb = workbook(矛盾纠纷登记台账=[D, dispute()])
    ledger = validate_workbook(wb)
    assert ledger.sheet_names["disputes"] == "矛盾纠纷登记台账"
    assert "missing-tab" not in {f.code for f in ledger.findings}


def test_header_not_found() -> None:
    ledger = validate_workbook(full(纠纷台账=[["甲", "乙"], [1, 2]]))
    assert keys(ledger) == [("纠纷台账", "纠纷台账", "header-not-found")]
    assert ledger.findings[0].message == (
        "“纠纷台账”的前 20 行里找不到表头行。表头行要包含“编号”等列名；标题行可以保留在表头上方。")
    assert not ledger.has("disputes")


def test_missing_columns() -> None:
    header = [h for h in D if h not in ("来源", "备注")]
    row = [v for h, v in zip(D, dispute(), strict=True) if h not in ("来源", "备注")]
    ledger = validate_workbook(full(纠纷台账=[header, row]))
    assert keys(ledger) == [("纠纷台账", "纠纷台账", "missing-column"),
                            ("纠纷台账", "纠纷台账", "missing-optional-column")]
    assert [f.column for f in ledger.findings] == ["来源", "备注"]
    # D leaves out the optional supervision-loop columns too (no reminder for those)
    assert ledger.missing_columns["disputes"] == (
        "source", "notes", "assigned_date", "initial_level", "feedback_date", "mediation_force")
    assert ledger.tables["disputes"]["source"].isna().all()
    assert len(ledger.tables["disputes"]) == 1  # 来源 is not a key: the row still counts


def test_missing_key_column_excludes_every_row() -> None:
    header = [h for h in D if h != "受理日期"]
    rows = [[v for h, v in zip(D, dispute(编号=i), strict=True) if h != "受理日期"]
            for i in ("D1", "D2")]
    ledger = validate_workbook(full(纠纷台账=[header, *rows]))
    assert keys(ledger)[0] == ("纠纷台账", "纠纷台账", "missing-column")
    assert len(ledger.tables["disputes"]) == 0
    assert ledger.excluded["disputes"]["codes"].tolist() == ["missing-column"] * 2


def test_duplicate_column() -> None:
    header = [*D, "案件编号"]
    ledger = validate_workbook(full(纠纷台账=[header, [*dispute(), "X9"]]))
    assert keys(ledger) == [("纠纷台账", "U1", "duplicate-column")]
    assert ledger.findings[0].message == (
        "纠纷台账!U1 的列名“案件编号”和另一列都表示“编号”，这一列被忽略。请删除或改名重复的列。")
    assert ledger.tables["disputes"]["id"].tolist() == ["D1"]


# -- field level ------------------------------------------------------------------

FIELD_CASES = [
    # (column title, bad value, expected code, column letter)
    ("受理日期", "2024-02-30", "bad-date", "B"),
    ("受理日期", "1985-03-05", "date-out-of-range", "B"),
    ("办结日期", "2024.13.1", "bad-date", "P"),
    ("涉及人数", "3人", "bad-integer", "H"),
    ("涉及人数", 0, "below-minimum", "H"),
    ("首次调解成功", "可能", "bad-boolean", "O"),
    ("来源", "广播", "not-in-enum", "C"),
    ("星级", 4, "not-in-enum", "J"),
    ("回访日期", "#REF!", "formula-error", "Q"),
    ("村(社区)", None, "required-missing", "D"),
    ("简要情况", "甲\x07乙", "control-characters", "I"),
    ("包案领导", "王" * 2001, "text-too-long", "M"),
]


@pytest.mark.parametrize(("title", "value", "code", "letter"), FIELD_CASES,
                         ids=[c[2] + "-" + c[0] for c in FIELD_CASES])
def test_field_checks(title: str, value: Any, code: str, letter: str) -> None:
    ledger = validate_workbook(full(dispute(), dispute(编号="D2", **{title: value})))
    assert keys(ledger) == [("纠纷台账", f"{letter}3", code)]
    f = ledger.findings[0]
    assert (f.row, f.column, f.severity) == (3, title, CATALOGUE[code].severity)


def test_field_messages_and_values() -> None:
    ledger = validate_workbook(full(dispute(受理日期="2024-02-30", 来源="广播", 涉及人数="3人")))
    assert [f.message for f in ledger.findings] == [
        "纠纷台账!B2（受理日期）的“2024-02-30”不是有效日期。请写成 2024-03-05、2024/3/5 或 "
        "2024年3月5日 这样的日期。",
        "纠纷台账!C2（来源）的“广播”不是可选的值。可选的值有：网格排查、群众来访、12345热线、信访、"
        "110转办、网上舆情、上级交办、其他。请从下拉框里选择。",
        "纠纷台账!H2（涉及人数）的“3人”不是整数。请只填写数字，例如 3，不要带单位或文字。",
    ]
    assert [f.value for f in ledger.findings] == ["2024-02-30", "广播", "3人"]
    table = ledger.tables["disputes"]
    assert table["source"].isna().all() and table["persons_involved"].isna().all()


def test_out_of_range_message() -> None:
    ledger = validate_workbook(full(dispute(办结日期="2204-03-08")))
    assert ledger.findings[0].message == (
        "纠纷台账!P2（办结日期）的日期 2204-03-08 不在 1990-01-01 至 2100-12-31 之间。请检查年份是否输错。")


def test_text_too_long_message_counts_chars() -> None:
    ledger = validate_workbook(full(dispute(包案领导="王" * 2001)))
    assert ledger.findings[0].message.startswith("纠纷台账!M2（包案领导）有 2001 个字")
    assert ledger.tables["disputes"]["lead_official"].iloc[0] == "王" * 2001  # warning keeps it


def test_sensitive_values_never_in_findings() -> None:
    ledger = validate_workbook(full(dispute(当事人="#N/A"), dispute(编号="D2", 简要情况="张\x07三")))
    assert keys(ledger) == [("纠纷台账", "G2", "formula-error"),
                            ("纠纷台账", "I3", "control-characters")]
    assert [f.value for f in ledger.findings] == [None, None]
    assert ledger.findings[0].message == (
        "纠纷台账!G2（当事人）的公式结果是错误值 （内容已隐去）。请修改公式或直接填写数值。")
    assert all("张" not in f.message for f in ledger.findings)


def test_above_maximum_with_a_schema_maximum() -> None:
    tab = SCHEMA["disputes"]
    fields = tuple(dataclasses.replace(f, maximum=500) if f.name == "persons_involved" else f
                   for f in tab.fields)
    schema = dataclasses.replace(SCHEMA, tabs={**SCHEMA.tabs,
                                               "disputes": dataclasses.replace(tab, fields=fields)})
    ledger = validate_workbook(full(dispute(), dispute(编号="D2", 涉及人数=501)), schema=schema)
    assert keys(ledger) == [("纠纷台账", "H3", "above-maximum")]
    assert ledger.findings[0].message == "纠纷台账!H3（涉及人数）的 501 大于最大值 500。请检查数字是否填错。"


def test_duplicate_id_names_first_row() -> None:
    ledger = validate_workbook(full(dispute(), dispute(编号="D2"), dispute()))
    assert keys(ledger) == [("纠纷台账", "A4", "duplicate-id")]
    assert ledger.findings[0].message == (
        "纠纷台账!A4（编号）的“D1”与第 2 行重复，这一行不计入统计。每条记录的编号必须唯一，请给这一行换一个新编号。")
    assert ledger.tables["disputes"]["_row"].tolist() == [2, 3]
    assert ledger.excluded["disputes"].to_dict("records") == [{"_row": 4, "codes": "duplicate-id"}]


def test_full_width_id_is_a_duplicate() -> None:
    ledger = validate_workbook(full(dispute(编号="DZ-01"), dispute(编号="ＤＺ－０１ ")))
    assert keys(ledger) == [("纠纷台账", "A3", "duplicate-id")]


# -- which rows count -------------------------------------------------------------


def test_exclusion_rule_with_counts() -> None:
    rows = [
        dispute(编号="D1"),
        dispute(编号=None),                       # no id → excluded
        dispute(编号="D1"),                       # repeats row 2 → excluded
        dispute(编号="D4", 受理日期=None),         # no date → excluded
        dispute(编号="D5", 受理日期="三月五日"),   # not a date → excluded
        dispute(编号="D6", 星级="五星"),           # not 1/2/3 → excluded
        dispute(编号="D7", 星级=None, 受理日期="x"),  # two reasons
        dispute(编号="D8", 网格编号="G9"),         # unknown grid → counts, no grid
        dispute(编号="D9", 办结日期="2024-03-01"),  # closed before received → counts, not closed
        dispute(编号="D10", 满意度="很好"),        # other bad field → counts, NA
    ]
    ledger = validate_workbook(full(*rows))
    table = ledger.tables["disputes"]
    assert table["id"].tolist() == ["D1", "D8", "D9", "D10"]
    assert table["_row"].tolist() == [2, 9, 10, 11]
    assert table["grid_id"].isna().tolist() == [False, True, False, False]
    assert table["closed_date"].isna().tolist() == [False, False, True, False]
    assert table["satisfaction"].isna().tolist() == [False, False, False, True]
    assert ledger.excluded["disputes"].to_dict("records") == [
        {"_row": 3, "codes": "required-missing"},
        {"_row": 4, "codes": "duplicate-id"},
        {"_row": 5, "codes": "required-missing"},
        {"_row": 6, "codes": "bad-date"},
        {"_row": 7, "codes": "not-in-enum"},
        {"_row": 8, "codes": "bad-date,required-missing"},
    ]
    assert ledger.excluded_count("disputes") == 6
    assert len(table) + ledger.excluded_count("disputes") == len(rows)


def test_blank_rows_skipped_but_not_rows_with_anything() -> None:
    blank = [None] * len(D)
    spaces = ["  ", "\u3000", *([None] * (len(D) - 2))]
    extra_only = [None] * len(D) + ["合计"]
    ledger = validate_workbook(full(dispute(), blank, spaces, extra_only, dispute(编号="D2")))
    assert ledger.tables["disputes"]["_row"].tolist() == [2, 6]
    # the row with only an extra cell is not blank: it is checked and excluded
    assert ledger.excluded["disputes"]["_row"].tolist() == [5]
    assert ("纠纷台账", "A5", "required-missing") in keys(ledger)
    assert not any(f.row in (3, 4) for f in ledger.findings)


def test_other_tabs_exclusion_keys() -> None:
    ledger = validate_workbook(full(
        dispute(),
        走访记录=[["日期", "走访人", "网格编号", "户编号"], ["2024-03-05", "甲", "G1", "H1"],
              [None, "甲", "G1", "H2"], ["2024-03-06", None, "G1", "H3"]],
        需求清单=[["编号", "提出日期", "来源", "村(社区)", "需求内容", "状态"],
              ["N1", "2024-03-01", "点单", "东村", "修路", "待派单"],
              ["N1", "2024-03-02", "点单", "东村", "修桥", "待派单"],
              ["N3", "昨天", "点单", "东村", "路灯", "待派单"]],
        网格=[*GRIDS, [None, "东村", 50, None, None], ["G1", "西村", 40, None, None]],
    ))
    assert ledger.tables["visits"]["_row"].tolist() == [2, 4]  # 走访人 blank: still counts
    assert ledger.excluded["visits"]["codes"].tolist() == ["required-missing"]
    assert ledger.tables["needs"]["id"].tolist() == ["N1"]
    assert ledger.excluded["needs"]["codes"].tolist() == ["duplicate-id", "bad-date"]
    assert ledger.tables["grids"]["grid_id"].tolist() == ["G1", "G2"]
    assert ledger.excluded["grids"]["_row"].tolist() == [4, 5]


# -- title rows, aliases, messy input -----------------------------------------------


def test_title_rows_shift_cells() -> None:
    title = ["示范镇矛盾纠纷调处化解台账", *([None] * (len(D) - 1))]
    sub = ["填报单位：综治中心", *([None] * (len(D) - 1))]
    ledger = validate_workbook(full(纠纷台账=[title, sub, D, dispute(), dispute(编号="D2", 受理日期="x")]))
    assert keys(ledger) == [("纠纷台账", "B5", "bad-date")]
    assert ledger.tables["disputes"]["_row"].tolist() == [4]


def test_first_row_offset_of_the_source() -> None:
    raw = RawTable("纠纷台账", pd.DataFrame([D, dispute(受理日期="x")], dtype=object), first_row=3)
    wb = full()
    wb.tables["纠纷台账"] = raw
    assert keys(validate_workbook(wb)) == [("纠纷台账", "B4", "bad-date")]


def test_aliases_reordered_columns_and_extra_columns() -> None:
    header = ["序号", "案件编号", "登记日期", "纠纷来源", "所在村", "纠纷类别", "星级评定",
              "办理状态", "涉及人员数", "自定义"]
    row = [1, "Ａ００１", "２０２４年３月５日", "12345", "东村", "婚姻", "★★", "在办", "３", "x"]
    ledger = validate_workbook(workbook(纠纷登记=[header, row]))
    t = ledger.tables["disputes"]
    got = t.iloc[0][["id", "received_date", "source", "village", "dispute_type", "star",
                     "status", "persons_involved"]].tolist()
    assert got == ["A001", pd.Timestamp("2024-03-05"), "12345热线", "东村", "婚姻家庭", 2,
                   "调处中", 3]
    assert {f.code for f in ledger.findings} == {"missing-optional-column",
                                                 "missing-optional-tab"}


def test_messy_dates_in_a_ledger() -> None:
    spellings = ["2024.3.5", "2024/03/05", "2024-3-5", "2024年3月5日", "20240305", 45356,
                 "45356", datetime(2024, 3, 5, 14, 30), "2024-03-05 14:30", "２０２４－３－５ "]
    rows = [dispute(编号=f"D{i}", 受理日期=v, 办结日期=None, 回访日期=None, 状态="调处中",
                    首次调解成功=None, 满意度=None) for i, v in enumerate(spellings)]
    ledger = validate_workbook(full(*rows))
    assert keys(ledger) == []
    assert ledger.tables["disputes"]["received_date"].tolist() == [pd.Timestamp("2024-03-05")] * 10


# -- row checks ---------------------------------------------------------------------


ROW_CASES = [
    (dict(办结日期=None), "P2", "closed-without-date",
     "纠纷台账!P2：状态为“已化解”，但没有填写办结日期，这一条按未办结统计。"
     "请补填办结日期；如果还没有办结，请把状态改回“调处中”。"),
    (dict(状态="调处中"), "P2", "date-without-closed",
     "纠纷台账!P2：填了办结日期，但状态是“调处中”，这一条按未办结统计。"
     "如果已经办结，请把状态改为已化解、转司法、已终结、已撤回之一；否则请删除办结日期。"),
    (dict(办结日期="2024-03-01", 回访日期=None), "P2", "closed-before-received",
     "纠纷台账!P2：办结日期 2024-03-01 早于受理日期 2024-03-05，这起纠纷按未办结统计。请核对两个日期。"),
    (dict(回访日期="2024-03-07"), "Q2", "followup-before-closed",
     "纠纷台账!Q2：回访日期 2024-03-07 早于办结日期 2024-03-08，这次回访不计入统计。"
     "回访应在办结之后，请核对日期。"),
    (dict(首次调解成功=None), "O2", "first-try-missing",
     "纠纷台账!O2：纠纷已办结，但没有填写“首次调解成功”。请填写“是”或“否”。"),
]


@pytest.mark.parametrize(("change", "cell", "code", "message"), ROW_CASES,
                         ids=[c[2] for c in ROW_CASES])
def test_row_checks(change: dict[str, Any], cell: str, code: str, message: str) -> None:
    ledger = validate_workbook(full(dispute(**change)))
    assert keys(ledger) == [("纠纷台账", cell, code)]
    assert ledger.findings[0].message == message


def test_row_checks_pass_for_open_and_closed_cases() -> None:
    open_case = dispute(编号="D2", 状态="调处中", 办结日期=None, 回访日期=None, 首次调解成功=None,
                        满意度=None)
    same_day = dispute(编号="D3", 办结日期="2024-03-05", 回访日期="2024-03-05")
    assert keys(validate_workbook(full(dispute(), open_case, same_day))) == []


def test_row_check_effects_on_values() -> None:
    ledger = validate_workbook(full(dispute(状态="调处中"), dispute(编号="D2", 回访日期="2024-03-01")))
    t = ledger.tables["disputes"]
    assert t["closed_date"].isna().tolist() == [True, False]
    assert t["followup_date"].isna().tolist() == [False, True]


def test_needs_closing_checks() -> None:
    header = ["编号", "提出日期", "来源", "村(社区)", "需求内容", "类别", "接单单位", "领单党员",
              "状态", "办结日期"]
    base = ["N1", "2024-03-01", "群众点单", "东村", "修路", "基础设施", "交通办", "刘", "已办结",
            "2024-03-09"]

    def need(**c: Any) -> list[Any]:
        row = dict(zip(header, base, strict=True))
        row.update(c)
        return [row[h] for h in header]

    ledger = validate_workbook(full(dispute(), 需求清单=[
        header, need(), need(编号="N2", 办结日期=None), need(编号="N3", 状态="办理中"),
        need(编号="N4", 办结日期="2024-02-01"), need(编号="N5", 状态="待派单", 办结日期=None)]))
    assert keys(ledger) == [("需求清单", "J3", "closed-without-date"),
                            ("需求清单", "J4", "date-without-closed"),
                            ("需求清单", "J5", "closed-before-raised")]
    assert ledger.findings[0].message.endswith("请把状态改回“办理中”。")
    assert ledger.findings[1].message.endswith("请把状态改为已办结、无法办理之一；否则请删除办结日期。")
    assert ledger.findings[2].message == (
        "需求清单!J5：办结日期 2024-02-01 早于需求的提出日期 2024-03-01，这项需求按未办结统计。请核对两个日期。")


# -- cross-tab ----------------------------------------------------------------------


def test_unknown_grid_in_every_tab() -> None:
    ledger = validate_workbook(full(
        dispute(网格编号="G9"),
        走访记录=[["日期", "走访人", "网格编号", "户编号"], ["2024-03-05", "甲", "G2", "H1"],
              ["2024-03-05", "甲", "G7", "H2"]],
        重点人员=[["人员编号", "类别", "网格编号", "包联人", "随访频次"],
              ["P1", "安置帮教", "G1", "甲", "每月"], ["P2", "安置帮教", "G8", "甲", "每月"]],
    ))
    assert cell_keys(ledger) == [("纠纷台账", "E2", "unknown-grid"), ("走访记录", "C3", "unknown-grid"),
                            ("重点人员", "C3", "unknown-grid")]
    assert ledger.findings[0].message == (
        "纠纷台账!E2（网格编号）的“G9”在“网格”表里找不到，这一行按“无网格”统计。"
        "请核对网格编号，或先在“网格”表里补上这个网格。")
    assert ledger.findings[2].value is None  # 重点人员 is wholly sensitive


def test_cross_checks_skipped_when_tab_absent() -> None:
    wb = workbook(纠纷台账=[D, dispute(网格编号="G9", 责任单位="不存在的单位", 重复事项="D9")],
                  走访记录=[["日期", "走访人", "网格编号", "户编号", "关联纠纷编号"],
                        ["2024-03-05", "甲", "G9", "H1", "D1"]])
    codes = {f.code for f in validate_workbook(wb).findings}
    assert codes.isdisjoint({"unknown-grid", "unknown-unit", "unknown-person"})
    assert "unknown-repeat" in codes  # the disputes tab itself is present


def test_repeat_references() -> None:
    ledger = validate_workbook(full(dispute(), dispute(编号="D2", 重复事项="D1"),
                                    dispute(编号="D3", 重复事项="D3"),
                                    dispute(编号="D4", 重复事项="D404")))
    assert keys(ledger) == [("纠纷台账", "S4", "self-repeat"), ("纠纷台账", "S5", "unknown-repeat")]
    repeat = ledger.tables["disputes"]["repeat_of"]
    assert repeat.isna().tolist() == [True, False, True, True]
    assert repeat.iloc[1] == "D1"


def test_unknown_dispute_person_and_unit() -> None:
    ledger = validate_workbook(full(
        dispute(), dispute(编号="D2", 责任单位="信访办"),
        走访记录=[["日期", "走访人", "网格编号", "户编号", "关联纠纷编号"],
              ["2024-03-05", "甲", "G1", "H1", "D1"], ["2024-03-05", "甲", "G1", "H2", "D5"]],
        领导接访=[["日期", "领导", "职务类别", "方式", "关联纠纷编号"],
              ["2024-03-05", "王书记", "党政主要领导", "接访", "D2"],
              ["2024-03-06", "王书记", "党政主要领导", "接访", "D6"]],
        重点人员=[["人员编号", "类别", "网格编号", "包联人", "随访频次"],
              ["P1", "安置帮教", "G1", "甲", "每月"]],
        重点人员随访=[["人员编号", "日期", "随访人", "方式"], ["P1", "2024-03-05", "甲", "上门"],
                ["P7", "2024-03-05", "甲", "上门"]],
    ))
    assert cell_keys(ledger) == [("纠纷台账", "L3", "unknown-unit"), ("走访记录", "E3", "unknown-dispute"),
                            ("重点人员随访", "A3", "unknown-person"),
                            ("领导接访", "E3", "unknown-dispute")]
    sev = {f.code: f.severity for f in ledger.findings if f.row is not None}
    assert sev["unknown-unit"] == "warning"
    person = next(f for f in ledger.findings if f.code == "unknown-person")
    assert person.value is None and "P7" not in person.message
    # a warning keeps the value, errors make it NA; the rows still count
    assert ledger.tables["disputes"]["responsible_unit"].tolist() == ["司法所", "信访办"]
    assert ledger.tables["visits"]["dispute_id"].isna().tolist() == [False, True]
    assert len(ledger.tables["key_person_visits"]) == 2


#: one row per referring tab, each with a value its referenced tab lacks
BAD_REFERENCES: dict[str, list[list[Any]]] = {
    "走访记录": [["日期", "走访人", "网格编号", "户编号", "关联纠纷编号"],
             ["2024-03-05", "甲", "G9", "H1", "D9"]],
    "重点人员": [["人员编号", "类别", "网格编号", "包联人", "随访频次"],
             ["P1", "安置帮教", "G9", "甲", "每月"]],
    "重点人员随访": [["人员编号", "日期", "随访人", "方式"], ["P9", "2024-03-05", "甲", "上门"]],
    "领导接访": [["日期", "领导", "职务类别", "方式", "关联纠纷编号"],
             ["2024-03-05", "王书记", "党政主要领导", "接访", "D9"]],
    "督办记录": [["纠纷编号", "督办日期"], ["D9", "2024-03-05"]],
    "流转记录": [["纠纷编号", "日期", "流向"], ["D9", "2024-03-05", "专传"]],
}


def cross_findings(ledger: Ledger) -> list[tuple[str, str | None, str]]:
    return sorted((f.tab, f.field, f.code) for f in ledger.findings
                  if CATALOGUE[f.code].level == "cross")


def test_every_foreign_key_in_the_schema_is_enforced() -> None:
    wb = full(dispute(), dispute(编号="D2", 网格编号="G9", 重复事项="D404", 责任单位="不存在的单位"),
              dispute(编号="D3", 重复事项="D3"), **BAD_REFERENCES)
    declared = [(tab.name, fk.field, fk.code) for tab in SCHEMA for fk in tab.foreign_keys]
    declared += [(tab.name, fk.field, fk.self_code) for tab in SCHEMA for fk in tab.foreign_keys
                 if fk.self_code is not None]
    assert len(declared) == 11
    assert cross_findings(validate_workbook(wb)) == sorted(declared)
    # and a ledger whose references all hold gives none
    assert cross_findings(validate_workbook(full(dispute(), dispute(编号="D2", 重复事项="D1")))) == []


def test_removing_a_foreign_key_from_the_schema_removes_its_finding() -> None:
    wb = full(dispute(网格编号="G9"), **BAD_REFERENCES)
    assert ("disputes", "grid_id", "unknown-grid") in cross_findings(validate_workbook(wb))
    disputes = SCHEMA["disputes"]
    kept = tuple(fk for fk in disputes.foreign_keys if fk.field != "grid_id")
    schema = dataclasses.replace(
        SCHEMA, tabs={**SCHEMA.tabs, "disputes": dataclasses.replace(disputes, foreign_keys=kept)})
    found = cross_findings(validate_workbook(wb, schema=schema))
    assert ("disputes", "grid_id", "unknown-grid") not in found
    assert ("visits", "grid_id", "unknown-grid") in found  # the other tabs' references stay


def test_a_foreign_key_code_comes_from_the_schema() -> None:
    disputes = SCHEMA["disputes"]
    renamed = tuple(dataclasses.replace(fk, code="unknown-dispute") if fk.field == "grid_id" else fk
                    for fk in disputes.foreign_keys)
    schema = dataclasses.replace(
        SCHEMA, tabs={**SCHEMA.tabs, "disputes": dataclasses.replace(disputes, foreign_keys=renamed)})
    ledger = validate_workbook(full(dispute(网格编号="G9")), schema=schema)
    assert keys(ledger) == [("纠纷台账", "E2", "unknown-dispute")]


def test_findings_sorted_by_tab_row_column() -> None:
    ledger = validate_workbook(full(
        dispute(星级=None, 受理日期="x"), dispute(编号="D2", 来源="广播"),
        网格=[*GRIDS, ["G3", "东村", "很多", None, None]],
    ))
    assert keys(ledger) == [("纠纷台账", "B2", "bad-date"), ("纠纷台账", "J2", "required-missing"),
                            ("纠纷台账", "C3", "not-in-enum"), ("网格", "C4", "bad-integer")]
