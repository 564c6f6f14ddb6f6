"""Every table download opens well in WPS or Excel: fitted widths, a frozen
header, a filter, dates as dates and rates as percentages."""

from __future__ import annotations

import io
from datetime import date

import openpyxl
import pandas as pd

from fengqiao.publish.files import MAX_WIDTH, column_widths, xlsx_bytes


def _sheet(data: bytes) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(data)).active


def test_widths_fit_titles_and_values_counting_chinese_twice() -> None:
    frame = pd.DataFrame({"编号": ["DZ2024-0001", "D2"], "村": ["东村", "杏林村社区"],
                          "n": [1, 22], "长": ["字" * 80, ""]})
    # 编号: 11 characters + 2; 村: 5 Chinese = 10 + 2; n: the minimum 6; 长: capped
    assert column_widths(frame) == [13, 12, 6, MAX_WIDTH]


def test_xlsx_has_widths_frozen_header_filter_and_formats() -> None:
    frame = pd.DataFrame({
        "id": ["DZ2024-0001", "DZ2024-0002"],
        "received": pd.to_datetime(["2024-03-05", "2024-12-31"]),
        "rate": [0.897436, None],
    })
    ws = _sheet(xlsx_bytes(frame, {"id": "编号", "received": "受理日期", "rate": "比率"}, "清单",
                           percent=("比率",)))
    assert [c.value for c in ws[1]] == ["编号", "受理日期", "比率"]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:C3"
    assert ws.column_dimensions["A"].width == 13
    assert ws.column_dimensions["B"].width >= 12  # a date never shows as ###
    assert ws["B2"].value.date() == date(2024, 3, 5) and ws["B2"].number_format == "yyyy-mm-dd"
    assert ws["C2"].value == 0.897436 and ws["C2"].number_format == "0.0%"


def test_an_empty_table_still_opens_with_its_header() -> None:
    frame = pd.DataFrame({"id": pd.Series([], dtype="string")})
    ws = _sheet(xlsx_bytes(frame, {"id": "编号"}, "清单"))
    assert [c.value for c in ws[1]] == ["编号"] and ws.max_row == 1
    assert ws.freeze_panes == "A2"


def test_equal_tables_give_equal_bytes() -> None:
    frame = pd.DataFrame({"a": ["x", "y"], "b": [1, 2]})
    assert xlsx_bytes(frame, {}, "s") == xlsx_bytes(frame.copy(), {}, "s")
