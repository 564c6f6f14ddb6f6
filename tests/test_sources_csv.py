"""The CSV-folder reader: every cell is text, encodings are detected, and
row numbers are those a spreadsheet program shows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fengqiao.errors import SourceError
from fengqiao.sources import open_source
from fengqiao.sources.csvdir import parse_csv


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
        "CSV 文件“台账/纠纷台账.csv”的文字编码无法识别（既不是 UTF-8，也不是 GBK/GB18030）。"
        "请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”。"
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
