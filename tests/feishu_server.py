"""A Feishu-Open-API-compatible server on 127.0.0.1 for the real ``lark-oapi`` client.

What it serves (what fengqiao's Feishu reads use):

* ``POST /open-apis/auth/v3/tenant_access_token/internal``: ``{"app_id",
  "app_secret"}`` of an app registered with :meth:`FeishuServer.add_app`
  gives a fresh ``t-…`` token (``expire`` 7200 s); a wrong secret or an
  unknown app gives HTTP 400 with code 10014 / 10003, as Feishu does.
* ``GET /open-apis/sheets/v3/spreadsheets/{token}/sheets/query``: every tab's
  ``sheet_id``, ``title``, ``index``, ``hidden``, ``grid_properties``,
  ``resource_type`` and ``merges`` (end indexes inclusive, as Feishu gives them).
* ``GET /open-apis/sheets/v2/spreadsheets/{token}/values_batch_get?ranges=a,b``:
  bare sheet ids, each answered with the tab's used rectangle padded with
  ``null`` (``"range": "<id>!A1:F7"``).

Every API call checks the bearer token (unknown or expired: HTTP 400, code
99991663), that the app was granted the sheet scope (else 99991672), that
the spreadsheet exists (else 1310214) and that the app was added to it
(else HTTP 403, code 1310213). Requests are recorded (:class:`Recorded`) so
tests assert exact counts, and faults are scripted per route
(``token``, ``sheets``, ``values``): a status with Feishu's rate-limit
headers (:func:`rate_limited`), a 5xx, an error code, a delay beyond the
client timeout, a truncated body, a connection reset, or an action run just
before the request is served (rename or delete a tab, expire every token).

The real client is pointed here through its own ``domain`` setting
(``http://127.0.0.1:<port>``, which the SDK allows for loopback only).
"""

from __future__ import annotations

import json
import secrets
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from fengqiao.errors import column_letter
from loopback import LoopbackServer

_EPOCH = datetime(1899, 12, 30)
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
SHEETS_PREFIX = "/open-apis/sheets/v3/spreadsheets/"
VALUES_PREFIX = "/open-apis/sheets/v2/spreadsheets/"


def serial(value: date | datetime) -> float | int:
    """A date as Feishu stores a cell typed as a date: days since 1899-12-30."""
    if isinstance(value, datetime):
        delta = value - _EPOCH
        return delta.days + delta.seconds / 86400
    return (value - _EPOCH.date()).days


@dataclass
class FeishuSheet:
    sheet_id: str
    title: str
    rows: list[list[Any]] = field(default_factory=list)
    #: (top, bottom, left, right), 0-based and inclusive, as Feishu lists them
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)
    hidden: bool = False
    resource_type: str = "sheet"

    def listing(self, index: int) -> dict[str, Any]:
        width = max((len(r) for r in self.rows), default=0)
        entry: dict[str, Any] = {
            "sheet_id": self.sheet_id, "title": self.title, "index": index,
            "hidden": self.hidden, "resource_type": self.resource_type,
            "grid_properties": {"frozen_row_count": 0, "frozen_column_count": 0,
                                "row_count": max(200, len(self.rows)),
                                "column_count": max(20, width)},
        }
        if self.merges:
            entry["merges"] = [{"start_row_index": t, "end_row_index": b,
                                "start_column_index": le, "end_column_index": r}
                               for t, b, le, r in self.merges]
        return entry

    def value_range(self, revision: int) -> dict[str, Any]:
        rows = [["" if v is None else v for v in r] for r in self.rows]
        while rows and all(v == "" for v in rows[-1]):
            rows.pop()
        width = max((len(r) for r in rows), default=0)
        # Feishu pads the used rectangle with null
        values = [[None if v == "" else v for v in r] + [None] * (width - len(r)) for r in rows]
        last = f"{column_letter(max(width, 1) - 1)}{max(len(values), 1)}"
        entry: dict[str, Any] = {"majorDimension": "ROWS", "range": f"{self.sheet_id}!A1:{last}",
                                 "revision": revision}
        entry["values"] = values or [[None]]
        return entry


@dataclass
class FeishuSpreadsheet:
    token: str
    sheets: list[FeishuSheet] = field(default_factory=list)
    #: app ids added through 「添加文档应用」; None: every app may read
    apps: set[str] | None = None
    revision: int = 1

    def add_sheet(self, title: str, rows: list[list[Any]] | None = None, *,
                  merges: list[tuple[int, int, int, int]] | None = None, hidden: bool = False,
                  resource_type: str = "sheet") -> FeishuSheet:
        sheet = FeishuSheet(sheet_id=secrets.token_hex(3), title=title,
                            rows=[list(r) for r in rows or []], merges=list(merges or []),
                            hidden=hidden, resource_type=resource_type)
        self.sheets.append(sheet)
        return sheet

    def sheet(self, title: str) -> FeishuSheet:
        return next(s for s in self.sheets if s.title == title)

    def rename(self, old: str, new: str) -> None:
        self.sheet(old).title = new
        self.revision += 1

    def delete(self, title: str) -> None:
        self.sheets.remove(self.sheet(title))
        self.revision += 1


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return serial(value)
    return value


def spreadsheet_from_xlsx(path: Path, token: str) -> FeishuSpreadsheet:
    """A Feishu sheet holding a real workbook written by openpyxl: date cells
    become serial numbers (as Feishu stores them), merges keep their ranges."""
    import openpyxl

    book = openpyxl.load_workbook(path)
    out = FeishuSpreadsheet(token)
    for ws in book.worksheets:
        rows = [[_cell(v) for v in r] for r in ws.iter_rows(values_only=True)]
        merges = [(m.min_row - 1, m.max_row - 1, m.min_col - 1, m.max_col - 1)
                  for m in ws.merged_cells.ranges]
        out.add_sheet(ws.title, rows, merges=merges, hidden=ws.sheet_state != "visible")
    return out


# --- faults and records ------------------------------------------------------------------


@dataclass
class Fault:
    """One scripted misbehaviour; ``kind`` is status|delay|reset|truncate|action."""

    kind: str
    status: int = 500
    code: int = 1315201
    msg: str = "internal error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    action: Callable[[], None] | None = None


def status_fault(status: int, code: int = 1315201, msg: str = "internal error",
                 headers: dict[str, str] | None = None) -> Fault:
    return Fault("status", status=status, code=code, msg=msg, headers=dict(headers or {}))


def rate_limited(reset: int = 7, limit: int = 100) -> Fault:
    """Feishu's answer over its frequency limit: HTTP 429, code 99991400 and
    the ``x-ogw-ratelimit-*`` headers (``reset`` = seconds until it lifts)."""
    return status_fault(429, 99991400, "request trigger frequency limit",
                        {"x-ogw-ratelimit-limit": str(limit), "x-ogw-ratelimit-reset": str(reset)})


@dataclass
class Recorded:
    route: str
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    token: str | None


class _APIError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


class FeishuServer:
    """The loopback Feishu Open API. Thread-safe enough for one test at a time."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, FeishuSpreadsheet] = {}
        self.apps: dict[str, str] = {}  # app id → app secret
        self.scoped: set[str] = set()  # app ids granted sheets:spreadsheet:readonly
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (app id, expires at)
        self.requests: list[Recorded] = []
        self.token_lifetime = 7200
        self._faults: dict[str, deque[Fault]] = {}
        self._lock = threading.Lock()
        self._httpd: LoopbackServer | None = None

    def start(self) -> FeishuServer:
        server = self

        class Handler(_Handler):
            owner = server

        httpd = LoopbackServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()
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
    def add_app(self, app_id: str, app_secret: str, *, scoped: bool = True) -> None:
        self.apps[app_id] = app_secret
        if scoped:
            self.scoped.add(app_id)

    def add_spreadsheet(self, token: str, apps: set[str] | None = None) -> FeishuSpreadsheet:
        book = FeishuSpreadsheet(token, apps=apps)
        self.spreadsheets[token] = book
        return book

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (Feishu's two hours passed)."""
        with self._lock:
            self.tokens = {t: (app, 0.0) for t, (app, _) in self.tokens.items()}

    def fault(self, route: str, fault: Fault, *, times: int = 1) -> None:
        """Script ``fault`` for the next ``times`` requests to ``route``."""
        with self._lock:
            self._faults.setdefault(route, deque()).extend([fault] * times)

    def next_fault(self, route: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(route)
            return queue.popleft() if queue else None

    # assertions
    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    def count(self, route: str) -> int:
        return sum(1 for r in self.requests if r.route == route)

    def clear(self) -> None:
        self.requests.clear()
        self._faults.clear()

    # endpoints
    def issue_token(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("app_id") or not body.get("app_secret"):
            raise _APIError(400, 10003, "invalid param")
        app_id = str(body["app_id"])
        if app_id not in self.apps:
            raise _APIError(400, 10003, "invalid param: app_id not found")
        if self.apps[app_id] != body["app_secret"]:
            raise _APIError(400, 10014, "app secret invalid")
        token = "t-" + secrets.token_hex(16)
        with self._lock:
            self.tokens[token] = (app_id, time.time() + self.token_lifetime)
        return {"code": 0, "msg": "ok", "tenant_access_token": token,
                "expire": self.token_lifetime}

    def authorise(self, token: str | None, book_token: str) -> FeishuSpreadsheet:
        held = self.tokens.get(token or "")
        if held is None or held[1] < time.time():
            raise _APIError(400, 99991663, "Invalid access token for authorization. "
                                           "Please make a request with token attached.")
        app_id = held[0]
        if app_id not in self.scoped:
            raise _APIError(400, 99991672, "Access denied. One of the following scopes is "
                                           "required: [sheets:spreadsheet:readonly].")
        book = self.spreadsheets.get(book_token)
        if book is None:
            raise _APIError(400, 1310214, "spreadsheet not found")
        if book.apps is not None and app_id not in book.apps:
            raise _APIError(403, 1310213, "permission fail")
        return book

    def sheet_list(self, book: FeishuSpreadsheet) -> dict[str, Any]:
        return {"code": 0, "msg": "success",
                "data": {"sheets": [s.listing(i) for i, s in enumerate(book.sheets)]}}

    def values(self, book: FeishuSpreadsheet, query: dict[str, list[str]]) -> dict[str, Any]:
        ranges = [r for r in (query.get("ranges") or [""])[0].split(",") if r]
        by_id = {s.sheet_id: s for s in book.sheets}
        out, cells = [], 0
        for r in ranges:
            sheet = by_id.get(r.split("!", 1)[0])
            if sheet is None or sheet.resource_type != "sheet":
                raise _APIError(400, 1310211, f"wrong sheet id: {r}")
            entry = sheet.value_range(book.revision)
            cells += sum(len(row) for row in entry["values"])
            out.append(entry)
        return {"code": 0, "msg": "Success",
                "data": {"revision": book.revision, "spreadsheetToken": book.token,
                         "totalCells": cells, "valueRanges": out}}


class _Handler(BaseHTTPRequestHandler):
    owner: FeishuServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        try:
            self._serve_inner(method)
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _route(self, method: str, path: str) -> tuple[str, str]:
        if method == "POST" and path == TOKEN_PATH:
            return "token", ""
        if method == "GET" and path.startswith(SHEETS_PREFIX) and path.endswith("/sheets/query"):
            return "sheets", path[len(SHEETS_PREFIX):-len("/sheets/query")]
        if method == "GET" and path.startswith(VALUES_PREFIX) and path.endswith("/values_batch_get"):
            return "values", path[len(VALUES_PREFIX):-len("/values_batch_get")]
        return "unknown", ""

    def _serve_inner(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        route, book_token = self._route(method, path)
        auth = self.headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else None
        owner = self.owner
        with owner._lock:
            owner.requests.append(Recorded(route, method, path, query, body, token))
        fault = owner.next_fault(route)
        if fault is not None:
            if fault.kind == "status":
                self._json(fault.status, {"code": fault.code, "msg": fault.msg}, fault.headers)
                return
            if fault.kind == "delay":
                time.sleep(fault.delay)
            elif fault.kind == "action" and fault.action is not None:
                fault.action()
        try:
            if route == "token":
                payload = owner.issue_token(body)
            elif route == "unknown":
                raise _APIError(404, 404, f"no route for {method} {path}")
            else:
                book = owner.authorise(token, book_token)
                with owner._lock:
                    payload = (owner.sheet_list(book) if route == "sheets"
                               else owner.values(book, query))
        except _APIError as exc:
            self._json(exc.status, {"code": exc.code, "msg": exc.msg})
            return
        if fault is not None and fault.kind in ("reset", "truncate"):
            self._broken(payload, reset=fault.kind == "reset")
            return
        self._json(200, payload)

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _broken(self, payload: Any, *, reset: bool) -> None:
        """Half the body: announced whole then cut by a reset, or announced
        at its cut length (a JSON document that ends mid-way)."""
        data = json.dumps(payload, ensure_ascii=False).encode()
        cut = data[: max(1, len(data) // 2)]
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data) if reset else len(cut)))
        self.end_headers()
        self.wfile.write(cut)
        self.wfile.flush()
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True


@pytest.fixture
def feishu_server() -> Iterator[FeishuServer]:
    from fengqiao.sources.feishu import clear_token_cache

    clear_token_cache()
    server = FeishuServer().start()
    try:
        yield server
    finally:
        server.stop()
        clear_token_cache()
