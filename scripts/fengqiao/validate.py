"""Raw workbook → :class:`~fengqiao.ledger.Ledger` plus every finding.

Validation gathers all problems in one pass and never raises for a bad cell:
the person fixing the sheet wants the whole list, not the first error. Checks
are column-wise (boolean masks over whole columns); a finding is built only
for the rows a mask selects, and findings are few.

Which rows count follows DOMAIN.md §4 exactly: a row whose key fields (id,
date, and for disputes the star grade) are blank, unreadable or a repeated id
is excluded from every figure and listed in ``Ledger.excluded`` with the
codes that excluded it; any other bad value is NA and the row still counts.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .config import Config, load_config
from .errors import CATALOGUE, FengqiaoError, Finding, make_finding
from .ledger import DTYPES, Ledger
from .loopchecks import before, case_lookup, level_before, level_mistakes, of_case
from .normalize import (
    DATE_RANGE_TEXT,
    HEADER_SCAN_ROWS,
    STRING_DTYPE,
    TEXT_MAX_CHARS,
    HeaderMatch,
    Parsed,
    TabChoice,
    arrow_strings,
    blank_rows,
    choose_tabs,
    locate_header,
    null_where,
    parse_field,
)
from .schema import TAB_ORDER, FieldSpec, Schema, TabSpec, load_schema
from .sources.base import RawTable, RawWorkbook
from .sources.csvformat import describe as describe_csv
from .townschema import schema_for

#: the fields that place a row in time (or identify it); a row failing any of
#: them is excluded from the figures (DOMAIN.md §4)
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "disputes": ("id", "received_date", "star"),
    # a chase or a transfer is placed in time by its date; one naming an
    # unknown case is still a row dated in the period (DOMAIN.md 4.2)
    "supervisions": ("date",),
    "transfers": ("date",),
    "needs": ("id", "raised_date"),
    "grids": ("grid_id",),
    "key_persons": ("person_id",),
    "visits": ("date",),
    "receptions": ("date",),
    "leaders": ("leader",),
    "key_person_visits": ("person_id", "date"),
    "responsibilities": (),
}

#: a tab this long has its columns parsed by up to PARSE_THREADS threads at once
PARALLEL_ROWS = 100_000
PARSE_THREADS = 4

#: tab → (start date field, closing-before-start code, status a case returns to)
_CLOSING = {
    "disputes": ("received_date", "closed-before-received", "调处中"),
    "needs": ("raised_date", "closed-before-raised", "办理中"),
}

@dataclass
class _Tab:
    """One located tab while it is being checked."""

    spec: TabSpec
    sheet: str
    header: HeaderMatch
    rows: np.ndarray  # sheet row of each kept data row
    parsed: dict[str, Parsed]
    values: dict[str, pd.Series]
    #: field → error masks as (code, mask); the value is NA wherever one is set
    errors: dict[str, list[tuple[str, np.ndarray]]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.rows)

    def has(self, name: str) -> bool:
        return name in self.header.columns

    def error_mask(self, name: str) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        for _, m in self.errors.get(name, ()):
            mask |= m
        return mask

    def current(self, name: str) -> pd.Series:
        """The field's values with every error so far already NA."""
        mask = self.error_mask(name)
        vals = self.values[name]
        return null_where(vals, mask) if mask.any() else vals


class _Findings:
    """Collects findings with a sort key (tab order, row, column, code)."""

    def __init__(self) -> None:
        self._items: list[tuple[tuple[int, int, int, str], Finding]] = []

    def add(self, order: int, col: int | None, finding: Finding) -> None:
        row = finding.row if finding.row is not None else -1
        self._items.append(((order, row, -1 if col is None else col, finding.code), finding))

    def sorted(self) -> list[Finding]:
        return [f for _, f in sorted(self._items, key=lambda item: item[0])]


def _code_like(schema: Schema, tab: TabSpec, spec: FieldSpec) -> bool:
    """Ids and codes are matched across tabs, so full-width punctuation in
    them is converted too; free text keeps its Chinese punctuation."""
    if spec.unique or spec.name in tab.primary_key:
        return True
    if any(spec.name in fk.fields for fk in tab.foreign_keys):
        return True
    return any(fk.resource == tab.name and spec.name in fk.reference_fields
               for other in schema for fk in other.foreign_keys)


def _empty(spec: FieldSpec, n: int) -> pd.Series:
    dtype = STRING_DTYPE if spec.type == "string" else DTYPES[spec.type]
    return pd.Series(pd.array([None] * n, dtype=dtype)) if n else pd.Series(dtype=dtype)


def _arrow(values: pd.Series) -> pa.Array:
    """A text column as one Arrow array (no copy when it is Arrow already)."""
    raw = arrow_strings(values)
    if raw is None:
        raw = arrow_strings(values.astype(STRING_DTYPE))
    assert raw is not None
    return raw


#: below this ratio of distinct values to referenced values, :func:`_isin`
#: looks the values up by scanning the referenced column once instead of
#: hashing it
_PROBE_RATIO = 4


def _isin(values: pd.Series, known: pd.Series) -> np.ndarray:
    """Membership test in Arrow (pandas' own ``isin`` on Arrow strings walks
    the value set in Python, far too slow for a million ids).

    When the values are few and the referenced column is long (a repeat-of
    or linked-dispute column, mostly blank, against a million ids), hashing
    the whole referenced column would dominate; instead the few distinct
    values are hashed, the referenced column is scanned once for them, and
    the values are tested against the ones it holds. Both ways give the
    same answer."""
    vals = _arrow(values)
    ref = _arrow(known)
    ref = ref.filter(ref.is_valid()) if ref.null_count else ref
    wanted = pc.unique(vals.filter(vals.is_valid()) if vals.null_count else vals)
    if len(wanted) * _PROBE_RATIO < len(ref):
        present = ref.filter(pc.is_in(ref, value_set=wanted))
        value_set = pc.unique(present)
    else:
        value_set = pc.unique(ref)
    hit = pc.fill_null(pc.is_in(vals, value_set=value_set), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _first_codes(values: pd.Series) -> np.ndarray:
    """Codes of a column in order of first appearance (−1 for missing): code
    ``k`` first occurs after codes ``0..k−1`` have, so a row is the first of
    its value exactly when its code exceeds every code above it."""
    raw = arrow_strings(values)
    if raw is not None:
        indices = pc.dictionary_encode(raw).indices
        codes = pc.fill_null(indices, -1).to_numpy(zero_copy_only=False)
    else:
        codes, _ = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64)


def _dates_text(series: pd.Series) -> np.ndarray:
    return series.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


def _day_numbers(series: pd.Series, blank: int) -> np.ndarray:
    """Days since 1970-01-01 of a date column, ``blank`` where it is empty."""
    values = pd.to_datetime(series).to_numpy(dtype="datetime64[D]")
    days = values.view("int64").copy()
    days[np.isnat(values)] = blank
    return days


def _shown_status(status: pd.Series, mask: np.ndarray) -> np.ndarray:
    """状态 of the selected rows only, as Python values (None when blank)."""
    return status[mask].to_numpy(dtype=object, na_value=None)


def _format_bound(value: float, spec: FieldSpec) -> str:
    return str(int(value)) if spec.type == "integer" or float(value).is_integer() else str(value)


def _counted_rows(tab: _Tab, out: np.ndarray) -> pd.DataFrame:
    """The tab's typed frame without the excluded rows. Each column is
    filtered on its own array (an Arrow filter for text): a boolean index on
    the assembled frame would go through a generic take, several times
    slower on a million rows of text. The tab gives up each column (typed
    values and parse results) once its counted copy exists, so a million
    rows are not held twice over; the tab is spent afterwards."""
    keep = ~out if out.any() else None
    columns: dict[str, pd.Series] = {}
    for f in tab.spec.fields:
        values = tab.current(f.name)
        tab.values.pop(f.name)
        tab.parsed.pop(f.name, None)
        columns[f.name] = values if keep is None else pd.Series(values.array[keep])
        del values
    rows = pd.Series(tab.rows, dtype="int64")
    columns["_row"] = rows if keep is None else pd.Series(rows.array[keep])
    return pd.DataFrame(columns, copy=False)


class _Validator:
    def __init__(self, workbook: RawWorkbook, schema: Schema, config: Config, *,
                 consume: bool = False) -> None:
        self.workbook = workbook
        self.schema = schema
        self.config = config
        self.consume = consume
        self.findings = _Findings()
        self.tabs: dict[str, _Tab] = {}
        self.order = {name: i for i, name in enumerate(TAB_ORDER)}

    # -- emitting ------------------------------------------------------------

    def emit(self, tab: _Tab, name: str, code: str, mask: np.ndarray, *,
             values: np.ndarray | None = None, detail: Any = "",
             to_na: bool = True) -> None:
        """One finding per selected row; an error also makes the value NA
        (recorded in ``tab.errors``) unless ``to_na`` is false."""
        if not mask.any():
            return
        positions = np.flatnonzero(mask)
        shown = values if values is not None else tab.parsed[name].shown(mask)
        details = detail if isinstance(detail, np.ndarray) else None
        col = tab.header.columns[name]
        header = tab.header.headers[name]
        sensitive = tab.spec.is_sensitive(name)
        order = self.order[tab.spec.name]
        for k, pos in enumerate(positions):
            finding = make_finding(
                code, sheet=tab.sheet, tab=tab.spec.name, row=int(tab.rows[pos]), col=col,
                column=header, field=name, value=shown[k], sensitive=sensitive,
                detail=details[k] if details is not None else detail,
            )
            self.findings.add(order, col, finding)
        if to_na and CATALOGUE[code].severity == "error":
            tab.errors.setdefault(name, []).append((code, mask))

    def emit_tab(self, spec: TabSpec, code: str, *, sheet: str, row: int | None = None,
                 col: int | None = None, column: str | None = None, detail: Any = "",
                 value: Any = None) -> None:
        finding = make_finding(code, sheet=sheet, tab=spec.name, row=row, col=col,
                               column=column, value=value, detail=detail)
        self.findings.add(self.order[spec.name], col, finding)

    # -- stage 1: locate and parse each tab --------------------------------------

    def load(self) -> None:
        specs = [self.schema[name] for name in TAB_ORDER]
        sheets = {name: raw.hidden for name, raw in self.workbook.tables.items()}
        choices = choose_tabs(sheets, specs, self.config.tabs)
        for spec in specs:
            sheet = self._chosen(spec, choices[spec.name], list(sheets))
            if sheet is None:
                continue
            raw = self.workbook.tables[sheet]
            header = locate_header(raw, spec)
            if header is None:
                first = next((f for f in spec.fields if f.required), spec.fields[0])
                info = self.workbook.info
                if sheet in info.delimiters:  # a CSV: say how it was split and decoded
                    self.emit_tab(spec, "csv-header-not-found", sheet=sheet, column=first.title,
                                  detail=HEADER_SCAN_ROWS, value=describe_csv(
                                      info.encodings.get(sheet, ""), info.delimiters[sheet]))
                else:
                    self.emit_tab(spec, "header-not-found", sheet=sheet, column=first.title,
                                  detail=HEADER_SCAN_ROWS)
                continue
            data = raw.frame.iloc[header.index + 1:]
            columns = {f.name: data.iloc[:, header.columns[f.name]].reset_index(drop=True)
                       for f in spec.fields if f.name in header.columns}
            mapped = set(header.columns.values())
            others = data.iloc[:, [c for c in range(data.shape[1]) if c not in mapped]]
            if self.consume:  # the caller needs only the workbook's info afterwards
                self.workbook.tables[sheet] = RawTable(raw.name, pd.DataFrame(), raw.first_row,
                                                       raw.hidden)
            first_row = raw.first_row
            del raw, data
            self.tabs[spec.name] = self._parse_tab(spec, sheet, columns, others, first_row,
                                                   header)

    def _chosen(self, spec: TabSpec, choice: TabChoice, sheets: list[str]) -> str | None:
        """The sheet to read for a tab, with a finding for every choice that
        is not plain (none found, several alike, a hidden one involved)."""
        quoted = "、".join(f"“{s}”" for s in (choice.candidates or sheets))
        if choice.unknown_mapping is not None:
            self.emit_tab(spec, "tab-mapping-unknown", sheet=choice.unknown_mapping,
                          column=spec.title, detail=quoted)
        elif choice.candidates:
            self.emit_tab(spec, "ambiguous-tab", sheet=spec.title, column=spec.title,
                          detail=quoted)
        elif choice.sheet is None:
            if spec.required or spec.warn_if_missing:
                self.emit_tab(spec, "missing-tab" if spec.required else "missing-optional-tab",
                              sheet=spec.title)
        elif choice.hidden_used:
            self.emit_tab(spec, "hidden-tab-used", sheet=choice.sheet, column=spec.title)
        for hidden in choice.hidden_ignored:
            self.emit_tab(spec, "hidden-tab-ignored", sheet=hidden, column=spec.title,
                          detail=choice.sheet)
        return choice.sheet

    def _parse_tab(self, spec: TabSpec, sheet: str, columns: dict[str, pd.Series],
                   others: pd.DataFrame, first_row: int, header: HeaderMatch) -> _Tab:
        """Parse the tab's mapped ``columns`` (field → raw column below the
        header), taking each out of the dict as it is parsed: when nothing
        else holds the raw cells (``consume``), a raw column is freed as soon
        as its typed column exists. ``others`` are the unmapped columns, read
        only to tell an entirely blank row."""
        for col, written, name in header.duplicates:
            self.emit_tab(spec, "duplicate-column", sheet=sheet, row=header.sheet_row, col=col,
                          column=written, detail=spec.field(name).title)
        for f in spec.fields:
            if f.name not in header.columns and (f.required or f.warn_if_missing):
                self.emit_tab(spec, "missing-column" if f.required else "missing-optional-column",
                              sheet=sheet, column=f.title)
        n = len(others)
        rows = first_row + header.index + 1 + np.arange(n)
        fields = [f for f in spec.fields if f.name in columns]

        def parse(f: FieldSpec) -> Parsed:
            return parse_field(columns.pop(f.name), f, code_like=_code_like(self.schema, spec, f))

        parsed: dict[str, Parsed] = {}
        # columns are independent and the Arrow and numpy kernels let go of
        # the GIL, so a long tab parses its columns side by side
        workers = min(PARSE_THREADS, os.cpu_count() or 1, len(fields))
        if n >= PARALLEL_ROWS and workers > 1:
            with ThreadPoolExecutor(workers) as pool:
                parsed = dict(zip((f.name for f in fields), pool.map(parse, fields), strict=True))
        else:
            parsed = {f.name: parse(f) for f in fields}
        blank = np.ones(n, dtype=bool)
        for p in parsed.values():
            blank &= p.blank
        if others.shape[1] and blank.any():
            blank &= blank_rows(others)
        if blank.any():  # entirely blank rows carry no data: skipped, not lost
            keep = np.flatnonzero(~blank)
            parsed = {name: p.take(keep) for name, p in parsed.items()}
            rows = rows[keep]
        values = {f.name: parsed[f.name].values if f.name in parsed else _empty(f, len(rows))
                  for f in spec.fields}
        return _Tab(spec=spec, sheet=sheet, header=header, rows=rows, parsed=parsed,
                    values=values)

    # -- stage 2: field checks ----------------------------------------------------

    def check_fields(self, tab: _Tab) -> None:
        for f in tab.spec.fields:
            if f.name not in tab.parsed:
                continue
            p = tab.parsed[f.name]
            for code, mask in p.issues.items():
                detail: Any = ""
                if code == "date-out-of-range":
                    detail = DATE_RANGE_TEXT
                elif code == "not-in-enum":
                    detail = "、".join(str(v) for v in f.enum or ())
                elif code == "below-minimum" and f.minimum is not None:
                    detail = _format_bound(f.minimum, f)
                elif code == "above-maximum" and f.maximum is not None:
                    detail = _format_bound(f.maximum, f)
                elif code == "text-too-long":
                    detail = tab.values[f.name][mask].str.len().to_numpy()
                self.emit(tab, f.name, code, mask, detail=detail)
            if f.required:
                self.emit(tab, f.name, "required-missing", p.blank, values=np.full(
                    int(p.blank.sum()), None, dtype=object))
            if f.unique:
                self._check_unique(tab, f)

    def _check_unique(self, tab: _Tab, f: FieldSpec) -> None:
        codes = _first_codes(tab.current(f.name))
        if len(codes) == 0:
            return
        present = codes >= 0
        seen = np.concatenate([[-1], np.maximum.accumulate(codes)[:-1]])
        first = present & (codes > seen)
        dup = present & ~first
        if not dup.any():
            return
        detail = tab.rows[first][codes[dup]]  # the sheet row of each value's first use
        self.emit(tab, f.name, "duplicate-id", dup, detail=detail)

    def excluded(self, tab: _Tab) -> tuple[np.ndarray, np.ndarray]:
        """Rows excluded from the figures and, for each, why."""
        keys = KEY_FIELDS.get(tab.spec.name, ())
        out = np.zeros(tab.n, dtype=bool)
        codes = np.full(tab.n, "", dtype=object)

        def add(code: str, mask: np.ndarray) -> None:
            codes[mask] = np.where(codes[mask] == "", code, codes[mask] + "," + code)
            out[mask] = True

        for name in keys:
            if not tab.has(name):
                add("missing-column", np.ones(tab.n, dtype=bool))
                continue
            for code, mask in tab.errors.get(name, ()):
                add(code, mask)
        return out, codes

    # -- stage 3: row checks -------------------------------------------------------

    def check_rows(self, tab: _Tab) -> None:
        name = tab.spec.name
        if name == "leaders":
            self.check_roster(tab)
            return
        if name not in _CLOSING or not tab.has("closed_date"):
            return
        start_field, before_code, open_status = _CLOSING[name]
        status_spec = tab.spec.field("status")
        closed_values = list(status_spec.closed_values)
        status = tab.current("status") if tab.has("status") else None
        closed_blank = tab.parsed["closed_date"].blank
        if status is not None:
            is_closed = status.isin(closed_values).fillna(False).to_numpy(dtype=bool)
            is_open = status.notna().to_numpy() & ~is_closed
            mask = is_closed & closed_blank
            self.emit(tab, "closed_date", "closed-without-date", mask,
                      values=_shown_status(status, mask), detail=open_status, to_na=False)
            closed = tab.current("closed_date")
            mask = closed.notna().to_numpy() & is_open
            self.emit(tab, "closed_date", "date-without-closed", mask,
                      values=_shown_status(status, mask), detail="、".join(closed_values))
        closed = tab.current("closed_date")
        start = tab.current(start_field)
        mask = (closed < start).fillna(False).to_numpy(dtype=bool)
        self.emit(tab, "closed_date", before_code, mask, values=_dates_text(closed[mask]),
                  detail=_dates_text(start[mask]))
        if name != "disputes":
            return
        closed = tab.current("closed_date")
        if tab.has("followup_date"):
            follow = tab.current("followup_date")
            mask = (follow < closed).fillna(False).to_numpy(dtype=bool)
            self.emit(tab, "followup_date", "followup-before-closed", mask,
                      values=_dates_text(follow[mask]), detail=_dates_text(closed[mask]))
        if tab.has("first_try_success") and status is not None:
            mask = status.isin(closed_values).fillna(False).to_numpy(dtype=bool)
            mask &= tab.parsed["first_try_success"].blank
            self.emit(tab, "first_try_success", "first-try-missing", mask,
                      values=np.full(int(mask.sum()), None, dtype=object))

    def check_loop_dates(self, tab: _Tab) -> None:
        """纠纷台账's optional loop dates: a 反馈日期 or a 交办日期 before the
        受理日期, a 交办日期 after the 办结日期 (each then blank for the
        figures: no credit for a step the ledger cannot place)."""
        for name, other, code, later in (
                ("feedback_date", "received_date", "feedback-before-received", False),
                ("assigned_date", "received_date", "assigned-before-received", False),
                ("assigned_date", "closed_date", "assigned-after-closed", True)):
            if not (tab.has(name) and tab.has(other)):
                continue
            value, bound = tab.current(name), tab.current(other)
            mask = before(bound, value) if later else before(value, bound)
            self.emit(tab, name, code, mask, values=_dates_text(value[mask]),
                      detail=_dates_text(bound[mask]))

    def check_roster(self, tab: _Tab) -> None:
        """领导名册: a time in post that ends before it starts (the 离岗日期
        is then blank for the figures: still in post, never dropped), and two
        rows of one leader whose times in post overlap (the later row, by
        到岗日期, is named with the row it overlaps)."""
        blank = pd.Series(pd.NaT, index=range(tab.n), dtype="datetime64[ns]")
        start = tab.current("start_date") if tab.has("start_date") else blank
        if tab.has("end_date"):
            end = tab.current("end_date")
            mask = (end < start).fillna(False).to_numpy(dtype=bool)
            self.emit(tab, "end_date", "left-before-arrived", mask,
                      values=_dates_text(end[mask]), detail=_dates_text(start[mask]))
        end = tab.current("end_date") if tab.has("end_date") else blank
        leader = tab.current("leader")
        named = leader.notna().to_numpy()
        if named.sum() < 2:
            return
        # day numbers, an open start or end as far past or future; ties keep sheet order
        far = 10**6
        first = _day_numbers(start, -far)[named]
        last = _day_numbers(end, far)[named]
        pos = np.flatnonzero(named)
        order = np.lexsort((pos, first, _first_codes(leader[named].reset_index(drop=True))))
        who = _first_codes(leader[named].reset_index(drop=True))[order]
        # the running latest end of the earlier rows of the same leader, with its row
        key = (last[order] + 2 * far) * (1 << 24) + np.arange(len(order))
        running = pd.Series(key).groupby(who).cummax()
        before = running.groupby(who).shift(1).to_numpy(dtype=float)
        has_before = ~np.isnan(before)
        before_key = np.where(has_before, before, 0).astype(np.int64)
        overlap = has_before & (first[order] <= (before_key >> 24) - 2 * far)
        if not overlap.any():
            return
        mask = np.zeros(tab.n, dtype=bool)
        mask[pos[order[overlap]]] = True
        earlier = pos[order[before_key[overlap] & ((1 << 24) - 1)]]
        detail = np.empty(tab.n, dtype=object)
        detail[pos[order[overlap]]] = tab.rows[earlier]
        self.emit(tab, "leader", "overlapping-posts", mask, detail=detail[mask], to_na=False)

    # -- stage 4: cross-tab checks ---------------------------------------------------

    def check_references(self) -> None:
        """Every foreign key the schema declares, each with its own finding code."""
        for tab in self.tabs.values():
            for fk in tab.spec.foreign_keys:
                ref = self.tabs.get(fk.resource)
                if ref is None or not tab.has(fk.field) or not ref.has(fk.reference_field):
                    continue  # the referenced tab or column is absent: nothing to compare with
                known = ref.values[fk.reference_field]
                vals = tab.current(fk.field)
                present = vals.notna().to_numpy()
                same = np.zeros(len(present), dtype=bool)
                if fk.self_code is not None:  # a row naming itself (the same tab only)
                    same = present & (vals == known).fillna(False).to_numpy(dtype=bool)
                    self.emit(tab, fk.field, fk.self_code, same)
                self.emit(tab, fk.field, fk.code, present & ~same & ~_isin(vals, known))

    def check_loop(self) -> None:
        """督办记录 and 流转记录 against their case (:mod:`fengqiao.loopchecks`):
        a record dated before the case was received (its date is then blank
        for the figures), and an 上传 or 下传 that does not change the level
        the right way. Runs after the references, so an unknown 纠纷编号 is
        already blank and checked against nothing."""
        disputes = self.tabs.get("disputes")
        if disputes is None or not (disputes.has("id") and disputes.has("received_date")):
            return
        records = [(tab, code) for name, code in (("supervisions", "supervised-before-received"),
                                                  ("transfers", "transfer-before-received"))
                   if (tab := self.tabs.get(name)) is not None
                   and tab.has("dispute_id") and tab.has("date")]
        if not records:
            return
        # only the cases some record names: a province ledger has a million
        # cases and a few thousand records (the first row of an id is among them)
        ids = disputes.current("id")
        named = pd.concat([tab.current("dispute_id") for tab, _ in records], ignore_index=True)
        rows = np.flatnonzero(_isin(ids, named))

        def of_named(name: str) -> pd.Series:
            if not disputes.has(name):
                return pd.Series(pd.array([None] * len(rows), dtype=STRING_DTYPE))
            return disputes.current(name).iloc[rows].reset_index(drop=True)

        cases = case_lookup(ids.iloc[rows].reset_index(drop=True), of_named("received_date"),
                            of_named("initial_level"), of_named("level"))
        for tab, code in records:
            case = of_case(tab.current("dispute_id"), cases)
            dates = tab.current("date")
            mask = before(dates, case["received"])
            self.emit(tab, "date", code, mask, values=_dates_text(dates[mask]),
                      detail=_dates_text(case["received"][mask]))
        self.check_levels(cases)

    def check_levels(self, cases: pd.DataFrame) -> None:
        tab = self.tabs.get("transfers")
        if tab is None or not all(tab.has(f) for f in ("dispute_id", "date", "direction",
                                                        "to_level")):
            return
        ids = tab.current("dispute_id")
        to_level, direction = tab.current("to_level"), tab.current("direction")
        current = level_before(ids, tab.current("date"), to_level, of_case(ids, cases)["level"])
        same, wrong = level_mistakes(direction, to_level, current)
        shown = direction.to_numpy(dtype=object, na_value=None)
        self.emit(tab, "to_level", "transfer-same-level", same, detail=shown[same])
        self.emit(tab, "to_level", "transfer-wrong-direction", wrong,
                  detail=current.to_numpy(dtype=object, na_value=None)[wrong])

    # -- assembly ------------------------------------------------------------------------

    def run(self) -> Ledger:
        self.load()
        for tab in self.tabs.values():
            self.check_fields(tab)
        exclusions = {name: self.excluded(tab) for name, tab in self.tabs.items()}
        for tab in self.tabs.values():
            self.check_rows(tab)
        if "disputes" in self.tabs:  # after the closing checks: 办结日期 as they left it
            self.check_loop_dates(self.tabs["disputes"])
        self.check_references()
        self.check_loop()
        tables: dict[str, pd.DataFrame] = {}
        excluded: dict[str, pd.DataFrame] = {}
        for name, tab in self.tabs.items():
            out, codes = exclusions[name]
            tables[name] = _counted_rows(tab, out)
            excluded[name] = pd.DataFrame({
                "_row": pd.Series(tab.rows[out], dtype="int64"),
                "codes": pd.Series(codes[out], dtype=object),
            })
        return Ledger(
            town=self.config.town,
            source=self.workbook.info,
            tables=tables,
            findings=self.findings.sorted(),
            excluded=excluded,
            sheet_names={name: tab.sheet for name, tab in self.tabs.items()},
            missing_columns={
                name: tuple(f.name for f in tab.spec.fields if not tab.has(f.name))
                for name, tab in self.tabs.items()
            },
        )


#: warnings that change which rows are counted: commands that print
#: figures repeat them, since their user may never run ``validate``
NOTICE_CODES = ("hidden-tab-used", "hidden-tab-ignored")

#: tab-level codes after which a tab is not read at all
_UNREAD_CODES = ("missing-tab", "ambiguous-tab", "tab-mapping-unknown", "header-not-found",
                 "csv-header-not-found")


def blocking_findings(ledger: Ledger, schema: Schema | None = None) -> list[Finding]:
    """The findings that leave a required tab (纠纷台账) with nothing to
    count: the tab was not read (missing, ambiguous, mapped to an absent
    sheet, no header), or a key column is missing so every row is excluded.
    Figures computed then would be zeros that look real; this is the one
    place that decides when the figures must not be published."""
    schema = schema or load_schema()
    out: list[Finding] = []
    for tab in schema:
        if not tab.required:
            continue
        missing_keys = {tab.field(name).title for name in KEY_FIELDS.get(tab.name, ())
                        if name in ledger.missing_columns.get(tab.name, ())}
        if ledger.has(tab.name) and not missing_keys:
            continue
        reasons = [f for f in ledger.findings if f.tab == tab.name and f.severity == "error" and (
            (not ledger.has(tab.name) and f.code in _UNREAD_CODES)
            or (f.code == "missing-column" and f.column in missing_keys))]
        out.extend(reasons or [make_finding("missing-tab", sheet=tab.title, tab=tab.name)])
    return out


def require_figures(ledger: Ledger, schema: Schema | None = None) -> None:
    """Raise :class:`FengqiaoError` (exit 2) when :func:`blocking_findings`
    has any: ``metrics``, ``overdue`` and ``build`` stop instead of
    publishing zeros; ``validate`` still just reports the findings."""
    blocking = blocking_findings(ledger, schema)
    if not blocking:
        return
    schema = schema or load_schema()
    titles = "、".join(f"“{t.title}”" for t in schema if t.required)
    lines = "\n".join(f"  {f.message}" for f in blocking)
    raise FengqiaoError(
        f"{titles}没法用来统计，算出来的数字会是错的（比如全是 0），所以没有继续：\n{lines}",
        hint="\n请先用 fengqiao validate 查看全部问题，改正台账或配置后再运行。",
    )


def validate_workbook(workbook: RawWorkbook, *, schema: Schema | None = None,
                      config: Config | None = None, consume: bool = False) -> Ledger:
    """Check every tab of a workbook against the schema and return the ledger
    of rows that count, with all findings (nothing here raises for bad data).

    ``consume`` empties the workbook's tables as they are read (its ``info``
    stays): for a caller that needs nothing else from it afterwards, so a
    million-row ledger is not held as raw text and as typed columns at once."""
    config = config or load_config()
    # the 职务类别 a town may use are its configured ranks
    return _Validator(workbook, schema or schema_for(config), config, consume=consume).run()


__all__ = ["KEY_FIELDS", "NOTICE_CODES", "TEXT_MAX_CHARS", "blocking_findings",
           "require_figures", "validate_workbook"]
