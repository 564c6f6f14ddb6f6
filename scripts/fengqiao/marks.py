"""One description of how findings are shown inside the ledger itself.

Staff see their findings where they work: in an annotated xlsx copy
(:mod:`fengqiao.annotate`) or in their own Google Sheet
(:mod:`fengqiao.sheet_marks`). Both draw from the description built here,
so a cell's colour, its note and the 校验结果 tab read the same whichever
way the ledger is kept:

* one mark per wrong cell (a merged range is marked on its top-left cell),
  coloured by the worst finding on it, with a note listing every finding;
* a 校验结果 tab: a summary line with the time of the check, then one row
  per finding with its cell (a link to it), the column, the kind, the code,
  what is wrong and how to fix it.

A note fengqiao writes starts with :data:`NOTE_PREFIX`, which is how a later
run tells its own notes from the user's, and never touches the latter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .errors import Finding, Severity

RESULT_SHEET = "校验结果"
#: ARGB, as openpyxl writes them; :func:`rgb` gives the Sheets API's form
ERROR_COLOR = "FFFF9C9C"
WARNING_COLOR = "FFFFC680"
LINK_COLOR = "FF0563C1"
#: the first line of every note fengqiao writes
NOTE_PREFIX = "【fengqiao 校验】"
RESULT_HEADERS = ("序号", "工作表", "单元格", "列名", "类别", "代码", "说明", "修改方法")
#: column widths of the results tab, in characters
RESULT_WIDTHS = (6, 14, 10, 14, 6, 24, 70, 50)
#: rows above the first finding: the summary line and the header
RESULT_TOP_ROWS = 2
WHOLE_TAB = "（整张表）"
NO_FINDINGS = "没有发现问题。"

SEVERITY_TEXT: dict[Severity, str] = {"error": "错误", "warning": "提醒"}
#: towns keep Beijing time; the check time is shown in it
CHINA = ZoneInfo("Asia/Shanghai")
_REF = re.compile(r"^\$?([A-Z]{1,3})\$?(\d+)$")


@dataclass(frozen=True)
class CellMark:
    """One wrong cell: where, how bad, and the note to put on it."""

    sheet: str
    ref: str
    row: int
    col: int
    severity: Severity
    note: str

    @property
    def color(self) -> str:
        return ERROR_COLOR if self.severity == "error" else WARNING_COLOR


@dataclass(frozen=True)
class ResultRow:
    """One line of the 校验结果 tab; ``ref`` is empty for a whole-tab finding
    or one whose sheet is not in the workbook (then it has no link)."""

    number: int
    sheet: str
    ref: str
    column: str
    severity: Severity
    code: str
    message: str
    fix: str

    def values(self) -> tuple[int | str, ...]:
        return (self.number, self.sheet, self.ref or WHOLE_TAB, self.column,
                SEVERITY_TEXT[self.severity], self.code, self.message, self.fix)


@dataclass(frozen=True)
class Marks:
    cells: tuple[CellMark, ...]
    rows: tuple[ResultRow, ...]
    summary: str


def cell_ref(finding: Finding) -> str | None:
    """The ``F12`` part of a finding's cell, or None for tab-level findings."""
    if finding.row is None or "!" not in finding.cell:
        return None
    ref = finding.cell.rsplit("!", 1)[1]
    return ref if _REF.match(ref) else None


def ref_position(ref: str) -> tuple[int, int]:
    """``F12`` → (12, 6): 1-based row and column."""
    m = _REF.match(ref)
    if m is None:
        raise ValueError(ref)
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - ord("A") + 1
    return int(m.group(2)), col


def split_message(finding: Finding) -> tuple[str, str]:
    """What is wrong, and how to fix it (the catalogue's hint, which
    make_finding appends to the message)."""
    fix = finding.fix
    if fix and finding.message.endswith(fix):
        return finding.message[: -len(fix)], fix
    return finding.message, ""


def note_text(findings: Iterable[Finding]) -> str:
    lines = [f"【{SEVERITY_TEXT[f.severity]}】{f.message}" for f in findings]
    return "\n".join([NOTE_PREFIX, *lines])


def is_own_note(text: str | None) -> bool:
    return bool(text) and str(text).startswith(NOTE_PREFIX)


def summary_line(findings: list[Finding], checked_at: datetime, source: str) -> str:
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    when = checked_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") + "（北京时间）"
    if not findings:
        return f"{when} 检查“{source}”：{NO_FINDINGS}"
    return (f"{when} 检查“{source}”：错误 {errors} 个，提醒 {warnings} 个。"
            "点“单元格”一列的链接可以跳到那一格；改好后重新检查，标记会自动去掉。")


def describe(findings: list[Finding], *, sheets: Iterable[str], checked_at: datetime,
             source: str, anchor: Callable[[str, str], str] | None = None) -> Marks:
    """The marks for ``findings`` on a workbook holding ``sheets``;
    ``anchor(sheet, ref)`` moves a cell inside a merged range to the
    range's top-left cell, where a spreadsheet shows notes and fills."""
    present = set(sheets)
    per_cell: dict[tuple[str, str], list[Finding]] = {}
    rows = []
    for number, f in enumerate(findings, start=1):
        ref = cell_ref(f)
        linked = ref if ref is not None and f.sheet in present else None
        if linked is not None:
            target = anchor(f.sheet, linked) if anchor else linked
            per_cell.setdefault((f.sheet, target), []).append(f)
        message, fix = split_message(f)
        rows.append(ResultRow(number, f.sheet, linked or "", f.column or "", f.severity,
                              f.code, message, fix))
    cells = []
    for (sheet, ref), items in per_cell.items():
        row, col = ref_position(ref)
        worst: Severity = "error" if any(f.severity == "error" for f in items) else "warning"
        cells.append(CellMark(sheet, ref, row, col, worst, note_text(items)))
    return Marks(tuple(cells), tuple(rows), summary_line(findings, checked_at, source))


def rgb(argb: str) -> dict[str, float]:
    """An ARGB hex colour as the Sheets API's 0..1 floats."""
    return {"red": int(argb[2:4], 16) / 255, "green": int(argb[4:6], 16) / 255,
            "blue": int(argb[6:8], 16) / 255}


__all__ = ["ERROR_COLOR", "LINK_COLOR", "NOTE_PREFIX", "NO_FINDINGS", "RESULT_HEADERS",
           "RESULT_SHEET", "RESULT_TOP_ROWS", "RESULT_WIDTHS", "SEVERITY_TEXT", "WARNING_COLOR",
           "WHOLE_TAB", "CellMark", "Marks", "ResultRow", "cell_ref", "describe", "is_own_note",
           "note_text", "ref_position", "rgb", "split_message", "summary_line"]
