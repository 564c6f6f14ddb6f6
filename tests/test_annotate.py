"""annotate: a marked copy of the ledger; the source is never touched."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from fengqiao.annotate import (
    ERROR_COLOR,
    RESULT_SHEET,
    WARNING_COLOR,
    annotate_source,
    annotate_workbook,
    write_raw_workbook,
)
from fengqiao.errors import FengqiaoError, make_finding
from fengqiao.sources.base import RawTable, RawWorkbook, SourceInfo

SHEET = "纠纷台账"


def _source(path: Path) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET
    ws.append(["示范镇纠纷台账"])
    ws.merge_cells("A1:C1")
    ws.append(["编号", "受理日期", "星级"])
    ws.append(["D1", "2024-02-30", 4])
    ws.append(["D2", "=1/0", 1])
    ws["C4"].comment = None
    other = wb.create_sheet("说明 页")
    other["A1"] = "不要动我"
    wb.save(path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _findings() -> list[Any]:
    return [
        make_finding("bad-date", sheet=SHEET, tab="disputes", row=3, col=1, column="受理日期",
                     value="2024-02-30"),
        make_finding("not-in-enum", sheet=SHEET, tab="disputes", row=3, col=2, column="星级",
                     value="4", detail="1、2、3"),
        make_finding("first-try-missing", sheet=SHEET, tab="disputes", row=3, col=2,
                     column="星级"),
        make_finding("text-too-long", sheet=SHEET, tab="disputes", row=4, col=0, column="编号",
                     detail=2001),
        make_finding("missing-optional-column", sheet=SHEET, tab="disputes", column="备注"),
        make_finding("duplicate-column", sheet=SHEET, tab="disputes", row=1, col=2,
                     column="星级", detail="星级"),
    ]


def test_marks_cells_and_keeps_source(tmp_path: Path) -> None:
    src = _source(tmp_path / "台账.xlsx")
    before = _sha(src)
    out = tmp_path / "标注.xlsx"
    annotate_workbook(src, _findings(), out)
    assert _sha(src) == before
    wb = load_workbook(out)
    assert wb.sheetnames == [RESULT_SHEET, SHEET, "说明 页"]
    ws = wb[SHEET]
    assert ws["B3"].fill.start_color.rgb == ERROR_COLOR
    assert ws["C3"].fill.start_color.rgb == ERROR_COLOR  # error wins over warning
    assert ws["A4"].fill.start_color.rgb == WARNING_COLOR
    assert ws["A3"].fill.fill_type is None
    assert ws["B3"].comment.text == (
        "【fengqiao 校验】\n"
        "【错误】纠纷台账!B3（受理日期）的“2024-02-30”不是有效日期。"
        "请写成 2024-03-05、2024/3/5 或 2024年3月5日 这样的日期。")
    assert ws["C3"].comment.text.count("\n") == 2  # two messages on one cell
    assert ws["C3"].comment.text.splitlines()[2].startswith("【提醒】纠纷台账!C3：纠纷已办结")
    # merged title: the mark goes to the range's top-left cell
    assert ws["A1"].fill.start_color.rgb == WARNING_COLOR
    assert ws["B4"].value == "=1/0"  # formulas are kept as formulas
    assert wb["说明 页"]["A1"].value == "不要动我"


def test_result_sheet_lists_everything_with_links(tmp_path: Path) -> None:
    src = _source(tmp_path / "台账.xlsx")
    out = tmp_path / "标注.xlsx"
    annotate_workbook(src, _findings(), out)
    ws = load_workbook(out)[RESULT_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][0].endswith("检查“台账.xlsx”：错误 2 个，提醒 4 个。"
                               "点“单元格”一列的链接可以跳到那一格；改好后重新检查，标记会自动去掉。")
    assert rows[1] == ("序号", "工作表", "单元格", "列名", "类别", "代码", "说明", "修改方法")
    assert len(rows) == 2 + len(_findings())
    assert rows[2] == (1, SHEET, "B3", "受理日期", "错误", "bad-date",
                       "纠纷台账!B3（受理日期）的“2024-02-30”不是有效日期。",
                       "请写成 2024-03-05、2024/3/5 或 2024年3月5日 这样的日期。")
    assert rows[6][:6] == (5, SHEET, "（整张表）", "备注", "提醒", "missing-optional-column")
    assert ws["C3"].hyperlink.location == "'纠纷台账'!B3"
    assert ws["C7"].hyperlink is None
    assert ws.freeze_panes == "A3"


def test_reannotating_replaces_result_sheet(tmp_path: Path) -> None:
    src = _source(tmp_path / "台账.xlsx")
    first = tmp_path / "一.xlsx"
    annotate_workbook(src, _findings(), first)
    second = tmp_path / "二.xlsx"
    annotate_workbook(first, _findings()[:1], second)
    wb = load_workbook(second)
    assert wb.sheetnames.count(RESULT_SHEET) == 1
    assert wb[RESULT_SHEET].max_row == 3
    # our own comment from the first run is replaced, not stacked
    assert wb[SHEET]["B3"].comment.text.count("【fengqiao 校验】") == 1


def test_refuses_to_overwrite_source(tmp_path: Path) -> None:
    src = _source(tmp_path / "台账.xlsx")
    before = _sha(src)
    with pytest.raises(FengqiaoError) as info:
        annotate_workbook(src, _findings(), tmp_path / "." / "台账.xlsx")
    assert str(info.value).startswith("标注文件不能和台账是同一个文件")
    assert _sha(src) == before


def test_out_must_be_xlsx(tmp_path: Path) -> None:
    with pytest.raises(FengqiaoError, match="应以 .xlsx 结尾"):
        annotate_workbook(_source(tmp_path / "a.xlsx"), [], tmp_path / "b.csv")


def test_no_findings_still_writes_a_result_sheet(tmp_path: Path) -> None:
    out = tmp_path / "o.xlsx"
    annotate_workbook(_source(tmp_path / "a.xlsx"), [], out)
    rows = list(load_workbook(out)[RESULT_SHEET].iter_rows(values_only=True))
    assert rows[0][0].endswith("检查“a.xlsx”：没有发现问题。")
    assert rows[2][6] == "没有发现问题。"


def _raw_workbook(location: str, kind: str = "csv") -> RawWorkbook:
    frame = pd.DataFrame([["编号", "受理日期", "星级"], ["D1", "2024-02-30", "4"],
                          ["D2", "坏\x01字", None]], dtype=object)
    return RawWorkbook(SourceInfo(kind, "台账", location), {SHEET: RawTable(SHEET, frame, 2)})


def test_fresh_workbook_for_csv_sources(tmp_path: Path) -> None:
    out = tmp_path / "标注.xlsx"
    write_raw_workbook(_raw_workbook(str(tmp_path / "csv")), _findings()[:2], out)
    wb = load_workbook(out)
    ws = wb[SHEET]
    assert ws["A2"].value == "编号" and ws["B3"].value == "2024-02-30"  # first_row = 2
    assert ws["B4"].value == "坏字"  # characters Excel cannot store are dropped
    assert ws["B3"].fill.start_color.rgb == ERROR_COLOR
    assert ws["B3"].comment.text.startswith("【fengqiao 校验】\n【错误】纠纷台账!B3（受理日期）")
    assert wb.sheetnames == [RESULT_SHEET, SHEET]


def test_annotate_source_dispatch(tmp_path: Path) -> None:
    src = _source(tmp_path / "台账.xlsx")
    out = tmp_path / "o.xlsx"
    annotate_source(_raw_workbook(str(src), kind="xlsx"), _findings()[:1], out)
    assert load_workbook(out)["说明 页"]["A1"].value == "不要动我"  # the real file was copied
    with pytest.raises(FengqiaoError, match="同一个文件"):
        annotate_source(_raw_workbook(str(src), kind="xlsx"), [], src)
    # an unreadable "xlsx" (here: not a zip at all) falls back to the raw cells
    fake = tmp_path / "加密.xlsx"
    fake.write_bytes(b"not a zip")
    annotate_source(_raw_workbook(str(fake), kind="xlsx"), _findings()[:1], out)
    assert load_workbook(out)[SHEET]["B3"].value == "2024-02-30"
