"""Blank (or rename) given cells inside a stored snapshot's bytes.

An erasure must leave every other cell exactly as it was, so that the
figures recomputed from the rewritten snapshot are the figures published
from the original. Each kind the store holds is edited in its own format,
touching only the cells named:

* an OOXML workbook (``.xlsx``/``.xlsm``): the ``<c>`` elements of the sheet
  part are rewritten in place (style kept, value removed); a shared string
  no other cell uses any more is emptied too, so the text is gone from the
  file and not merely unreferenced;
* a CSV folder (``.zip`` of CSV files): the tab's file is re-written with the
  same encoding, delimiter, line ending and ``sep=`` line;
* a Google read (``.json`` payload): the values of the range are edited
  (another service's payload, such as Feishu's, is refused with a message).

A cell inside a merged range is edited at the range's top-left cell, where
the value lives, and every cell of the range reads back as the new value.
The result is parsed again by the same reader as the original and compared
cell by cell: any difference beyond the edited cells refuses the rewrite.
An OpenDocument (``.ods``) snapshot is refused with a message (its cells
repeat and nest in ways this module does not rewrite yet), never half
edited.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

from ..errors import FengqiaoError
from .base import RawWorkbook
from .csvformat import BOM, CODECS, UTF16_BOMS, decode, layout
from .fetched import unzip_members, workbook_from_bytes, zip_members
from .xlsx import sheet_parts


@dataclass(frozen=True)
class CellEdit:
    """One cell to change: ``row`` and ``col`` are positions in the sheet's
    raw frame (0 = the first row the reader returned, column A); ``value``
    None blanks the cell, a text replaces it."""

    sheet: str
    row: int
    col: int
    value: str | None = None


def _refuse(name: str, why: str) -> FengqiaoError:
    return FengqiaoError(f"无法改写快照“{name}”：{why}。没有改动任何快照。",
                         hint="请保留这个快照文件，并把情况告诉技术人员。")


# -- OOXML ------------------------------------------------------------------------

_CELL = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)c\b([^>]*?)(/>|>(.*?)</(?:[A-Za-z_][\w.-]*:)?c>)",
                   re.S)
_REF = re.compile(rb"\br\s*=\s*[\"']([A-Za-z]{1,3})(\d+)[\"']")
_TYPE = re.compile(rb"\s+t\s*=\s*[\"'][^\"']*[\"']")
_SHARED = re.compile(rb"\bt\s*=\s*[\"']s[\"']")
_VALUE = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?v\b[^>]*>\s*(\d+)\s*</(?:[A-Za-z_][\w.-]*:)?v>")
_MERGE = re.compile(rb"<(?:\w+:)?mergeCell\b[^>]*\bref\s*=\s*[\"']([A-Za-z]+)(\d+)(?::([A-Za-z]+)(\d+))?[\"']")
_SI = re.compile(rb"<((?:[A-Za-z_][\w.-]*:)?)si\b[^>]*?(?:/>|>.*?</(?:[A-Za-z_][\w.-]*:)?si>)", re.S)


def _col_index(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ch - 64)
    return n - 1


def _merges(xml: bytes) -> list[tuple[int, int, int, int]]:
    """(top, left, bottom, right), 0-based and inclusive."""
    out = []
    for m in _MERGE.finditer(xml):
        top, left = int(m.group(2)) - 1, _col_index(m.group(1))
        bottom = int(m.group(4)) - 1 if m.group(4) else top
        right = _col_index(m.group(3)) if m.group(3) else left
        out.append((top, left, bottom, right))
    return out


def _spread(edits: Sequence[CellEdit], merges: Sequence[tuple[int, int, int, int]]
            ) -> tuple[dict[tuple[int, int], str | None], list[CellEdit]]:
    """The cells to write (a merged range's top-left) and every cell that
    will read back changed (the whole range)."""
    write: dict[tuple[int, int], str | None] = {}
    effective: list[CellEdit] = []
    for e in edits:
        hit = next(((t, lf, b, rt) for t, lf, b, rt in merges
                    if t <= e.row <= b and lf <= e.col <= rt), None)
        if hit is None:
            write[(e.row, e.col)] = e.value
            effective.append(e)
            continue
        t, lf, b, rt = hit
        write[(t, lf)] = e.value
        effective.extend(replace(e, row=r, col=c)
                         for r in range(t, b + 1) for c in range(lf, rt + 1))
    return write, effective


def _new_cell(prefix: bytes, attrs: bytes, value: str | None) -> bytes:
    attrs = _TYPE.sub(b"", attrs).rstrip()
    if value is None:
        return b"<" + prefix + b"c" + attrs + b"/>"
    text = escape(value).encode("utf-8")
    p = prefix
    return (b"<" + p + b"c" + attrs + b' t="inlineStr"><' + p + b"is><" + p + b"t>" + text
            + b"</" + p + b"t></" + p + b"is></" + p + b"c>")


def _edit_sheet(xml: bytes, write: dict[tuple[int, int], str | None], name: str,
                dropped: set[int]) -> bytes:
    """The sheet part with the cells in ``write`` replaced; the shared
    strings they used are added to ``dropped``."""
    found: set[tuple[int, int]] = set()

    def one(m: re.Match[bytes]) -> bytes:
        ref = _REF.search(m.group(2))
        if ref is None:
            raise _refuse(name, "工作表里有没有标明位置的单元格")
        pos = (int(ref.group(2)) - 1, _col_index(ref.group(1)))
        if pos not in write:
            return m.group(0)
        found.add(pos)
        if _SHARED.search(m.group(2)) and m.group(4):
            v = _VALUE.search(m.group(4))
            if v is not None:
                dropped.add(int(v.group(1)))
        return _new_cell(m.group(1), m.group(2), write[pos])

    out = _CELL.sub(one, xml)
    missing = [pos for pos, value in write.items() if pos not in found and value is not None]
    if missing:  # a blank that is not there is already blank; a new value must land
        raise _refuse(name, "要改写的单元格在工作表里不存在")
    return out


def _shared_in_use(parts: Iterable[bytes]) -> set[int]:
    used: set[int] = set()
    for xml in parts:
        for m in _CELL.finditer(xml):
            if m.group(4) and _SHARED.search(m.group(2)):
                v = _VALUE.search(m.group(4))
                if v is not None:
                    used.add(int(v.group(1)))
    return used


def _empty_strings(xml: bytes, indices: set[int]) -> bytes:
    counter = iter(range(1 << 62))

    def one(m: re.Match[bytes]) -> bytes:
        i = next(counter)
        if i not in indices:
            return m.group(0)
        p = m.group(1)
        return b"<" + p + b"si><" + p + b"t></" + p + b"t></" + p + b"si>"

    return _SI.sub(one, xml)


def _redact_ooxml(data: bytes, edits: Sequence[CellEdit], name: str) -> tuple[bytes, list[CellEdit]]:
    parts = sheet_parts(data)
    by_sheet: dict[str, list[CellEdit]] = {}
    for e in edits:
        by_sheet.setdefault(e.sheet, []).append(e)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        contents = {info.filename: zf.read(info) for info in zf.infolist()}
        infos = zf.infolist()
    dropped: set[int] = set()
    effective: list[CellEdit] = []
    for sheet, sheet_edits in by_sheet.items():
        part = parts.get(sheet)
        if part is None or part not in contents:
            raise _refuse(name, f"找不到工作表“{sheet}”")
        write, spread = _spread(sheet_edits, _merges(contents[part]))
        effective += spread
        contents[part] = _edit_sheet(contents[part], write, name, dropped)
    strings = next((n for n in contents if n.lower().endswith("sharedstrings.xml")), None)
    if dropped and strings is not None:
        sheets = [contents[p] for p in parts.values() if p in contents]
        unused = dropped - _shared_in_use(sheets)
        if unused:
            contents[strings] = _empty_strings(contents[strings], unused)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for info in infos:
            zout.writestr(info, contents[info.filename])
    return out.getvalue(), effective


# -- CSV folder ---------------------------------------------------------------------

_LINE_END = re.compile(r"\r\n|\n|\r")


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-sig":
        return BOM + text.encode("utf-8")
    for bom, codec in UTF16_BOMS.items():
        if codec == encoding:
            return bom + text.encode(codec)
    return text.encode(CODECS.get(encoding, encoding))


def _edit_csv(data: bytes, edits: Sequence[CellEdit], name: str) -> bytes:
    body, encoding = decode(data, name)
    records, delimiter = layout(body)
    sep_line = body[:len(body) - len(records)].decode("utf-8")
    text = records.decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    for e in edits:
        if e.row < len(rows) and e.col < len(rows[e.row]):
            rows[e.row][e.col] = e.value or ""
        elif e.value is not None:
            raise _refuse(name, "要改写的单元格在文件里不存在")
    line_end = _LINE_END.search(text)
    terminator = line_end.group(0) if line_end else "\r\n"
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerows(rows)
    new = out.getvalue()
    if text and not text.endswith(("\n", "\r")):
        new = new[:-len(terminator)]
    return _encode(sep_line + new, encoding)


def _redact_csv_zip(data: bytes, edits: Sequence[CellEdit], name: str) -> bytes:
    members = unzip_members(data, name)
    by_sheet: dict[str, list[CellEdit]] = {}
    for e in edits:
        by_sheet.setdefault(e.sheet, []).append(e)
    out = []
    for member, content in members:
        sheet = member.rsplit(".", 1)[0]
        if sheet in by_sheet:
            content = _edit_csv(content, by_sheet.pop(sheet), f"{name}/{member}")
        out.append((member, content))
    if by_sheet:
        raise _refuse(name, f"找不到工作表“{'、'.join(by_sheet)}”")
    return zip_members(out)


# -- Google payload -------------------------------------------------------------------

#: a Google read's payload (``gsheets.PAYLOAD_KIND``; not imported: that
#: module loads gspread); other services' payloads are refused, not guessed at
_GSHEETS_KIND = "fengqiao-gsheets-payload"
_ORIGIN = re.compile(r"!\$?([A-Za-z]{1,3})\$?(\d+)")


def _redact_payload(data: bytes, edits: Sequence[CellEdit], name: str
                    ) -> tuple[bytes, list[CellEdit]]:
    try:
        payload = json.loads(data.decode("utf-8"))
        if payload.get("kind") != _GSHEETS_KIND:
            raise _refuse(name, "暂不支持改写这种在线表格（如飞书表格）的快照")
        sheets = [s for s in payload["metadata"].get("sheets") or []
                  if (s.get("properties") or {}).get("sheetType", "GRID") == "GRID"]
        ranges = payload["values"].get("valueRanges") or []
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise _refuse(name, "内容格式不对") from exc
    effective: list[CellEdit] = []
    for i, sheet in enumerate(sheets):
        title = str(sheet["properties"]["title"])
        mine = [e for e in edits if e.sheet == title]
        if not mine or i >= len(ranges):
            continue
        merges = [(int(m.get("startRowIndex", 0)), int(m.get("startColumnIndex", 0)),
                   int(m.get("endRowIndex", 1)) - 1, int(m.get("endColumnIndex", 1)) - 1)
                  for m in sheet.get("merges") or []]
        write, spread = _spread(mine, merges)
        effective += spread
        origin = _ORIGIN.search(str(ranges[i].get("range", "")))
        r0 = int(origin.group(2)) - 1 if origin else 0
        c0 = _col_index(origin.group(1).encode()) if origin else 0
        values = ranges[i].get("values") or []
        for (r, c), value in write.items():
            if 0 <= r - r0 < len(values) and 0 <= c - c0 < len(values[r - r0]):
                values[r - r0][c - c0] = value or ""
            elif value is not None:
                raise _refuse(name, "要改写的单元格在表格里不存在")
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    return data, effective


# -- the one entry point -------------------------------------------------------------


def _as_grid(frame: pd.DataFrame, rows: int, cols: int) -> np.ndarray:
    grid = np.full((rows, cols), None, dtype=object)
    values = frame.to_numpy(dtype=object)
    grid[:values.shape[0], :values.shape[1]] = values
    grid[np.asarray(pd.isna(grid), dtype=bool)] = None
    return grid


def check_rewrite(before: RawWorkbook, after: RawWorkbook, edits: Sequence[CellEdit],
                  name: str) -> None:
    """Refuse unless ``after`` holds exactly ``before`` with ``edits`` applied."""
    if list(before.tables) != list(after.tables):
        raise _refuse(name, "改写后工作表不一致")
    for sheet, table in before.tables.items():
        new = after.tables[sheet].frame
        rows = max(table.frame.shape[0], new.shape[0])
        cols = max(table.frame.shape[1], new.shape[1])
        expected = _as_grid(table.frame, rows, cols)
        for e in edits:
            if e.sheet == sheet:
                expected[e.row, e.col] = e.value
        got = _as_grid(new, rows, cols)
        same = (expected == got) | (pd.isna(expected) & pd.isna(got))
        if not bool(np.all(same)):
            raise _refuse(name, f"改写后工作表“{sheet}”里有其他单元格也变了")


def redact_bytes(data: bytes, ext: str, edits: Sequence[CellEdit], *, name: str,
                 before: RawWorkbook) -> bytes:
    """``data`` (a snapshot of kind ``ext``) with ``edits`` applied, checked
    against ``before`` (the workbook ``data`` parses to)."""
    if not edits:
        return data
    if ext in ("xlsx", "xlsm"):
        new, effective = _redact_ooxml(data, edits, name)
    elif ext == "zip":
        new, effective = _redact_csv_zip(data, edits, name), list(edits)
    elif ext == "json":
        new, effective = _redact_payload(data, edits, name)
    else:
        raise _refuse(name, f"暂不支持改写 .{ext} 快照（OpenDocument 表格）")
    after = workbook_from_bytes(new, ext, name=name, location=before.info.location,
                                kind=before.info.kind)
    check_rewrite(before, after, effective, name)
    return new
