"""Excel workbooks (.xlsx/.xlsm) read with python-calamine.

calamine is roughly an order of magnitude faster than openpyxl, but it hands
back formula cells whose cached result is an error (``#REF!``) as empty
cells. The downstream contract is that such a cell holds the error text, so
those cells alone are recovered from the sheet XML: a byte search for
``t="e"`` finds them without parsing the rest of the sheet.

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
from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum

from ..errors import SourceError
from .base import RawTable

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


def _grow(frame: pd.DataFrame, rows: int, cols: int) -> pd.DataFrame:
    if rows <= frame.shape[0] and cols <= frame.shape[1]:
        return frame
    grown = frame.reindex(index=range(max(rows, frame.shape[0])),
                          columns=range(max(cols, frame.shape[1]))).astype(object)
    return grown.where(grown.notna(), None)


def _frame(rows: list[list[Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame()
    arr = np.empty((len(rows), len(rows[0])), dtype=object)
    arr[:] = rows
    arr[arr == ""] = None
    return pd.DataFrame(arr)


def read_xlsx_bytes(data: bytes, display: str) -> dict[str, RawTable]:
    """Every worksheet of an .xlsx/.xlsm given as bytes, in workbook order.

    Reading from bytes (not the path) means the snapshot taken of those same
    bytes is exactly what was parsed, even if someone saves the file meanwhile.
    """
    check_workbook_bytes(data, display)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        xml_paths = _sheet_xml_paths(zf)
    except (zipfile.BadZipFile, KeyError, ET.ParseError, ValueError, OSError) as exc:
        raise _corrupt(display) from exc
    tables: dict[str, RawTable] = {}
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheets = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
        for name in sheets:
            sheet = book.get_sheet_by_name(name)
            frame = _frame(sheet.to_python(skip_empty_area=False))
            xml = b""
            part = xml_paths.get(name)
            if part is not None and part in zf.NameToInfo:
                xml = zf.read(part)
            if b't="e"' in xml or b"t='e'" in xml:
                errors = _error_cells(xml)
                if errors:
                    frame = _grow(frame, max(r for r, _, _ in errors) + 1,
                                  max(c for _, c, _ in errors) + 1)
                    for r, c, text in errors:
                        frame.iat[r, c] = text
            merged = sheet.merged_cell_ranges
            if merged is None:
                merged = _merged_from_xml(xml)
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
            tables[name] = RawTable(name=name, frame=frame, first_row=1)
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
