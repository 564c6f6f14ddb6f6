"""Spreadsheet files read with python-calamine: OOXML (.xlsx/.xlsm, and WPS
.et files, which are OOXML inside) and OpenDocument (.ods).

calamine is roughly an order of magnitude faster than openpyxl, but it hands
back two kinds of formula cells as empty cells: those whose cached result is
an error (``#REF!``) and those saved without any result (files written by
scripts). The downstream contract is that the first hold the error text and
the second an :class:`~fengqiao.sources.base.UnsavedFormula` marker, so those
cells alone are recovered from the sheet XML: byte searches (``t="e"``, an
``<f>`` with no ``<v>``) find them without parsing the rest of the sheet.

Before calamine sees a workbook its size is bounded (``guard``): the zip
directory, each sheet's declared ``<dimension>`` and the cell references
actually present, because calamine allocates every cell of the rectangle
from A1 to the last reference and aborts the process when that fails.

Every sheet is read from cell A1 (``skip_empty_area=False``), so frame row
``i`` is sheet row ``i + 1`` and frame column 0 is sheet column A, whatever
title rows or blank columns come first.
"""

from __future__ import annotations

import io
import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from typing import Any
from xml.sax.saxutils import unescape

import numpy as np
import pandas as pd
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from ..errors import SourceError
from .base import RawTable, UnsavedFormula
from .guard import DEFAULT_LIMITS, Limits, check_extent, check_zip_sizes
from .ods import ODS_MIMETYPES, OdsSheet, ods_layout

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")
_SAVE_AS_XLSX = "请用 Excel 或 WPS 打开它，选择“另存为”，保存类型选“Excel 工作簿（*.xlsx）”，再用新文件重试。"

_CELL_REF = re.compile(rb"\br\s*=\s*[\"']([A-Za-z]{1,3})(\d+)[\"']")
_MERGE_REF = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*\bref\s*=\s*[\"']([A-Za-z]+)(\d+):([A-Za-z]+)(\d+)[\"']")
_V_OPEN = re.compile(rb"<(?:\w+:)?v\b[^>]*>")
_V_CLOSE = re.compile(rb"</(?:\w+:)?v>")
_C_END = re.compile(rb"</(?:\w+:)?c>")
_MAX_GROW = 200

#: the first bytes of a sheet part searched for its <dimension> (it comes
#: before <sheetData>, after at most a <sheetPr>)
_HEAD_BYTES = 64 * 1024
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\b[^>]*\bref\s*=\s*[\"']([^\"']*)[\"']")
_SHEET_DATA = re.compile(rb"<(?:\w+:)?sheetData\b")
_A1 = re.compile(r"\$?([A-Za-z]+)\$?(\d+)")
# Cell references past column Z or with seven digits or more (rows from
# 1,000,000; written with leading zeros, fewer): a ledger of up to 26
# columns and under a million rows has none, so one search settles its
# extent. Possessive, so that each of the million references it passes
# costs a few steps.
_ODD_REF = {q: re.compile(rb" r=" + q + rb"(?:[A-Za-z]{2}|[A-Za-z]?+\d{7})") for q in (b'"', b"'")}
_WIDE_REF = re.compile(rb" r=[\"'][A-Za-z]{2}")
#: a cell tag that does not start with its reference (every common writer
#: puts ``r`` first; one that omits it has its cells placed by position)
_LOOSE_CELL = re.compile(rb"<c(?! r=\")[\s>/]")
_REF_LETTERS = {n: re.compile(rb" r=[\"']([A-Za-z]{%d})\d" % n) for n in (4, 3, 2)}
_REF_DIGITS = {d: re.compile(rb" r=[\"'][A-Za-z]{0,3}+0*+([1-9]\d{%d})[\"']" % (d - 1))
               for d in range(1, 8)}
_LONG_REF = re.compile(rb" r=[\"'][A-Za-z]{0,3}+0*+([1-9]\d{6,})[\"']")
_F_OPEN = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?f[\s/>]")
_F_CLOSE = re.compile(rb"</(?:\w+:)?f>")
_T_ATTR = re.compile(rb"\bt\s*=\s*[\"']([^\"']*)[\"']")
# what a cell with a formula and no result looks like: a formula closed and
# the cell closed right after, a self-closed last child, or an empty <v>
_NO_RESULT = (re.compile(rb"</f>\s*</c>"), re.compile(rb"/>\s*</c>"),
              re.compile(rb"<v\s*/>"), re.compile(rb"<v>\s*</v>"))


def check_workbook_bytes(data: bytes, display: str) -> None:
    """Reject, with a fix the user can apply, the files that are not an
    OOXML zip at all: empty files, password-protected workbooks and
    Excel 97-2003 files (both are OLE compound files)."""
    if not data:
        raise SourceError(
            f"文件“{display}”是空的（0 字节），里面没有任何内容。",
            hint="可能是保存或复制时中断了，请重新保存或重新复制这个文件。",
        )
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTED_STREAM in data:
            raise SourceError(
                f"工作簿“{display}”设置了打开密码，程序无法读取。",
                hint="请在 Excel 或 WPS 中打开它，取消“用密码进行加密”（把密码清空）后保存，再用新文件重试。",
            )
        raise SourceError(
            f"“{display}”是旧版 Excel 97-2003 格式（.xls），程序不支持这种格式。",
            hint=_SAVE_AS_XLSX,
        )
    if not data.startswith(ZIP_MAGIC):
        raise SourceError(
            f"“{display}”不是真正的 Excel 工作簿（.xlsx），可能只是改了扩展名，或者文件已损坏。",
            hint=_SAVE_AS_XLSX,
        )


def _corrupt(display: str) -> SourceError:
    return SourceError(
        f"工作簿“{display}”已损坏，无法打开（压缩包结构不完整）。",
        hint="请用 Excel 或 WPS 打开并另存一份；如果打不开，请找回之前保存的版本或重新下载。",
    )


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n - 1


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sheet_xml_paths(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → path of its XML part inside the zip."""
    workbook_path = "xl/workbook.xml"
    try:
        root_rels = ET.fromstring(zf.read("_rels/.rels"))
        for rel in root_rels:
            if rel.get("Type", "").endswith("/officeDocument"):
                workbook_path = rel.get("Target", workbook_path).lstrip("/")
    except KeyError:
        pass
    base = posixpath.dirname(workbook_path)
    rels_path = posixpath.join(base, "_rels", posixpath.basename(workbook_path) + ".rels")
    targets: dict[str, str] = {}
    for rel in ET.fromstring(zf.read(rels_path)):
        target = rel.get("Target", "")
        path = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(base, target))
        targets[rel.get("Id", "")] = path
    out: dict[str, str] = {}
    for el in ET.fromstring(zf.read(workbook_path)).iter():
        if _local(el.tag) != "sheet":
            continue
        rid = next((v for k, v in el.attrib.items() if _local(k) == "id"), None)
        name = el.get("name")
        if name is not None and rid in targets:
            out[name] = targets[rid]
    return out


def _error_cells_by_parse(xml: bytes) -> list[tuple[int, int, str]]:
    """Slow path for writers that omit the optional ``r`` attribute: walk
    the sheet and count positions. Only used when such a file appears."""
    out: list[tuple[int, int, str]] = []
    row = -1
    col = -1
    for event, el in ET.iterparse(io.BytesIO(xml), events=("start", "end")):
        name = _local(el.tag)
        if event == "start":
            if name == "row":
                r = el.get("r")
                row = int(r) - 1 if r else row + 1
                col = -1
            continue
        if name == "c":
            ref = el.get("r")
            if ref:
                m = re.match(r"([A-Za-z]+)(\d+)", ref)
                if m:
                    col = _col_index(m.group(1).encode())
                    row = int(m.group(2)) - 1
            else:
                col += 1
            if el.get("t") == "e":
                v = next((c.text for c in el if _local(c.tag) == "v"), None)
                if v:
                    out.append((row, col, v))
        elif name == "row":
            el.clear()
    return out


def _error_cells(xml: bytes) -> list[tuple[int, int, str]]:
    """(row, col, error text) of every cell whose cached value is an error.
    Only the bytes around each ``t="e"`` are looked at."""
    hits: list[int] = []
    for needle in (b't="e"', b"t='e'"):
        pos = xml.find(needle)
        while pos != -1:
            hits.append(pos)
            pos = xml.find(needle, pos + 1)
    out: list[tuple[int, int, str]] = []
    for pos in sorted(hits):
        start = xml.rfind(b"<", 0, pos)
        end = xml.find(b">", pos)
        if start == -1 or end == -1:
            continue
        tag = xml[start:end + 1]
        if not re.match(rb"<(?:\w+:)?c\s", tag):
            continue  # the text t="e" inside a string, not a cell's type
        ref = _CELL_REF.search(tag)
        if ref is None:
            return _error_cells_by_parse(xml)
        if tag.endswith(b"/>"):
            continue
        close = _C_END.search(xml, end)
        limit = close.start() if close else len(xml)
        vo = _V_OPEN.search(xml, end, limit)
        if vo is None:
            continue
        vc = _V_CLOSE.search(xml, vo.end(), limit)
        if vc is None:
            continue
        text = unescape(xml[vo.end():vc.start()].decode("utf-8"), {"&quot;": '"', "&apos;": "'"})
        if text:
            out.append((int(ref.group(2)) - 1, _col_index(ref.group(1)), text))
    return out


def _merged_from_xml(xml: bytes) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    start = xml.rfind(b"sheetData")  # <mergeCells> follows <sheetData> in every sheet
    if start == -1 or xml.find(b"mergeCell", start) == -1:
        return []
    out = []
    for m in _MERGE_REF.finditer(xml, start):
        out.append(((int(m.group(2)) - 1, _col_index(m.group(1))),
                    (int(m.group(4)) - 1, _col_index(m.group(3)))))
    return out


def _declared_extent(zf: zipfile.ZipFile, part: str) -> tuple[int, int] | None:
    """(last row, last column) of a sheet's ``<dimension ref="A1:T1000"/>``,
    read from the first bytes of the part only (the part itself may be
    huge); None when the sheet declares none."""
    with zf.open(part) as fh:
        head = fh.read(_HEAD_BYTES)
    cut = _SHEET_DATA.search(head)
    m = _DIMENSION.search(head, 0, cut.start() if cut else len(head))
    if m is None:
        return None
    last = _A1.fullmatch(m.group(1).decode("ascii", "replace").split(":")[-1].strip())
    if last is None:
        return None
    return int(last.group(2)), _col_index(last.group(1).encode()) + 1


def _sheet_data_span(xml: bytes) -> tuple[int, int]:
    start = _SHEET_DATA.search(xml)
    end = xml.rfind(b"sheetData>")
    return (start.start() if start else 0), (end if end != -1 else len(xml))


def _within(rows: int, columns: int, limits: Limits) -> bool:
    return rows <= limits.rows and columns <= limits.columns and rows * columns <= limits.cells


def _last_column(xml: bytes, lo: int, hi: int) -> int:
    """The last column a cell reference names when it is past Z; else 26
    (a bound: no reference names more than one letter)."""
    if _WIDE_REF.search(xml, lo, hi) is None:
        return 26
    if _REF_LETTERS[4].search(xml, lo, hi):
        return 18_279  # AAAA: past every column Excel has
    for n in (3, 2):
        if _REF_LETTERS[n].search(xml, lo, hi):
            letters = max(x.upper() for x in set(_REF_LETTERS[n].findall(xml, lo, hi)))
            return _col_index(letters) + 1
    return 26


def _last_row(xml: bytes, lo: int, hi: int, *, exact: bool, long_from: int = 0) -> int:
    """The last row a reference names. Only the references with the most
    digits are looked at one by one; without ``exact``, 10**d − 1 stands for
    a d-digit row number below a million. No row from 1,000,000 on is
    referenced before ``long_from``."""
    found = _LONG_REF.findall(xml, max(lo, long_from), hi)  # few, even in a long sheet
    if found:
        return max(int(x) for x in set(found))
    for d in range(6, 0, -1):
        if exact:
            found = _REF_DIGITS[d].findall(xml, lo, hi)
            if found:
                return int(max(found))
        elif _REF_DIGITS[d].search(xml, lo, hi):
            return 10**d - 1
    return 0


def _extent_by_parse(xml: bytes) -> tuple[int, int]:
    """(last row, last column) the way a reader places cells when the
    optional ``r`` attributes are missing: one after another."""
    last_row = last_col = 0
    row = 0
    col = 0
    for event, el in ET.iterparse(io.BytesIO(xml), events=("start", "end")):
        name = _local(el.tag)
        if event == "start":
            if name == "row":
                r = el.get("r")
                row = int(r) if r and r.isdigit() else row + 1
                col = 0
            elif name == "c":
                ref = _A1.fullmatch(el.get("r") or "")
                if ref:
                    col = _col_index(ref.group(1).encode()) + 1
                    row = int(ref.group(2))
                else:
                    col += 1
                last_row, last_col = max(last_row, row), max(last_col, col)
        elif name == "row":
            el.clear()
    return last_row, last_col


def check_sheet_extent(xml: bytes, *, sheet: str, display: str,
                       limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a sheet whose cells reach past the limits, whatever its
    ``<dimension>`` claims (calamine allocates up to the last reference, and
    a reader places a cell without a reference after the one before it).
    A ledger under a million rows and 26 columns costs two searches; a
    wider or longer one has only its references past Z or past row 999,999
    looked at one by one (the searches start at the first of them)."""
    lo, hi = _sheet_data_span(xml)
    quotes = [b'"']
    if _LOOSE_CELL.search(xml, lo, hi):
        cells, rows = xml.count(b"<c", lo, hi), xml.count(b"<row", lo, hi)
        refs = xml.count(b' r="', lo, hi)
        if refs < cells + rows:
            refs += xml.count(b" r='", lo, hi)
            quotes.append(b"'")
        if refs < cells + rows:  # some cells are placed by position: walk them
            last_row, last_col = _extent_by_parse(xml)
            check_extent(last_row, last_col, sheet=sheet, display=display, limits=limits)
            return
    odd = [m.start() for m in (_ODD_REF[q].search(xml, lo, hi) for q in quotes) if m]
    if not odd and _within(999_999, 26, limits):
        return
    # nothing past Z and no row from 1,000,000 on comes before the first odd reference
    first = min(odd, default=lo)
    last_col = _last_column(xml, first, hi)
    if _within(_last_row(xml, lo, hi, exact=False, long_from=first), last_col, limits):
        return
    last_row = _last_row(xml, lo, hi, exact=True, long_from=first)
    check_extent(last_row, last_col, sheet=sheet, display=display, limits=limits)


def _unsaved_by_parse(xml: bytes) -> list[tuple[int, int, str]]:
    """Slow path of :func:`_unsaved_formulas` for cells without ``r``."""
    out: list[tuple[int, int, str]] = []
    row = col = -1
    for event, el in ET.iterparse(io.BytesIO(xml), events=("start", "end")):
        name = _local(el.tag)
        if event == "start":
            if name == "row":
                r = el.get("r")
                row = int(r) - 1 if r and r.isdigit() else row + 1
                col = -1
            continue
        if name == "c":
            ref = _A1.fullmatch(el.get("r") or "")
            if ref:
                col = _col_index(ref.group(1).encode())
                row = int(ref.group(2)) - 1
            else:
                col += 1
            f = next((c for c in el if _local(c.tag) == "f"), None)
            v = next((c for c in el if _local(c.tag) == "v"), None)
            if f is not None and (v is None or (not (v.text or "").strip()
                                                and el.get("t") != "str")):
                out.append((row, col, f.text or ""))
        elif name == "row":
            el.clear()
    return out


def _unsaved_formulas(xml: bytes) -> list[tuple[int, int, str]]:
    """(row, col, formula) of every formula cell saved without a result: an
    ``<f>`` followed by no ``<v>``, or by an empty one (except a text result,
    ``t="str"``, which may rightly be empty). A sheet with no such cell costs
    a few byte searches, however many formulas it has."""
    lo, hi = _sheet_data_span(xml)
    if not xml.startswith(b"<sheetData", lo):
        pass  # a namespace prefix (<x:c>): the searches below assume none
    elif xml.find(b"<f", lo, hi) == -1 or not any(p.search(xml, lo, hi) for p in _NO_RESULT):
        return []
    out: list[tuple[int, int, str]] = []
    for m in _F_OPEN.finditer(xml, lo, hi):
        start = xml.rfind(b"<", 0, m.start())  # <f> is a cell's first child
        end = xml.find(b">", start)
        tag = xml[start:end + 1]
        if not re.match(rb"<(?:\w+:)?c[\s>]", tag):
            continue
        ref = _CELL_REF.search(tag)
        if ref is None:
            return _unsaved_by_parse(xml)
        f_end = xml.find(b">", m.start())
        if xml[f_end - 1:f_end] == b"/":
            formula, after = "", f_end + 1
        else:
            close = _F_CLOSE.search(xml, f_end)
            if close is None:
                continue
            formula = unescape(xml[f_end + 1:close.start()].decode("utf-8", "replace"),
                               {"&quot;": '"', "&apos;": "'"})
            after = close.end()
        cell_end = _C_END.search(xml, after)
        limit = cell_end.start() if cell_end else len(xml)
        vo = _V_OPEN.search(xml, after, limit)
        if vo is not None:
            if vo.group(0).endswith(b"/>"):
                text = b""
            else:
                vc = _V_CLOSE.search(xml, vo.end(), limit)
                text = xml[vo.end():vc.start()] if vc else b""
            t = _T_ATTR.search(tag)
            if text.strip() or (t is not None and t.group(1) == b"str"):
                continue
        out.append((int(ref.group(2)) - 1, _col_index(ref.group(1)), formula))
    return out


def _grow(frame: pd.DataFrame, rows: int, cols: int) -> pd.DataFrame:
    if rows <= frame.shape[0] and cols <= frame.shape[1]:
        return frame
    grown = frame.reindex(index=range(max(rows, frame.shape[0])),
                          columns=range(max(cols, frame.shape[1]))).astype(object)
    return grown.where(grown.notna(), None)


def spreadsheet_format(zf: zipfile.ZipFile) -> str | None:
    """Which spreadsheet a zip holds, from its content rather than its name:
    ``"ods"`` (OpenDocument: LibreOffice, WPS), ``"ooxml"`` (Excel, and WPS
    .et files saved in the new format) or None (some other zip, a .docx)."""
    names = zf.NameToInfo
    mimetype = names.get("mimetype")
    if (mimetype is not None and mimetype.file_size <= 256
            and zf.read(mimetype).strip() in ODS_MIMETYPES):
        return "ods"
    manifest = names.get("META-INF/manifest.xml")
    if manifest is not None and "content.xml" in names:
        with zf.open(manifest) as fh:
            if any(m in fh.read(_HEAD_BYTES) for m in ODS_MIMETYPES):
                return "ods"
    types = names.get("[Content_Types].xml")
    if types is not None:
        with zf.open(types) as fh:
            head = fh.read(_HEAD_BYTES)
        if b"spreadsheetml" in head or b"ms-excel" in head:
            return "ooxml"
    if any(n.startswith("xl/") for n in names):
        return "ooxml"
    return None


def _frame(rows: list[list[Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    arr = np.empty((len(rows), len(rows[0])), dtype=object)
    arr[:] = rows
    arr[arr == ""] = None
    return pd.DataFrame(arr)


def _open_zip(data: bytes, display: str, limits: Limits) -> zipfile.ZipFile:
    check_workbook_bytes(data, display)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise _corrupt(display) from exc
    check_zip_sizes(zf, display, limits)
    return zf


def workbook_format(data: bytes, display: str, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """``"ooxml"``/``"ods"`` when the bytes are a spreadsheet zip, None for
    any other zip; a file that is no zip at all, or too big unpacked, is
    refused as :func:`read_xlsx_bytes` would refuse it."""
    zf = _open_zip(data, display, limits)
    try:
        return spreadsheet_format(zf)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _corrupt(display) from exc


def read_xlsx_bytes(data: bytes, display: str, *,  # noqa: C901 (to be split by format)
                    limits: Limits = DEFAULT_LIMITS) -> dict[str, RawTable]:
    """Every worksheet of a workbook given as bytes, in workbook order: an
    .xlsx/.xlsm/.et (OOXML) or an .ods, told apart by content.

    Reading from bytes (not the path) means the snapshot taken of those same
    bytes is exactly what was parsed, even if someone saves the file meanwhile.
    Sizes are checked before calamine is given the bytes (see ``guard``).
    """
    zf = _open_zip(data, display, limits)
    ods: dict[str, OdsSheet] | None = None
    xml_paths: dict[str, str] = {}
    try:
        if spreadsheet_format(zf) == "ods":
            # calamine unfolds every sheet of an .ods as it opens it: check them all first
            ods = ods_layout(zf.read("content.xml")) if "content.xml" in zf.NameToInfo else {}
            for name, table in ods.items():
                check_extent(table.last_row, table.last_col, sheet=name, display=display,
                             limits=limits)
        else:
            xml_paths = _sheet_xml_paths(zf)
            for name, path in xml_paths.items():
                declared = _declared_extent(zf, path) if path in zf.NameToInfo else None
                if declared is not None:
                    check_extent(*declared, sheet=name, display=display, limits=limits,
                                 declared=True)
    except (zipfile.BadZipFile, KeyError, ET.ParseError, ValueError, OSError) as exc:
        raise _corrupt(display) from exc
    tables: dict[str, RawTable] = {}
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = {m.name: m.visible != SheetVisibleEnum.Visible
                  for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet}
        for name, hidden in sheets.items():
            xml = b""
            part = xml_paths.get(name)
            if part is not None and part in zf.NameToInfo:
                xml = zf.read(part)
                check_sheet_extent(xml, sheet=name, display=display, limits=limits)
            layout = ods.get(name) if ods is not None else None
            sheet = book.get_sheet_by_name(name)
            frame = _frame(sheet.to_python(skip_empty_area=False))
            if b't="e"' in xml or b"t='e'" in xml:
                errors = _error_cells(xml)
                if errors:
                    frame = _grow(frame, max(r for r, _, _ in errors) + 1,
                                  max(c for _, c, _ in errors) + 1)
                    for r, c, text in errors:
                        frame.iat[r, c] = text
            unsaved = _unsaved_formulas(xml) if xml else []
            if unsaved:
                frame = _grow(frame, max(r for r, _, _ in unsaved) + 1,
                              max(c for _, c, _ in unsaved) + 1)
                for r, c, formula in unsaved:
                    if frame.iat[r, c] is None:
                        frame.iat[r, c] = UnsavedFormula(formula)
            merged = sheet.merged_cell_ranges
            if merged is None:
                merged = layout.merged if layout is not None else _merged_from_xml(xml)
            if merged:
                # a merge may reach past the last filled cell; grow to cover it,
                # but not for whole-row/column merges (A1:XFD1) that are only format
                frame = _grow(frame,
                              min(max(r1 for _, (r1, _) in merged) + 1, frame.shape[0] + _MAX_GROW),
                              min(max(c1 for _, (_, c1) in merged) + 1, frame.shape[1] + _MAX_GROW))
            n_rows, n_cols = frame.shape
            for (r0, c0), (r1, c1) in merged:
                if r0 >= n_rows or c0 >= n_cols:
                    continue
                value = frame.iat[r0, c0]
                frame.iloc[r0:min(r1, n_rows - 1) + 1, c0:min(c1, n_cols - 1) + 1] = value
            tables[name] = RawTable(name=name, frame=frame, first_row=1, hidden=hidden)
        book.close()
    except CalamineError as exc:
        raise _corrupt(display) from exc
    except (zipfile.BadZipFile, ET.ParseError, UnicodeDecodeError, OSError) as exc:
        raise _corrupt(display) from exc
    if not tables:
        raise SourceError(
            f"工作簿“{display}”里没有可以读取的工作表。",
            hint="请确认文件里至少有一张普通工作表（例如“纠纷台账”）。",
        )
    return tables


def sheet_parts(data: bytes) -> dict[str, str]:
    """Sheet name → the path of its XML part in an OOXML workbook's bytes,
    for a tool that edits cells in place (the erasure of a case)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return _sheet_xml_paths(zf)
