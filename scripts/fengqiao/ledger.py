"""The validated ledger: what the metrics, lists and pages are computed from.

Validation turns a :class:`~fengqiao.sources.base.RawWorkbook` into a
:class:`Ledger`. Each tab becomes a typed DataFrame holding only the rows that
count (DOMAIN.md section 4, "Which rows count"); the excluded rows are kept
beside it with their reasons, so nothing disappears silently.

Column contract of ``Ledger.tables[tab]``: one column per schema field (a
field whose column is absent from the sheet is all-NA and listed in
``missing_columns``), plus ``_row``, the 1-based sheet row. Dtypes by schema
type: string → ``string`` (enum fields hold the canonical allowed value),
integer → ``Int64``, number → ``Float64``, date → ``datetime64[ns]``,
boolean → ``boolean``. A value that failed its check is NA.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .errors import Finding
from .sources.base import SourceInfo


@dataclass
class Ledger:
    town: str
    source: SourceInfo
    tables: dict[str, pd.DataFrame]  # tab id → rows that count (absent tab: key missing)
    findings: list[Finding] = field(default_factory=list)
    #: tab id → excluded rows: columns ``_row`` and ``codes`` (comma-joined finding codes)
    excluded: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: tab id → sheet name as found in the workbook
    sheet_names: dict[str, str] = field(default_factory=dict)
    #: tab id → fields whose column is absent from the sheet
    missing_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def has(self, tab: str) -> bool:
        return tab in self.tables

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def excluded_count(self, tab: str) -> int:
        frame = self.excluded.get(tab)
        return 0 if frame is None else len(frame)


def empty_table(columns: dict[str, str]) -> pd.DataFrame:
    """An empty frame with the contract's dtypes (used for tests and absent rows)."""
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


DTYPES = {
    "string": "string",
    "integer": "Int64",
    "number": "Float64",
    "date": "datetime64[ns]",
    "boolean": "boolean",
}
