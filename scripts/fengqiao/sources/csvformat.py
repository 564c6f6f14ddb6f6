"""How a CSV file's bytes are laid out: text encoding, delimiter, ``sep=`` line.

Township PCs write "CSV" in several shapes, and none of them says which:

- **Encoding.** Excel's "CSV UTF-8" (with a BOM), plain UTF-8 from other
  tools, GB18030/GBK from Excel and WPS on simplified-Chinese Windows
  ("CSV（逗号分隔）"), Big5 from traditional-Chinese Windows, and UTF-16
  with a BOM from Excel's "Unicode 文本" (which is tab-separated).
- **Delimiter.** A comma, or a semicolon where Windows' list separator is
  one, a tab ("Unicode 文本", copies out of other programs), a pipe from
  some exports.
- **``sep=`` line.** Excel honours a first line ``sep=;`` as the delimiter and
  does not show it: row 1 in Excel is the line after it.

Everything here is decided from the bytes alone, deterministically, so a
stored snapshot re-parses exactly as the live read did. UTF-8 stays the fast
path: a file that is valid UTF-8 is never put through encoding detection,
and delimiter detection looks at the first :data:`SNIFF_BYTES` only.
"""

from __future__ import annotations

import codecs
import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa

from ..errors import SourceError
from .xlsx import OLE_MAGIC, ZIP_MAGIC

BOM = b"\xef\xbb\xbf"
UTF16_BOMS = {b"\xff\xfe": "utf-16-le", b"\xfe\xff": "utf-16-be"}
#: candidate delimiters, in the order that settles a tie
DELIMITERS = (",", ";", "\t", "|")
#: delimiter detection reads this much of a file, and at most SNIFF_LINES lines
SNIFF_BYTES = 16 * 1024
SNIFF_LINES = 20
#: GB18030-or-Big5 detection reads this much of a file
ENCODING_SAMPLE_BYTES = 64 * 1024
#: the Python codec for each encoding name recorded in ``SourceInfo.encodings``
#: (Windows' Big5 is code page 950, a superset of plain Big5)
CODECS = {"gb18030": "gb18030", "big5": "cp950"}

# A first line "sep=X" (Excel's delimiter directive): X is one ASCII
# character other than a quote or a line break.
_SEP_LINE = re.compile(rb"sep=([\x01-\x09\x0b\x0c\x0e-\x21\x23-\x7f])[ \t]*(?:\r\n|\n|\r|\Z)",
                       re.IGNORECASE)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NON_ASCII = re.compile(rb"[\x80-\xff]")
# C0 control characters other than tab and line breaks: text has few or none
_CONTROL = frozenset(chr(c) for c in range(32) if chr(c) not in "\t\n\r")

_DELIMITER_NAMES = {",": "逗号", ";": "分号", "\t": "制表符（Tab）", "|": "竖线"}
_ENCODING_NAMES = {
    "utf-8": "UTF-8", "utf-8-sig": "UTF-8（带 BOM）", "gb18030": "GB18030/GBK",
    "big5": "Big5（繁体）", "utf-16-le": "UTF-16（Unicode 文本）",
    "utf-16-be": "UTF-16（Unicode 文本）",
}
_RESAVE = "用 Excel 或 WPS 打开后另存为“CSV UTF-8（逗号分隔）”，再读取新文件。"


def describe(encoding: str, delimiter: str) -> str:
    """How a CSV tab was read, in the words a finding shows the user
    ("分号分列、GB18030/GBK 编码")."""
    sep = _DELIMITER_NAMES.get(delimiter, f"“{delimiter}”")
    return f"{sep}分列、{_ENCODING_NAMES.get(encoding, encoding)} 编码"


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


# -- delimiter -----------------------------------------------------------------


def sniff_delimiter(sample: str, *, truncated: bool = False) -> str:
    """The delimiter of a CSV whose first lines are ``sample``.

    Quoted stretches are blanked first (a ``"`` toggles in and out of
    quotes; a doubled ``""`` inside quotes toggles twice), so a delimiter or
    a line break inside a quoted cell counts for nothing. Then, over the
    first :data:`SNIFF_LINES` non-empty lines, each candidate is scored by
    how many lines share its most common field count, among lines where it
    occurs at all: title rows above the header and a stray comma in free
    text do not disturb the count. The highest score wins; a tie goes to
    more fields, then to the order of :data:`DELIMITERS`. A file where no
    candidate occurs (one column) is comma-separated. ``truncated`` says the
    sample was cut from a longer file, so its last line may be incomplete
    and is dropped."""
    outside = "".join(sample.split('"')[0::2])
    lines = _LINE_BREAK.split(outside)
    if truncated and len(lines) > 1:
        lines.pop()
    lines = [line for line in lines if line][:SNIFF_LINES]
    best, best_score = ",", (0, 0)
    for d in DELIMITERS:
        fields = Counter(n + 1 for n in (line.count(d) for line in lines) if n)
        if not fields:
            continue
        support, width = max((count, width) for width, count in fields.items())
        if (support, width) > best_score:
            best, best_score = d, (support, width)
    return best


def split_sep_line(body: bytes) -> tuple[bytes, str | None]:
    """``body`` without Excel's ``sep=X`` first line, and X (None when
    there is no such line).

    Excel takes X as the delimiter and does not display the line, so the
    spreadsheet's row 1 is the line after it. Dropping the line here keeps
    frame row ``i`` = sheet row ``i + 1``, and every finding names the cell
    Excel shows."""
    m = _SEP_LINE.match(body)
    if m is None:
        return body, None
    return body[m.end():], m.group(1).decode("ascii")


def layout(body: bytes) -> tuple[bytes, str]:
    """UTF-8 ``body`` → (records without a ``sep=`` line, delimiter): the
    ``sep=`` line's delimiter when there is one, else the sniffed one."""
    body, sep = split_sep_line(body)
    if sep is not None:
        return body, sep
    head = body[:SNIFF_BYTES]
    return body, sniff_delimiter(head.decode("utf-8", "replace"),
                                 truncated=len(body) > SNIFF_BYTES)


# -- encoding ------------------------------------------------------------------


def decode(data: bytes, display: str) -> tuple[bytes, str]:
    """A CSV's bytes → (its records as UTF-8 bytes, encoding name).

    A UTF-16 BOM means UTF-16 (Excel's "Unicode 文本"); a UTF-8 BOM means
    UTF-8 and nothing else; bytes that are valid UTF-8 are UTF-8. Any other
    file is GB18030 or Big5, told apart by :func:`legacy_encoding`. A file
    that is none of these, a workbook saved under a ``.csv`` name, or bytes
    that are not text at all are refused with the file named, never read as
    garbled text."""
    for bom, name in UTF16_BOMS.items():
        if data.startswith(bom):
            try:
                text = data[len(bom):].decode(name)
            except UnicodeDecodeError as exc:
                raise SourceError(
                    f"CSV 文件“{display}”标明是 UTF-16（Unicode 文本）编码，但内容不完整或已损坏。",
                    hint="请重新导出这个文件，或" + _RESAVE,
                ) from exc
            _refuse_binary(text[:ENCODING_SAMPLE_BYTES], display)
            return text.encode("utf-8"), name
    if data.startswith(BOM):
        body = data[len(BOM):]
        if not is_utf8(body):
            raise SourceError(
                f"CSV 文件“{display}”标明是 UTF-8 编码，但其中有不是 UTF-8 的内容，文件可能已损坏。",
                hint="请重新导出这个文件，或" + _RESAVE,
            )
        return body, "utf-8-sig"
    if is_utf8(data):
        return data, "utf-8"
    refuse_workbook(data, display)
    encoding = legacy_encoding(data, display)
    try:
        text = data.decode(CODECS[encoding])
    except UnicodeDecodeError as exc:
        raise _unknown_encoding(display) from exc
    return text.encode("utf-8"), encoding


def refuse_workbook(data: bytes, display: str) -> None:
    """Refuse an Excel workbook saved under a ``.csv`` name (it starts with
    the zip or OLE signature, which no text file does), instead of reading
    its bytes as cells."""
    if data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        suffix = ".xlsx" if data.startswith(ZIP_MAGIC) else ".xls"
        raise SourceError(
            f"文件“{display}”的扩展名是 .csv，内容却是 Excel 工作簿（{suffix}），不是 CSV 文本。",
            hint=f"请把扩展名改回 {suffix} 后再读取，或" + _RESAVE,
        )


def legacy_encoding(data: bytes, display: str) -> str:
    """GB18030 or Big5 for bytes that are not UTF-8, decided from
    :data:`ENCODING_SAMPLE_BYTES` from the line of the first non-ASCII byte.

    The two overlap: most byte pairs are valid in both, so decoding alone
    does not tell them apart, and neither does charset-normalizer on short
    files (it takes a GBK "编号" file for Big5). The rule, from how the two
    standards lay out their characters:

    - a sample that decodes in only one of them is that one;
    - otherwise count, in each reading, the characters that are not
      everyday text in that encoding: outside GB2312's hanzi and punctuation
      rows (A1–A3, B0–F7) for GB18030, outside Big5's symbols and
      frequently-used hanzi (A140–A3BF, A440–C67E) for Big5. Real text has
      almost none in its own encoding, and the wrong reading turns many
      characters into rare ones, kana or private-use code points;
    - the reading with fewer such characters wins when it has none, or at
      most a quarter as many as the other;
    - when neither has any (a few characters common in both readings, such
      as GBK "编号" = Big5 "晤瘍"), GB18030 wins: it is what simplified-
      Chinese Windows writes, and a longer Big5 text never ties;
    - anything else is refused rather than misread.

    NUL bytes, or many control characters in the chosen reading, mean the
    file is not text and it is refused."""
    # the sample starts at the line of the first non-ASCII byte: a large
    # file may open with thousands of ASCII-only rows, which tell nothing
    # (a line break is never part of a GB18030 or Big5 character)
    first = _NON_ASCII.search(data)
    start = 0 if first is None else data.rfind(b"\n", 0, first.start()) + 1
    sample = data[start:start + ENCODING_SAMPLE_BYTES]
    truncated = start + ENCODING_SAMPLE_BYTES < len(data)
    if b"\x00" in sample or b"\x00" in data[:ENCODING_SAMPLE_BYTES]:
        raise _not_text(display)
    readings = {name: _decode_start(sample, codec, truncated) for name, codec in CODECS.items()}
    gb, big5 = readings["gb18030"], readings["big5"]
    if gb is None and big5 is None:
        raise _unknown_encoding(display)
    if big5 is None or gb is None:
        chosen = "gb18030" if big5 is None else "big5"
    else:
        gb_odd = _uncommon(gb, _everyday_gb)
        big5_odd = _uncommon(big5, _everyday_big5)
        if gb_odd <= big5_odd and (gb_odd == 0 or 4 * gb_odd <= big5_odd):
            chosen = "gb18030"
        elif big5_odd < gb_odd and (big5_odd == 0 or 4 * big5_odd <= gb_odd):
            chosen = "big5"
        else:
            raise SourceError(
                f"无法确定 CSV 文件“{display}”的文字编码：按简体（GBK/GB18030）和繁体（Big5）"
                "读出来都不像正常的中文，为避免读错字，没有读取。",
                hint="请" + _RESAVE,
            )
    text = readings[chosen]
    assert text is not None
    _refuse_binary(text, display)
    return chosen


def _decode_start(sample: bytes, codec: str, truncated: bool) -> str | None:
    """The sample decoded, or None when it is not valid in ``codec``; a
    character cut at the end of a truncated sample is left out."""
    try:
        return codecs.getincrementaldecoder(codec)("strict").decode(sample, final=not truncated)
    except UnicodeDecodeError:
        return None


def _uncommon(text: str, everyday: Callable[[str], bool]) -> int:
    """How many non-ASCII characters of ``text`` fail the ``everyday`` test
    (each distinct character is tested once)."""
    return sum(n for ch, n in Counter(text).items() if ord(ch) > 0x7F and not everyday(ch))


def _everyday_gb(ch: str) -> bool:
    """In GB2312's punctuation rows (A1–A3) or its hanzi (B0–F7)."""
    try:
        code = ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return len(code) == 2 and (0xA1 <= code[0] <= 0xA3 or 0xB0 <= code[0] <= 0xF7)


def _everyday_big5(ch: str) -> bool:
    """In Big5's symbols (A140–A3BF) or frequently-used hanzi (A440–C67E)."""
    try:
        code = ch.encode("cp950")
    except UnicodeEncodeError:
        return False
    if len(code) != 2:
        return False
    n = int.from_bytes(code, "big")
    return 0xA140 <= n <= 0xA3BF or 0xA440 <= n <= 0xC67E


def _refuse_binary(text: str, display: str) -> None:
    """Refuse a decoded sample with NULs or more than 1% control characters:
    such bytes are not a text file, whatever they decode to."""
    counts = Counter(text)
    controls = sum(n for ch, n in counts.items() if ch in _CONTROL)
    if "\x00" in counts or controls * 100 > max(len(text), 1):
        raise _not_text(display)


def _not_text(display: str) -> SourceError:
    return SourceError(
        f"文件“{display}”里有二进制内容（或是不带 BOM 的 UTF-16 文本），无法当作 CSV 读取。",
        hint="请确认选对了文件；如果它是表格程序导出的，请" + _RESAVE,
    )


def _unknown_encoding(display: str) -> SourceError:
    return SourceError(
        f"CSV 文件“{display}”的文字编码无法识别（不是 UTF-8、GBK/GB18030、Big5 或 UTF-16）。",
        hint="请" + _RESAVE,
    )
