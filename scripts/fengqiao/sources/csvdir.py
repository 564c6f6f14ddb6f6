"""A folder of CSV files, one per tab (file stem = sheet name).

Every column is read as text, so ``007`` and 18-digit ID-like numbers come
through exactly as typed; the normaliser decides what is a number. The fast
path is pyarrow.csv; a file it cannot take (ragged rows, blank lines between
rows of a multi-column file, one record bigger than a parse block) is re-read
with the stdlib ``csv`` module, which pads short rows, so nothing is dropped
and row numbers stay those a spreadsheet program shows. The encoding,
delimiter and Excel ``sep=`` line are worked out by :mod:`.csvformat`.

Columns have the Arrow-backed ``string[pyarrow]`` dtype: cells are ``str``
and missing cells ``pd.NA`` (an xlsx frame is ``object`` with ``None``).
"""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from ..errors import SourceError
from .base import RawTable
from .csvformat import BOM, UTF16_BOMS, decode, layout, refuse_workbook
from .csvformat import is_utf8 as is_utf8  # re-exported: callers check UTF-8 here
from .guard import DEFAULT_LIMITS, Limits, read_regular_file

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


def _with_stdlib(body: bytes, delimiter: str) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=delimiter))
    frame = pd.DataFrame(rows, dtype=object)
    frame.columns = range(frame.shape[1])
    return frame.mask(frame == "", None).astype(TEXT)


def _read_arrow(body: bytes, delimiter: str) -> pd.DataFrame:
    """pyarrow.csv with every column as text (raises ``ArrowInvalid`` on a
    file it cannot take, invalid UTF-8 included)."""
    table = pacsv.read_csv(
        pa.BufferReader(pa.py_buffer(body)),  # the blocks are views of ``body``, not copies
        read_options=pacsv.ReadOptions(autogenerate_column_names=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                         ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(
            column_types=_ALL_TEXT, strings_can_be_null=True, null_values=[""],
            quoted_strings_can_be_null=True, check_utf8=True),
    )
    # the reader's blocks (~1 MB each) are kept as they are: hashing a
    # column of dates or statuses works on them directly, and a text column
    # is joined only when it is parsed (normalize.arrow_strings), so the
    # file's bytes and a joined copy of every column never coexist
    frame = table.to_pandas(types_mapper=_TEXT_TYPES.get)
    frame.columns = range(frame.shape[1])
    return frame


@dataclass(frozen=True)
class ParsedCsv:
    """One CSV file read: its cells and how its bytes were laid out."""

    frame: pd.DataFrame
    encoding: str  # a key of csvformat's names: utf-8, utf-8-sig, gb18030, big5, utf-16-le/-be
    delimiter: str


def _only_line_breaks(body: bytes) -> bool:
    """Nothing but line breaks? (looked at in full only when the first byte
    is one: stripping copies the whole file)"""
    return not body or (body[:1] in (b"\r", b"\n") and not body.strip(b"\r\n"))


def read_csv_bytes(data: bytes, display: str) -> ParsedCsv:
    """One CSV's bytes → a frame of text cells with positional columns, and
    the encoding and delimiter used (see :mod:`.csvformat`). Frame row ``i``
    is sheet row ``i + 1`` as Excel shows it: an Excel ``sep=`` first line
    is not a row (Excel hides it) and is dropped.

    A UTF-8 file (the usual case) is read by pyarrow straight away: every
    byte of it lands in some text cell, and pyarrow checks each cell is
    UTF-8, so a successful read is the encoding check too. Only a file it
    refuses goes through :func:`.csvformat.decode` (UTF-16, GB18030, Big5,
    or the stdlib reader for a ragged UTF-8 file)."""
    if not data:
        return ParsedCsv(pd.DataFrame(), "utf-8", ",")
    refuse_workbook(data, display)
    if not data.startswith(tuple(UTF16_BOMS)):
        if data.startswith(BOM):
            body, encoding = data[len(BOM):], "utf-8-sig"
        else:
            body, encoding = data, "utf-8"
        body, delimiter = layout(body)
        if _only_line_breaks(body):
            return ParsedCsv(pd.DataFrame(), encoding, delimiter)
        try:
            return ParsedCsv(_read_arrow(body, delimiter), encoding, delimiter)
        except pa.ArrowInvalid:
            pass
    body, encoding = decode(data, display)
    body, delimiter = layout(body)
    if not body.strip(b"\r\n"):
        return ParsedCsv(pd.DataFrame(), encoding, delimiter)
    if encoding not in ("utf-8", "utf-8-sig"):  # UTF-8 has had its pyarrow try
        try:
            return ParsedCsv(_read_arrow(body, delimiter), encoding, delimiter)
        except pa.ArrowInvalid:
            pass
    return ParsedCsv(_with_stdlib(body, delimiter), encoding, delimiter)


def parse_csv(data: bytes, display: str) -> tuple[pd.DataFrame, str]:
    """(frame, encoding) of :func:`read_csv_bytes`, for callers that do not
    need the delimiter."""
    parsed = read_csv_bytes(data, display)
    return parsed.frame, parsed.encoding


def csv_files(folder: Path) -> list[Path]:
    """The tab files of a folder, skipping hidden files and the ``~$`` lock
    files Office leaves next to an open file. A ``.csv`` that is not a
    regular file (a FIFO, a link to a device) is listed, so that reading it
    says what is wrong instead of the tab silently going missing."""
    return sorted(
        (p for p in folder.iterdir()
         if p.suffix.lower() == ".csv" and not p.name.startswith((".", "~$"))
         and p.exists() and not p.is_dir()),
        key=lambda p: p.name,
    )


def read_csv_members(
    members: list[tuple[str, bytes]], display: str
) -> tuple[dict[str, RawTable], dict[str, str], dict[str, str]]:
    """(file name, bytes) pairs → tables, and the encoding and delimiter of
    each tab (for ``SourceInfo``, so messages can say how a tab was read).
    Used for a live folder and for a stored snapshot zip alike, so both
    parse the same way."""
    tables: dict[str, RawTable] = {}
    encodings: dict[str, str] = {}
    delimiters: dict[str, str] = {}
    for name, data in members:
        sheet = Path(name).stem
        # a single .csv file is its own display name; a folder's or zip's
        # member is named inside it
        label = display if Path(display).name == name else f"{display}/{name}"
        parsed = read_csv_bytes(data, label)
        tables[sheet] = RawTable(name=sheet, frame=parsed.frame, first_row=1)
        encodings[sheet] = parsed.encoding
        delimiters[sheet] = parsed.delimiter
    return tables, encodings, delimiters


def folder_members(folder: Path, display: str,
                   limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, bytes]]:
    files = csv_files(folder)
    if not files:
        raise SourceError(
            f"文件夹“{display}”里没有 CSV 文件。",
            hint="请把每张工作表另存为一个 .csv 文件放进这个文件夹，文件名就是工作表名，例如“纠纷台账.csv”。",
        )
    return [(p.name, read_regular_file(p, f"{display}/{p.name}", limits)) for p in files]
