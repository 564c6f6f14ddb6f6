"""The blank template and the fill-in guide rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.schema import load_schema
from fengqiao.template import (
    GUIDE_SHEET,
    OPTIONS_SHEET,
    TEMPLATE_ROWS,
    choices,
    deadline_rows,
    guide_rows,
    write_template,
)

TAB_TITLES = ["纠纷台账", "督办记录", "流转记录", "网格", "走访记录", "重点人员", "重点人员随访", "领导接访", "领导名册",
              "责任清单", "需求清单"]


@pytest.fixture(scope="module")
def template_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "模板.xlsx"
    write_template(path)
    return path


@pytest.fixture(scope="module")
def wb(template_path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(template_path)


def _validations(ws: openpyxl.worksheet.worksheet.Worksheet) -> dict[str, object]:
    """column letter → its data validation (each column has at most one)."""
    out: dict[str, object] = {}
    for dv in ws.data_validations.dataValidation:
        ranges = [str(r) for r in dv.sqref.ranges]
        assert len(ranges) == 1
        letter = ranges[0].split(":")[0].rstrip("0123456789")
        assert ranges[0] == f"{letter}2:{letter}{TEMPLATE_ROWS + 1}"
        assert letter not in out
        out[letter] = dv
    return out


# --- guide rows ------------------------------------------------------------------------


def test_guide_rows_cover_every_field() -> None:
    rows = guide_rows()
    schema = load_schema()
    assert len(rows) == sum(len(t.fields) for t in schema)
    assert [(r["tab"], r["id"]) for r in rows][:3] == [
        ("disputes", "id"), ("disputes", "received_date"), ("disputes", "source")]
    by = {(r["tab"], r["id"]): r for r in rows}
    star = by[("disputes", "star")]
    assert star["type"] == "整数"
    assert star["allowed"] == ["1", "2", "3"]
    assert star["required"] is True
    assert star["value_aliases"]["★★"] == "2"
    first = by[("disputes", "first_try_success")]
    assert (first["type"], first["allowed"], first["required"]) == ("是否", ["是", "否"], False)
    assert by[("disputes", "id")]["aliases"] == ["案件编号", "纠纷编号", "序号编号", "登记编号"]
    assert by[("disputes", "received_date")]["type"] == "日期"
    assert by[("disputes", "village")]["type"] == "文本"
    assert by[("disputes", "parties")]["sensitive"] is True
    assert by[("disputes", "source")]["sensitive"] is False
    # a field of a wholly sensitive tab is sensitive even if not marked itself
    assert by[("key_persons", "category")]["sensitive"] is True
    assert by[("needs", "content")]["redact"] is True
    assert by[("needs", "content")]["sensitive"] is False
    assert by[("grids", "households")]["minimum"] == 1


def test_deadline_rows_come_from_config(tmp_path: Path) -> None:
    assert [d["deadline"] for d in deadline_rows(load_config())] == [
        "5 天（自然日）内办结", "15 天（自然日）内办结", "60 天（自然日）内办结"]
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("deadlines: {star_1: 3, star_2: 10, day_count: working}\n", encoding="utf-8")
    assert [d["deadline"] for d in deadline_rows(load_config(cfg))] == [
        "3 个工作日内办结", "10 个工作日内办结", "60 个工作日内办结"]


# --- the workbook ------------------------------------------------------------------------


def test_sheets_in_order(wb: openpyxl.Workbook) -> None:
    assert wb.sheetnames == [GUIDE_SHEET, *TAB_TITLES, OPTIONS_SHEET]
    assert wb[OPTIONS_SHEET].sheet_state == "hidden"
    assert all(wb[t].sheet_state == "visible" for t in TAB_TITLES)


def test_headers_bold_frozen_commented(wb: openpyxl.Workbook) -> None:
    for tab in load_schema():
        ws = wb[tab.title]
        assert [c.value for c in ws[1]] == [f.title for f in tab.fields]
        assert ws.freeze_panes == "A2"
        for cell, f in zip(ws[1], tab.fields, strict=True):
            assert cell.font.b is True
            assert cell.fill.fgColor.rgb.endswith("FCE4D6" if tab.is_sensitive(f.name)
                                                  else "DDEBF7")
            assert cell.comment is not None
            assert cell.comment.text.startswith(f.description)
            assert ("必填。" in cell.comment.text) is f.required
            assert ws.column_dimensions[cell.column_letter].width >= 14
    star = wb["纠纷台账"]["J1"].comment.text
    assert "可选值：1、2、3。" in star
    assert "敏感信息：只留在台账里，不会公开。" in wb["纠纷台账"]["G1"].comment.text
    assert "公开前会自动去掉手机号和身份证号。" in wb["需求清单"]["E1"].comment.text


def test_dropdowns_on_every_enum_and_boolean(wb: openpyxl.Workbook) -> None:
    options = wb[OPTIONS_SHEET]
    option_lists = {
        col[0].value: [c.value for c in col[1:] if c.value is not None]
        for col in options.iter_cols()
    }
    for tab in load_schema():
        dvs = _validations(wb[tab.title])
        for i, f in enumerate(tab.fields):
            letter = openpyxl.utils.get_column_letter(i + 1)
            values = list(choices(f))
            dv = dvs.get(letter)
            if not values:
                assert dv is None or dv.type != "list"
                continue
            assert dv is not None and dv.type == "list", (tab.name, f.name)
            assert dv.showErrorMessage is True
            assert dv.error.startswith(f"“{f.title}”请从下拉框里选择：")
            assert dv.errorTitle == "填写有误"
            if dv.formula1.startswith('"'):
                assert dv.formula1 == '"' + ",".join(values) + '"'
                assert len(values) <= 8
            else:
                letter_on = dv.formula1.split("!$")[1].split("$")[0]
                assert dv.formula1 == (f"{OPTIONS_SHEET}!${letter_on}$2:"
                                       f"${letter_on}${len(values) + 1}")
                assert option_lists[f"{tab.title}.{f.title}"] == values
    d = _validations(wb["纠纷台账"])
    assert d["C"].formula1 == '"网格排查,群众来访,12345热线,信访,110转办,网上舆情,上级交办,其他"'
    assert d["F"].formula1 == "选项!$A$2:$A$12"  # 11 dispute types: on the hidden sheet
    assert d["O"].formula1 == '"是,否"'
    assert d["J"].formula1 == '"1,2,3"'
    assert list(option_lists) == ["纠纷台账.纠纷类型"]


def test_whole_numbers_and_dates(wb: openpyxl.Workbook) -> None:
    d = _validations(wb["纠纷台账"])
    persons = d["H"]
    assert (persons.type, persons.operator, persons.formula1) == ("whole", "between", "1")
    assert persons.error == "“涉及人数”请填写不小于 1 的整数。"
    visitors = _validations(wb["领导接访"])["E"]
    assert (visitors.type, visitors.formula1) == ("whole", "0")
    received = d["B"]
    assert (received.type, received.errorStyle) == ("date", "warning")
    assert received.error == "“受理日期”请填写日期，例如 2024-03-05。"
    ws = wb["纠纷台账"]
    for col in ("B", "P", "Q"):
        assert ws[f"{col}2"].number_format == "yyyy-mm-dd"
        assert ws[f"{col}{TEMPLATE_ROWS + 1}"].number_format == "yyyy-mm-dd"
    assert ws[f"B{TEMPLATE_ROWS + 2}"].number_format == "General"
    assert ws["C2"].number_format == "General"


def test_guide_sheet_text(wb: openpyxl.Workbook) -> None:
    text = "\n".join(str(c) for row in wb[GUIDE_SHEET].iter_rows(values_only=True)
                     for c in row if c is not None)
    assert text.startswith("本镇矛盾纠纷调处化解台账 填表说明")
    assert "必须填写的工作表：纠纷台账。其余工作表可选：督办记录、流转记录、网格、走访记录" in text
    assert "2024.3.5" in text and "2024年3月5日" in text
    assert "“纠纷台账”的当事人、简要情况、备注" in text
    assert "“重点人员”整张表" in text
    assert "“需求清单”的需求内容" in text
    assert "5 天（自然日）内办结" in text and "60 天（自然日）内办结" in text
    assert "状态为“已化解”、“转司法”、“已终结”、“已撤回”的纠纷算办结" in text
    # one row per field, from guide_rows
    field_rows = [r for r in wb[GUIDE_SHEET].iter_rows(values_only=True)
                  if r[0] in TAB_TITLES and r[2] in ("文本", "整数", "日期", "是否")]
    assert len(field_rows) == len(guide_rows())


def test_deadlines_follow_the_config(tmp_path: Path) -> None:
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("town: 枫溪镇\ndeadlines: {star_1: 3, day_count: working}\n", encoding="utf-8")
    path = tmp_path / "t.xlsx"
    write_template(path, config=load_config(cfg))
    rows = list(openpyxl.load_workbook(path)[GUIDE_SHEET].iter_rows(values_only=True))
    assert rows[0][0] == "枫溪镇矛盾纠纷调处化解台账 填表说明"
    stars = [r[:3] for r in rows if r[0] in ("一星（★）", "二星（★★）", "三星（★★★）")]
    assert [s[2] for s in stars] == ["3 个工作日内办结", "15 个工作日内办结", "60 个工作日内办结"]
    assert stars[0][1] == "简单纠纷，由村（社区）或对口部门就地化解"


def test_same_template_same_bytes(template_path: Path, tmp_path: Path) -> None:
    again = tmp_path / "again.xlsx"
    write_template(again)
    assert again.read_bytes() == template_path.read_bytes()


# --- round trip through the validator ---------------------------------------------------

ROWS = {
    "纠纷台账": [
        ["DZ2024-0001", date(2024, 3, 5), "网格排查", "东岭村", "DL-01", "邻里", "甲某与乙某", 2,
         "排水沟纠纷", 1, "村级", "司法所", "陈建华", "已化解", "是", date(2024, 3, 7),
         date(2024, 3, 9), "满意", None, None],
        ["DZ2024-0002", date(2024, 3, 6), "信访", "东岭村", "DL-01", "劳资", "丙某", 5,
         "欠薪", 2, "镇级", "劳动保障所", "林国平", "调处中", None, None, None, None,
         "DZ2024-0001", None],
    ],
    "网格": [["DL-01", "东岭村", 80, "陈建华", "林国平"]],
    "走访记录": [[date(2024, 3, 4), "林国平", "DL-01", "DL-01-007", 2, "是", "DZ2024-0001"]],
    "重点人员": [["ZD001", "安置帮教", "DL-01", "陈建华", "每月"]],
    "重点人员随访": [["ZD001", date(2024, 3, 8), "陈建华", "上门"]],
    "领导接访": [[date(2024, 3, 8), "黄晓东", "党政主要领导", "接访", 3, "DZ2024-0002"]],
    "责任清单": [["邻里", "司法所", "黄晓东", "副镇长", "0579-81234567", None],
                 ["劳资", "劳动保障所", "黄晓东", "副镇长", "0579-81234568", None]],
    "需求清单": [["XQ2024-001", date(2024, 3, 2), "群众点单", "东岭村", "路灯损坏", "基础设施",
                  "城建办", "周海燕", "已办结", date(2024, 3, 10)]],
}


def _fill(template_path: Path, out: Path, rows: dict[str, list[list[object]]]) -> Path:
    wb = openpyxl.load_workbook(template_path)
    for sheet, records in rows.items():
        ws = wb[sheet]
        for r, record in enumerate(records, start=2):
            for c, value in enumerate(record, start=1):
                ws.cell(row=r, column=c, value=value)
    wb.save(out)
    return out


def _validate(path: Path):  # type: ignore[no-untyped-def]
    from fengqiao import sources, validate

    return validate.validate_workbook(sources.open_source(path))


def test_filled_template_validates_clean(template_path: Path, tmp_path: Path) -> None:
    ledger = _validate(_fill(template_path, tmp_path / "filled.xlsx", ROWS))
    assert ledger.findings == []
    assert len(ledger.tables["disputes"]) == 2
    assert ledger.tables["disputes"]["_row"].tolist() == [2, 3]
    assert ledger.tables["needs"]["closed_date"].iloc[0] == pd.Timestamp("2024-03-10")
    assert ledger.tables["disputes"]["first_try_success"].tolist() == [True, pd.NA]


def test_filled_template_with_a_bad_value(template_path: Path, tmp_path: Path) -> None:
    rows = {k: [list(r) for r in v] for k, v in ROWS.items()}
    rows["纠纷台账"][1][2] = "信坊"  # a typo the dropdown would have refused
    ledger = _validate(_fill(template_path, tmp_path / "bad.xlsx", rows))
    assert [f.key() for f in ledger.findings] == [("纠纷台账", "C3", "not-in-enum")]


# --- CLI ------------------------------------------------------------------------------------


def test_cli_template(tmp_path: Path, template_path: Path) -> None:
    out = tmp_path / "台账模板.xlsx"
    result = CliRunner().invoke(cli, ["template", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output == f"已生成台账模板：{out}\n"
    assert out.read_bytes() == template_path.read_bytes()


def test_cli_template_bad_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["template", "--out", str(tmp_path / "模板.txt")])
    assert result.exit_code == 2
    assert result.output == "错误：模板文件名应以 .xlsx 结尾，实际是“模板.txt”。\n"
    assert not (tmp_path / "模板.txt").exists()


def test_cli_template_bad_config(tmp_path: Path) -> None:
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("deadlines: {star_1: 0}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["template", "--out", str(tmp_path / "t.xlsx"),
                                      "--config", str(cfg)])
    assert result.exit_code == 2
    assert "deadlines.star_1 应是大于 0 的整数，实际写的是 0。" in result.output
    assert "Traceback" not in result.output
