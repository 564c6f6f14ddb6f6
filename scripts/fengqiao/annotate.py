"""Write a copy of the ledger with every finding marked on its cell.

Staff fix their sheet in Excel or WPS, not in a terminal: the annotated copy
colours each cell that has a finding (red for errors, orange for warnings),
puts the explanation in the cell's comment and adds a 校验结果 sheet listing
everything with links to the cells. The source file is only read, never
written; the copy goes to a different path.

The copy is read back before it takes its name: it must hold every tab of
the ledger and the 校验结果 sheet. openpyxl opens some workbooks without
their sheets (Strict Open XML, as Excel's "Strict" save option writes it),
so a copy made that way would hold the results alone; such a workbook is
marked on a fresh copy of its cells instead, and a copy that fails the check
is deleted, never left half written.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Iterable
from datetime import date, datetime, time
from pathlib import Path

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.worksheet import Worksheet

from . import clock
from .errors import FengqiaoError, Finding
from .marks import (
    ERROR_COLOR,
    LINK_COLOR,
    NO_FINDINGS,
    RESULT_HEADERS,
    RESULT_SHEET,
    RESULT_TOP_ROWS,
    RESULT_WIDTHS,
    WARNING_COLOR,
    Marks,
    describe,
    is_own_note,
)
from .publish.atomic import atomic_path, shared_mode
from .sources.base import RawWorkbook, UnsavedFormula

AUTHOR = "fengqiao"


def _fill(color: str) -> PatternFill:
    return PatternFill(fill_type="solid", start_color=color, end_color=color)


def _anchor(ws: Worksheet, ref: str) -> str:
    """Merged ranges take comments and fills on their top-left cell only."""
    for merged in ws.merged_cells.ranges:
        if ref in merged:
            return str(merged.start_cell.coordinate)
    return ref


def _describe(wb: Workbook, findings: list[Finding], source: str) -> Marks:
    return describe(findings, sheets=wb.sheetnames, checked_at=clock.now(), source=source,
                    anchor=lambda sheet, ref: _anchor(wb[sheet], ref))


def _mark(wb: Workbook, marks: Marks) -> None:
    for mark in marks.cells:
        cell = wb[mark.sheet][mark.ref]
        cell.fill = _fill(mark.color)
        text = mark.note
        if cell.comment is not None and cell.comment.text and not is_own_note(cell.comment.text):
            # a copy: the user's own comment stays first, ours follows
            text = f"{cell.comment.text}\n——\n{text}"
        comment = Comment(text, AUTHOR)
        comment.width = 320
        comment.height = 40 + 60 * text.count("\n")
        cell.comment = comment


def _result_sheet(wb: Workbook, marks: Marks) -> None:
    if RESULT_SHEET in wb.sheetnames:  # annotating an already annotated copy
        del wb[RESULT_SHEET]
    ws = wb.create_sheet(RESULT_SHEET, 0)
    ws.append((marks.summary,))
    ws.append(RESULT_HEADERS)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    for i, item in enumerate(marks.rows):
        ws.append(item.values())
        row = RESULT_TOP_ROWS + 1 + i
        if item.ref:
            link = ws.cell(row=row, column=3)
            quoted = "'" + item.sheet.replace("'", "''") + "'"
            link.hyperlink = Hyperlink(ref=link.coordinate, location=f"{quoted}!{item.ref}")
            link.font = Font(color=LINK_COLOR, underline="single")
        ws.cell(row=row, column=5).fill = _fill(
            ERROR_COLOR if item.severity == "error" else WARNING_COLOR)
    if not marks.rows:
        ws.append(("", "", "", "", "", "", NO_FINDINGS))
    for i, width in enumerate(RESULT_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = f"A{RESULT_TOP_ROWS + 1}"


def _sheets_in(path: Path) -> list[str]:
    """The sheet names a written workbook holds, read back the cheap way."""
    with path.open("rb") as fh:  # a handle: the temp file's name does not end in .xlsx
        book = load_workbook(fh, read_only=True)
        try:
            return list(book.sheetnames)
        finally:
            book.close()


def _check_copy(tmp: Path, out: Path, expected: list[str]) -> None:
    """Refuse a written copy that cannot be opened or lacks a sheet."""
    try:
        names = _sheets_in(tmp)
    except Exception as exc:  # any failure to read it back means a broken file
        raise _incomplete(out, "写出的文件无法重新打开") from exc
    missing = [name for name in expected if name not in names]
    if missing:
        raise _incomplete(out, "缺少工作表：" + "、".join(f"“{m}”" for m in missing))


def _incomplete(out: Path, why: str) -> FengqiaoError:
    return FengqiaoError(
        f"标注文件 {out} 没有写完整（{why}），已经删除，不会留下残缺的文件。",
        hint="请确认磁盘空间足够、文件夹可以写入后重新运行；"
             "如果仍然这样，请用 Excel 或 WPS 把台账另存为新的 .xlsx 文件后再试。",
    )


def _save(wb: Workbook, out: Path) -> None:
    """Write beside the target, read the result back, and only then rename,
    so a failed or incomplete save leaves no file behind (and an older file
    at ``out`` stays as it was)."""
    expected = list(wb.sheetnames)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        # the copy is for sharing: readable like any file the user saved
        with atomic_path(out, mode=shared_mode()) as tmp:
            wb.save(tmp)
            _check_copy(tmp, out, expected)
    except OSError as exc:
        raise FengqiaoError(f"无法写入标注文件 {out}：{exc.strerror or exc}。",
                            hint="请确认文件没有在 Excel/WPS 里打开，并且文件夹可写。") from exc


def _check_out(out: Path, sources: Iterable[Path]) -> None:
    if out.suffix.lower() not in (".xlsx", ".xlsm"):
        raise FengqiaoError(f"标注文件 {out} 应以 .xlsx 结尾。")
    for src in sources:
        if out.resolve() == src.resolve():
            raise FengqiaoError(
                f"标注文件不能和台账是同一个文件：{out}。",
                hint="请换一个文件名，例如 台账_校验结果.xlsx；原台账不会被改动。",
            )


def _load(source_xlsx: Path, tabs: Iterable[str] = ()) -> Workbook:
    """The source as openpyxl sees it, or :class:`_Unreadable` when that is
    not the whole workbook. It is opened through a file object so that a
    name openpyxl does not know (a WPS ``.et`` holding an .xlsx) is no
    obstacle; macros are kept when the file has them."""
    try:
        with zipfile.ZipFile(source_xlsx) as zf:
            has_vba = source_xlsx.suffix.lower() == ".xlsm" or any(
                n.lower().endswith("vbaproject.bin") for n in zf.namelist())
        with source_xlsx.open("rb") as fh, warnings.catch_warnings():
            # openpyxl warns about parts it skips (a Strict workbook's sheets);
            # the check below says what matters
            warnings.simplefilter("ignore")
            wb = load_workbook(fh, keep_vba=has_vba, rich_text=True)
    except (InvalidFileException, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise _Unreadable(f"无法打开 {source_xlsx} 来写标注：{exc}。") from exc
    missing = [t for t in tabs if t not in wb.sheetnames]
    if not wb.worksheets or missing:  # Strict Open XML: openpyxl finds no sheets
        raise _Unreadable(f"无法完整读出 {source_xlsx} 的工作表，不能在它的副本上写标注。")
    return wb


class _Unreadable(FengqiaoError):
    """openpyxl cannot open the file (encrypted, .xls, damaged)."""


def annotate_workbook(source_xlsx: Path, findings: list[Finding], out: Path, *,
                      tabs: Iterable[str] = ()) -> None:
    """Copy ``source_xlsx`` to ``out`` with the findings marked (formulas,
    formats and other sheets kept as they are). ``tabs`` are sheet names the
    copy must hold (the tabs the ledger was read with)."""
    source_xlsx, out = Path(source_xlsx), Path(out)
    _check_out(out, [source_xlsx])
    wb = _load(source_xlsx, tabs)
    marks = _describe(wb, findings, source_xlsx.name)
    _mark(wb, marks)
    _result_sheet(wb, marks)
    _save(wb, out)


def _clean_cell(value: object) -> object:
    """A raw value openpyxl can store (it rejects NA and control characters);
    a formula saved without a result is written back as that formula."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, UnsavedFormula):
        return ILLEGAL_CHARACTERS_RE.sub("", str(value)) or None
    if value is None or value is pd.NA or value is pd.NaT or (
            isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | int | float | datetime | date | time):
        return value
    return ILLEGAL_CHARACTERS_RE.sub("", str(value))


def write_raw_workbook(workbook: RawWorkbook, findings: list[Finding], out: Path) -> None:
    """For sources that are not an xlsx file (CSV folder, Google): a fresh
    workbook of the raw tables at their sheet rows, marked the same way."""
    out = Path(out)
    _check_out(out, [])
    wb = Workbook()
    default = wb.active
    for name, table in workbook.tables.items():
        ws = wb.create_sheet(title=ILLEGAL_CHARACTERS_RE.sub("", name)[:31] or "Sheet")
        offset = table.first_row
        for i, values in enumerate(table.frame.itertuples(index=False, name=None)):
            for j, value in enumerate(values):
                cleaned = _clean_cell(value)
                if cleaned is not None:
                    ws.cell(row=offset + i, column=j + 1, value=cleaned)  # type: ignore[arg-type]
    if default is not None:
        wb.remove(default)
    marks = _describe(wb, findings, workbook.info.name)
    _mark(wb, marks)
    _result_sheet(wb, marks)
    _save(wb, out)


def annotate_source(workbook: RawWorkbook, findings: list[Finding], out: Path) -> bool:
    """The right kind of annotated copy for where the workbook came from.
    Returns True when the copy is the original file marked (formats and
    formulas kept), False when it is a fresh workbook of the cell values
    (CSV, Google, ODS, or a workbook openpyxl cannot open whole)."""
    out = Path(out)
    location = Path(workbook.info.location) if workbook.info.location else None
    if location is not None and location.exists():
        _check_out(out, [location])
    if workbook.info.kind == "xlsx" and location is not None and location.is_file():
        try:
            annotate_workbook(location, findings, out, tabs=list(workbook.tables))
            return True
        except _Unreadable:
            pass  # Strict Open XML, or changed since it was read: mark the raw cells instead
    write_raw_workbook(workbook, findings, out)
    return False


__all__ = ["ERROR_COLOR", "RESULT_SHEET", "WARNING_COLOR", "annotate_source",
           "annotate_workbook", "write_raw_workbook"]
