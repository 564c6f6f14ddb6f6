"""A Sheets-API-v4-compatible server on 127.0.0.1 for the real gspread client.

What it serves (enough for fengqiao's reads and ``sheets init``):

* ``POST /token``: Google's OAuth token endpoint. The JWT assertion must be
  RS256-signed by a key registered with :meth:`SheetsServer.register_key`
  (the test generates it; no key is ever committed), with ``aud`` equal to the
  token URI and a ``scope`` claim. It returns a fresh fake access token.
* ``GET /v4/spreadsheets/{id}``: metadata (``includeGridData=false``; the
  ``fields`` mask is honoured loosely: merges are left out unless asked for;
  conditional formats and every cell's note come when the mask names them).
* ``GET /v4/spreadsheets/{id}/values:batchGet?ranges=...``: A1 ranges with
  quoted sheet names (``'Sheet ''1'''!A1:C``, ``'x'!1:10``, a bare sheet).
* ``POST /v4/spreadsheets/{id}:batchUpdate``: addSheet, updateSheetProperties,
  updateCells (values, notes, formats), repeatCell, setDataValidation,
  addProtectedRange, appendDimension, add/deleteConditionalFormatRule,
  updateDimensionProperties, deleteSheet; atomic like Google's (all or
  nothing).
* ``POST /v4/spreadsheets/{id}/values:batchUpdate`` and
  ``PUT /v4/spreadsheets/{id}/values/{range}``.

Every request is recorded (:class:`Recorded`: route, method, path, query,
body) so tests can assert exact request counts, and faults can be scripted
per route (:meth:`SheetsServer.fault`): a status with or without
``Retry-After``, a burst (``times=2``), a delay beyond the client timeout, a
connection reset mid-response, a truncated JSON body, a dropped connection,
or an action (e.g. renaming a tab) run just before the request is served.
Tokens are checked: an unknown bearer gets 401, a read-only token writing
gets 403, and a spreadsheet not shared with the account gets 403
PERMISSION_DENIED, like Google.

Routing the real client here
----------------------------

gspread builds its URLs from module constants imported into
``gspread.http_client`` at import time (so patching ``gspread.urls`` changes
nothing), and google-auth posts to the ``token_uri`` of the key file. So we
leave every URL alone and change the transport instead: :func:`loopback_session`
returns a ``requests.Session`` with a :class:`LoopbackAdapter` mounted on
``https://sheets.googleapis.com`` and ``https://oauth2.googleapis.com``; the
adapter rewrites the scheme and host of each prepared request to
``http://127.0.0.1:<port>`` just before sending. ``fengqiao.sources.gsheets``
copies the adapters of the session it is given onto its authorised session
and its token transport, so the unmodified client talks to this server.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import secrets
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fengqiao.errors import column_letter
from fengqiao.sources.gsheets import GOOGLE_HOSTS, EmulatorAdapter
from loopback import LoopbackServer

TOKEN_URI = "https://oauth2.googleapis.com/token"
READ_SCOPE = "https://www.googleapis.com/auth/spreadsheets.readonly"
WRITE_SCOPE = "https://www.googleapis.com/auth/spreadsheets"

_EPOCH = datetime(1899, 12, 30)


# --- spreadsheet model --------------------------------------------------------------


def _serial(value: date | datetime) -> float | int:
    if isinstance(value, datetime):
        delta = value - _EPOCH
        return delta.days + delta.seconds / 86400
    return (value - _EPOCH.date()).days


@dataclass
class FakeSheet:
    sheet_id: int
    title: str
    rows: list[list[Any]] = field(default_factory=list)
    merges: list[dict[str, int]] = field(default_factory=list)
    hidden: bool = False
    frozen_rows: int = 0
    row_count: int = 1000
    column_count: int = 26
    sheet_type: str = "GRID"
    notes: dict[tuple[int, int], str] = field(default_factory=dict)
    formats: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    repeats: list[dict[str, Any]] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    protected: list[dict[str, Any]] = field(default_factory=list)
    conditional: list[dict[str, Any]] = field(default_factory=list)
    dimensions: list[dict[str, Any]] = field(default_factory=list)

    def cell(self, row: int, col: int) -> Any:
        if row < len(self.rows) and col < len(self.rows[row]):
            return self.rows[row][col]
        return None

    def set_cell(self, row: int, col: int, value: Any) -> None:
        while len(self.rows) <= row:
            self.rows.append([])
        line = self.rows[row]
        while len(line) <= col:
            line.append(None)
        line[col] = value
        self.row_count = max(self.row_count, row + 1)
        self.column_count = max(self.column_count, col + 1)

    def properties(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.row_count, "columnCount": self.column_count}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        props: dict[str, Any] = {"sheetId": self.sheet_id, "title": self.title,
                                 "index": 0, "sheetType": self.sheet_type,
                                 "gridProperties": grid}
        if self.hidden:
            props["hidden"] = True
        return props


@dataclass
class FakeSpreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[FakeSheet] = field(default_factory=list)
    #: client_email → "reader" | "writer"; None means shared with anyone
    shared_with: dict[str, str] | None = None
    locale: str = "zh_CN"

    def add_sheet(self, title: str, rows: list[list[Any]] | None = None, *,
                  merges: list[str | dict[str, int]] | None = None, hidden: bool = False,
                  sheet_type: str = "GRID") -> FakeSheet:
        """Add a tab from Python rows; merges are A1 ranges like ``"A1:F1"``."""
        sheet_id = max((s.sheet_id for s in self.sheets), default=-1) + 1
        rows = [list(r) for r in rows or []]
        sheet = FakeSheet(sheet_id=sheet_id, title=title, rows=rows, hidden=hidden,
                          sheet_type=sheet_type,
                          row_count=max(1000, len(rows)),
                          column_count=max([26, *(len(r) for r in rows)]))
        for m in merges or []:
            if isinstance(m, str):
                _, r0, r1, c0, c1 = parse_a1(m, default_sheet=title)
                sheet.merges.append({"sheetId": sheet_id, "startRowIndex": r0 or 0,
                                     "endRowIndex": r1 or 1, "startColumnIndex": c0 or 0,
                                     "endColumnIndex": c1 or 1})
            else:
                sheet.merges.append({"sheetId": sheet_id, **m})
        self.sheets.append(sheet)
        return sheet

    def sheet(self, title: str) -> FakeSheet:
        for s in self.sheets:
            if s.title == title:
                return s
        raise KeyError(title)

    def sheet_by_id(self, sheet_id: int) -> FakeSheet:
        for s in self.sheets:
            if s.sheet_id == sheet_id:
                return s
        raise KeyError(sheet_id)

    def rename(self, old: str, new: str) -> None:
        self.sheet(old).title = new

    def metadata(self, fields: str | None) -> dict[str, Any]:
        sheets = []
        for i, s in enumerate(self.sheets):
            props = s.properties()
            props["index"] = i
            entry: dict[str, Any] = {"properties": props}
            if s.merges and (not fields or "merges" in fields):
                entry["merges"] = copy.deepcopy(s.merges)
            if s.protected and (not fields or "protectedRanges" in fields):
                entry["protectedRanges"] = copy.deepcopy(s.protected)
            if s.conditional and fields and "conditionalFormats" in fields:
                entry["conditionalFormats"] = copy.deepcopy(s.conditional)
            if fields and "note" in fields:
                entry["data"] = [_note_grid(s)]
            sheets.append(entry)
        return {
            "spreadsheetId": self.spreadsheet_id,
            "properties": {"title": self.title, "locale": self.locale,
                           "timeZone": "Asia/Shanghai"},
            "sheets": sheets,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.spreadsheet_id}/edit",
        }


def _note_grid(sheet: FakeSheet) -> dict[str, Any]:
    """GridData as Google returns it for a ``data(rowData(values(note)))``
    mask: a row per sheet row up to the last with a note, ``{}`` for cells
    without one, trailing empties left out."""
    if not sheet.notes:
        return {}
    last = max(r for r, _ in sheet.notes)
    rows = []
    for r in range(last + 1):
        cols = [c for rr, c in sheet.notes if rr == r]
        if not cols:
            rows.append({})
            continue
        rows.append({"values": [({"note": sheet.notes[(r, c)]} if (r, c) in sheet.notes else {})
                                for c in range(max(cols) + 1)]})
    return {"rowData": rows}


def spreadsheet_from_xlsx(path: Path, spreadsheet_id: str, title: str) -> FakeSpreadsheet:
    """A fixture spreadsheet from a real workbook written by openpyxl."""
    import openpyxl

    book = openpyxl.load_workbook(path)
    out = FakeSpreadsheet(spreadsheet_id, title)
    for ws in book.worksheets:
        rows = [list(r) for r in ws.iter_rows(values_only=True)]
        out.add_sheet(ws.title, rows, merges=[str(r) for r in ws.merged_cells.ranges])
    return out


# --- A1 ----------------------------------------------------------------------------------

_REF = re.compile(r"^([A-Za-z]*)(\d*)$")


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n - 1




def parse_a1(text: str, default_sheet: str | None = None
             ) -> tuple[str, int | None, int | None, int | None, int | None]:
    """``'It''s'!B2:D`` → (sheet, r0, r1, c0, c1), 0-based, end exclusive,
    None for an open end."""
    text = text.strip()
    sheet: str | None = default_sheet
    rest = text
    if text.startswith("'"):
        i, name = 1, []
        while i < len(text):
            if text[i] == "'":
                if i + 1 < len(text) and text[i + 1] == "'":
                    name.append("'")
                    i += 2
                    continue
                break
            name.append(text[i])
            i += 1
        sheet = "".join(name)
        rest = text[i + 1:]
        rest = rest[1:] if rest.startswith("!") else rest
    elif "!" in text:
        sheet, rest = text.split("!", 1)
    elif _REF.match(text.split(":")[0]) is None or default_sheet is None:
        sheet, rest = text, ""
    if sheet is None:
        raise ValueError(text)
    if not rest:
        return sheet, None, None, None, None
    start, _, end = rest.partition(":")
    m1, m2 = _REF.match(start.replace("$", "")), _REF.match((end or start).replace("$", ""))
    if not m1 or not m2:
        raise ValueError(text)
    c0 = _col_index(m1.group(1)) if m1.group(1) else None
    r0 = int(m1.group(2)) - 1 if m1.group(2) else None
    c1 = _col_index(m2.group(1)) + 1 if m2.group(1) else None
    r1 = int(m2.group(2)) if m2.group(2) else None
    return sheet, r0, r1, c0, c1


def _quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


# --- faults and records ------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted misbehaviour; ``kind`` is status|delay|reset|truncate|drop|action."""

    kind: str
    status: int = 500
    reason: str = "INTERNAL"
    message: str = "Internal error encountered."
    retry_after: str | None = None
    delay: float = 0.0
    action: Callable[[], None] | None = None


def status_fault(code: int, *, retry_after: str | float | None = None) -> Fault:
    reasons = {400: ("INVALID_ARGUMENT", "Invalid request."),
               401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
               403: ("PERMISSION_DENIED", "The caller does not have permission"),
               404: ("NOT_FOUND", "Requested entity was not found."),
               429: ("RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests'."),
               500: ("INTERNAL", "Internal error encountered."),
               502: ("UNAVAILABLE", "Bad gateway."),
               503: ("UNAVAILABLE", "The service is currently unavailable."),
               504: ("DEADLINE_EXCEEDED", "The request timed out.")}
    reason, message = reasons.get(code, ("UNKNOWN", "Error."))
    return Fault("status", status=code, reason=reason, message=message,
                 retry_after=None if retry_after is None else str(retry_after))


@dataclass
class Recorded:
    route: str
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    token: str | None


class _APIError(Exception):
    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message


# --- the server --------------------------------------------------------------------------------


class SheetsServer:
    """The loopback Sheets API. Thread-safe enough for one test at a time."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, FakeSpreadsheet] = {}
        self.requests: list[Recorded] = []
        self.keys: dict[str, Any] = {}  # client_email → public key
        self.tokens: dict[str, tuple[str, str]] = {}  # token → (email, scope)
        self.revoked: set[str] = set()
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self._httpd: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> SheetsServer:
        server = self

        class Handler(_Handler):
            owner = server

        httpd = LoopbackServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # fixtures
    def add_spreadsheet(self, spreadsheet_id: str, title: str,
                        shared_with: dict[str, str] | None = None) -> FakeSpreadsheet:
        book = FakeSpreadsheet(spreadsheet_id, title, shared_with=shared_with)
        self.spreadsheets[spreadsheet_id] = book
        return book

    def register_key(self, client_email: str, public_key: Any) -> None:
        self.keys[client_email] = public_key

    def fault(self, route: str, fault: Fault, *, times: int = 1) -> None:
        """Script ``fault`` for the next ``times`` requests to ``route``
        (token, metadata, batchGet, batchUpdate, valuesBatchUpdate, valuesUpdate)."""
        with self._lock:
            queue = self._faults.setdefault(route, deque())
            queue.extend([fault] * times)

    def _next_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route)
            return queue.popleft() if queue else None

    # assertions
    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    def count(self, route: str) -> int:
        return sum(1 for r in self.requests if r.route == route)

    def batch_get_ranges(self) -> list[list[str]]:
        return [r.query.get("ranges", []) for r in self.requests if r.route == "batchGet"]

    def clear(self) -> None:
        self.requests.clear()

    # token endpoint
    def issue_token(self, form: dict[str, list[str]]) -> dict[str, Any]:
        assertion = (form.get("assertion") or [""])[0]
        try:
            head_b64, body_b64, sig_b64 = assertion.split(".")
            claims = json.loads(_b64decode(body_b64))
            header = json.loads(_b64decode(head_b64))
        except ValueError:
            raise _APIError(400, "invalid_grant", "Invalid JWT.") from None
        email = str(claims.get("iss", ""))
        key = self.keys.get(email)
        if header.get("alg") != "RS256" or key is None:
            raise _APIError(400, "invalid_grant", "Invalid grant: account not found")
        try:
            key.verify(_b64decode(sig_b64), f"{head_b64}.{body_b64}".encode(),
                       padding.PKCS1v15(), hashes.SHA256())
        except Exception:
            raise _APIError(400, "invalid_grant", "Invalid JWT Signature.") from None
        if claims.get("aud") != TOKEN_URI or not claims.get("scope"):
            raise _APIError(400, "invalid_scope", "Invalid audience or scope.")
        if float(claims.get("exp", 0)) < time.time() or email in self.revoked:
            raise _APIError(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token.")
        token = "ya29.fake-" + secrets.token_hex(12)
        self.tokens[token] = (email, str(claims["scope"]))
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def authorise(self, token: str | None, book: FakeSpreadsheet, *, write: bool) -> None:
        if not token or token not in self.tokens:
            raise _APIError(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        email, scope = self.tokens[token]
        scopes = scope.split()
        if write and WRITE_SCOPE not in scopes:
            raise _APIError(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        if not write and WRITE_SCOPE not in scopes and READ_SCOPE not in scopes:
            raise _APIError(403, "PERMISSION_DENIED", "Request had insufficient authentication scopes.")
        if book.shared_with is not None:
            role = book.shared_with.get(email)
            if role is None or (write and role != "writer"):
                raise _APIError(403, "PERMISSION_DENIED", "The caller does not have permission")

    # API
    def values_batch_get(self, book: FakeSpreadsheet, query: dict[str, list[str]]
                         ) -> dict[str, Any]:
        render = (query.get("valueRenderOption") or ["FORMATTED_VALUE"])[0]
        out = []
        for text in query.get("ranges", []):
            try:
                title, r0, r1, c0, c1 = parse_a1(text)
                sheet = book.sheet(title)
            except (ValueError, KeyError):
                raise _APIError(400, "INVALID_ARGUMENT", f"Unable to parse range: {text}") from None
            r0, c0 = r0 or 0, c0 or 0
            r1 = sheet.row_count if r1 is None else r1
            c1 = sheet.column_count if c1 is None else c1
            values = []
            for r in range(r0, min(r1, len(sheet.rows))):
                line = [_render(v, render) for v in sheet.rows[r][c0:c1]]
                while line and line[-1] in (None, ""):
                    line.pop()
                values.append(["" if v is None else v for v in line])
            while values and not values[-1]:
                values.pop()
            entry: dict[str, Any] = {
                "range": f"{_quote(sheet.title)}!{column_letter(c0)}{r0 + 1}:"
                         f"{column_letter(c1 - 1)}{r1}",
                "majorDimension": "ROWS",
            }
            if values:
                entry["values"] = values
            out.append(entry)
        return {"spreadsheetId": book.spreadsheet_id, "valueRanges": out}

    def batch_update(self, book: FakeSpreadsheet, body: dict[str, Any]) -> dict[str, Any]:
        work = copy.deepcopy(book.sheets)
        shadow = FakeSpreadsheet(book.spreadsheet_id, book.title, work)
        replies = [_apply(shadow, i, req) for i, req in enumerate(body.get("requests") or [])]
        # commit, keeping the FakeSheet objects tests already hold
        originals = {id(s): s for s in book.sheets}
        by_sheet_id = {s.sheet_id: s for s in book.sheets}
        committed = []
        for new in shadow.sheets:
            old = by_sheet_id.get(new.sheet_id)
            if old is not None and id(old) in originals:
                old.__dict__.update(new.__dict__)
                committed.append(old)
            else:
                committed.append(new)
        book.sheets = committed
        return {"spreadsheetId": book.spreadsheet_id, "replies": replies}

    def write_values(self, book: FakeSpreadsheet, a1_range: str, values: list[list[Any]]) -> int:
        try:
            title, r0, _, c0, _ = parse_a1(a1_range)
            sheet = book.sheet(title)
        except (ValueError, KeyError):
            raise _APIError(400, "INVALID_ARGUMENT", f"Unable to parse range: {a1_range}") from None
        n = 0
        for i, row in enumerate(values):
            for j, v in enumerate(row):
                sheet.set_cell((r0 or 0) + i, (c0 or 0) + j, v)
                n += 1
        return n


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _render(value: Any, render: str) -> Any:
    if render == "FORMATTED_VALUE":
        if isinstance(value, datetime | date):
            return f"{value.year}/{value.month}/{value.day}"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        return "" if value is None else str(value)
    if isinstance(value, datetime | date):
        return _serial(value)
    return value


def _user_value(cell: dict[str, Any]) -> Any:
    uev = cell.get("userEnteredValue") or {}
    for key in ("stringValue", "numberValue", "boolValue", "formulaValue"):
        if key in uev:
            return uev[key]
    return None


def _bounds(sheet: FakeSheet, grid: dict[str, Any]) -> tuple[int, int, int, int]:
    return (int(grid.get("startRowIndex", 0)), int(grid.get("endRowIndex", sheet.row_count)),
            int(grid.get("startColumnIndex", 0)), int(grid.get("endColumnIndex", sheet.column_count)))


def _apply(book: FakeSpreadsheet, i: int, req: dict[str, Any]) -> dict[str, Any]:
    if len(req) != 1:
        raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}]: exactly one kind expected")
    kind, spec = next(iter(req.items()))

    def sheet_of(sheet_id: Any) -> FakeSheet:
        try:
            return book.sheet_by_id(int(sheet_id))
        except (KeyError, TypeError, ValueError):
            raise _APIError(400, "INVALID_ARGUMENT",
                            f"Invalid requests[{i}].{kind}: No grid with id: {sheet_id}") from None

    if kind == "addSheet":
        props = spec.get("properties") or {}
        title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
        if any(s.title == title for s in book.sheets):
            raise _APIError(400, "INVALID_ARGUMENT",
                            f"Invalid requests[{i}].addSheet: A sheet with the name \"{title}\" "
                            "already exists. Please enter another name.")
        sheet = book.add_sheet(title, hidden=bool(props.get("hidden", False)))
        if "sheetId" in props:
            if any(s.sheet_id == props["sheetId"] for s in book.sheets[:-1]):
                raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}].addSheet: duplicate id")
            sheet.sheet_id = int(props["sheetId"])
        grid = props.get("gridProperties") or {}
        sheet.row_count = int(grid.get("rowCount", 1000))
        sheet.column_count = int(grid.get("columnCount", 26))
        sheet.frozen_rows = int(grid.get("frozenRowCount", 0))
        if "index" in props:  # as Google: the new tab goes to that position
            book.sheets.remove(sheet)
            book.sheets.insert(int(props["index"]), sheet)
        return {"addSheet": {"properties": sheet.properties()}}
    if kind == "updateSheetProperties":
        props = spec.get("properties") or {}
        sheet = sheet_of(props.get("sheetId"))
        for path in str(spec.get("fields", "")).split(","):
            path = path.strip()
            if path == "title":
                sheet.title = props["title"]
            elif path == "hidden":
                sheet.hidden = bool(props.get("hidden", False))
            elif path == "gridProperties.frozenRowCount":
                sheet.frozen_rows = int((props.get("gridProperties") or {}).get("frozenRowCount", 0))
            elif path:
                raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}]: field {path}")
        return {}
    if kind == "updateCells":
        fields = str(spec.get("fields", ""))
        if "range" in spec:
            sheet = sheet_of(spec["range"].get("sheetId"))
            r0, r1, c0, c1 = _bounds(sheet, spec["range"])
            if "userEnteredValue" in fields:
                for r in range(r0, min(r1, len(sheet.rows))):
                    for c in range(c0, min(c1, len(sheet.rows[r]))):
                        sheet.rows[r][c] = None
        else:
            start = spec.get("start") or {}
            sheet = sheet_of(start.get("sheetId"))
            r0, c0 = int(start.get("rowIndex", 0)), int(start.get("columnIndex", 0))
        for di, row in enumerate(spec.get("rows") or []):
            for dj, cell in enumerate(row.get("values") or []):
                r, c = r0 + di, c0 + dj
                if "userEnteredValue" in fields:
                    sheet.set_cell(r, c, _user_value(cell))
                if "note" in fields:
                    # as Google: a masked field left out of the cell clears it
                    if cell.get("note"):
                        sheet.notes[(r, c)] = cell["note"]
                    else:
                        sheet.notes.pop((r, c), None)
                if "userEnteredFormat" in fields and "userEnteredFormat" in cell:
                    sheet.formats[(r, c)] = cell["userEnteredFormat"]
        return {}
    if kind == "repeatCell":
        sheet = sheet_of((spec.get("range") or {}).get("sheetId"))
        sheet.repeats.append(copy.deepcopy(spec))
        return {}
    if kind == "setDataValidation":
        sheet = sheet_of((spec.get("range") or {}).get("sheetId"))
        rule = spec.get("rule") or {}
        if (rule.get("condition") or {}).get("type") not in ("ONE_OF_LIST", "ONE_OF_RANGE",
                                                              "BOOLEAN", "DATE_IS_VALID"):
            raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}]: condition")
        sheet.validations.append({"range": spec["range"], "rule": rule})
        return {}
    if kind == "addProtectedRange":
        pr = copy.deepcopy(spec.get("protectedRange") or {})
        sheet = sheet_of((pr.get("range") or {}).get("sheetId"))
        pr["protectedRangeId"] = 1000 + sum(len(s.protected) for s in book.sheets)
        sheet.protected.append(pr)
        return {"addProtectedRange": {"protectedRange": pr}}
    if kind == "appendDimension":
        sheet = sheet_of(spec.get("sheetId"))
        if spec.get("dimension") == "COLUMNS":
            sheet.column_count += int(spec.get("length", 0))
        else:
            sheet.row_count += int(spec.get("length", 0))
        return {}
    if kind == "addConditionalFormatRule":
        rule = copy.deepcopy(spec.get("rule") or {})
        ranges = rule.get("ranges") or []
        if not ranges:
            raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}]: rule without ranges")
        sheet = sheet_of(ranges[0].get("sheetId"))
        if any(r.get("sheetId") != sheet.sheet_id for r in ranges):
            raise _APIError(400, "INVALID_ARGUMENT",
                            f"Invalid requests[{i}]: all ranges must be on the same sheet")
        index = int(spec.get("index", 0))
        if not 0 <= index <= len(sheet.conditional):
            raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}]: index {index}")
        sheet.conditional.insert(index, rule)
        return {}
    if kind == "deleteConditionalFormatRule":
        sheet = sheet_of(spec.get("sheetId"))
        index = int(spec.get("index", -1))
        if not 0 <= index < len(sheet.conditional):
            raise _APIError(400, "INVALID_ARGUMENT",
                            f"Invalid requests[{i}]: No conditional format on sheet "
                            f"{sheet.sheet_id} at index {index}")
        return {"deleteConditionalFormatRule": {"rule": sheet.conditional.pop(index)}}
    if kind == "updateDimensionProperties":
        sheet = sheet_of((spec.get("range") or {}).get("sheetId"))
        sheet.dimensions.append(copy.deepcopy(spec))
        return {}
    if kind == "deleteSheet":
        sheet = sheet_of(spec.get("sheetId"))
        book.sheets.remove(sheet)
        return {}
    raise _APIError(400, "INVALID_ARGUMENT", f"Invalid requests[{i}]: unknown request {kind}")


_PATHS = [
    ("metadata", "GET", re.compile(r"^/v4/spreadsheets/([^/:]+)$")),
    ("batchGet", "GET", re.compile(r"^/v4/spreadsheets/([^/:]+)/values:batchGet$")),
    ("batchUpdate", "POST", re.compile(r"^/v4/spreadsheets/([^/:]+):batchUpdate$")),
    ("valuesBatchUpdate", "POST", re.compile(r"^/v4/spreadsheets/([^/:]+)/values:batchUpdate$")),
    ("valuesUpdate", "PUT", re.compile(r"^/v4/spreadsheets/([^/:]+)/values/(.+)$")),
]


class _Handler(BaseHTTPRequestHandler):
    owner: SheetsServer
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes; without this each response
    # waits ~40 ms for a delayed ACK
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        try:
            self._serve_inner(method)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _serve_inner(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        route, match = "unknown", None
        if method == "POST" and path == "/token":
            route = "token"
            body: Any = parse_qs(raw.decode())
        else:
            for name, verb, pattern in _PATHS:
                m = pattern.match(path)
                if m and verb == method:
                    route, match = name, m
                    break
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        owner = self.owner
        with owner._lock:
            owner.requests.append(Recorded(route, method, path, query, body, token))
        fault = owner._next_fault(route)
        if fault is not None:
            if fault.kind == "status":
                self._error(fault.status, fault.reason, fault.message, fault.retry_after)
                return
            if fault.kind == "delay":
                time.sleep(fault.delay)
            elif fault.kind == "drop":
                self._reset()
                return
            elif fault.kind == "action" and fault.action is not None:
                fault.action()
        try:
            if route == "token":
                payload = owner.issue_token(body)
            elif match is None:
                raise _APIError(404, "NOT_FOUND", f"No route for {method} {path}")
            else:
                payload = self._api(route, match, query, body, token)
        except _APIError as exc:
            if route == "token":
                self._json(exc.code, {"error": exc.status, "error_description": exc.message})
            else:
                self._error(exc.code, exc.status, exc.message)
            return
        if fault is not None and fault.kind in ("reset", "truncate"):
            data = json.dumps(payload, ensure_ascii=False).encode()
            cut = data[: max(1, len(data) // 2)]
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data) if fault.kind == "reset" else len(cut)))
            self.end_headers()
            self.wfile.write(cut)
            self.wfile.flush()
            if fault.kind == "reset":
                self._reset()
            return
        self._json(200, payload)

    def _api(self, route: str, match: re.Match[str], query: dict[str, list[str]],
             body: Any, token: str | None) -> dict[str, Any]:
        owner = self.owner
        book = owner.spreadsheets.get(match.group(1))
        if book is None:
            raise _APIError(404, "NOT_FOUND", "Requested entity was not found.")
        write = route not in ("metadata", "batchGet")
        owner.authorise(token, book, write=write)
        with owner._lock:
            if route == "metadata":
                fields = query.get("fields")
                return book.metadata(fields[0] if fields else None)
            if route == "batchGet":
                return owner.values_batch_get(book, query)
            if route == "batchUpdate":
                return owner.batch_update(book, body or {})
            if route == "valuesBatchUpdate":
                n = sum(owner.write_values(book, d["range"], d.get("values") or [])
                        for d in (body or {}).get("data") or [])
                return {"spreadsheetId": book.spreadsheet_id, "totalUpdatedCells": n}
            n = owner.write_values(book, unquote(match.group(2)), (body or {}).get("values") or [])
            return {"spreadsheetId": book.spreadsheet_id, "updatedCells": n}

    def _json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, code: int, status: str, message: str, retry_after: str | None = None) -> None:
        self._json(code, {"error": {"code": code, "message": message, "status": status}},
                   {"Retry-After": retry_after} if retry_after is not None else None)

    def _reset(self) -> None:
        """Abort with a TCP RST instead of a clean close."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


# --- client side: routing, keys ------------------------------------------------------------------


class LoopbackAdapter(EmulatorAdapter):
    """Rewrites Google hosts to the loopback server just before sending."""


def loopback_session(server: SheetsServer) -> requests.Session:
    session = requests.Session()
    adapter = LoopbackAdapter(server.url)
    for host in GOOGLE_HOSTS:
        session.mount(host, adapter)
    return session


@cache
def _private_key(label: str) -> rsa.RSAPrivateKey:
    """Generated per test process; never written anywhere but tmp_path."""
    # 1024 bits keeps key loading (done by google-auth on every read) quick in tests
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@dataclass
class ServiceAccount:
    path: Path
    info: dict[str, Any]

    @property
    def email(self) -> str:
        return str(self.info["client_email"])

    @property
    def private_key(self) -> str:
        return str(self.info["private_key"])


def make_service_account(server: SheetsServer | None, directory: Path, *,
                         email: str = "fengqiao-test@demo-project.iam.gserviceaccount.com",
                         key_label: str = "main", register: bool = True) -> ServiceAccount:
    """Write a service-account JSON key to ``directory`` and (optionally)
    register its public key with the server."""
    key = _private_key(key_label)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    info = {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": TOKEN_URI,
    }
    path = directory / f"sa-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(info), encoding="utf-8")
    if server is not None and register:
        server.register_key(email, key.public_key())
    return ServiceAccount(path, info)


@pytest.fixture
def sheets_server() -> Iterator[SheetsServer]:
    server = SheetsServer().start()
    try:
        yield server
    finally:
        server.stop()
