"""The CSV-folder reader: every cell is text, encodings are detected, and
row numbers are those a spreadsheet program shows."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.errors import SourceError
from fengqiao.metrics import compute_metrics, parse_period
from fengqiao.sources import fetch_source, open_snapshot, open_source, save_snapshot
from fengqiao.sources.csvdir import parse_csv, read_csv_bytes
from fengqiao.sources.csvformat import sniff_delimiter
from fengqiao.validate import validate_workbook


def as_lists(frame: pd.DataFrame) -> list[list[object]]:
    """Cells as plain lists, missing as None (CSV frames hold pd.NA)."""
    return frame.astype(object).where(frame.notna(), None).values.tolist()


def rows(data: bytes) -> list[list[object]]:
    frame, _ = parse_csv(data, "t.csv")
    assert all(str(t) == "string" for t in frame.dtypes)
    return as_lists(frame)


def test_every_cell_stays_text() -> None:
    data = "编号,身份证样,人数,空\n007,110101199003071234,3,\n0008,1.50,,x\n".encode()
    assert rows(data) == [
        ["编号", "身份证样", "人数", "空"],
        ["007", "110101199003071234", "3", None],
        ["0008", "1.50", None, "x"],
    ]


def test_quoted_values_keep_commas_quotes_and_newlines() -> None:
    data = '编号,简要情况\nA1,"东村, 西村"\nA2,"第一行\n第二行"\nA3,"他说""不行"""\n'.encode()
    assert rows(data) == [["编号", "简要情况"], ["A1", "东村, 西村"], ["A2", "第一行\n第二行"],
                          ["A3", '他说"不行"']]


def test_ragged_rows_are_padded_and_keep_their_line() -> None:
    data = "某某镇纠纷台账\n\n编号,日期,状态\nA1,2024-03-05\nA2,2024-03-06,已化解,多余\n".encode()
    assert rows(data) == [
        ["某某镇纠纷台账", None, None, None],
        [None, None, None, None],
        ["编号", "日期", "状态", None],
        ["A1", "2024-03-05", None, None],
        ["A2", "2024-03-06", "已化解", "多余"],
    ]


def test_blank_lines_between_rows_are_kept() -> None:
    data = b"a,b\n1,2\n\n3,4\n"
    assert rows(data) == [["a", "b"], ["1", "2"], [None, None], ["3", "4"]]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("编号,村(社区)\n007,东村\n".encode(), "utf-8"),
        (b"\xef\xbb\xbf" + "编号,村(社区)\n007,东村\n".encode(), "utf-8-sig"),
        ("编号,村(社区)\n007,东村\n".encode("gbk"), "gb18030"),
        ("编号,村(社区)\n007,东村\n".encode("gb18030"), "gb18030"),
    ],
)
def test_encodings_are_detected(data: bytes, encoding: str) -> None:
    frame, used = parse_csv(data, "t.csv")
    assert used == encoding
    assert as_lists(frame) == [["编号", "村(社区)"], ["007", "东村"]]


def test_undecodable_bytes_are_refused_with_the_file_named() -> None:
    with pytest.raises(SourceError) as err:
        parse_csv(b"a,b\n\xff\xff,1\n", "台账/纠纷台账.csv")
    assert str(err.value) == (
        "CSV 文件“台账/纠纷台账.csv”的文字编码无法识别（不是 UTF-8、GBK/GB18030、Big5 或 UTF-16）。"
        "请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"
    )


def test_folder_gives_one_tab_per_file(tmp_path: Path) -> None:
    folder = tmp_path / "东村 台账"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_bytes("编号\n007\n".encode("gbk"))
    (folder / "网格.CSV").write_bytes(b"\xef\xbb\xbf" + "网格编号\nW01\n".encode())
    (folder / "空.csv").write_bytes(b"")
    (folder / "说明.txt").write_text("不是表")
    (folder / "~$纠纷台账.csv").write_bytes(b"lock")
    (folder / ".隐藏.csv").write_bytes(b"x")
    book = open_source(folder)
    assert list(book.tables) == ["空", "纠纷台账", "网格"]
    assert book.info.kind == "csv"
    assert book.info.name == "东村 台账"
    assert book.info.location == str(folder.resolve())
    assert book.info.encodings == {"空": "utf-8", "纠纷台账": "gb18030", "网格": "utf-8-sig"}
    assert as_lists(book.tables["纠纷台账"].frame) == [["编号"], ["007"]]
    assert book.tables["纠纷台账"].first_row == 1
    assert book.tables["空"].frame.shape == (0, 0)


def test_single_csv_file_is_a_one_tab_workbook(tmp_path: Path) -> None:
    path = tmp_path / "纠纷台账.csv"
    path.write_text("编号\n007\n", encoding="utf-8")
    book = open_source(path)
    assert list(book.tables) == ["纠纷台账"]
    assert as_lists(book.tables["纠纷台账"].frame) == [["编号"], ["007"]]


def test_folder_without_csv_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "空 文件夹"
    folder.mkdir()
    (folder / "readme.txt").write_text("x")
    with pytest.raises(SourceError) as err:
        open_source(folder)
    assert str(err.value) == (
        f"文件夹“{folder}”里没有 CSV 文件。"
        "请把每张工作表另存为一个 .csv 文件放进这个文件夹，文件名就是工作表名，例如“纠纷台账.csv”。"
    )


# --- delimiters, Excel's sep= line, encodings other than UTF-8/GBK ------------------------------

SPECIAL = ',;\t|"\r\n'


def csv_text(rows: list[list[str]], delimiter: str) -> str:
    """Rows as a CSV that quotes every cell holding any candidate delimiter,
    a quote or a line break (so unquoted text never holds a delimiter)."""
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in SPECIAL) else v
    return "".join(delimiter.join(cell(v) for v in row) + "\r\n" for row in rows)


LEDGER_ROWS = [
    ["编号", "受理日期", "来源", "村(社区)", "纠纷类型", "涉及人数", "星级", "状态", "办结日期",
     "简要情况"],
    ["D-001", "2024-03-05", "群众来访", "东村", "邻里", "2", "1", "调处中", "",
     "东村,西村;三组|四组\t争地"],
    ["D-002", "2024.3.6", "网格排查", "西村", "婚姻家庭", "1", "2", "已化解", "2024-03-20",
     '他说"不行"\n第二行'],
    ["D-003", "2024-13-40", "信访", "东村", "劳资", "3", "1", "调处中", "", ""],
]


def ledger_outcome(folder: Path) -> tuple[list[tuple[str, str, str]], dict[str, object]]:
    ledger = validate_workbook(open_source(folder))
    figures = compute_metrics(ledger, parse_period("2024"), config=load_config(),
                              today=date(2025, 1, 1))["metrics"]
    return sorted(f.key() for f in ledger.findings), figures


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_semicolon_tab_and_pipe_give_the_same_findings_and_figures(
        tmp_path: Path, delimiter: str) -> None:
    outcomes = []
    for d in (",", delimiter):
        folder = tmp_path / f"sep{ord(d)}"
        folder.mkdir()
        (folder / "纠纷台账.csv").write_bytes(csv_text(LEDGER_ROWS, d).encode("gbk"))
        book = open_source(folder)
        assert book.info.delimiters == {"纠纷台账": d}
        assert book.info.encodings == {"纠纷台账": "gb18030"}
        assert as_lists(book.tables["纠纷台账"].frame) == [
            [v or None for v in row] for row in LEDGER_ROWS]
        outcomes.append(ledger_outcome(folder))
    assert outcomes[0] == outcomes[1]
    findings, figures = outcomes[1]
    assert ("纠纷台账", "B4", "bad-date") in findings
    assert figures["received"] == 2


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_quoted_cells_keep_the_other_delimiters(delimiter: str) -> None:
    rows = [["编号", "简要情况"], ["A1", "东村,西村;三组|四组\t五组"], ["A2", 'x"y"\nz']]
    parsed = read_csv_bytes(csv_text(rows, delimiter).encode(), "t.csv")
    assert parsed.delimiter == delimiter
    assert as_lists(parsed.frame) == rows


def test_delimiter_choice_ignores_title_rows_and_stray_separators() -> None:
    # a title row above the header, commas in free text of a semicolon file
    assert sniff_delimiter("东村纠纷台账\n\n编号;简要情况;状态\nA1;东村,西村;已化解\n"
                           "A2;无;调处中\n") == ";"
    # a semicolon in free text of a comma file (Excel quotes only commas)
    assert sniff_delimiter("编号,简要情况,状态\nA1,先调解;再回访,已化解\nA2,无,调处中\n") == ","
    # one column: no delimiter anywhere, read as comma-separated
    assert sniff_delimiter("编号\nA1\nA2\n") == ","
    # a cut-off last line of a truncated sample does not count
    assert sniff_delimiter("a;b\nc;d\ne|f|g|h|i", truncated=True) == ";"


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_excel_sep_line_sets_the_delimiter_and_is_not_a_row(sep: str) -> None:
    body = csv_text([["编号", "受理日期"], ["A1", "2024-03-05"]], sep)
    parsed = read_csv_bytes(f"sep={sep}\r\n{body}".encode(), "t.csv")
    assert parsed.delimiter == sep
    assert as_lists(parsed.frame) == [["编号", "受理日期"], ["A1", "2024-03-05"]]


@pytest.mark.parametrize(("prefix", "encoding"), [(b"", "utf-8"), (b"\xef\xbb\xbf", "gbk")])
def test_finding_after_a_sep_line_names_the_cell_excel_shows(
        tmp_path: Path, prefix: bytes, encoding: str) -> None:
    """Excel hides the sep= line: the header is its row 1, the first data
    row its row 2, and a bad date there is B2, not B3."""
    if encoding == "gbk":
        prefix = b""  # a GBK file has no BOM
    rows = [LEDGER_ROWS[0], LEDGER_ROWS[3]]
    path = tmp_path / "纠纷台账.csv"
    path.write_bytes(prefix + ("sep=;\n" + csv_text(rows, ";")).encode(encoding))
    book = open_source(path)
    assert book.info.delimiters == {"纠纷台账": ";"}
    assert book.tables["纠纷台账"].first_row == 1
    findings = {f.key() for f in validate_workbook(book).findings}
    assert ("纠纷台账", "B2", "bad-date") in findings


@pytest.mark.parametrize(("bom", "codec", "name"),
                         [(b"\xff\xfe", "utf-16-le", "utf-16-le"),
                          (b"\xfe\xff", "utf-16-be", "utf-16-be")])
def test_excel_unicode_text_utf16_tab_separated(bom: bytes, codec: str, name: str) -> None:
    rows = [["编号", "简要情况", "状态"], ["D-001", "东村,西村", "已化解"], ["D-002", "𠀀宅基地", ""]]
    text = "\r\n".join("\t".join(r) for r in rows) + "\r\n"
    parsed = read_csv_bytes(bom + text.encode(codec), "t.csv")
    assert (parsed.encoding, parsed.delimiter) == (name, "\t")
    assert as_lists(parsed.frame) == [[v or None for v in r] for r in rows]


BIG5_TEXT = "編號,糾紛類型,狀態,村(社區)\nD-001,鄰里糾紛,已化解,東村\nD-002,婚姻家庭,調處中,西村\n"
GBK_TEXT = "编号,纠纷类型,状态,村(社区)\nD-001,邻里纠纷,已化解,东村\nD-002,婚姻家庭,调处中,西村\n"


def test_big5_is_read_as_big5() -> None:
    frame, encoding = parse_csv(BIG5_TEXT.encode("big5"), "t.csv")
    assert encoding == "big5"
    assert as_lists(frame) == [line.split(",") for line in BIG5_TEXT.splitlines()]


@pytest.mark.parametrize("text", [GBK_TEXT, "编号\n007\n", "邻里纠纷,婚姻家庭,已化解,调处中\n",
                                  "网格编号,户数\nW01,120\n"])
def test_gbk_ledger_text_stays_gb18030(text: str) -> None:
    frame, encoding = parse_csv(text.encode("gbk"), "t.csv")
    assert encoding == "gb18030"
    assert as_lists(frame) == [line.split(",") for line in text.splitlines()]


def test_encoding_is_judged_where_the_chinese_text_starts() -> None:
    """70 KB of ASCII-only rows first: the sample starts at the first
    Chinese text, so a Big5 file is still seen as Big5."""
    head = "".join(f"D-{i:05d},2024-03-05\n" for i in range(4000))
    data = ("ID,DATE\n" + head + "D-99999,鄰里糾紛調處中\n").encode("big5")
    assert len(data) > 64 * 1024
    frame, encoding = parse_csv(data, "t.csv")
    assert encoding == "big5"
    assert frame.iat[len(frame) - 1, 1] == "鄰里糾紛調處中"


def test_control_characters_mean_not_text() -> None:
    with pytest.raises(SourceError) as err:
        parse_csv(("编号,状态\n" + "\x01\x02\x03\x04" * 40 + "\n").encode("gbk"), "t.csv")
    assert err.value.message == "文件“t.csv”里有二进制内容（或是不带 BOM 的 UTF-16 文本），无法当作 CSV 读取。"


def test_text_unclear_between_gbk_and_big5_is_refused_not_misread() -> None:
    mixed = "编号,状态\n".encode("gbk") + "編號,狀態\n".encode("big5")
    with pytest.raises(SourceError) as err:
        parse_csv(mixed, "台账/纠纷台账.csv")
    assert str(err.value) == (
        "无法确定 CSV 文件“台账/纠纷台账.csv”的文字编码：按简体（GBK/GB18030）和繁体（Big5）"
        "读出来都不像正常的中文，为避免读错字，没有读取。"
        "请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"
    )


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>" * 50)
    return buf.getvalue()


@pytest.mark.parametrize(("data", "message"), [
    (bytes(range(256)) * 8,
     "错误：文件“{p}”里有二进制内容（或是不带 BOM 的 UTF-16 文本），无法当作 CSV 读取。"
     "请确认选对了文件；如果它是表格程序导出的，请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，"
     "再读取新文件。"),
    (bytes(range(1, 256)) * 8,
     "错误：CSV 文件“{p}”的文字编码无法识别（不是 UTF-8、GBK/GB18030、Big5 或 UTF-16）。"
     "请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"),
    (_xlsx_bytes(),
     "错误：文件“{p}”的扩展名是 .csv，内容却是 Excel 工作簿（.xlsx），不是 CSV 文本。"
     "请把扩展名改回 .xlsx 后再读取，或用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"),
    (b"\xff\xfe" + "编号\t状态\n".encode("utf-16-le") + b"\x00",
     "错误：CSV 文件“{p}”标明是 UTF-16（Unicode 文本）编码，但内容不完整或已损坏。"
     "请重新导出这个文件，或用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"),
    (b"\xef\xbb\xbf" + "编号\n".encode() + "东村\n".encode("gbk"),
     "错误：CSV 文件“{p}”标明是 UTF-8 编码，但其中有不是 UTF-8 的内容，文件可能已损坏。"
     "请重新导出这个文件，或用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"),
], ids=["binary", "binary-without-nul", "xlsx-renamed", "utf16-cut", "utf8-bom-with-gbk"])
def test_files_that_are_not_csv_text_are_refused_with_exit_2(
        tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "纠纷台账.csv"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip() == message.format(p=path)


def test_csv_header_not_found_says_how_the_file_was_read(tmp_path: Path) -> None:
    folder = tmp_path / "台账"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_bytes("序号;名称\n1;东村\n".encode("gbk"))
    findings = [f for f in validate_workbook(open_source(folder)).findings
                if f.sheet == "纠纷台账"]
    assert [f.code for f in findings] == ["csv-header-not-found"]
    assert findings[0].message == (
        "“纠纷台账”的前 20 行里找不到表头行（这个 CSV 文件是按分号分列、GB18030/GBK 编码读取的）。"
        "表头行要包含“编号”等列名；如果分列或文字看起来不对，请用 Excel 或 WPS 打开后另存为"
        "“CSV UTF-8（逗号分隔）”，再读取新文件。"
    )


def test_snapshot_reparses_with_the_same_delimiters_and_encodings(tmp_path: Path) -> None:
    folder = tmp_path / "台账"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_bytes(("sep=|\n" + csv_text(LEDGER_ROWS, "|")).encode("gbk"))
    (folder / "网格.csv").write_bytes(b"\xff\xfe" + "网格编号\t户数\nW01\t12\n".encode("utf-16-le"))
    (folder / "走访记录.csv").write_bytes(BIG5_TEXT.replace(",", ";").encode("big5"))
    fetched = fetch_source(folder)
    record = save_snapshot(fetched, tmp_path / "snaps",
                           clock=lambda: datetime(2024, 3, 5, tzinfo=UTC))
    again = open_snapshot(record.path)
    assert again.info.encodings == fetched.workbook.info.encodings == {
        "纠纷台账": "gb18030", "网格": "utf-16-le", "走访记录": "big5"}
    assert again.info.delimiters == fetched.workbook.info.delimiters == {
        "纠纷台账": "|", "网格": "\t", "走访记录": ";"}
    for sheet, table in fetched.workbook.tables.items():
        assert as_lists(again.tables[sheet].frame) == as_lists(table.frame)


# a cell: text of Chinese, ASCII, the candidate delimiters, quotes and line breaks
_cells = st.text(alphabet=st.sampled_from(list("东村纠纷ab1 ,;\t|\"\n\r")), max_size=6)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([",", ";", "\t", "|"]),
       st.integers(min_value=2, max_value=5).flatmap(
           lambda width: st.lists(st.lists(_cells, min_size=width, max_size=width),
                                  min_size=1, max_size=8)))
def test_any_table_round_trips_through_any_delimiter(delimiter: str,
                                                     rows: list[list[str]]) -> None:
    parsed = read_csv_bytes(csv_text(rows, delimiter).encode(), "t.csv")
    assert parsed.delimiter == delimiter
    assert as_lists(parsed.frame) == [[v or None for v in row] for row in rows]
