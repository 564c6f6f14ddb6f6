"""``fengqiao sheets init``: prepare a Google spreadsheet for staff.

Every schema tab gets its header row, dropdowns, date format, a frozen and
(warning-only) protected header, the long dropdown lists a hidden options
sheet. A tab the clerk already has is found exactly as ``validate`` finds it
(:func:`~fengqiao.normalize.choose_tabs` for the sheet, then
:func:`~fengqiao.normalize.locate_header` for the header row: the first
20 rows, header aliases, stars and notes such as “*编号” or “受理日期（必填）”),
so init never adds a second 纠纷台账 beside one that validation would read,
and never reports a header missing that validation would accept.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
import requests

from .errors import FengqiaoError, column_letter
from .normalize import HEADER_SCAN_ROWS, TabChoice, choose_tabs, locate_header
from .retry import RetryPolicy
from .schema import FieldSpec, Schema, TabSpec
from .sources.base import RawTable
from .sources.gsheets import METADATA_FIELDS, VALUE_PARAMS, grid_sheets, quote_sheet, sheets_api
from .template import OPTIONS_SHEET

#: enum lists longer than this get a range on the hidden options sheet: a long
#: inline list is cramped in the dropdown and cannot be edited by staff
INLINE_LIST_MAX = 8

TabAction = Literal["created", "header-written", "verified", "no-header", "ambiguous"]


@dataclass(frozen=True)
class TabInit:
    """What ``sheets init`` did with one schema tab, and what it found there."""

    tab: str
    sheet: str
    action: TabAction
    header_row: int | None = None
    missing_required: tuple[str, ...] = ()
    missing_optional: tuple[str, ...] = ()
    #: for "ambiguous": every sheet that could be this tab
    candidates: tuple[str, ...] = ()


@dataclass
class InitReport:
    """Everything one ``sheets init`` run did, for the summary it prints."""

    spreadsheet_id: str
    title: str
    tabs: list[TabInit]
    options_sheet: Literal["created", "updated", "unchanged", "none"]
    batch_updates: int
    requests: int

    def summary_lines(self) -> list[str]:
        """What ``fengqiao sheets init`` prints: one line per tab, in Chinese."""
        lines = [f"表格“{self.title}”（{self.spreadsheet_id}）："]
        for t in self.tabs:
            if t.action == "created":
                lines.append(f"  新建工作表“{t.sheet}”，已写好表头、下拉选项和日期格式。")
            elif t.action == "header-written":
                lines.append(f"  工作表“{t.sheet}”原来是空的，已写好表头、下拉选项和日期格式。")
            elif t.action == "no-header":
                lines.append(f"  工作表“{t.sheet}”已有内容，但前 {HEADER_SCAN_ROWS} 行里找不到表头，"
                             "没有改动，请对照模板检查。")
            elif t.action == "ambiguous":
                names = "、".join(f"“{c}”" for c in t.candidates)
                lines.append(f"  工作表{names}都像是“{t.sheet}”，没有改动，也没有新建；"
                             "请删除或改名多余的那张，只留一张后再运行。")
            else:
                parts = [f"  工作表“{t.sheet}”已存在（表头在第 {t.header_row} 行），未改动"]
                if t.missing_required:
                    parts.append(f"；缺少必填列：{'、'.join(t.missing_required)}")
                if t.missing_optional:
                    parts.append(f"；缺少可选列：{'、'.join(t.missing_optional)}")
                lines.append("".join(parts) + "。")
        if self.options_sheet == "created":
            lines.append(f"  新建隐藏工作表“{OPTIONS_SHEET}”，存放较长的下拉选项。")
        elif self.options_sheet == "updated":
            lines.append(f"  已更新隐藏工作表“{OPTIONS_SHEET}”里的下拉选项。")
        if self.batch_updates == 0:
            lines.append("没有需要修改的地方。")
        else:
            lines.append(f"共提交 {self.requests} 项修改。")
        return lines


def _enum_values(f: FieldSpec) -> list[str] | None:
    if f.enum is not None:
        return [str(v) for v in f.enum]
    if f.type == "boolean":
        return [f.true_values[0] if f.true_values else "是",
                f.false_values[0] if f.false_values else "否"]
    return None


def _cell_text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _note(f: FieldSpec) -> str:
    note = f.description
    if f.required:
        note = (note + "（必填）") if note else "必填"
    return note


def _grid(sheet_id: int, r0: int | None = None, r1: int | None = None,
          c0: int | None = None, c1: int | None = None) -> dict[str, int]:
    out = {"sheetId": sheet_id}
    for key, value in (("startRowIndex", r0), ("endRowIndex", r1),
                       ("startColumnIndex", c0), ("endColumnIndex", c1)):
        if value is not None:
            out[key] = value
    return out


def _string_cell(text: str) -> dict[str, Any]:
    return {"userEnteredValue": {"stringValue": text}}


def _tab_requests(tab: TabSpec, sheet_id: int, option_ranges: dict[tuple[str, str], str]
                  ) -> list[dict[str, Any]]:
    """Header, notes, formats, dropdowns, freeze and protection for a tab
    whose first row we are allowed to write."""
    header = [{**_string_cell(f.title), "note": _note(f),
               "userEnteredFormat": {"textFormat": {"bold": True},
                                     "backgroundColor": {"red": 0.9, "green": 0.93, "blue": 0.98}}}
              for f in tab.fields]
    reqs: list[dict[str, Any]] = [
        {"updateCells": {
            "start": {"sheetId": sheet_id, "rowIndex": 0, "columnIndex": 0},
            "rows": [{"values": header}],
            "fields": "userEnteredValue,note,userEnteredFormat(textFormat,backgroundColor)",
        }},
        {"updateSheetProperties": {
            "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
            "fields": "gridProperties.frozenRowCount",
        }},
    ]
    for col, f in enumerate(tab.fields):
        column = _grid(sheet_id, r0=1, c0=col, c1=col + 1)
        if f.type == "date":
            reqs.append({"repeatCell": {
                "range": column,
                "cell": {"userEnteredFormat": {"numberFormat": {"type": "DATE",
                                                                "pattern": "yyyy-mm-dd"}}},
                "fields": "userEnteredFormat.numberFormat",
            }})
        values = _enum_values(f)
        if values is None:
            continue
        formula = option_ranges.get((tab.name, f.name))
        if formula is not None:
            condition = {"type": "ONE_OF_RANGE", "values": [{"userEnteredValue": formula}]}
        else:
            condition = {"type": "ONE_OF_LIST",
                         "values": [{"userEnteredValue": v} for v in values]}
        # strict=False: the normaliser accepts the aliases staff type (一星,
        # 婚姻...) and the validator reports the rest with the cell named;
        # rejecting input outright would only push staff to paste around it
        reqs.append({"setDataValidation": {
            "range": column,
            "rule": {"condition": condition, "strict": False, "showCustomUi": True,
                     "inputMessage": f"请从下拉框里选择{f.title}。"},
        }})
    reqs.append({"addProtectedRange": {"protectedRange": {
        "range": _grid(sheet_id, r0=0, r1=1),
        "description": "表头行：改动列名会导致台账无法识别",
        "warningOnly": True,
    }}})
    return reqs


def _options_columns(tabs: list[TabSpec]) -> list[tuple[str, str, list[str]]]:
    cols = []
    for tab in tabs:
        for f in tab.fields:
            values = _enum_values(f)
            if values is not None and len(values) > INLINE_LIST_MAX:
                cols.append((tab.name, f.name, [f"{tab.title}·{f.title}", *values]))
    return cols


def _existing(props: list[dict[str, Any]], schema: Schema) -> dict[str, TabChoice]:
    """tab id → the sheet validation would read for it (or the candidates
    that make it ambiguous), over every schema tab so that a sheet goes to
    the tab it looks most like (“重点人员随访记录” is 重点人员随访, not 重点人员)."""
    sheets = {str(p["title"]): bool(p.get("hidden", False)) for p in props
              if str(p["title"]).strip() != OPTIONS_SHEET}
    return choose_tabs(sheets, list(schema))


def _header_report(tab: TabSpec, title: str, rows: list[list[Any]]) -> TabInit:
    """A tab with content: where validation finds its header, and which
    columns that header lacks."""
    frame = pd.DataFrame(rows, dtype=object) if rows else pd.DataFrame(dtype=object)
    match = locate_header(RawTable(name=title, frame=frame, first_row=1), tab)
    if match is None:
        return TabInit(tab.name, title, "no-header")
    missing = [f for f in tab.fields if f.name not in match.columns]
    return TabInit(
        tab.name, title, "verified", header_row=match.sheet_row,
        missing_required=tuple(f.title for f in missing if f.required),
        # as validate reminds: not the quiet ones (warnIfMissing: false, e.g. 交办日期)
        missing_optional=tuple(f.title for f in missing if not f.required and f.warn_if_missing),
    )


def _options_requests(to_write: list[tuple[TabSpec, int, bool, int]],
                      options_prop: dict[str, Any] | None, current: list[list[Any]],
                      next_id: int, option_ranges: dict[tuple[str, str], str],
                      option_cols: list[tuple[str, str, list[str]]],
                      ) -> tuple[list[dict[str, Any]], Literal["created", "updated", "unchanged", "none"]]:
    """The hidden options sheet: created when a tab written now points at it,
    rewritten when what it holds differs from the schema."""
    needs_options = any((tab.name, f.name) in option_ranges
                        for tab, *_ in to_write for f in tab.fields)
    reqs: list[dict[str, Any]] = []
    if not option_cols or not (needs_options or options_prop is not None):
        return reqs, "none"
    height = max(len(c[2]) for c in option_cols)
    want = [[c[2][r] if r < len(c[2]) else "" for c in option_cols] for r in range(height)]
    desired = [[_string_cell(v) if v else {} for v in row] for row in want]
    state: Literal["created", "updated", "unchanged", "none"]
    if options_prop is None:
        options_id = next_id
        state = "created"
        reqs.append({"addSheet": {"properties": {
            "sheetId": options_id, "title": OPTIONS_SHEET, "hidden": True,
            "gridProperties": {"rowCount": max(height, 100),
                               "columnCount": max(len(option_cols), 26)}}}})
        reqs.append({"addProtectedRange": {"protectedRange": {
            "range": _grid(options_id),
            "description": "下拉选项：由 fengqiao sheets init 维护",
            "warningOnly": True,
        }}})
    else:
        options_id = int(options_prop["sheetId"])
        have = [[_cell_text(v) for v in row][:len(option_cols)]
                + [""] * (len(option_cols) - len(row)) for row in current]
        extra = any(len(row) > len(option_cols) for row in current)
        state = "unchanged" if have == want and not extra else "updated"
    if state != "unchanged":
        reqs.append({"updateCells": {
            "range": _grid(options_id),
            "rows": [{"values": row} for row in desired],
            "fields": "userEnteredValue",
        }})
    return reqs, state


def init_spreadsheet(
    spreadsheet: str,
    *,
    credentials_path: str | None,
    schema: Schema,
    session: requests.Session | None = None,
    retry: RetryPolicy | None = None,
    tabs: Iterable[str] | None = None,
) -> InitReport:
    """Prepare a spreadsheet for staff: every schema tab with its header row,
    dropdowns, date format, frozen and (warning-only) protected header.

    Existing data is never touched: a tab that already has a header is only
    checked and reported; a tab with content but no recognisable header is
    left alone, and so is a tab two sheets could be. The whole change is one
    metadata read, one values read and at most one ``batchUpdate``, so it is
    all-or-nothing on Google's side.
    """
    names = list(dict.fromkeys(tabs)) if tabs is not None else list(schema.tabs)
    unknown = [n for n in names if n not in schema.tabs]
    if unknown:
        raise FengqiaoError(f"不认识的工作表 id：{'、'.join(unknown)}。",
                            hint=f"可用的 id 有：{'、'.join(schema.tabs)}。")
    wanted = [schema[name] for name in names]
    with sheets_api(spreadsheet, credentials_path=credentials_path, write=True,
                    session=session, retry=retry) as (sid, http):
        metadata = dict(http.fetch_sheet_metadata(
            sid, params={"includeGridData": "false", "fields": METADATA_FIELDS}))
        props = [s["properties"] for s in grid_sheets(metadata)]
        by_title = {str(p["title"]): p for p in props}
        choices = _existing(props, schema)
        existing = {tab.name: by_title[sheet] for tab in wanted
                    if (sheet := choices[tab.name].sheet) is not None}
        options_prop = next((p for p in props if str(p["title"]).strip() == OPTIONS_SHEET), None)
        ranges = [f"{quote_sheet(p['title'])}!1:{HEADER_SCAN_ROWS}" for p in existing.values()]
        if options_prop is not None:
            ranges.append(quote_sheet(options_prop["title"]))
        value_ranges: list[dict[str, Any]] = []
        if ranges:
            got = http.values_batch_get(sid, ranges, params=dict(VALUE_PARAMS))
            value_ranges = list(got.get("valueRanges") or [])

        next_id = max((int(p.get("sheetId", 0)) for p in props), default=0) + 1
        # decide first, write second: the options sheet is only worth creating
        # when a tab we write points at it
        reports: list[TabInit] = []
        to_write: list[tuple[TabSpec, int, bool, int]] = []  # tab, sheetId, new, columns to add
        header_values = iter(value_ranges)
        for tab in wanted:
            prop = existing.get(tab.name)
            if prop is None and choices[tab.name].candidates:
                reports.append(TabInit(tab.name, tab.title, "ambiguous",
                                       candidates=choices[tab.name].candidates))
                continue
            if prop is None:
                to_write.append((tab, next_id, True, 0))
                next_id += 1
                reports.append(TabInit(tab.name, tab.title, "created", header_row=1))
                continue
            rows = next(header_values).get("values") or []
            title = str(prop["title"])
            if not any(_cell_text(v) for row in rows for v in row):
                columns = int((prop.get("gridProperties") or {}).get("columnCount", 26))
                to_write.append((tab, int(prop["sheetId"]), False,
                                 max(0, len(tab.fields) - columns)))
                reports.append(TabInit(tab.name, title, "header-written", header_row=1))
                continue
            reports.append(_header_report(tab, title, rows))

        # the options layout comes from the whole schema, never from --tab, so
        # ranges written by an earlier run keep pointing at the right column
        option_cols = _options_columns(list(schema))
        option_ranges = {
            (tab_name, field_name): (f"={quote_sheet(OPTIONS_SHEET)}!${column_letter(i)}$2:"
                                     f"${column_letter(i)}${len(values)}")
            for i, (tab_name, field_name, values) in enumerate(option_cols)
        }
        current = ((value_ranges[-1].get("values") or [])
                   if options_prop is not None and value_ranges else [])
        reqs, options_state = _options_requests(to_write, options_prop, current, next_id,
                                                option_ranges, option_cols)
        for tab, sheet_id, new, add_columns in to_write:
            if new:
                reqs.append({"addSheet": {"properties": {
                    "sheetId": sheet_id, "title": tab.title,
                    "gridProperties": {"rowCount": 1000,
                                       "columnCount": max(len(tab.fields), 26),
                                       "frozenRowCount": 1}}}})
            elif add_columns:
                reqs.append({"appendDimension": {"sheetId": sheet_id, "dimension": "COLUMNS",
                                                 "length": add_columns}})
            reqs.extend(_tab_requests(tab, sheet_id, option_ranges))
        if reqs:
            http.batch_update(sid, {"requests": reqs})
    return InitReport(
        spreadsheet_id=sid,
        title=str((metadata.get("properties") or {}).get("title") or sid),
        tabs=reports,
        options_sheet=options_state,
        batch_updates=1 if reqs else 0,
        requests=len(reqs),
    )
