"""The bad-file corpus: every hostile input a township really produces, made
inside the test. Only what the source layer guarantees is asserted here (a
clear SourceError, exact row numbers, values preserved); the findings these
files lead to belong to the validator's tests."""

from __future__ import annotations

import shutil
import time
import zipfile
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import msoffcrypto.format.ooxml
import openpyxl
import pandas as pd
import pytest

from fengqiao.errors import SourceError
from fengqiao.sources import open_source

DATA = Path(__file__).parent / "data"
SAVE_AS = "请用 Excel 或 WPS 打开它，选择“另存为”，保存类型选“Excel 工作簿（*.xlsx）”，再用新文件重试。"


def small_book(path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws.append(["编号", "受理日期"])
    ws.append(["A1", date(2024, 3, 5)])
    wb.save(path)
    return path


def replace_sheet_data(path: Path, sheet_data: str, sheet: int = 1) -> None:
    """Swap a sheet's <sheetData> for hand-written XML: for content openpyxl
    will not write (cached errors, >32,767 characters, control escapes) or
    writes too slowly (200,000 rows)."""
    part = f"xl/worksheets/sheet{sheet}.xml"
    with zipfile.ZipFile(path) as src:
        items = [(i, src.read(i.filename)) for i in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            if info.filename == part:
                text = data.decode("utf-8")
                start = text.index("<sheetData")
                end = text.index("</sheetData>") + len("</sheetData>")
                text = text[:start] + sheet_data + text[end:]
                text = text.replace('<dimension ref="A1:B2" />', "")
                data = text.encode("utf-8")
            out.writestr(info, data)


def as_lists(frame: pd.DataFrame) -> list[list[object]]:
    """Cells as plain lists, missing as None (CSV frames hold pd.NA)."""
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'


def message(exc: pytest.ExceptionInfo[SourceError]) -> str:
    return str(exc.value)


# --- files that cannot be read at all -------------------------------------------------


def test_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "没有 这个.xlsx"
    with pytest.raises(SourceError) as err:
        open_source(missing)
    assert message(err) == (
        f"找不到数据源“{missing}”。"
        "请检查路径是否写对；路径里有空格时，在命令行中要用引号把整个路径括起来。"
    )


@pytest.mark.parametrize("name", ["空.xlsx", "空.csv"])
def test_zero_byte_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err).startswith(f"文件“{path}”是空的（0 字节），里面没有任何内容。")


def test_truncated_zip(tmp_path: Path) -> None:
    good = small_book(tmp_path / "好.xlsx").read_bytes()
    bad = tmp_path / "下载一半.xlsx"
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(SourceError) as err:
        open_source(bad)
    assert message(err) == (
        f"工作簿“{bad}”已损坏，无法打开（压缩包结构不完整）。"
        "请用 Excel 或 WPS 打开并另存一份；如果打不开，请找回之前保存的版本或重新下载。"
    )


def test_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "其实是压缩包.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err).startswith(f"工作簿“{path}”已损坏，无法打开")


def test_renamed_text_file(tmp_path: Path) -> None:
    path = tmp_path / "台账.xlsx"
    path.write_text("编号,日期\nA1,2024-03-05\n", encoding="utf-8")
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (
        f"“{path}”不是真正的 Excel 工作簿（.xlsx），可能只是改了扩展名，或者文件已损坏。{SAVE_AS}"
    )


def test_password_protected_workbook(tmp_path: Path) -> None:
    plain = small_book(tmp_path / "明文.xlsx")
    encrypted = tmp_path / "加密 台账.xlsx"
    with plain.open("rb") as src, encrypted.open("wb") as out:
        msoffcrypto.format.ooxml.OOXMLFile(src).encrypt("1234", out)
    assert encrypted.read_bytes()[:4] == b"\xd0\xcf\x11\xe0"
    with pytest.raises(SourceError) as err:
        open_source(encrypted)
    assert message(err) == (
        f"工作簿“{encrypted}”设置了打开密码，程序无法读取。"
        "请在 Excel 或 WPS 中打开它，取消“用密码进行加密”（把密码清空）后保存，再用新文件重试。"
    )


def test_old_xls(tmp_path: Path) -> None:
    path = tmp_path / "旧格式.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504 + "Workbook".encode("utf-16-le"))
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (
        f"“{path}”是旧版 Excel 97-2003 格式（.xls），程序不支持这种格式。{SAVE_AS}"
    )


@pytest.mark.parametrize("name", ["台账.docx", "台账.pdf", "台账"])
def test_unsupported_extension(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"x")
    shown = path.suffix or "（无扩展名）"
    with pytest.raises(SourceError) as err:
        open_source(path)
    assert message(err) == (
        f"不支持的文件类型“{shown}”：{path}。"
        "请提供 .xlsx 工作簿、一个放着 CSV 文件的文件夹，或 Google 表格的地址（gsheets:表格ID）。"
    )


# --- big inputs -----------------------------------------------------------------------

N_BIG = 200_000


def test_200k_rows_via_csv(tmp_path: Path) -> None:
    folder = tmp_path / "大 表"
    folder.mkdir()
    lines = ["日期,走访人,户编号,人次"] + [f"2024-03-05,张三,H{i:06d},{i % 7:03d}"
                                          for i in range(N_BIG)]
    (folder / "走访记录.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    frame = open_source(folder).tables["走访记录"].frame
    assert time.perf_counter() - started < 15
    assert frame.shape == (N_BIG + 1, 4)
    assert frame.iloc[0].tolist() == ["日期", "走访人", "户编号", "人次"]
    assert frame.iloc[1].tolist() == ["2024-03-05", "张三", "H000000", "000"]
    assert frame.iloc[N_BIG].tolist() == ["2024-03-05", "张三", f"H{N_BIG - 1:06d}",
                                          f"{(N_BIG - 1) % 7:03d}"]


def test_200k_rows_via_xlsx(tmp_path: Path) -> None:
    path = small_book(tmp_path / "大表.xlsx")
    rows = ['<row r="1">' + inline("A1", "户编号") + inline("B1", "人次") + "</row>"]
    rows += [f'<row r="{r}">{inline(f"A{r}", f"H{r:06d}")}<c r="B{r}"><v>{r % 7}</v></c></row>'
             for r in range(2, N_BIG + 2)]
    replace_sheet_data(path, "<sheetData>" + "".join(rows) + "</sheetData>")
    started = time.perf_counter()
    frame = open_source(path).tables["纠纷台账"].frame
    assert time.perf_counter() - started < 15
    assert frame.shape == (N_BIG + 1, 2)
    assert frame.iloc[1].tolist() == ["H000002", 2.0]
    # frame row i is sheet row i + 1, down to the last one
    assert frame.iloc[N_BIG].tolist() == [f"H{N_BIG + 1:06d}", float((N_BIG + 1) % 7)]


# --- layouts staff make ------------------------------------------------------------------


def test_header_in_row_7_under_title_rows(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws["A1"] = "东村矛盾纠纷调处化解台账"
    ws["A2"] = "填报单位：东村村委会"
    ws["A4"] = "（2024年第一季度）"
    ws.append([])
    ws["A7"], ws["B7"], ws["C7"] = "编号", "受理日期", "星级"
    ws["A8"], ws["B8"], ws["C8"] = "DC-001", date(2024, 1, 5), 1
    path = tmp_path / "标题行.xlsx"
    wb.save(path)
    table = open_source(path).tables["纠纷台账"]
    frame = table.frame
    header_at = frame.index[frame[0] == "编号"][0]
    assert table.first_row + header_at == 7
    assert frame.iloc[7].tolist() == ["DC-001", date(2024, 1, 5), 1.0]
    assert frame.iloc[0, 0] == "东村矛盾纠纷调处化解台账"
    assert frame.iloc[2].tolist() == [None, None, None]


def test_header_in_row_7_via_csv(tmp_path: Path) -> None:
    folder = tmp_path / "csv"
    folder.mkdir()
    text = "东村矛盾纠纷调处化解台账\n填报单位：东村\n\n\n\n\n编号,受理日期,星级\nDC-001,2024.1.5,1\n"
    (folder / "纠纷台账.csv").write_text(text, encoding="utf-8")
    frame = open_source(folder).tables["纠纷台账"].frame
    assert frame.iloc[6].tolist() == ["编号", "受理日期", "星级"]
    assert frame.iloc[7].tolist() == ["DC-001", "2024.1.5", "1"]
    assert as_lists(frame)[1] == ["填报单位：东村", None, None]


def test_merged_cells_across_the_header(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws["A1"] = "东村矛盾纠纷台账"
    ws.merge_cells("A1:E1")
    ws["A2"], ws["B2"], ws["D2"], ws["E2"] = "编号", "当事人", "村(社区)", "状态"
    ws.merge_cells("B2:C2")  # one header spread over two columns
    ws["A3"], ws["B3"], ws["C3"], ws["D3"], ws["E3"] = "A1", "甲", "乙", "东村", "调处中"
    ws.merge_cells("D3:D4")  # a village typed once for two cases
    ws["A4"], ws["E4"] = "A2", "已化解"
    path = tmp_path / "合并.xlsx"
    wb.save(path)
    frame = open_source(path).tables["纠纷台账"].frame
    assert frame.values.tolist() == [
        ["东村矛盾纠纷台账"] * 5,
        ["编号", "当事人", "当事人", "村(社区)", "状态"],
        ["A1", "甲", "乙", "东村", "调处中"],
        ["A2", None, None, "东村", "已化解"],
    ]


def test_formulas_with_cached_errors(tmp_path: Path) -> None:
    path = small_book(tmp_path / "公式.xlsx")
    errors = ["#REF!", "#DIV/0!", "#VALUE!", "#N/A", "#NAME?"]
    rows = ['<row r="1">' + inline("A1", "编号") + inline("B1", "涉及人数") + "</row>"]
    for i, err in enumerate(errors, start=2):
        rows.append(f'<row r="{i}">{inline(f"A{i}", f"A{i}")}'
                    f'<c r="B{i}" t="e"><f>B1/0</f><v>{escape(err)}</v></c></row>')
    rows.append('<row r="9">' + inline("A9", "A9") + '<c r="B9"><f>1+1</f><v>2</v></c></row>')
    replace_sheet_data(path, "<sheetData>" + "".join(rows) + "</sheetData>")
    frame = open_source(path).tables["纠纷台账"].frame
    assert frame[1].tolist() == ["涉及人数", *errors, None, None, 2.0]
    assert frame[0].tolist()[8] == "A9"


def test_cell_with_50000_characters(tmp_path: Path) -> None:
    long = ("调解经过：" + "双方因宅基地边界发生争执，" * 4000)[:50_000]
    assert len(long) == 50_000
    path = small_book(tmp_path / "长文本.xlsx")
    replace_sheet_data(path, '<sheetData><row r="1">' + inline("A1", "简要情况") +
                       '</row><row r="2">' + inline("A2", long) + "</row></sheetData>")
    assert open_source(path).tables["纠纷台账"].frame.iat[1, 0] == long
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_text(f'简要情况\n"{long}"\n', encoding="utf-8")
    assert open_source(folder).tables["纠纷台账"].frame.iat[1, 0] == long


def test_control_characters_are_preserved(tmp_path: Path) -> None:
    path = small_book(tmp_path / "控制字符.xlsx")
    # Excel stores characters XML cannot hold as _xHHHH_ escapes
    replace_sheet_data(path, '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
                       "东_x0007_村_x001B_\t三组</t></is></c></row></sheetData>")
    assert open_source(path).tables["纠纷台账"].frame.iat[0, 0] == "东\x07村\x1b\t三组"
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_bytes("编号\nA\x01B\x07C\x1b\x7f\n".encode())
    assert open_source(folder).tables["纠纷台账"].frame.iat[1, 0] == "A\x01B\x07C\x1b\x7f"


@pytest.mark.parametrize(("encoding", "prefix", "used"),
                         [("gbk", b"", "gb18030"), ("gb18030", b"", "gb18030"),
                          ("utf-8", b"\xef\xbb\xbf", "utf-8-sig")])
def test_csv_in_gbk_and_utf8_bom(tmp_path: Path, encoding: str, prefix: bytes, used: str) -> None:
    text = "编号,村(社区),当事人\n007,东村,张　三\n０１２,西村（二组）,李四\n"
    if encoding == "gb18030":
        text += "013,䶮村,𠀀\n"  # characters only GB18030 (not GBK) can hold
    folder = tmp_path / f"导出 {encoding}"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_bytes(prefix + text.encode(encoding))
    book = open_source(folder)
    assert book.info.encodings == {"纠纷台账": used}
    expected = [line.split(",") for line in text.splitlines()]
    assert as_lists(book.tables["纠纷台账"].frame) == expected


def test_chinese_names_with_spaces(tmp_path: Path) -> None:
    folder = tmp_path / "东村 2024年 台账"
    folder.mkdir()
    book_path = small_book(folder / "纠纷 台账（最终版 2）.xlsx")
    book = open_source(str(book_path))
    assert book.info.name == "纠纷 台账（最终版 2）.xlsx"
    assert book.tables["纠纷台账"].frame.iat[1, 1] == date(2024, 3, 5)
    csv_folder = folder / "导出 CSV"
    csv_folder.mkdir()
    (csv_folder / "重点人员 随访.csv").write_text("人员编号\nK01\n", encoding="utf-8")
    csv_book = open_source(csv_folder)
    assert list(csv_book.tables) == ["重点人员 随访"]
    assert csv_book.info.name == "导出 CSV"


# --- the committed LibreOffice fixture ----------------------------------------------------


def test_libreoffice_fixture(tmp_path: Path) -> None:
    copy = tmp_path / "libreoffice 台账.xlsx"
    shutil.copy(DATA / "libreoffice_ledger.xlsx", copy)
    with zipfile.ZipFile(copy) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
        assert '<mergeCell ref="A1:E1"/>' in sheet
        assert '<c r="B3" s="2" t="n"><v>45356</v></c>' in sheet  # a serial date
        assert "LibreOffice" in zf.read("docProps/app.xml").decode()
    book = open_source(copy)
    assert list(book.tables) == ["纠纷台账", "网格"]
    title = "东村矛盾纠纷调处化解台账（2024年3月）"
    assert book.tables["纠纷台账"].frame.values.tolist() == [
        [title] * 5,
        ["编号", "受理日期", "纠纷类型", "涉及人数", "办结日期"],
        ["DC-2024-001", date(2024, 3, 5), "邻里", 2.0, date(2024, 3, 8)],
        ["DC-2024-002", date(2024, 3, 18), "土地林草", 5.0, None],
    ]
    assert book.tables["网格"].frame.values.tolist() == [["网格编号", "村(社区)", "户数"],
                                                          ["W01", "东村", 86.0]]


def test_source_bytes_are_never_modified(tmp_path: Path) -> None:
    copy = tmp_path / "只读.xlsx"
    shutil.copy(DATA / "libreoffice_ledger.xlsx", copy)
    copy.chmod(0o444)
    before = copy.read_bytes()
    mtime = copy.stat().st_mtime_ns
    open_source(copy)
    assert copy.read_bytes() == before
    assert copy.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["只读.xlsx"]
