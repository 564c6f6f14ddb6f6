"""What every source hands to the normaliser: raw cells with their sheet rows.

A source knows nothing about the schema. It returns each tab as it is in the
file, so that the normaliser can find the header under title rows and every
finding can point at the row number the person sees in their spreadsheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd


@dataclass(frozen=True)
class UnsavedFormula:
    """A formula cell whose file holds no calculated result.

    Excel and WPS store each formula's result when they save; a file written
    by a script (openpyxl writing ``=A1+1``) stores the formula alone, and a
    reader then sees an empty cell. The source puts this marker in such a
    cell instead, so that the normaliser can report it ("formula-no-value")
    rather than call the cell blank. It is a type of its own, never text, so
    nothing a person types can be mistaken for it. ``formula`` is the formula
    without its ``=`` ("" for a cell sharing another cell's formula).
    """

    formula: str = ""

    def __str__(self) -> str:
        return f"={self.formula}" if self.formula else ""


@dataclass
class RawTable:
    """One tab, uninterpreted.

    ``frame`` has positional integer columns ``0..n-1`` (column 0 is sheet
    column A). Cell values are ``str``/``int``/``float``/``bool``/``datetime``
    /``date`` or missing (``None``/NA); formula error cells hold the error text
    (``#REF!``); a formula saved without a result holds an
    :class:`UnsavedFormula` (workbooks only; such a cell is never empty or
    text); merged ranges are already spread over every cell they cover.
    Frame row ``i`` is sheet row ``first_row + i``.

    ``hidden`` is true for a tab hidden (or "very hidden") in the workbook:
    such a tab is often a stale copy, so tab choice prefers a visible one
    and says so when it does not (CSV folders have no hidden tabs).
    """

    name: str
    frame: pd.DataFrame
    first_row: int = 1
    hidden: bool = False


@dataclass
class SourceInfo:
    kind: str  # "xlsx" | "ods" | "csv" | "gsheets" | "snapshot"
    name: str  # what to show the user: a file name or a spreadsheet title
    location: str  # path or spreadsheet id / URL
    sha256: str | None = None  # of the snapshot bytes, when one was taken or read
    read_at: datetime | None = None
    snapshot_path: str | None = None
    stale_since: datetime | None = None  # set when a fresh read failed and a snapshot is used
    #: CSV sources: sheet name → text encoding the file was decoded with
    encodings: dict[str, str] = field(default_factory=dict)
    #: CSV sources: sheet name → the delimiter its cells were split on
    delimiters: dict[str, str] = field(default_factory=dict)


@dataclass
class RawWorkbook:
    info: SourceInfo
    tables: dict[str, RawTable] = field(default_factory=dict)  # sheet name → table, in order
