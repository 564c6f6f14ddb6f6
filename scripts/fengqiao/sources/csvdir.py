"""A folder of CSV files, one per tab (file stem = sheet name).

Every column is read as text, so ``007`` and 18-digit ID-like numbers come
through exactly as typed; the normaliser decides what is a number. The fast
path is pyarrow.csv; a file it cannot take (ragged rows, blank lines between
rows of a multi-column file, one record bigger than a parse block) is re-read
with the stdlib ``csv`` module, which pads short rows, so nothing is dropped
and row numbers stay those a spreadsheet program shows.

Columns have the Arrow-backed ``string[pyarrow]`` dtype: cells are ``str``
and missing cells ``pd.NA`` (an xlsx frame is ``object`` with ``None``).
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import SourceError
from .base import RawTable

BOM = b"\xef\xbb\xbf"
# Excel's widest sheet; column_types for names that do not occur are ignored.
_MAX_COLUMNS = 16384
# Read as large_string, the type pandas keeps Arrow text in (it would cast a
# ``string`` column, copying it).
_ALL_TEXT = {f"f{i}": pa.large_string() for i in range(_MAX_COLUMNS)}
#: CSV cells are text; kept Arrow-backed (missing = ``pd.NA``) because turning a
#: million-row file into Python ``str`` objects costs more than parsing it
TEXT = pd.StringDtype("pyarrow")
_TEXT_TYPES = {pa.string(): TEXT, pa.large_string(): TEXT}

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def is_utf8(data: bytes) -> bool:
    """Whether the bytes are valid UTF-8, checked by Arrow's validator over
    the bytes in place: ``bytes.decode`` would build a Python string of the
    whole file (hundreds of MB for a million rows) only to throw it away.
    Both reject the same things (overlong forms, surrogates, code points
    past U+10FFFF, cut-off sequences)."""
    whole = pa.Array.from_buffers(
        pa.large_string(), 1,
        [None, pa.py_buffer(np.array([0, len(data)], dtype=np.int64)), pa.py_buffer(data)])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def decode(data: bytes, display: str) -> tuple[str | None, bytes, str]:
    """Guess the encoding the way township files come: UTF-8 (with or without
    the BOM Excel adds) or GB18030/GBK (what Excel and WPS on Chinese Windows
    save as "CSV"). Returns (text if it had to be transcoded, utf-8 bytes,
    encoding name)."""
    if data.startswith(BOM):
        body = data[len(BOM):]
        encoding = "utf-8-sig"
    else:
        body = data
        encoding = "utf-8"
    if is_utf8(body):
        return None, body, encoding
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"CSV 文件“{display}”的文字编码无法识别（既不是 UTF-8，也不是 GBK/GB18030）。",
            hint="请用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”。",
        ) from exc
    return text, text.encode("utf-8"), "gb18030"


def _with_stdlib(body: bytes) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    frame = pd.DataFrame(rows, dtype=object)
    frame.columns = range(frame.shape[1])
    return frame.mask(frame == "", None).astype(TEXT)


def _read_arrow(body: bytes) -> pd.DataFrame:
    """pyarrow.csv with every column as text (raises ``ArrowInvalid`` on a
    file it cannot take, invalid UTF-8 included)."""
    table = pacsv.read_csv(
        io.BytesIO(body),
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=_ALL_TEXT, strings_can_be_null=True, null_values=[""],
            quoted_strings_can_be_null=True, check_utf8=True),
    )
    # one chunk per column: the reader makes one per block (~1 MB), and the
    # column-wise checks downstream work on whole arrays
    frame = table.combine_chunks().to_pandas(types_mapper=_TEXT_TYPES.get)
    frame.columns = range(frame.shape[1])
    return frame


def parse_csv(data: bytes, display: str) -> tuple[pd.DataFrame, str]:
    """One CSV's bytes → (frame of text cells with positional columns,
    encoding used). Frame row ``i`` is CSV record ``i + 1``.

    A UTF-8 file (the usual case) is read by pyarrow straight away: every
    byte of it lands in some text cell, and pyarrow checks each cell is
    UTF-8, so a successful read is the encoding check too. Only a file it
    refuses goes through :func:`decode` (GB18030, or the stdlib reader)."""
    if not data:
        return pd.DataFrame(), "utf-8"
    if data.startswith(BOM):
        body, encoding = data[len(BOM):], "utf-8-sig"
    else:
        body, encoding = data, "utf-8"
    # only line breaks? (looked at in full only when the first byte is one:
    # stripping copies the whole file)
    if not body or (body[:1] in (b"\r", b"\n") and not body.strip(b"\r\n")):
        return pd.DataFrame(), encoding
    try:
        return _read_arrow(body), encoding
    except pa.ArrowInvalid:
        pass
    _text, body, encoding = decode(data, display)
    if not body.strip(b"\r\n"):
        return pd.DataFrame(), encoding
    if encoding == "gb18030":
        try:
            return _read_arrow(body), encoding
        except pa.ArrowInvalid:
            pass
    return _with_stdlib(body), encoding


def csv_files(folder: Path) -> list[Path]:
    """The tab files of a folder, skipping hidden files and the ``~$`` lock
    files Office leaves next to an open file."""
    return sorted(
        (p for p in folder.iterdir()
         if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith((".", "~$"))),
        key=lambda p: p.name,
    )


def read_csv_members(
    members: list[tuple[str, bytes]], display: str
) -> tuple[dict[str, RawTable], dict[str, str]]:
    """(file name, bytes) pairs → tables and the encoding of each tab. Used
    for a live folder and for a stored snapshot zip alike, so both parse the
    same way."""
    tables: dict[str, RawTable] = {}
    encodings: dict[str, str] = {}
    for name, data in members:
        sheet = Path(name).stem
        frame, encoding = parse_csv(data, f"{display}/{name}")
        tables[sheet] = RawTable(name=sheet, frame=frame, first_row=1)
        encodings[sheet] = encoding
    return tables, encodings


def folder_members(folder: Path, display: str) -> list[tuple[str, bytes]]:
    files = csv_files(folder)
    if not files:
        raise SourceError(
            f"文件夹“{display}”里没有 CSV 文件。",
            hint="请把每张工作表另存为一个 .csv 文件放进这个文件夹，文件名就是工作表名，例如“纠纷台账.csv”。",
        )
    out: list[tuple[str, bytes]] = []
    for p in files:
        try:
            out.append((p.name, p.read_bytes()))
        except OSError as exc:
            raise SourceError(
                f"无法读取 CSV 文件“{display}/{p.name}”：{exc.strerror or exc}。",
                hint="请确认文件没有被其他程序占用，并且有读取权限。",
            ) from exc
    return out
