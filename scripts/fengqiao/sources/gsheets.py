"""Google Sheets source: read a town's ledger spreadsheet (``sheets init``,
which sets one up, is :mod:`fengqiao.sheets_init` over :func:`sheets_api`).

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

Retries follow the one policy of :mod:`fengqiao.retry` (also used by county
collect): bounded attempts, exponential backoff with full jitter,
``Retry-After`` honoured up to a cap. gspread's own ``BackOffHTTPClient``
retries without a bound, which turned thirty 429s into nearly an hour of
waiting. Writes (``sheets init``) are only retried when the server says it did
nothing (429, 503) or the connection never opened, because replaying an
``addSheet`` that did run would fail.

The raw JSON of both responses is kept as the *payload* (see
:func:`read_gsheet_payload`); the snapshot layer stores it and rebuilds the
same :class:`RawWorkbook` with :func:`workbook_from_payload`, so a snapshot
re-reads exactly like the live sheet. Both functions are a stable contract.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit

import google.auth.exceptions
import requests
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import service_account
from gspread import Client
from gspread.http_client import HTTPClient
from requests.adapters import HTTPAdapter

from .. import clock
from ..errors import SourceError
from ..retry import (
    RETRY_STATUSES,
    GaveUp,
    NotSent,
    RetryPolicy,
    UnusableBody,
    send_with_retries,
)
from .base import RawTable, RawWorkbook, SourceInfo
from .grid import grid_table, range_origin

if TYPE_CHECKING:
    from ..config import Config

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

Kind = Literal[
    "auth-rejected", "auth-unavailable", "forbidden", "api-disabled", "not-found",
    "bad-request", "quota", "server", "timeout", "network", "bad-json", "http",
]


class _RequestFailed(Exception):
    """Internal: one API call gave up. Carries no headers and no body beyond
    Google's own error message, so nothing secret can leak into the text."""

    def __init__(self, kind: Kind, *, status: int | None = None, attempts: int = 1,
                 api_message: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.attempts = attempts
        self.api_message = api_message


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


def _failure_for_status(response: requests.Response, attempts: int) -> _RequestFailed:
    code = response.status_code
    api_status, api_message = _api_error(response)
    kind: Kind
    if code == 429:
        kind = "quota"
    elif code in RETRY_STATUSES:
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
    return _RequestFailed(kind, status=code, attempts=attempts, api_message=api_message)


def _failure(gave: GaveUp) -> _RequestFailed:
    """The retry loop's verdict in this module's terms (worded by ``_source_error``)."""
    if gave.kind == "status":
        assert gave.response is not None
        return _failure_for_status(gave.response, gave.attempts)
    kind: Kind = "bad-json" if gave.kind == "bad-body" else gave.kind
    return _RequestFailed(kind, status=gave.status, attempts=gave.attempts)


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

        def send() -> requests.Response:
            try:
                return self.session.request(
                    method=method, url=endpoint, json=json, params=params, data=data,
                    files=files, headers=headers, timeout=policy.timeout,
                )
            except google.auth.exceptions.RefreshError as exc:
                # Google answered the token request: asking again cannot help
                kind: Kind = "auth-unavailable" if exc.retryable else "auth-rejected"
                raise _RequestFailed(kind) from None
            except google.auth.exceptions.TransportError as exc:
                # the token request failed, so the API request never left
                cause = exc.__cause__ or exc.__context__
                raise NotSent(timeout=isinstance(cause, requests.exceptions.Timeout)) from None

        def read(response: requests.Response) -> requests.Response:
            try:
                response.json()
            except ValueError:
                raise UnusableBody() from None
            return response

        try:
            return send_with_retries(send, method=method, url=endpoint, policy=policy,
                                     read=read, label="Sheets")
        except GaveUp as gave:
            raise _failure(gave) from None


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
def sheets_api(spreadsheet: str, *, credentials_path: str | None, write: bool = False,
               session: requests.Session | None = None, retry: RetryPolicy | None = None,
               ) -> Iterator[tuple[str, HTTPClient]]:
    """An authorised Sheets API client for one spreadsheet: ``(id, client)``.

    The key file is checked first; every API failure inside the block
    becomes a Chinese :class:`SourceError` that names the service account
    and the role it needs (``write`` asks for 编辑者, else 查看者)."""
    sid = spreadsheet_id(spreadsheet)
    creds, email = _load_credentials(credentials_path, WRITE_SCOPES if write else READONLY_SCOPES)
    http = _client(creds, session, retry).http_client
    try:
        yield sid, http
    except _RequestFailed as f:
        raise _source_error(f, sid=sid, email=email, role="编辑者" if write else "查看者") from None


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


def grid_sheets(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    """The metadata's grid sheets (charts and object sheets hold no cells)."""
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
    with sheets_api(spreadsheet, credentials_path=credentials_path, session=session,
                    retry=retry) as (sid, http):
        metadata = dict(http.fetch_sheet_metadata(
            sid, params={"includeGridData": "false", "fields": METADATA_FIELDS}))
        titles = [s["properties"]["title"] for s in grid_sheets(metadata)]
        values: dict[str, Any] = {"spreadsheetId": sid, "valueRanges": []}
        if titles:
            values = http.values_batch_get(
                sid, [quote_sheet(t) for t in titles], params=dict(VALUE_PARAMS))
    return {
        "kind": PAYLOAD_KIND,
        "version": PAYLOAD_VERSION,
        "spreadsheetId": sid,
        "readAt": clock.now().isoformat(),
        "valueParams": dict(VALUE_PARAMS),
        "metadata": metadata,
        "values": values,
    }


def _table(title: str, value_range: dict[str, Any], merges: list[dict[str, Any]]) -> RawTable:
    """Google's GridRange merges (end exclusive) on the shared grid builder."""
    spans = [(int(m.get("startRowIndex", 0)), int(m.get("endRowIndex", m.get("startRowIndex", 0) + 1)),
              int(m.get("startColumnIndex", 0)),
              int(m.get("endColumnIndex", m.get("startColumnIndex", 0) + 1))) for m in merges]
    return grid_table(title, value_range.get("values") or [],
                      range_origin(str(value_range.get("range", ""))), spans)


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
        for i, sheet in enumerate(grid_sheets(metadata)):
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


def fetch_payload(doc_id: str, config: Config | None, *,
                  session: requests.Session | None = None,
                  retry: RetryPolicy | None = None) -> dict[str, Any]:
    """The :class:`~fengqiao.sources.remote.RemoteAdapter` read: the key
    file from the environment first, then the config's ``google_credentials``
    (:func:`sheets_api` falls back to the environment only when given no path)."""
    return read_gsheet_payload(doc_id, credentials_path=credentials_for(config),
                               session=session, retry=retry)


def credentials_for(config: Config | None, given: str | None = None) -> str | None:
    """The service-account key file every Google call uses: one given on the
    command line, else the environment's, else the config's (relative to the
    config file); None lets :func:`sheets_api` say none was found."""
    if given:
        return given
    env = os.environ.get(CREDENTIALS_ENV) or None
    if env is None and config is not None and config.google_credentials:
        return str(config.resolve(config.google_credentials))
    return env


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
