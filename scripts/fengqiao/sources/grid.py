"""A tab of a live spreadsheet, from the rows its API returned to a RawTable.

Every live service answers a values read the same way in substance: a block
of rows that may start below A1 (its A1 range says where), trailing blanks
left out or padded, and merged ranges listed apart with the value in their
top-left cell only. This module turns that into the :class:`RawTable` the
xlsx reader gives for the same sheet (sheet positions kept absolute, ``""``
read as empty, every merged cell holding the merge's value), so the
normaliser and every finding see one shape whichever service it came from.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from .base import RawTable

_CELL = re.compile(r"^\$?([A-Za-z]*)\$?(\d*)$")

#: a merged range as 0-based (top, bottom, left, right), bottom and right exclusive
Merge = tuple[int, int, int, int]


def range_origin(a1_range: str) -> tuple[int, int]:
    """0-based (row, col) where a returned range starts: ``'x'!B3:F9`` → (2, 1)."""
    ref = a1_range.rsplit("!", 1)[-1] if "!" in a1_range else ""
    start = ref.split(":", 1)[0]
    match = _CELL.match(start)
    if not ref or not match:
        return 0, 0
    letters, digits = match.group(1).upper(), match.group(2)
    col = 0
    for ch in letters:
        col = col * 26 + (ord(ch) - 64)
    return (int(digits) - 1 if digits else 0), (col - 1 if letters else 0)


def grid_table(title: str, rows: list[list[Any]], origin: tuple[int, int],
               merges: list[Merge], *, trim: bool = False) -> RawTable:
    """The tab as a RawTable. ``trim`` drops trailing rows and columns with
    nothing in them (for a service that pads its answer to the grid size)."""
    frame = pd.DataFrame(rows, dtype=object) if rows else pd.DataFrame(dtype=object)
    r0, c0 = origin
    if r0 or c0:
        # the API trims leading blanks only when asked for a sub-range; keep
        # positions absolute so column 0 is always sheet column A
        frame.index = frame.index + r0
        frame.columns = [int(c) + c0 for c in frame.columns]
    n_rows = (frame.index.max() + 1) if len(frame.index) else 0
    n_cols = (max(frame.columns) + 1) if len(frame.columns) else 0
    frame = frame.reindex(index=range(n_rows), columns=range(n_cols))
    frame = frame.astype(object).where(frame.notna() & frame.ne(""), None)
    if trim and frame.size:
        filled = frame.notna().to_numpy()
        used_rows, used_cols = filled.any(axis=1).nonzero()[0], filled.any(axis=0).nonzero()[0]
        n_rows = int(used_rows[-1]) + 1 if len(used_rows) else 0
        n_cols = int(used_cols[-1]) + 1 if len(used_cols) else 0
        frame = frame.iloc[:n_rows, :n_cols]
    spread = []
    for top, bottom, left, right in merges:
        if top < n_rows and left < n_cols and frame.iat[top, left] is not None:
            spread.append((top, bottom, left, right, frame.iat[top, left]))
    if spread:
        need_rows = max(n_rows, *(s[1] for s in spread))
        need_cols = max(n_cols, *(s[3] for s in spread))
        if need_rows > n_rows or need_cols > n_cols:
            frame = frame.reindex(index=range(need_rows), columns=range(need_cols))
            frame = frame.astype(object).where(frame.notna(), None)
        for top, bottom, left, right, value in spread:
            frame.iloc[top:bottom, left:right] = value
    frame = frame.reset_index(drop=True)
    frame.columns = range(frame.shape[1])
    return RawTable(name=title, frame=frame, first_row=1)
