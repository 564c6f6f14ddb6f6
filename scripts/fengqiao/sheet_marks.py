"""Findings written into the clerk's own Google Sheet.

Most clerks who keep their ledger in Google Sheets never open a terminal:
``validate --annotate-sheet`` (or ``annotate_sheet: true``) puts the same
marks an annotated xlsx copy carries (:mod:`fengqiao.marks`) into the sheet
itself, without changing a single value:

* colour comes from conditional-format rules fengqiao owns (one per tab and
  severity, recognised by the marker in their always-true formula), so the
  user's own fills are never overwritten and removing our rules restores
  them exactly;
* a note on each wrong cell, starting with :data:`~fengqiao.marks.NOTE_PREFIX`;
  a note the user wrote is never replaced or cleared (the cell keeps its
  colour, and the 校验结果 tab still lists it);
* a 校验结果 tab, replaced on every run; it is recognised as ours by the
  note on its A1 cell, so a user's own tab of that name is left alone and
  ours takes another name.

The cost is one metadata read (tabs, merges, rules and notes, without the
cell values) and one ``batchUpdate``, split only when the body would pass
the API's size limit. One batchUpdate is applied by Google all or nothing,
so a failed write leaves the sheet as it was; when a split write fails half
way, the message says exactly which part is in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from . import clock
from .config import Config
from .errors import FengqiaoError, Finding, column_letter
from .marks import (
    ERROR_COLOR,
    LINK_COLOR,
    NO_FINDINGS,
    NOTE_PREFIX,
    RESULT_HEADERS,
    RESULT_SHEET,
    RESULT_TOP_ROWS,
    RESULT_WIDTHS,
    WARNING_COLOR,
    CellMark,
    Marks,
    describe,
    is_own_note,
    ref_position,
    rgb,
)
from .retry import RetryPolicy
from .sources.gsheets import credentials_for, sheets_api
from .sources.spec import gsheets_id

#: the marker in the formula of every conditional-format rule fengqiao adds
RULE_MARK = "fengqiao-mark"
#: what the metadata read asks for: no cell values, only what marks need
MARKS_FIELDS = ("sheets(properties(sheetId,title,index),merges,conditionalFormats,"
                "data(rowData(values(note))))")
#: a batchUpdate body above this is split (Google refuses very large bodies;
#: its documented limit is about 10 MB, kept well clear of)
MAX_BODY_BYTES = 4_000_000
#: the note on A1 of our results tab, by which a later run knows it is ours
RESULT_NOTE = NOTE_PREFIX + "\n本表由 fengqiao 生成，每次检查时整张替换，请不要在这里记东西。"
#: the results tab's name when a tab of the user's already has the usual one
FALLBACK_RESULT_SHEET = "fengqiao校验结果"
PIXELS_PER_CHAR = 9


@dataclass(frozen=True)
class SheetMarkReport:
    """What one run changed, for the command's summary and the tests."""

    spreadsheet_id: str
    result_sheet: str
    marked: int
    notes_written: int
    notes_cleared: int
    user_notes_kept: int
    rules_replaced: int
    batch_updates: int


@dataclass(frozen=True)
class _Sheet:
    sheet_id: int
    title: str
    merges: tuple[dict[str, int], ...]
    own_rules: tuple[int, ...]
    own_notes: frozenset[tuple[int, int]]
    user_notes: frozenset[tuple[int, int]]
    a1_note: str


def _notes(sheet: dict[str, Any]) -> Iterator[tuple[int, int, str]]:
    for grid in sheet.get("data") or []:
        r0, c0 = int(grid.get("startRow", 0)), int(grid.get("startColumn", 0))
        for i, row in enumerate(grid.get("rowData") or []):
            for j, cell in enumerate(row.get("values") or []):
                if cell.get("note"):
                    yield r0 + i, c0 + j, str(cell["note"])


def _is_own_rule(rule: dict[str, Any]) -> bool:
    condition = (rule.get("booleanRule") or {}).get("condition") or {}
    values = condition.get("values") or []
    return condition.get("type") == "CUSTOM_FORMULA" and any(
        RULE_MARK in str(v.get("userEnteredValue", "")) for v in values)


def _sheet(entry: dict[str, Any]) -> _Sheet:
    props = entry.get("properties") or {}
    own: set[tuple[int, int]] = set()
    user: set[tuple[int, int]] = set()
    a1 = ""
    for r, c, text in _notes(entry):
        (own if is_own_note(text) else user).add((r, c))
        if (r, c) == (0, 0):
            a1 = text
    rules = [i for i, rule in enumerate(entry.get("conditionalFormats") or [])
             if _is_own_rule(rule)]
    return _Sheet(int(props.get("sheetId", 0)), str(props.get("title", "")),
                  tuple(entry.get("merges") or []), tuple(rules), frozenset(own),
                  frozenset(user), a1)


def _anchor(sheets: dict[str, _Sheet]) -> Callable[[str, str], str]:
    """Merged ranges show notes and colour on their top-left cell only."""
    def anchor(title: str, ref: str) -> str:
        row, col = ref_position(ref)
        for m in sheets[title].merges:
            r0, c0 = m.get("startRowIndex", 0), m.get("startColumnIndex", 0)
            if r0 <= row - 1 < m.get("endRowIndex", 0) and c0 <= col - 1 < m.get("endColumnIndex", 0):
                return f"{column_letter(c0)}{r0 + 1}"
        return ref
    return anchor


def _cell_range(sheet_id: int, row: int, col: int) -> dict[str, int]:
    return {"sheetId": sheet_id, "startRowIndex": row, "endRowIndex": row + 1,
            "startColumnIndex": col, "endColumnIndex": col + 1}


def _note_request(sheet_id: int, row: int, col: int, note: str | None) -> dict[str, Any]:
    cell: dict[str, Any] = {"note": note} if note else {}
    return {"updateCells": {"range": _cell_range(sheet_id, row, col),
                            "rows": [{"values": [cell]}], "fields": "note"}}


def _rule_request(sheet_id: int, marks: list[CellMark], color: str) -> dict[str, Any]:
    # an always-true formula that names us: N() of a text is 0
    formula = f'=N("{RULE_MARK}")=0'
    return {"addConditionalFormatRule": {"index": 0, "rule": {
        "ranges": [_cell_range(sheet_id, m.row - 1, m.col - 1) for m in marks],
        "booleanRule": {"condition": {"type": "CUSTOM_FORMULA",
                                      "values": [{"userEnteredValue": formula}]},
                        "format": {"backgroundColor": rgb(color)}}}}}


def _text(value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"userEnteredValue": {"numberValue": value}}
    return {"userEnteredValue": {"stringValue": str(value)}}


def _link(target_id: int, ref: str) -> dict[str, Any]:
    formula = f'=HYPERLINK("#gid={target_id}&range={ref}","{ref}")'
    return {"userEnteredValue": {"formulaValue": formula},
            "userEnteredFormat": {"textFormat": {"foregroundColor": rgb(LINK_COLOR),
                                                 "underline": True}}}


def _result_rows(marks: Marks, ids: dict[str, int]) -> list[dict[str, Any]]:
    rows = [{"values": [{**_text(marks.summary), "note": RESULT_NOTE}]},
            {"values": [{**_text(h), "userEnteredFormat": {"textFormat": {"bold": True}}}
                        for h in RESULT_HEADERS]}]
    for item in marks.rows:
        cells = [_text(v) for v in item.values()]
        if item.ref:
            cells[2] = _link(ids[item.sheet], item.ref)
        color = ERROR_COLOR if item.severity == "error" else WARNING_COLOR
        cells[4] = {**cells[4], "userEnteredFormat": {"backgroundColor": rgb(color)}}
        rows.append({"values": cells})
    if not marks.rows:
        rows.append({"values": [_text("")] * 6 + [_text(NO_FINDINGS)]})
    return rows


def _result_requests(marks: Marks, sheets: dict[str, _Sheet], new_id: int
                     ) -> tuple[str, list[dict[str, Any]]]:
    reqs: list[dict[str, Any]] = []
    title = RESULT_SHEET
    ours = [s for s in sheets.values() if s.a1_note == RESULT_NOTE]
    for s in ours:
        reqs.append({"deleteSheet": {"sheetId": s.sheet_id}})
    if RESULT_SHEET in sheets and sheets[RESULT_SHEET] not in ours:
        title = FALLBACK_RESULT_SHEET  # the user's own tab of that name stays
    ids = {s.title: s.sheet_id for s in sheets.values()}
    rows = _result_rows(marks, ids)
    reqs.append({"addSheet": {"properties": {
        "sheetId": new_id, "title": title, "index": 0,
        "gridProperties": {"rowCount": max(len(rows) + 10, 100),
                           "columnCount": len(RESULT_HEADERS),
                           "frozenRowCount": RESULT_TOP_ROWS}}}})
    reqs.append({"updateCells": {"start": {"sheetId": new_id, "rowIndex": 0, "columnIndex": 0},
                                 "rows": rows,
                                 "fields": "userEnteredValue,userEnteredFormat,note"}})
    for i, width in enumerate(RESULT_WIDTHS):
        reqs.append({"updateDimensionProperties": {
            "range": {"sheetId": new_id, "dimension": "COLUMNS", "startIndex": i,
                      "endIndex": i + 1},
            "properties": {"pixelSize": width * PIXELS_PER_CHAR}, "fields": "pixelSize"}})
    return title, reqs


def plan(marks: Marks, sheets: dict[str, _Sheet], new_id: int
         ) -> tuple[list[dict[str, Any]], dict[str, int], str]:
    """The requests that bring the sheet from its current marks to ``marks``
    (ours replaced, the user's untouched), with counts for the report."""
    reqs: list[dict[str, Any]] = []
    counts = {"notes_written": 0, "notes_cleared": 0, "user_notes_kept": 0, "rules": 0}
    data_sheets = {t: s for t, s in sheets.items() if s.a1_note != RESULT_NOTE}
    for s in data_sheets.values():
        for index in sorted(s.own_rules, reverse=True):
            reqs.append({"deleteConditionalFormatRule": {"sheetId": s.sheet_id, "index": index}})
            counts["rules"] += 1
    wanted = {(m.sheet, m.row - 1, m.col - 1): m for m in marks.cells}
    for s in data_sheets.values():
        for r, c in sorted(s.own_notes):
            if (s.title, r, c) not in wanted:
                reqs.append(_note_request(s.sheet_id, r, c, None))
                counts["notes_cleared"] += 1
    by_sheet: dict[str, dict[str, list[CellMark]]] = {}
    for (title, r, c), m in wanted.items():
        s = data_sheets[title]
        if (r, c) in s.user_notes:
            counts["user_notes_kept"] += 1
        else:
            reqs.append(_note_request(s.sheet_id, r, c, m.note))
            counts["notes_written"] += 1
        by_sheet.setdefault(title, {}).setdefault(m.severity, []).append(m)
    for title, groups in by_sheet.items():
        # warnings first, errors last at index 0: the error rule wins
        for severity, color in (("warning", WARNING_COLOR), ("error", ERROR_COLOR)):
            if groups.get(severity):
                reqs.append(_rule_request(data_sheets[title].sheet_id, groups[severity], color))
    title, result = _result_requests(marks, sheets, new_id)
    return reqs + result, counts, title


def split(requests_: list[dict[str, Any]], limit: int = MAX_BODY_BYTES
          ) -> list[list[dict[str, Any]]]:
    """Consecutive batches whose JSON bodies stay under ``limit`` bytes
    (one batch in every ordinary case)."""
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for req in requests_:
        n = len(json.dumps(req, ensure_ascii=False).encode()) + 1
        if batches[-1] and size + n > limit:
            batches.append([])
            size = 0
        batches[-1].append(req)
        size += n
    return batches


def _send(http: Any, sid: str, batches: list[list[dict[str, Any]]]) -> None:
    for done, batch in enumerate(batches):
        try:
            http.batch_update(sid, {"requests": batch})
        except Exception:
            if done:
                raise FengqiaoError(
                    f"检查结果只写进了一部分：共 {len(batches)} 批，前 {done} 批已写入，"
                    f"第 {done + 1} 批失败（标记太多，只能分批写）。",
                    hint="表格里的数据没有被改动；请重新运行一次，标记会整体重写。") from None
            raise


def annotate_sheet(spreadsheet: str, findings: list[Finding], *, credentials_path: str | None,
                   source_name: str, checked_at: datetime | None = None,
                   session: requests.Session | None = None,
                   retry: RetryPolicy | None = None) -> SheetMarkReport:
    """Write ``findings`` into the spreadsheet as described above."""
    try:
        with sheets_api(spreadsheet, credentials_path=credentials_path, write=True,
                        session=session, retry=retry) as (sid, http):
            metadata = http.fetch_sheet_metadata(sid, params={"fields": MARKS_FIELDS})
            sheets = {s.title: s for s in map(_sheet, metadata.get("sheets") or [])}
            data_titles = [t for t, s in sheets.items() if s.a1_note != RESULT_NOTE]
            marks = describe(findings, sheets=data_titles, checked_at=checked_at or clock.now(),
                             source=source_name, anchor=_anchor(sheets))
            new_id = max((s.sheet_id for s in sheets.values()), default=0) + 1
            reqs, counts, title = plan(marks, sheets, new_id)
            batches = split(reqs, MAX_BODY_BYTES)
            _send(http, sid, batches)
    except FengqiaoError as exc:
        raise FengqiaoError(
            f"没能把检查结果写进 Google 表格：{exc.message}",
            hint=(exc.hint + " " if exc.hint else "")
            + "服务账号需要“编辑者”权限才能写入；也可以改用 --annotate 检查结果.xlsx，"
              "把标注写到一个 Excel 副本里。") from None
    return SheetMarkReport(sid, title, len(marks.cells), counts["notes_written"],
                           counts["notes_cleared"], counts["user_notes_kept"], counts["rules"],
                           len(batches))


def mark_ledger_sheet(spec: str | Path, findings: list[Finding], config: Config, *,
                      name: str, stale: bool, **options: Any) -> str:
    """``--annotate-sheet`` and ``annotate_sheet: true``: write the marks
    when the ledger is a Google Sheet read just now (``name`` is what the
    read called it, ``stale`` whether it came from a snapshot); returns the
    line to show. A ledger read from a snapshot (Google unreachable) is not marked,
    because the marks would describe a sheet that may have changed since."""
    sid = gsheets_id(spec)
    if sid is None:
        raise FengqiaoError("只有 Google 表格能把检查结果写回表格里。",
                            hint="Excel/WPS 文件和 CSV 请用 --annotate 检查结果.xlsx 另存一份标注过的副本。")
    if stale:
        return "这次读到的是之前保存的快照（Google 表格暂时连不上），检查结果没有写回表格。"
    report = annotate_sheet(sid, findings, credentials_path=credentials_for(config),
                            source_name=name or sid, **options)
    kept = f"，{report.user_notes_kept} 格已有您自己的批注，没有覆盖" if report.user_notes_kept else ""
    return (f"已把检查结果写进 Google 表格：“{report.result_sheet}”工作表，"
            f"{report.marked} 个单元格做了标记{kept}。")


__all__ = ["FALLBACK_RESULT_SHEET", "MARKS_FIELDS", "MAX_BODY_BYTES", "RESULT_NOTE", "RULE_MARK",
           "SheetMarkReport", "annotate_sheet", "mark_ledger_sheet", "plan", "split"]
