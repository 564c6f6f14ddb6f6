"""Workbook files that would hang, exhaust or fool the reader (issue 9, part C).

Each check has a file that trips it and one that does not. The files are
made here: FIFOs and links with ``os``, zips by hand (a part inflating to
1.5 GB is streamed, so the test itself stays small), ODS and Strict Open XML
by rewriting XML. Runs that could hang or exhaust memory go through a
subprocess with a timeout, and memory is measured there; no test asserts a
time.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from openpyxl.workbook.workbook import Workbook

from fengqiao.annotate import RESULT_SHEET, annotate_source
from fengqiao.cli import cli
from fengqiao.errors import FengqiaoError, SourceError
from fengqiao.sources import fetch_source, open_snapshot, open_source, save_snapshot
from fengqiao.sources.base import UnsavedFormula
from fengqiao.sources.guard import MB, Limits
from fengqiao.sources.xlsx import _unsaved_formulas, check_sheet_extent
from fengqiao.validate import validate_workbook

FENGQIAO = Path(sys.executable).with_name("fengqiao")
NOT_REGULAR_HINT = "请指定保存在磁盘上的台账文件（例如 .xlsx 工作簿或 .csv 文件），或放着 CSV 文件的文件夹。"
INFLATED_HINT = ("请用 Excel 或 WPS 打开它，确认内容无误后“另存为”一个新的 .xlsx 文件再试；"
                 "如果打不开或内容不对，请找回之前保存的版本。")
EXTENT_HINT = ("请在 Excel 或 WPS 中删除表格最下方和最右侧多余的行和列"
               "（或把有用的内容复制到一个新工作簿），保存后再试。")
SAVE_AS = "请用 Excel 或 WPS 打开它，选择“另存为”，保存类型选“Excel 工作簿（*.xlsx）”，再用新文件重试。"

HEADER = ["编号", "受理日期", "来源", "村(社区)", "网格编号", "纠纷类型", "当事人", "涉及人数",
          "简要情况", "星级", "调处层级", "责任单位", "包案领导", "状态", "首次调解成功", "办结日期"]


def dispute(number: str, **changes: Any) -> list[Any]:
    row = dict(zip(HEADER, [number, date(2024, 3, 5), "网格排查", "东村", "G1", "邻里", "张三", 2,
                            "宅基地", 1, "村级", "司法所", "王书记", "调处中", None, None],
                   strict=True))
    row.update(changes)
    return [row[h] for h in HEADER]


def ledger(path: Path, rows: list[list[Any]] | None = None) -> Path:
    """A small ledger: 纠纷台账 (header in row 1) and 网格."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "纠纷台账"
    ws.append(HEADER)
    for r in rows if rows is not None else [dispute("D1"), dispute("D2"), dispute("D3")]:
        ws.append(r)
    grids = wb.create_sheet("网格")
    grids.append(["网格编号", "村(社区)", "户数"])
    grids.append(["G1", "东村", 80])
    wb.save(path)
    return path


def rezip(src: Path, dst: Path, change: Any) -> Path:
    """A copy of a zip with each part's bytes passed through ``change(name, data)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
    return dst


def sheet_xml(path: Path, part: str = "xl/worksheets/sheet1.xml") -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(part)


def keys(ledger_: Any, code: str | None = None) -> list[tuple[str, str, str]]:
    return [f.key() for f in ledger_.findings if code is None or f.code == code]


def message(err: pytest.ExceptionInfo[Any]) -> str:
    return str(err.value)


# --- 1. regular files only ------------------------------------------------------------


def test_fifo_named_xlsx_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "x.xlsx"
    os.mkfifo(fifo)
    # opening a FIFO blocks until a writer comes: a hang fails on the timeout
    proc = subprocess.run([str(FENGQIAO), "validate", str(fifo)], capture_output=True,
                          text=True, timeout=20)
    assert proc.returncode == 2
    assert proc.stderr == (f"错误：“{fifo}”不是普通文件（是命名管道 FIFO），程序不会从它读取数据。"
                           f"{NOT_REGULAR_HINT}\n")


def test_symlink_to_dev_zero_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "x.xlsx"
    link.symlink_to("/dev/zero")
    result = CliRunner().invoke(cli, ["validate", str(link)])
    assert result.exit_code == 2
    assert result.output == (f"错误：“{link}”是一个链接，它指向的“/dev/zero”不是普通文件（是字符设备），"
                             f"程序不会从它读取数据。{NOT_REGULAR_HINT}\n")


def test_symlink_to_a_regular_workbook_is_read(tmp_path: Path) -> None:
    link = tmp_path / "链接.xlsx"
    link.symlink_to(ledger(tmp_path / "台账.xlsx"))
    assert list(open_source(link).tables) == ["纠纷台账", "网格"]


def test_fifo_in_a_csv_folder_is_named_not_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "台账CSV"
    folder.mkdir()
    (folder / "网格.csv").write_text("网格编号\nG1\n", encoding="utf-8")
    os.mkfifo(folder / "纠纷台账.csv")
    with pytest.raises(SourceError) as err:
        open_source(folder)
    assert message(err).startswith(f"“{folder}/纠纷台账.csv”不是普通文件（是命名管道 FIFO）")
    (folder / "纠纷台账.csv").unlink()
    (folder / "纠纷台账.csv").write_text("编号\nD1\n", encoding="utf-8")
    assert list(open_source(folder).tables) == ["纠纷台账", "网格"]


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = ledger(tmp_path / "台账.xlsx")
    size = path.stat().st_size
    with pytest.raises(SourceError) as err:
        open_source(path, limits=Limits(file_bytes=1000))
    assert message(err) == (
        f"文件“{path}”有 {size / 1024:.1f} KB，超过了程序读取的上限 1000 字节，不像是一份台账。"
        "请确认选对了文件；如果台账确实这么大，请删去不需要的工作表，或按年份拆成几个文件后再试。"
    ).replace(".0 KB", " KB")
    assert list(open_source(path, limits=Limits(file_bytes=size)).tables) == ["纠纷台账", "网格"]


# --- 2. sizes bounded before parsing -------------------------------------------------------


def shared_strings_bomb(path: Path, base: Path, size: int = 1_500_000_000) -> Path:
    """``base`` with a sharedStrings part that unpacks to ``size`` bytes,
    streamed through the compressor 1 MB at a time."""
    chunk = b"<si><t>" + b"A" * (1 << 20) + b"</t></si>"
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            if info.filename != "xl/sharedStrings.xml":
                out.writestr(info.filename, src.read(info.filename))
        with out.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            for _ in range(size // len(chunk)):
                part.write(chunk)
            part.write(b"</sst>")
    return path


def test_shared_strings_bomb_is_refused_with_little_memory(tmp_path: Path) -> None:
    bomb = shared_strings_bomb(tmp_path / "bomb.xlsx", ledger(tmp_path / "台账.xlsx"))
    assert bomb.stat().st_size < 3 * MB
    # a parent of its own, so that RUSAGE_CHILDREN is this one command's peak
    measure = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)\n"
               "sys.stderr.write(p.stderr)\n"
               "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    proc = subprocess.run([sys.executable, "-c", measure, str(FENGQIAO), "validate", str(bomb)],
                          capture_output=True, text=True, timeout=120)
    code, peak_kb = (int(x) for x in proc.stdout.split())
    assert code == 2
    assert peak_kb < 500 * 1024, f"peak RSS {peak_kb // 1024} MB"
    with zipfile.ZipFile(bomb) as zf:
        packed = zf.getinfo("xl/sharedStrings.xml").compress_size
    assert proc.stderr == (
        f"错误：工作簿“{bomb}”解压后异常巨大（其中“xl/sharedStrings.xml”从 "
        f"{packed / MB:.1f} MB 解压成约 1.4 GB，超过 100 倍），可能已损坏，或者并不是一份台账。"
        f"{INFLATED_HINT}\n")


@pytest.mark.parametrize(("limits", "what"), [
    (Limits(part_bytes=2 * MB), "其中“xl/sharedStrings.xml”解压后约 3 MB，上限是 2 MB"),
    (Limits(unzipped_bytes=2 * MB), "全部内容解压后约 3 MB，上限是 2 MB"),
])
def test_parts_past_the_limits_are_refused(tmp_path: Path, limits: Limits, what: str) -> None:
    big = shared_strings_bomb(tmp_path / "大.xlsx", ledger(tmp_path / "台账.xlsx"), 3 * MB + 1000)
    with pytest.raises(SourceError) as err:
        open_source(big, limits=limits)
    assert message(err) == f"工作簿“{big}”解压后异常巨大（{what}），可能已损坏，或者并不是一份台账。{INFLATED_HINT}"


def test_a_well_packed_workbook_passes_the_size_checks(tmp_path: Path) -> None:
    path = ledger(tmp_path / "台账.xlsx")
    book = open_source(path, limits=Limits(ratio_floor=0, part_ratio=30))
    assert book.tables["纠纷台账"].frame.shape == (4, 16)


def with_dimension(src: Path, dst: Path, ref: str) -> Path:
    def change(name: str, data: bytes) -> bytes:
        if name == "xl/worksheets/sheet1.xml":
            start = data.index(b"<dimension")
            end = data.index(b">", start) + 1
            return data[:start] + f'<dimension ref="{ref}"/>'.encode() + data[end:]
        return data
    return rezip(src, dst, change)


def test_huge_declared_dimension_is_refused(tmp_path: Path) -> None:
    path = with_dimension(ledger(tmp_path / "台账.xlsx"), tmp_path / "超大.xlsx", "A1:XFD1048576")
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (f"工作簿“{path}”的工作表“纠纷台账”标明的范围到了第 1,048,576 行、"
                            f"第 16,384 列，远超一份台账的正常大小，可能已损坏。{EXTENT_HINT}")
    ok = with_dimension(ledger(tmp_path / "台账2.xlsx"), tmp_path / "正常.xlsx", "A1:T1048576")
    assert open_source(ok).tables["纠纷台账"].frame.shape == (4, 16)


def test_cells_past_a_small_declared_dimension_are_refused(tmp_path: Path) -> None:
    """calamine allocates A1 to the last reference whatever the dimension
    says: two cells at A1 and XFD1048576 would ask for 512 GB and abort."""
    def far(name: str, data: bytes) -> bytes:
        if name != "xl/worksheets/sheet1.xml":
            return data
        return data.replace(b"</sheetData>", b'<row r="1048576"><c r="XFD1048576" t="inlineStr">'
                                             b"<is><t>x</t></is></c></row></sheetData>")
    path = rezip(with_dimension(ledger(tmp_path / "台账.xlsx"), tmp_path / "a.xlsx", "A1:P4"),
                 tmp_path / "远.xlsx", far)
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (f"工作簿“{path}”的工作表“纠纷台账”范围到了第 1,048,576 行、第 16,384 列，"
                            f"远超一份台账的正常大小，可能已损坏。{EXTENT_HINT}")


def test_extent_of_wide_and_long_sheets_is_exact() -> None:
    wide = (b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c><c r="AB1"><v>1</v></c></row>'
            b'<row r="1000001"><c r="B1000001"><v>1</v></c></row></sheetData></worksheet>')
    with pytest.raises(SourceError) as err:
        check_sheet_extent(wide, sheet="纠纷台账", display="台账.xlsx", limits=Limits(cells=10**6))
    assert "范围到了第 1,000,001 行、第 28 列" in message(err)
    check_sheet_extent(wide, sheet="纠纷台账", display="台账.xlsx", limits=Limits(cells=28_000_028))
    long_first = (b'<worksheet><sheetData><row r="2"><c r="A2"><v>1</v></c></row><row r="1000001">'
                  b'<c r="A1000001"><v>1</v></c></row><row r="1000002"><c r="AC1000002"><v>1</v>'
                  b"</c></row></sheetData></worksheet>")
    with pytest.raises(SourceError) as err:
        check_sheet_extent(long_first, sheet="纠纷台账", display="台账.xlsx",
                           limits=Limits(cells=10**6))
    assert "范围到了第 1,000,002 行、第 29 列" in message(err)


def test_cells_without_references_are_counted_by_position() -> None:
    cells = b"<c><v>1</v></c>" * 200
    xml = b"<worksheet><sheetData><row>" + cells + b"</row></sheetData></worksheet>"
    with pytest.raises(SourceError) as err:
        check_sheet_extent(xml, sheet="表", display="台账.xlsx", limits=Limits(columns=100))
    assert "范围到了第 1 行、第 200 列" in message(err)
    check_sheet_extent(xml, sheet="表", display="台账.xlsx", limits=Limits(columns=200))


# --- 3. read by content, not by extension -----------------------------------------------------


def test_et_with_xlsx_content_gives_the_same_findings(tmp_path: Path) -> None:
    rows = [dispute("D1"), dispute("D2", 受理日期="2024-02-30"), dispute("D2")]
    xlsx = ledger(tmp_path / "台账.xlsx", rows)
    et = tmp_path / "台账.et"
    et.write_bytes(xlsx.read_bytes())
    fetched = fetch_source(et)
    assert (fetched.workbook.info.kind, fetched.ext) == ("xlsx", "xlsx")
    from_et = validate_workbook(fetched.workbook)
    from_xlsx = validate_workbook(open_source(xlsx))
    assert keys(from_et) == keys(from_xlsx)
    assert ("纠纷台账", "B3", "bad-date") in keys(from_et)


@pytest.mark.parametrize("name", ["台账.xlsm", "台账", "台账.dat"])
def test_xlsm_and_unnamed_workbooks_are_read_by_content(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(ledger(tmp_path / "源.xlsx").read_bytes())
    fetched = fetch_source(path)
    assert list(fetched.workbook.tables) == ["纠纷台账", "网格"]
    assert fetched.ext == ("xlsm" if name.endswith(".xlsm") else "xlsx")


def test_a_zip_that_is_no_spreadsheet_is_unsupported_without_a_workbook_name(tmp_path: Path) -> None:
    path = tmp_path / "通知"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<w:document/>")
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (
        f"不支持的文件类型“（无扩展名）”：{path}。"
        "请提供 .xlsx 工作簿、一个放着 CSV 文件的文件夹，或 Google 表格的地址（gsheets:表格ID）。")


def test_old_binary_et_keeps_the_save_as_message(tmp_path: Path) -> None:
    path = tmp_path / "旧表.et"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
                     + "Workbook".encode("utf-16-le"))
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == f"“{path}”是旧版 Excel 97-2003 格式（.xls），程序不支持这种格式。{SAVE_AS}"


def _ods_cell(value: Any, extra: str = "") -> str:
    if value is None:
        return f"<table:table-cell{extra}/>"
    if isinstance(value, date):
        return (f'<table:table-cell{extra} office:value-type="date" '
                f'office:date-value="{value.isoformat()}"><text:p>{value}</text:p></table:table-cell>')
    if isinstance(value, int):
        return (f'<table:table-cell{extra} office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    return (f'<table:table-cell{extra} office:value-type="string"><text:p>{value}</text:p>'
            "</table:table-cell>")


def ods(path: Path, tables: dict[str, list[str]]) -> Path:
    """An OpenDocument spreadsheet whose tables are given as row XML."""
    body = "".join(f'<table:table table:name="{name}">{"".join(rows)}</table:table>'
                   for name, rows in tables.items())
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet>{body}</office:spreadsheet></office:body>"
        "</office:document-content>")
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        zf.writestr("META-INF/manifest.xml", "<manifest/>", zipfile.ZIP_DEFLATED)
    return path


def ods_row(values: list[Any], extra: dict[int, str] | None = None) -> str:
    """A row; ``extra`` adds attributes to some cells, or ``covered`` makes
    one the covered cell of a merge above it."""
    extra = extra or {}
    cells = ["<table:covered-table-cell/>" if extra.get(i) == "covered" else
             _ods_cell(v, extra.get(i, "")) for i, v in enumerate(values)]
    return "<table:table-row>" + "".join(cells) + "</table:table-row>"


FILLER = ('<table:table-row table:number-rows-repeated="1048570">'
          '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>')


def ods_ledger(path: Path) -> Path:
    title = ('<table:table-row>' + _ods_cell("东村台账", ' table:number-columns-spanned="3"')
             + "<table:covered-table-cell/><table:covered-table-cell/>"
             + _ods_cell(None, ' table:number-columns-repeated="13"') + "</table:table-row>")
    village = HEADER.index("村(社区)")  # merged down over D1 and D2
    return ods(path, {"纠纷台账": [
        title, ods_row(HEADER),
        ods_row(dispute("D1"), {village: ' table:number-rows-spanned="2"'}),
        ods_row(dispute("D2", 受理日期="2024-02-30"), {village: "covered"}), FILLER]})


def test_ods_is_read_with_merges_spread(tmp_path: Path) -> None:
    fetched = fetch_source(ods_ledger(tmp_path / "台账.ods"))
    assert (fetched.workbook.info.kind, fetched.ext) == ("ods", "ods")
    frame = fetched.workbook.tables["纠纷台账"].frame
    assert frame.shape == (4, 16)
    assert frame.iloc[0, :4].tolist() == ["东村台账", "东村台账", "东村台账", None]
    assert frame.iloc[2, :4].tolist() == ["D1", date(2024, 3, 5), "网格排查", "东村"]
    assert frame.iloc[3, :4].tolist() == ["D2", "2024-02-30", "网格排查", "东村"]
    assert keys(validate_workbook(fetched.workbook), "bad-date") == [("纠纷台账", "B4", "bad-date")]


def test_ods_repeats_past_the_limits_are_refused(tmp_path: Path) -> None:
    many = ('<table:table-row table:number-rows-repeated="100000">'
            + _ods_cell("x", ' table:number-columns-repeated="1000"') + "</table:table-row>")
    path = ods(tmp_path / "重复.ods", {"纠纷台账": [ods_row(HEADER), many, FILLER]})
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (f"工作簿“{path}”的工作表“纠纷台账”范围到了第 100,001 行、第 1,000 列，"
                            f"远超一份台账的正常大小，可能已损坏。{EXTENT_HINT}")


def test_ods_snapshot_opens_again(tmp_path: Path) -> None:
    fetched = fetch_source(ods_ledger(tmp_path / "台账.ods"))
    record = save_snapshot(fetched, tmp_path / "快照")
    assert record.file.endswith(".ods") and record.kind == "ods"
    again = open_snapshot(record.path)
    assert again.info.kind == "ods"
    pd.testing.assert_frame_equal(again.tables["纠纷台账"].frame,
                                  fetched.workbook.tables["纠纷台账"].frame)


# --- 4. formulas saved without a result ---------------------------------------------------------


def formula_ledger(path: Path) -> Path:
    """受理日期 of D2 (B3) and 涉及人数 of D3 (H4) are formulas openpyxl
    writes without a cached result, the way a script-made file comes."""
    ledger(path)
    wb = openpyxl.load_workbook(path)
    ws = wb["纠纷台账"]
    ws["B3"] = "=DATE(2024,3,5)"
    ws["H4"] = "=1+1"
    wb.save(path)
    return path


def test_formula_without_result_is_a_finding_at_its_cell(tmp_path: Path) -> None:
    path = formula_ledger(tmp_path / "脚本生成.xlsx")
    # an empty result element, as openpyxl writes it (with or without lxml)
    assert re.search(rb"<f>1\+1</f><v(?: ?/>|></v>)</c>", sheet_xml(path))
    book = open_source(path)
    assert book.tables["纠纷台账"].frame.iat[2, 1] == UnsavedFormula("DATE(2024,3,5)")
    result = validate_workbook(book)
    assert keys(result, "formula-no-value") == [("纠纷台账", "B3", "formula-no-value"),
                                                ("纠纷台账", "H4", "formula-no-value")]
    assert not keys(result, "required-missing")
    [finding] = [f for f in result.findings if f.cell == "纠纷台账!H4"]
    assert finding.message == (
        "纠纷台账!H4（涉及人数）是公式，但文件里没有保存它的计算结果，程序读不到值。"
        "这种文件多半是由程序生成的。请用 Excel 或 WPS 打开台账，保存一次（公式会算出结果），"
        "再重新校验；也可以把这一格直接改成数值。")
    excluded = result.excluded["disputes"]
    assert excluded[["_row", "codes"]].values.tolist() == [[3, "formula-no-value"]]
    counted = result.tables["disputes"]
    assert counted["_row"].tolist() == [2, 4]
    assert counted["persons_involved"].isna().tolist() == [False, True]


def test_formula_with_a_saved_result_is_read_as_its_value(tmp_path: Path) -> None:
    def saved(name: str, data: bytes) -> bytes:
        data = re.sub(rb"<f>DATE\(2024,3,5\)</f><v(?: ?/>|></v>)</c>",
                      b"<f>DATE(2024,3,5)</f><v>45356</v></c>", data)
        return re.sub(rb"<f>1\+1</f><v(?: ?/>|></v>)</c>", b"<f>1+1</f><v>2</v></c>", data)
    path = rezip(formula_ledger(tmp_path / "a.xlsx"), tmp_path / "保存过.xlsx", saved)
    result = validate_workbook(open_source(path))
    assert not keys(result, "formula-no-value")
    assert result.excluded_count("disputes") == 0
    counted = result.tables["disputes"]
    assert counted["received_date"].tolist() == [pd.Timestamp("2024-03-05")] * 3
    assert counted["persons_involved"].tolist() == [2, 2, 2]


def test_formula_with_an_empty_text_result_is_blank_not_unsaved() -> None:
    xml = (b'<worksheet><sheetData><row r="2"><c r="A2" t="str"><f>IF(1,"","x")</f><v></v></c>'
           b'<c r="B2"><f>1+1</f><v>2</v></c><c r="C2"><f>C1</f></c></row></sheetData></worksheet>')
    assert _unsaved_formulas(xml) == [(1, 2, "C1")]


def test_shared_and_prefixed_formulas_without_results_are_found() -> None:
    shared = (b'<worksheet><sheetData><row r="3"><c r="H3"><f t="shared" ref="H3:H4" si="0">G3+1'
              b'</f></c></row><row r="4"><c r="H4"><f t="shared" si="0"/></c></row></sheetData>'
              b"</worksheet>")
    assert _unsaved_formulas(shared) == [(2, 7, "G3+1"), (3, 7, "")]
    prefixed = (b'<x:worksheet xmlns:x="s"><x:sheetData><x:row r="1"><x:c r="B1"><x:f>A1&amp;"x"'
                b"</x:f></x:c></x:row></x:sheetData></x:worksheet>")
    assert _unsaved_formulas(prefixed) == [(0, 1, 'A1&"x"')]
    no_refs = b"<worksheet><sheetData><row><c><v>1</v></c><c><f>A1</f></c></row></sheetData></worksheet>"
    assert _unsaved_formulas(no_refs) == [(0, 1, "A1")]


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    path = ledger(tmp_path / "文本.xlsx", [dispute("D1", 简要情况="=1+1", 涉及人数="=2")])
    wb = openpyxl.load_workbook(path)
    for ref in ("I2", "H2"):
        wb["纠纷台账"][ref].data_type = "s"  # typed text, not a formula
    wb.save(path)
    result = validate_workbook(open_source(path))
    assert not keys(result, "formula-no-value")
    assert keys(result, "bad-integer") == [("纠纷台账", "H2", "bad-integer")]


# --- 5. the annotated copy is read back ------------------------------------------------------------

_STRICT = {
    b"http://schemas.openxmlformats.org/spreadsheetml/2006/main":
        b"http://purl.oclc.org/ooxml/spreadsheetml/main",
    b"http://schemas.openxmlformats.org/officeDocument/2006/relationships":
        b"http://purl.oclc.org/ooxml/officeDocument/relationships",
    b"http://schemas.openxmlformats.org/drawingml/2006/main":
        b"http://purl.oclc.org/ooxml/drawingml/main",
}


def strict(src: Path, dst: Path) -> Path:
    """The same workbook in Strict Open XML (Excel's "Strict" save option)."""
    def change(name: str, data: bytes) -> bytes:
        for old, new in _STRICT.items():
            data = data.replace(old, new)
        return data
    return rezip(src, dst, change)


@pytest.mark.filterwarnings("ignore:File contains an invalid specification")
def test_strict_ooxml_is_read_and_annotated_with_every_tab(tmp_path: Path) -> None:
    path = strict(ledger(tmp_path / "a.xlsx", [dispute("D1", 受理日期="2024-02-30")]),
                  tmp_path / "严格.xlsx")
    assert b"purl.oclc.org" in sheet_xml(path, "xl/workbook.xml")
    assert not openpyxl.load_workbook(path).worksheets  # why the fallback exists
    book = open_source(path)
    assert book.tables["纠纷台账"].frame.iat[1, 0] == "D1"
    result = validate_workbook(book)
    out = tmp_path / "标注.xlsx"
    assert annotate_source(book, result.findings, out) is False
    copy = openpyxl.load_workbook(out)
    assert copy.sheetnames == [RESULT_SHEET, "纠纷台账", "网格"]
    assert copy["纠纷台账"]["B2"].comment is not None


def test_cli_says_the_copy_is_a_fresh_workbook(tmp_path: Path) -> None:
    path = strict(ledger(tmp_path / "a.xlsx"), tmp_path / "严格.xlsx")
    out = tmp_path / "标注.xlsx"
    result = CliRunner().invoke(cli, ["validate", str(path), "--annotate", str(out)])
    assert result.output.endswith(
        f"已把标注写入 {out}（按单元格内容新建的工作簿，原表的格式和公式没有保留）。\n")


def test_et_source_is_annotated_on_a_copy_of_itself(tmp_path: Path) -> None:
    et = tmp_path / "台账.et"
    et.write_bytes(ledger(tmp_path / "a.xlsx", [dispute("D1", 受理日期="2024-02-30")]).read_bytes())
    book = open_source(et)
    out = tmp_path / "标注.xlsx"
    assert annotate_source(book, validate_workbook(book).findings, out) is True
    assert openpyxl.load_workbook(out).sheetnames == [RESULT_SHEET, "纠纷台账", "网格"]


def test_a_copy_that_cannot_be_read_back_is_deleted(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    src = ledger(tmp_path / "台账.xlsx", [dispute("D1", 受理日期="2024-02-30")])
    out = tmp_path / "标注.xlsx"
    out.write_bytes(b"an older copy")

    real_save = Workbook.save

    def half_written(self: Workbook, filename: str) -> None:  # as when the disk fills up
        real_save(self, filename)
        Path(filename).write_bytes(Path(filename).read_bytes()[:200])

    monkeypatch.setattr(Workbook, "save", half_written)
    result = CliRunner().invoke(cli, ["validate", str(src), "--annotate", str(out)])
    assert result.exit_code == 2
    assert result.output.endswith(
        f"错误：标注文件 {out} 没有写完整（写出的文件无法重新打开），已经删除，不会留下残缺的文件。"
        "请确认磁盘空间足够、文件夹可以写入后重新运行；"
        "如果仍然这样，请用 Excel 或 WPS 把台账另存为新的 .xlsx 文件后再试。\n")
    assert out.read_bytes() == b"an older copy"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["台账.xlsx", "标注.xlsx"]


def test_a_copy_missing_a_tab_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = ledger(tmp_path / "台账.xlsx")
    out = tmp_path / "标注.xlsx"
    real_save = Workbook.save

    def drop_grids(self: Workbook, filename: str) -> None:
        if "网格" in self.sheetnames:
            self.remove(self["网格"])
        real_save(self, filename)

    book = open_source(src)
    monkeypatch.setattr(Workbook, "save", drop_grids)
    with pytest.raises(FengqiaoError) as err:
        annotate_source(book, [], out)
    assert "缺少工作表：“网格”" in str(err.value)
    assert not out.exists()
