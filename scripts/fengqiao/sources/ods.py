"""OpenDocument spreadsheets (.ods): what calamine does not tell about them.

calamine reads the cells of an .ods, but gives no merged ranges for one, and
it expands the rows and cells an ODS file writes once with a repeat count
(``table:number-rows-repeated="1000"``) without limit. One pass over
``content.xml`` finds both: where the last filled cell of each table is, so
that a file whose repeats would unfold into millions of cells is refused
before calamine sees it, and the merged ranges, so that they are spread like
an Excel file's. The pass is a loop over the row and cell tags a regex
finds, not an XML parse; it is per cell, but ODS ledgers are rare and small,
and calamine's own read of one costs more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from xml.sax.saxutils import unescape

#: merged ranges recorded for one element repeated over many rows
_MAX_MERGES = 200

ODS_MIMETYPES = (b"application/vnd.oasis.opendocument.spreadsheet",
                 b"application/vnd.oasis.opendocument.spreadsheet-template")
_TABLE = re.compile(rb"<table:table(?=[\s>])([^>]*)>")
_TABLE_END = b"</table:table>"
_NAME = re.compile(rb"table:name\s*=\s*\"([^\"]*)\"")
_ROW = re.compile(rb"<table:table-row(?=[\s/>])([^>]*?)(/?)>")
_ROW_END = b"</table:table-row>"
_CELL = re.compile(rb"<table:(?:covered-)?table-cell(?=[\s/>])([^>]*?)(/?)>")
_REPEATED = re.compile(rb"table:number-(rows|columns)-repeated\s*=\s*\"(\d+)\"")
_SPANNED = re.compile(rb"table:number-(rows|columns)-spanned\s*=\s*\"(\d+)\"")
_FILLED = (b"office:value-type", b"table:formula")


@dataclass
class OdsSheet:
    """Where a table's last filled cell is (1-based, from A1) and its
    merged ranges as ((row, col), (row, col)), 0-based, inclusive."""

    last_row: int = 0
    last_col: int = 0
    merged: list[tuple[tuple[int, int], tuple[int, int]]] = field(default_factory=list)


def _attr(pattern: re.Pattern[bytes], attrs: bytes, which: bytes) -> int:
    for m in pattern.finditer(attrs):
        if m.group(1) == which:
            return int(m.group(2))
    return 1


def ods_layout(content: bytes) -> dict[str, OdsSheet]:
    """Per table of an ODS ``content.xml``: where its last filled cell is
    (counting the rows and cells an ODS file writes once with a repeat
    count) and its merged ranges, which calamine does not give for ODS. A
    cell is filled when it has a value, a formula or any content."""
    out: dict[str, OdsSheet] = {}
    for tm in _TABLE.finditer(content):
        nm = _NAME.search(tm.group(1))
        if nm is None:
            continue
        end = content.find(_TABLE_END, tm.end())
        end = len(content) if end == -1 else end
        sheet = out.setdefault(unescape(nm.group(1).decode("utf-8", "replace"),
                                        {"&quot;": '"', "&apos;": "'"}), OdsSheet())
        row = 0
        for rm in _ROW.finditer(content, tm.end(), end):
            attrs = rm.group(1)
            rep = _attr(_REPEATED, attrs, b"rows") if b"repeated" in attrs else 1
            if rm.group(2):
                row += rep
                continue
            body_end = content.find(_ROW_END, rm.end(), end)
            body_end = end if body_end == -1 else body_end
            col = last = 0
            for cm in _CELL.finditer(content, rm.end(), body_end):
                cattrs = cm.group(1)
                crep = (_attr(_REPEATED, cattrs, b"columns")
                        if b"repeated" in cattrs else 1)
                if b"spanned" in cattrs:
                    rows_ = _attr(_SPANNED, cattrs, b"rows")
                    cols_ = _attr(_SPANNED, cattrs, b"columns")
                    if rows_ > 1 or cols_ > 1:
                        sheet.merged.extend(((r, col), (r + rows_ - 1, col + cols_ - 1))
                                            for r in range(row, row + min(rep, _MAX_MERGES)))
                col += crep
                if not cm.group(2) or any(f in cattrs for f in _FILLED):
                    last = col
            if last:
                sheet.last_row = row + rep
                sheet.last_col = max(sheet.last_col, last)
            row += rep
    return out


__all__ = ["ODS_MIMETYPES", "OdsSheet", "ods_layout"]
