"""Google Sheets source: read a town's ledger spreadsheet, and set one up.

Setting up Google access (once per town)
----------------------------------------

1. In the Google Cloud console (https://console.cloud.google.com/) create a
   project, or pick an existing one, and enable the **Google Sheets API** for it
   ("APIs & Services" → "Library" → "Google Sheets API" → "Enable").
2. Create a service account ("IAM & Admin" → "Service accounts" → "Create
   service account"). It needs no project role.
3. Open the service account, "Keys" → "Add key" → "Create new key" → JSON.
   The browser downloads a ``.json`` key file. Keep it out of git and out of
   any shared folder: whoever has it can read every sheet shared with the
   account.
4. Open the JSON file and copy its ``client_email`` (it looks like
   ``fengqiao@my-project.iam.gserviceaccount.com``). In the ledger
   spreadsheet click "Share", paste that address and give it **Viewer**
   access (``fengqiao sheets init`` needs **Editor** instead, once; you can
   lower it to Viewer afterwards).
5. Tell fengqiao where the key is: set the environment variable
   ``FENGQIAO_GOOGLE_CREDENTIALS=/path/to/key.json`` (or pass
   ``--credentials``, or set ``google_credentials`` in ``fengqiao.yml``).
6. Use the spreadsheet as the source: ``source: gsheets:<id or full URL>``.

How a read works, and why
-------------------------

A read is exactly one metadata request (sheet titles, order, hidden flags and
merged ranges, no cell data) and one ``values:batchGet`` for every grid tab,
whatever the size of the ledger: the Sheets API quota counts requests, not
cells, so a call per tab or per row would exhaust it for a county running
twenty towns. The token request comes first when the access token is new.

Values are fetched with ``valueRenderOption=UNFORMATTED_VALUE`` and
``dateTimeRenderOption=SERIAL_NUMBER``: numbers come back as numbers (not
"1,234" or "85%"), booleans as booleans, formula errors as their text
(``#REF!``), and dates as spreadsheet serial numbers (days since 1899-12-30,
the same epoch as Excel), which the normaliser already reads for date columns.
Formatted values would hand us whatever display format a clerk chose,
including formats that drop the year (``3月5日``).

Retries are ours (:class:`RetryPolicy`): bounded attempts, exponential
backoff with full jitter, ``Retry-After`` honoured up to a cap. gspread's own
``BackOffHTTPClient`` retries without a bound, which turned thirty 429s into
nearly an hour of waiting. Writes (``sheets init``) are only retried when the
server says it did nothing (429, 503) or the connection never opened, because
replaying an ``addSheet`` that did run would fail.

The raw JSON of both responses is kept as the *payload* (see
:func:`read_gsheet_payload`); the snapshot layer stores it and rebuilds the
same :class:`RawWorkbook` with :func:`workbook_from_payload`, so a snapshot
re-reads exactly like the live sheet. Both functions are a stable contract.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast
from urllib.parse import urlsplit

import google.auth.exceptions
import pandas as pd
import requests
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread import Client
from gspread.http_client import HTTPClient
from requests.adapters import HTTPAdapter

from ..errors import FengqiaoError, SourceError, column_letter
from ..schema import FieldSpec, Schema, TabSpec
from .base import RawTable, RawWorkbook, SourceInfo

log = logging.getLogger(__name__)

READONLY_SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
CREDENTIALS_ENV = "FENGQIAO_GOOGLE_CREDENTIALS"
#: a loopback Sheets-compatible server to use instead of Google (tests, demos)
EMULATOR_ENV = "FENGQIAO_SHEETS_EMULATOR"
GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://oauth2.googleapis.com")

PAYLOAD_KIND = "fengqiao-gsheets-payload"
PAYLOAD_VERSION = 1

#: what the metadata request asks for: enough to list the tabs and spread merges
METADATA_FIELDS = (
    "spreadsheetId,properties(title,locale,timeZone),"
    "sheets(properties(sheetId,title,index,sheetType,hidden,"
    "gridProperties(rowCount,columnCount,frozenRowCount)),merges)"
)
VALUE_PARAMS: dict[str, str] = {
    "valueRenderOption": "UNFORMATTED_VALUE",
    "dateTimeRenderOption": "SERIAL_NUMBER",
    "majorDimension": "ROWS",
}

_URL_ID = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_BARE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_CELL = re.compile(r"^\$?([A-Za-z]*)\$?(\d*)$")

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: statuses that mean "nothing was done", so even a write may be replayed
_WRITE_RETRY_STATUSES = frozenset({429, 503})


# --- retry policy -----------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the user the sheet cannot be read.

    ``max_attempts`` counts every request sent, the first included. The wait
    before attempt ``n + 1`` is uniform in ``[0, min(max_delay, base_delay *
    2**(n-1))]`` (full jitter, so twenty towns retrying at once do not march
    in step), unless the server sent ``Retry-After``, which is obeyed up to
    ``retry_after_cap`` seconds. ``sleep`` and ``random`` are injectable so
    tests run instantly and deterministically.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    retry_after_cap: float = 30.0
    timeout: tuple[float, float] = (10, 60)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_cap))
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.random() * ceiling


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


Kind = Literal[
    "auth-rejected", "auth-unavailable", "forbidden", "api-disabled", "not-found",
    "bad-request", "quota", "server", "timeout", "network", "bad-json", "http",
]


class _RequestFailed(Exception):
    """Internal: one API call gave up. Carries no headers and no body beyond
    Google's own error message, so nothing secret can leak into the text."""

    def __init__(self, kind: Kind, *, status: int | None = None, attempts: int = 1,
                 api_message: str = "", retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.attempts = attempts
        self.api_message = api_message
        self.retry_after = retry_after


def _api_error(response: requests.Response) -> tuple[str, str]:
    """(status, message) from Google's error body, tolerating junk."""
    try:
        err = response.json().get("error", {})
    except (ValueError, AttributeError):
        return "", ""
    if not isinstance(err, dict):
        return "", ""
    text = json.dumps(err.get("details", []), ensure_ascii=False)
    status = str(err.get("status", ""))
    if "SERVICE_DISABLED" in text or "has not been used" in str(err.get("message", "")):
        status = "SERVICE_DISABLED"
    return status, str(err.get("message", ""))[:300]


def _failure_for_status(response: requests.Response) -> _RequestFailed:
    code = response.status_code
    api_status, api_message = _api_error(response)
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    kind: Kind
    if code == 429:
        kind = "quota"
    elif code in _RETRY_STATUSES:
        kind = "server"
    elif code == 401:
        kind = "auth-rejected"
    elif code == 403:
        kind = "api-disabled" if api_status == "SERVICE_DISABLED" else "forbidden"
    elif code == 404:
        kind = "not-found"
    elif code == 400:
        kind = "bad-request"
    else:
        kind = "http"
    return _RequestFailed(kind, status=code, api_message=api_message, retry_after=retry_after)


class _TimedRequest(Request):
    """google-auth's transport with our timeout: its default waits 120 s for
    the token endpoint, longer than a clerk will watch a silent terminal."""

    def __init__(self, session: requests.Session, timeout: tuple[float, float]) -> None:
        super().__init__(session)
        self._timeout = timeout

    def __call__(self, url: str, method: str = "GET", body: Any = None,  # type: ignore[override]
                 headers: Any = None, timeout: Any = None, **kwargs: Any) -> Any:
        return super().__call__(url, method=method, body=body, headers=headers,
                                timeout=self._timeout, **kwargs)


class _BoundedHTTPClient(HTTPClient):
    """gspread's HTTP client with our bounded retries.

    The authorised session borrows the transport adapters of the session
    the caller passed, so both the token request and the API requests go
    wherever that session sends them (tests route them to a loopback
    server this way). The credential is refreshed at most once on a 401.
    """

    policy: RetryPolicy = RetryPolicy()
    transport: requests.Session | None = None

    def __init__(self, auth: Any, session: requests.Session | None = None) -> None:
        base = self.transport if self.transport is not None else requests.Session()
        self.auth = auth
        authed = AuthorizedSession(
            auth, max_refresh_attempts=1,
            auth_request=_TimedRequest(base, self.policy.timeout),
        )
        for prefix, adapter in base.adapters.items():
            authed.mount(prefix, adapter)
        self.session = authed
        self.timeout = self.policy.timeout

    def request(self, method: str, endpoint: str, params: Any = None, data: Any = None,
                json: Any = None, files: Any = None, headers: Any = None) -> requests.Response:
        policy = self.policy
        write = method.lower() != "get"
        attempts = max(1, policy.max_attempts)
        failure = _RequestFailed("network")
        for attempt in range(1, attempts + 1):
            try:
                response = self.session.request(
                    method=method, url=endpoint, json=json, params=params, data=data,
                    files=files, headers=headers, timeout=policy.timeout,
                )
            except requests.exceptions.ConnectTimeout:
                failure = _RequestFailed("timeout")
            except requests.exceptions.Timeout:
                failure = _RequestFailed("timeout")
                if write:
                    raise self._final(failure, attempt) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError):
                failure = _RequestFailed("network")
                if write:
                    raise self._final(failure, attempt) from None
            except google.auth.exceptions.RefreshError as exc:
                kind: Kind = "auth-unavailable" if exc.retryable else "auth-rejected"
                raise self._final(_RequestFailed(kind), attempt) from None
            except google.auth.exceptions.TransportError as exc:
                cause = exc.__cause__ or exc.__context__
                failure = _RequestFailed(
                    "timeout" if isinstance(cause, requests.exceptions.Timeout) else "network")
            else:
                if response.ok:
                    try:
                        response.json()
                    except ValueError:
                        failure = _RequestFailed("bad-json", status=response.status_code)
                        if write:
                            raise self._final(failure, attempt) from None
                    else:
                        return response
                else:
                    failure = _failure_for_status(response)
                    retryable = (_WRITE_RETRY_STATUSES if write else _RETRY_STATUSES)
                    if response.status_code not in retryable:
                        raise self._final(failure, attempt) from None
            if attempt == attempts:
                break
            wait = policy.delay(attempt, failure.retry_after)
            log.info("Sheets request failed (%s, HTTP %s), attempt %d/%d, retrying in %.2fs",
                        failure.kind, failure.status, attempt, attempts, wait)
            policy.sleep(wait)
        raise self._final(failure, attempts) from None

    @staticmethod
    def _final(failure: _RequestFailed, attempts: int) -> _RequestFailed:
        failure.attempts = attempts
        return failure


class EmulatorAdapter(HTTPAdapter):
    """Sends Google-bound requests to a local emulator instead (the test
    suite's loopback Sheets server uses the same adapter)."""

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        url = request.url or ""
        for host in GOOGLE_HOSTS:
            if url.startswith(host):
                request.url = self.base_url + url[len(host):]
                break
        return super().send(request, *args, **kwargs)


def emulator_session() -> requests.Session | None:
    """A session routed to ``$FENGQIAO_SHEETS_EMULATOR`` when it is set.

    Like Google's own ``*_EMULATOR_HOST`` variables, this lets the whole CLI
    run against a local Sheets-compatible server. Only loopback addresses
    are accepted: the signed token request must never go to another host.
    """
    url = os.environ.get(EMULATOR_ENV, "").strip()
    if not url:
        return None
    host = urlsplit(url).hostname or ""
    if urlsplit(url).scheme not in ("http", "https") or host not in ("127.0.0.1", "localhost", "::1"):
        raise SourceError(f"环境变量 {EMULATOR_ENV} 只能指向本机地址（127.0.0.1），现在是“{url}”。",
                          hint="这个变量只用于测试；正常使用时请删除它。")
    session = requests.Session()
    adapter = EmulatorAdapter(url)
    for prefix in GOOGLE_HOSTS:
        session.mount(prefix, adapter)
    return session


def _client(creds: service_account.Credentials, session: requests.Session | None,
            policy: RetryPolicy | None) -> Client:
    if session is None:
        session = emulator_session()
    bound = type("_ConfiguredHTTPClient", (_BoundedHTTPClient,),
                 {"policy": policy or RetryPolicy(), "transport": session})
    return Client(auth=creds, http_client=cast(Any, bound))


# --- credentials ------------------------------------------------------------------------


_HOW_TO_GET_KEY = (
    "请在 Google Cloud 控制台的“服务账号”页面为服务账号新建一个 JSON 密钥，"
    "下载后用 --credentials 指定，或设置环境变量 " + CREDENTIALS_ENV + "。"
)


def _load_credentials(path: str | None, scopes: Iterable[str]
                      ) -> tuple[service_account.Credentials, str]:
    """The key file, checked field by field, because a clerk will sometimes
    download the OAuth client secret or the wrong file and needs to hear
    which. Messages name the file and fields only, never their content."""
    path = path or os.environ.get(CREDENTIALS_ENV) or None
    if not path:
        raise SourceError("没有提供 Google 服务账号密钥，无法读取 Google 表格。", hint=_HOW_TO_GET_KEY)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise SourceError(f"找不到 Google 服务账号密钥文件 {path}。",
                          hint="请检查路径是否写错；" + _HOW_TO_GET_KEY) from None
    except (OSError, UnicodeDecodeError):
        raise SourceError(f"无法读取 Google 服务账号密钥文件 {path}。",
                          hint="请确认它是一个可读的文件（不是文件夹），并且当前用户有读取权限。"
                          ) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise SourceError(f"{path} 不是有效的 JSON 文件，不像是 Google 服务账号密钥。",
                          hint=_HOW_TO_GET_KEY) from None
    if not isinstance(info, dict):
        raise SourceError(f"{path} 不是 Google 服务账号密钥。", hint=_HOW_TO_GET_KEY)
    if info.get("type") != "service_account":
        if "installed" in info or "web" in info:
            raise SourceError(
                f"{path} 是 OAuth 客户端密钥，不是服务账号密钥。",
                hint="请在“服务账号”页面（不是“OAuth 客户端”）创建并下载 JSON 密钥。")
        raise SourceError(f"{path} 不是 Google 服务账号密钥（type 应为 service_account）。",
                          hint=_HOW_TO_GET_KEY)
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise SourceError(f"Google 服务账号密钥 {path} 缺少字段：{'、'.join(missing)}。",
                          hint="文件可能被改动过，请重新下载密钥。")
    try:
        creds = service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
    except (ValueError, TypeError, IndexError):
        raise SourceError(f"Google 服务账号密钥 {path} 里的私钥无法识别，文件可能已损坏。",
                          hint="请重新下载密钥。") from None
    return creds, str(info["client_email"])


# --- errors → Chinese ---------------------------------------------------------------------


def _source_error(f: _RequestFailed, *, sid: str, email: str, role: str) -> SourceError:
    tried = f"，已尝试 {f.attempts} 次仍未成功" if f.attempts > 1 else ""
    later = "请稍后再试；上一次成功读取的快照不受影响。"
    if f.kind == "auth-rejected":
        return SourceError(
            f"Google 拒绝了服务账号 {email} 的凭据（密钥可能已被删除、停用或过期）。",
            hint="请在 Google Cloud 控制台为这个服务账号新建 JSON 密钥，替换旧文件后重试。")
    if f.kind == "auth-unavailable":
        return SourceError("Google 登录服务暂时不可用，无法取得访问令牌。", hint=later)
    if f.kind == "forbidden":
        return SourceError(
            f"服务账号 {email} 没有权限打开表格 {sid}。",
            hint=f"请在 Google 表格右上角点“共享”，把表格共享给 {email}，权限选“{role}”，然后重试。")
    if f.kind == "api-disabled":
        return SourceError(
            "服务账号所在的 Google Cloud 项目还没有启用 Google Sheets API。",
            hint="请在 Google Cloud 控制台“API 和服务”里启用 Google Sheets API，几分钟后重试。")
    if f.kind == "not-found":
        return SourceError(
            f"找不到表格 {sid}：表格可能已被删除，或者表格 ID、链接抄错了。",
            hint="请在浏览器里打开这张表格，复制地址栏里的完整链接重新填写。")
    if f.kind == "bad-request":
        said = f"（Google 的说明：{f.api_message}）" if f.api_message else ""
        return SourceError(
            f"Google 表格拒绝了对表格 {sid} 的请求{said}。",
            hint="如果刚刚有人改了工作表名称或删除了工作表，请稍后重试。")
    if f.kind == "quota":
        return SourceError(
            f"Google 表格的访问次数超过了限额{tried.replace('未成功', '被拒绝')}（表格 {sid}）。",
            hint="请过几分钟再运行；如果经常出现，请减少同时读取这张表格的任务。")
    if f.kind == "server":
        return SourceError(
            f"Google 表格服务暂时出错（HTTP {f.status}）{tried}（表格 {sid}）。",
            hint=later)
    if f.kind == "timeout":
        return SourceError(f"连接 Google 表格超时{tried}（表格 {sid}）。",
                           hint="请检查网络是否通畅，或稍后再试。")
    if f.kind == "network":
        return SourceError(f"无法连接 Google 表格服务器{tried}（表格 {sid}）。",
                           hint="请检查网络连接和代理设置，或稍后再试。")
    if f.kind == "bad-json":
        return SourceError(f"Google 表格返回的数据不完整{tried}（表格 {sid}）。",
                           hint=later)
    return SourceError(f"Google 表格返回了意外的错误（HTTP {f.status}），表格 {sid}。", hint=later)


@contextmanager
def _translated(sid: str, email: str, role: str) -> Iterator[None]:
    try:
        yield
    except _RequestFailed as f:
        raise _source_error(f, sid=sid, email=email, role=role) from None


# --- reading ----------------------------------------------------------------------------------


def spreadsheet_id(spreadsheet: str) -> str:
    """Accept what a clerk pastes: the id, or the browser's whole address."""
    text = spreadsheet.strip()
    if text.startswith("gsheets:"):
        text = text[len("gsheets:"):].strip()
    match = _URL_ID.search(text)
    if match:
        return match.group(1)
    if _BARE_ID.match(text):
        return text
    raise SourceError(
        f"“{spreadsheet}”不是有效的 Google 表格链接或 ID。",
        hint="请复制浏览器地址栏里形如 https://docs.google.com/spreadsheets/d/…/edit 的完整链接。")


def quote_sheet(title: str) -> str:
    """A1 sheet prefix as the Sheets API wants it: always quoted, quotes doubled."""
    return "'" + title.replace("'", "''") + "'"


def _grid_sheets(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    sheets = metadata.get("sheets") or []
    return [s for s in sheets
            if (s.get("properties") or {}).get("sheetType", "GRID") == "GRID"]


def read_gsheet_payload(
    spreadsheet: str,
    *,
    credentials_path: str | None,
    session: requests.Session | None = None,
    retry: RetryPolicy | None = None,
) -> dict[str, Any]:
    """Fetch the spreadsheet as raw JSON: the snapshot layer stores exactly
    this and replays it through :func:`workbook_from_payload`.

    Keys: ``kind`` (``"fengqiao-gsheets-payload"``), ``version`` (1),
    ``spreadsheetId``, ``readAt`` (ISO 8601, UTC), ``valueParams`` (the render
    options used), ``metadata`` (the spreadsheets.get response) and
    ``values`` (the values:batchGet response; ``valueRanges`` are in the
    order of the grid sheets in ``metadata``).
    """
    sid = spreadsheet_id(spreadsheet)
    creds, email = _load_credentials(credentials_path, READONLY_SCOPES)
    http = _client(creds, session, retry).http_client
    with _translated(sid, email, "查看者"):
        metadata = dict(http.fetch_sheet_metadata(
            sid, params={"includeGridData": "false", "fields": METADATA_FIELDS}))
        titles = [s["properties"]["title"] for s in _grid_sheets(metadata)]
        values: dict[str, Any] = {"spreadsheetId": sid, "valueRanges": []}
        if titles:
            values = http.values_batch_get(
                sid, [quote_sheet(t) for t in titles], params=dict(VALUE_PARAMS))
    return {
        "kind": PAYLOAD_KIND,
        "version": PAYLOAD_VERSION,
        "spreadsheetId": sid,
        "readAt": datetime.now(UTC).isoformat(),
        "valueParams": dict(VALUE_PARAMS),
        "metadata": metadata,
        "values": values,
    }


def _range_origin(a1_range: str) -> tuple[int, int]:
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


def _table(title: str, value_range: dict[str, Any], merges: list[dict[str, Any]]) -> RawTable:
    rows = value_range.get("values") or []
    frame = pd.DataFrame(rows, dtype=object) if rows else pd.DataFrame(dtype=object)
    r0, c0 = _range_origin(str(value_range.get("range", "")))
    if r0 or c0:
        # the API trims leading blanks only when asked for a sub-range; keep
        # positions absolute so column 0 is always sheet column A
        frame.index = frame.index + r0
        frame.columns = [int(c) + c0 for c in frame.columns]
    n_rows = (frame.index.max() + 1) if len(frame.index) else 0
    n_cols = (max(frame.columns) + 1) if len(frame.columns) else 0
    frame = frame.reindex(index=range(n_rows), columns=range(n_cols))
    frame = frame.astype(object).where(frame.notna() & frame.ne(""), None)
    spread = []
    for m in merges:
        top, left = int(m.get("startRowIndex", 0)), int(m.get("startColumnIndex", 0))
        if top < n_rows and left < n_cols and frame.iat[top, left] is not None:
            spread.append((top, int(m.get("endRowIndex", top + 1)), left,
                           int(m.get("endColumnIndex", left + 1)), frame.iat[top, left]))
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


def workbook_from_payload(payload: dict[str, Any]) -> RawWorkbook:
    """Rebuild the workbook from a stored payload, with no network at all."""
    try:
        if payload.get("kind") != PAYLOAD_KIND:
            raise KeyError("kind")
        metadata = payload["metadata"]
        ranges = payload["values"].get("valueRanges") or []
        sid = str(payload.get("spreadsheetId") or metadata.get("spreadsheetId", ""))
        read_at = datetime.fromisoformat(payload["readAt"]) if payload.get("readAt") else None
        tables: dict[str, RawTable] = {}
        for i, sheet in enumerate(_grid_sheets(metadata)):
            title = str(sheet["properties"]["title"])
            value_range = ranges[i] if i < len(ranges) else {}
            tables[title] = _table(title, value_range, list(sheet.get("merges") or []))
            tables[title].hidden = bool(sheet["properties"].get("hidden", False))
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        raise SourceError("Google 表格快照的内容格式不对，无法使用。",
                          hint="快照文件可能被改动过或来自不兼容的版本，请重新读取表格。") from None
    info = SourceInfo(
        kind="gsheets",
        name=str((metadata.get("properties") or {}).get("title") or sid),
        location=sid,
        read_at=read_at,
    )
    return RawWorkbook(info=info, tables=tables)


def read_gsheet(
    spreadsheet: str,
    *,
    credentials_path: str | None,
    session: requests.Session | None = None,
    retry: RetryPolicy | None = None,
) -> RawWorkbook:
    """Read every tab of a live spreadsheet (two API calls, see module doc)."""
    return workbook_from_payload(read_gsheet_payload(
        spreadsheet, credentials_path=credentials_path, session=session, retry=retry))


# --- sheets init -----------------------------------------------------------------------------

OPTIONS_SHEET = "选项"
#: enum lists longer than this get a range on the hidden options sheet: a long
#: inline list is cramped in the dropdown and cannot be edited by staff
INLINE_LIST_MAX = 8
HEADER_SCAN_ROWS = 10

TabAction = Literal["created", "header-written", "verified", "no-header"]


@dataclass(frozen=True)
class TabInit:
    tab: str
    sheet: str
    action: TabAction
    header_row: int | None = None
    missing_required: tuple[str, ...] = ()
    missing_optional: tuple[str, ...] = ()


@dataclass
class InitReport:
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


def _find_header(rows: list[list[Any]], tab: TabSpec) -> tuple[int | None, set[str]]:
    """The row (0-based) among the first few with the most known headers."""
    best, best_hits, found = None, 0, set()
    for i, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        texts = {_cell_text(v) for v in row}
        hits = {f.name for f in tab.fields if texts & set(f.headers)}
        if len(hits) > best_hits:
            best, best_hits, found = i, len(hits), hits
    return best, found


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
    left alone. The whole change is one metadata read, one values read and
    at most one ``batchUpdate``, so it is all-or-nothing on Google's side.
    """
    sid = spreadsheet_id(spreadsheet)
    creds, email = _load_credentials(credentials_path, WRITE_SCOPES)
    http = _client(creds, session, retry).http_client
    names = list(dict.fromkeys(tabs)) if tabs is not None else list(schema.tabs)
    unknown = [n for n in names if n not in schema.tabs]
    if unknown:
        raise FengqiaoError(f"不认识的工作表 id：{'、'.join(unknown)}。",
                            hint=f"可用的 id 有：{'、'.join(schema.tabs)}。")
    wanted = [schema[name] for name in names]
    with _translated(sid, email, "编辑者"):
        metadata = dict(http.fetch_sheet_metadata(
            sid, params={"includeGridData": "false", "fields": METADATA_FIELDS}))
        props = [s["properties"] for s in _grid_sheets(metadata)]
        by_title = {str(p["title"]).strip(): p for p in props}
        existing: dict[str, dict[str, Any]] = {}
        for tab in wanted:
            for name in (tab.title, *tab.aliases):
                if name in by_title:
                    existing[tab.name] = by_title[name]
                    break
        options_prop = by_title.get(OPTIONS_SHEET)
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
            row, found = _find_header(rows, tab)
            if row is None:
                reports.append(TabInit(tab.name, title, "no-header"))
                continue
            missing = [f for f in tab.fields if f.name not in found]
            reports.append(TabInit(
                tab.name, title, "verified", header_row=row + 1,
                missing_required=tuple(f.title for f in missing if f.required),
                missing_optional=tuple(f.title for f in missing if not f.required),
            ))

        # the options layout comes from the whole schema, never from --tab, so
        # ranges written by an earlier run keep pointing at the right column
        option_cols = _options_columns(list(schema))
        option_ranges = {
            (tab_name, field_name): (f"={quote_sheet(OPTIONS_SHEET)}!${column_letter(i)}$2:"
                                     f"${column_letter(i)}${len(values)}")
            for i, (tab_name, field_name, values) in enumerate(option_cols)
        }
        needs_options = any((tab.name, f.name) in option_ranges
                            for tab, *_ in to_write for f in tab.fields)
        reqs: list[dict[str, Any]] = []
        options_state: Literal["created", "updated", "unchanged", "none"] = "none"
        if option_cols and (needs_options or options_prop is not None):
            height = max(len(c[2]) for c in option_cols)
            want = [[c[2][r] if r < len(c[2]) else "" for c in option_cols] for r in range(height)]
            desired = [[_string_cell(v) if v else {} for v in row] for row in want]
            if options_prop is None:
                options_id = next_id
                next_id += 1
                options_state = "created"
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
                current = (value_ranges[-1].get("values") or []) if value_ranges else []
                have = [[_cell_text(v) for v in row][:len(option_cols)]
                        + [""] * (len(option_cols) - len(row)) for row in current]
                extra = any(len(row) > len(option_cols) for row in current)
                options_state = "unchanged" if have == want and not extra else "updated"
            if options_state != "unchanged":
                reqs.append({"updateCells": {
                    "range": _grid(options_id),
                    "rows": [{"values": row} for row in desired],
                    "fields": "userEnteredValue",
                }})
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
