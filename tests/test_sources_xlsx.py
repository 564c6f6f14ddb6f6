"""The xlsx reader: real workbooks written by openpyxl (and patched at the XML
level where openpyxl cannot write what Excel writes), read back by calamine."""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from fengqiao.errors import SourceError
from fengqiao.sources import open_source
from fengqiao.sources.xlsx import _error_cells, _merged_from_xml, read_xlsx_bytes


def patch_sheet(path: Path, replacements: list[tuple[str, str]], sheet: int = 1) -> None:
    """Rewrite one sheet's XML in place (for what openpyxl will not write:
    cached formula errors, cells over 32,767 characters, control escapes)."""
    part = f"xl/worksheets/sheet{sheet}.xml"
    with zipfile.ZipFile(path) as src:
        items = [(i, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            if info.filename == part:
                # an empty element as openpyxl writes it with or without lxml
                text = re.sub(r"<v></v>|<v/>", "<v />", data.decode("utf-8"))
                for old, new in replacements:
                    assert old in text, old
                    text = text.replace(old, new)
                data = text.encode("utf-8")
            out.writestr(info, data)


def cells(frame: object) -> list[list[object]]:
    return frame.values.tolist()  # type: ignore[attr-defined]


@pytest.fixture
def typed_book(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws["C3"] = "某某镇矛盾纠纷台账"
    ws.merge_cells("C3:E3")
    ws["C4"], ws["D4"], ws["E4"], ws["F4"] = "编号", "受理日期", "涉及人数", "首次调解成功"
    ws["C5"], ws["D5"], ws["E5"], ws["F5"] = "007", date(2024, 3, 5), 3, True
    ws["C6"], ws["D6"], ws["E6"] = "008", datetime(2024, 3, 6, 9, 30), 1.5
    ws["D7"] = 45356
    ws["D7"].number_format = "yyyy-mm-dd"
    ws["D8"] = 45356
    second = wb.create_sheet("网格 名单")
    second["A1"] = "网格编号"
    second["A2"] = "W01"
    second["B2"] = "东村"
    second.merge_cells("B2:B4")
    path = tmp_path / "台账.xlsx"
    wb.save(path)
    return path


def test_cells_keep_their_types_and_positions(typed_book: Path) -> None:
    book = open_source(typed_book)
    assert list(book.tables) == ["纠纷台账", "网格 名单"]
    table = book.tables["纠纷台账"]
    assert table.first_row == 1
    assert table.frame.shape == (8, 6)
    assert list(table.frame.columns) == [0, 1, 2, 3, 4, 5]
    assert cells(table.frame)[:2] == [[None] * 6, [None] * 6]
    assert cells(table.frame)[2] == [None, None] + ["某某镇矛盾纠纷台账"] * 3 + [None]
    assert cells(table.frame)[4] == [None, None, "007", date(2024, 3, 5), 3.0, True]
    assert cells(table.frame)[5] == [None, None, "008", datetime(2024, 3, 6, 9, 30), 1.5, None]
    assert table.frame.iat[6, 3] == date(2024, 3, 5)  # a serial with a date format
    assert table.frame.iat[7, 3] == 45356.0  # a serial without one stays a number


def test_vertical_merge_spreads_down_the_rows(typed_book: Path) -> None:
    table = open_source(typed_book).tables["网格 名单"]
    assert cells(table.frame) == [["网格编号", None], ["W01", "东村"], [None, "东村"],
                                  [None, "东村"]]


def test_source_info_and_file_untouched(typed_book: Path) -> None:
    before = typed_book.read_bytes()
    mtime = typed_book.stat().st_mtime_ns
    book = open_source(str(typed_book))
    assert book.info.kind == "xlsx"
    assert book.info.name == "台账.xlsx"
    assert book.info.location == str(typed_book.resolve())
    assert book.info.sha256 == hashlib.sha256(before).hexdigest()
    assert book.info.read_at is not None and book.info.read_at.tzinfo is not None
    assert typed_book.read_bytes() == before
    assert typed_book.stat().st_mtime_ns == mtime


def test_xlsm_and_misnamed_xls_are_read(typed_book: Path, tmp_path: Path) -> None:
    xlsm = tmp_path / "宏.xlsm"
    xls = tmp_path / "其实是新格式.xls"
    shutil.copy(typed_book, xlsm)
    shutil.copy(typed_book, xls)
    assert open_source(xlsm).tables["纠纷台账"].frame.iat[4, 2] == "007"
    assert open_source(xls).tables["纠纷台账"].frame.iat[4, 2] == "007"


def _error_book(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws["A1"] = "编号"
    ws["B1"] = '说明 t="e" 不是错误'
    ws["A2"] = "=1/0"
    ws["B2"] = "=A9"
    ws["C2"] = "=X()"
    ws["D2"] = "=VLOOKUP(1,A1:A2,2,0)"
    ws["E2"] = '=1+"a"'
    path = tmp_path / "errors.xlsx"
    wb.save(path)
    patch_sheet(path, [
        ('<c r="A2"><f>1/0</f><v /></c>', '<c r="A2" t="e"><f>1/0</f><v>#DIV/0!</v></c>'),
        ('<c r="B2"><f>A9</f><v /></c>', '<c r="B2" t="e"><f>#REF!</f><v>#REF!</v></c>'),
        ('<c r="C2"><f>X()</f><v /></c>', '<c r="C2" t="e"><f>X()</f><v>#NAME?</v></c>'),
        ('<c r="D2"><f>VLOOKUP(1,A1:A2,2,0)</f><v /></c>',
         '<c r="D2" t="e"><f>VLOOKUP(1,A1:A2,2,0)</f><v>#N/A</v></c>'),
        ('<c r="E2"><f>1+"a"</f><v /></c>', '<c r="E2" t="e"><f>1+"a"</f><v>#VALUE!</v></c>'),
    ])
    return path


def test_cached_formula_errors_hold_their_text(tmp_path: Path) -> None:
    frame = open_source(_error_book(tmp_path)).tables["纠纷台账"].frame
    assert cells(frame) == [
        ["编号", '说明 t="e" 不是错误', None, None, None],
        ["#DIV/0!", "#REF!", "#NAME?", "#N/A", "#VALUE!"],
    ]


def test_error_cells_without_cell_references_are_found_by_position() -> None:
    xml = (b'<worksheet><sheetData><row r="3"><c><v>1</v></c><c t="e"><v>#REF!</v></c></row>'
           b'<row><c t="e"><v>#N/A</v></c></row></sheetData></worksheet>')
    assert _error_cells(xml) == [(2, 1, "#REF!"), (3, 0, "#N/A")]


def test_merged_ranges_from_xml_when_the_reader_gives_none() -> None:
    xml = (b'<worksheet><sheetData/><mergeCells count="2"><mergeCell ref="A1:C1"/>'
           b'<mergeCell ref="B3:B10"/></mergeCells></worksheet>')
    assert _merged_from_xml(xml) == [((0, 0), (0, 2)), ((2, 1), (9, 1))]
    assert _merged_from_xml(b"<worksheet><sheetData/></worksheet>") == []


def test_empty_sheet_is_an_empty_table(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active.title = "空表"
    wb.create_sheet("纠纷台账")["B2"] = "编号"
    path = tmp_path / "e.xlsx"
    wb.save(path)
    book = open_source(path)
    assert book.tables["空表"].frame.shape == (0, 0)
    assert cells(book.tables["纠纷台账"].frame) == [[None, None], [None, "编号"]]


def test_workbook_without_worksheets_is_refused() -> None:
    with pytest.raises(SourceError) as err:
        read_xlsx_bytes(b"PK\x03\x04 not really", "坏.xlsx")
    assert str(err.value) == (
        "工作簿“坏.xlsx”已损坏，无法打开（压缩包结构不完整）。"
        "请用 Excel 或 WPS 打开并另存一份；如果打不开，请找回之前保存的版本或重新下载。"
    )
