"""Feishu (Lark) Sheets source: read a town's ledger from a 飞书电子表格.

Google cannot be reached from mainland China, where every town this kit
serves sits; Feishu can, and has a documented open API with an official
Python SDK (``lark-oapi``). This is its adapter under the contract of
:mod:`.remote`; the README's 「飞书表格」 section is the clerk's guide
(create a custom app, grant it the sheet scope, add it to the sheet).

How a read works, and why
-------------------------

A read is a bounded number of requests whatever the size of the ledger:

1. the tenant access token (``POST /open-apis/auth/v3/tenant_access_token/internal``),
   only when none is cached for this app and server: a token lives two
   hours and is kept until five minutes before it expires;
2. the sheet list (``GET /open-apis/sheets/v3/spreadsheets/:token/sheets/query``):
   every tab's id, title, order, hidden flag and merged ranges;
3. one ``values_batch_get`` (sheets v2) for every grid tab at once, each
   range a bare sheet id, so a tab renamed between 2 and 3 is still read
   (under the name the list gave).

Values are asked for with ``valueRenderOption=UnformattedValue``: formulas
come back computed, numbers as numbers (not "1,234"), and dates as Feishu
stores them: a serial number (days since 1899-12-30, Excel's epoch) for a
cell typed as a date, the text for one typed as text. The normaliser reads
both. Rich cells (a link, an @mention, mixed styles) come back as a list of
segments and are read as their joined text. Merged ranges are spread over
every cell they cover, as the xlsx and Google readers do, so the same
findings and figures come out.

The SDK builds and sends every request (the typed token and sheet-list
requests, and its generic ``client.request`` for the v2 values read, which
it has no typed request for); each goes through the one retry policy of
:mod:`fengqiao.retry`, the same as Google's: bounded attempts, jittered
backoff, and Feishu's rate-limit header ``x-ogw-ratelimit-reset`` read as
``Retry-After``. A token rejected in the middle of a read (it expired, or
the app's secret was reset) is dropped and fetched again once.

The app id, the app secret and the tokens never appear in a message, a log
line or a payload: messages say 「本应用」, the retry log names the service
and the status only, and Feishu's own error text is scrubbed of them before
it is shown.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import numpy as np
import requests
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPResponse

from .. import clock
from ..errors import SourceError
from ..retry import RETRY_STATUSES, GaveUp, RetryPolicy, UnusableBody, send_with_retries
from .base import RawTable, RawWorkbook, SourceInfo
from .grid import Merge, grid_table, range_origin

if TYPE_CHECKING:
    from ..config import Config

APP_ID_ENV = "FENGQIAO_FEISHU_APP_ID"
APP_SECRET_ENV = "FENGQIAO_FEISHU_APP_SECRET"
#: a loopback Feishu-compatible server to use instead of open.feishu.cn (tests, demos)
EMULATOR_ENV = "FENGQIAO_FEISHU_EMULATOR"
FEISHU_DOMAIN = "https://open.feishu.cn"

PAYLOAD_KIND = "fengqiao-feishu-payload"
PAYLOAD_VERSION = 1
VALUES_URI = "/open-apis/sheets/v2/spreadsheets/:spreadsheet_token/values_batch_get"
VALUE_PARAMS: dict[str, str] = {"valueRenderOption": "UnformattedValue"}
#: a token is used until this long before Feishu says it expires
TOKEN_MARGIN = timedelta(minutes=5)

# Feishu's error codes (the body's "code"); the HTTP status decides the rest
RATE_LIMITED = frozenset({99991400})
TOKEN_INVALID = frozenset({99991661, 99991663, 99991664, 99991665, 99991668, 99991671,
                           99991677})
SCOPE_MISSING = frozenset({99991672, 99991679})
NOT_ADDED = frozenset({91403, 1310213})
NOT_FOUND = frozenset({91402, 1310214, 1310249})

_URL_TOKEN = re.compile(r"/sheets/([A-Za-z0-9]+)")
_BARE_TOKEN = re.compile(r"^[A-Za-z0-9]+$")

Stage = Literal["token", "sheets", "values"]
Kind = Literal[
    "auth-rejected", "token-rejected", "scope-missing", "not-added", "not-found",
    "values-refused", "bad-request", "quota", "server", "timeout", "network", "bad-json", "http",
]


class _Failed(Exception):
    """Internal: one call gave up. Carries Feishu's code and (scrubbed)
    message only, never a header or the request."""

    def __init__(self, kind: Kind, *, status: int | None = None, code: int | None = None,
                 attempts: int = 1, api_message: str = "") -> None:
        super().__init__(kind)
        self.kind = kind
        self.status = status
        self.code = code
        self.attempts = attempts
        self.api_message = api_message


@dataclass(frozen=True)
class _App:
    app_id: str
    app_secret: str
    domain: str

    def scrub(self, text: str, *extra: str) -> str:
        for secret in (self.app_secret, self.app_id, *extra):
            if secret:
                text = text.replace(secret, "***")
        return text[:300]

    @property
    def cache_key(self) -> tuple[str, str, str]:
        # the secret is part of the key (hashed), so a reset secret never
        # reuses a token cached under the old one
        return (self.domain, self.app_id, hashlib.sha256(self.app_secret.encode()).hexdigest())


#: (domain, app id, secret hash) → (tenant token, when to stop using it)
_TOKENS: dict[tuple[str, str, str], tuple[str, datetime]] = {}


def clear_token_cache() -> None:
    """Forget every cached access token (tests; a long-running process after
    an app's secret was reset)."""
    _TOKENS.clear()


# --- the SDK ------------------------------------------------------------------------------


def _sdk() -> Any:
    """``lark_oapi``, imported on the first Feishu read only (it takes about
    two seconds). Its websocket module imports ``pkg_resources`` and warns
    about it (and its namespace packages) on every import; those warnings
    are the SDK's, not the user's."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated",
                                category=UserWarning)
        warnings.filterwarnings("ignore", message=".*declare_namespace",
                                category=DeprecationWarning)
        import lark_oapi
    return lark_oapi


def _client(app: _App, policy: RetryPolicy) -> Any:
    lark = _sdk()
    return (lark.Client.builder().app_id(app.app_id).app_secret(app.app_secret)
            .domain(app.domain).timeout(policy.timeout)
            # fengqiao keeps the token itself (bounded retries, one refresh)
            .enable_set_token(True).log_level(lark.LogLevel.ERROR).build())


def _as_response(raw: Any) -> requests.Response:
    """The SDK's raw response as a ``requests.Response`` for the retry loop,
    with Feishu's rate-limit reset read as ``Retry-After``."""
    headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(dict(raw.headers or {}))
    reset = headers.get("x-ogw-ratelimit-reset")
    if reset is not None and "Retry-After" not in headers:
        headers["Retry-After"] = reset
    response = requests.Response()
    response.status_code = int(raw.status_code or 0)
    response.headers = headers
    response._content = bytes(raw.content or b"")
    response.raw = HTTPResponse(body=b"", headers=dict(headers), status=response.status_code,
                                preload_content=False)
    return response


def _body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _classify(stage: Stage, status: int, code: int | None) -> Kind:
    """What a failed answer means, by Feishu's code first, then the status."""
    if status == 429 or code in RATE_LIMITED:
        return "quota"
    if status in RETRY_STATUSES or status >= 500:
        return "server"
    if stage == "token":
        return "auth-rejected"
    if code in TOKEN_INVALID or status == 401:
        return "token-rejected"
    if code in SCOPE_MISSING:
        return "scope-missing"
    if code in NOT_ADDED or status == 403:
        return "not-added"
    if code in NOT_FOUND or status == 404:
        return "not-found"
    if stage == "values" and 400 <= status < 500:
        # the ranges came from the sheet list just read: a refusal now means
        # the sheet changed in between (a tab deleted) or the answer would be
        # too big; Feishu's own words tell which
        return "values-refused"
    return "bad-request" if status == 400 else "http"


def _failed(stage: Stage, app: _App, response: requests.Response, attempts: int,
            extra: tuple[str, ...]) -> _Failed:
    body = _body(response)
    code = body.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    return _Failed(_classify(stage, response.status_code, code), status=response.status_code, code=code,
                   attempts=attempts, api_message=app.scrub(str(body.get("msg") or ""), *extra))


class _Reader:
    """One read: the client, the app, the policy and the token in use."""

    def __init__(self, app: _App, policy: RetryPolicy) -> None:
        self.app = app
        self.policy = policy
        self.client = _client(app, policy)
        self.lark = _sdk()

    def _send(self, stage: Stage, request: Any, option: Any, *, extra: tuple[str, ...] = ()
              ) -> dict[str, Any]:
        """One SDK request under the retry policy; the JSON body on success."""
        app = self.app

        def send() -> requests.Response:
            try:
                answer = self.client.request(request, option)
            except ValueError:  # the SDK parses a JSON body before we see it
                raise UnusableBody() from None
            return _as_response(answer.raw)

        def read(response: requests.Response) -> dict[str, Any]:
            try:
                body = response.json()
            except ValueError:
                raise UnusableBody() from None
            if not isinstance(body, dict):
                raise UnusableBody()
            if body.get("code") not in (0, None):
                raise _failed(stage, app, response, 1, extra)
            return body

        try:
            return send_with_retries(send, method=request.http_method.name,
                                     url=app.domain + str(request.uri), policy=self.policy,
                                     read=read, label="Feishu", replayable=stage == "token")
        except GaveUp as gave:
            raise self._gave_up(stage, gave, extra) from None

    def _gave_up(self, stage: Stage, gave: GaveUp, extra: tuple[str, ...]) -> _Failed:
        if gave.kind == "status":
            assert gave.response is not None
            return _failed(stage, self.app, gave.response, gave.attempts, extra)
        kind: Kind = "bad-json" if gave.kind == "bad-body" else gave.kind
        return _Failed(kind, status=gave.status, attempts=gave.attempts)

    def token(self, *, fresh: bool = False) -> str:
        """The tenant access token: the cached one while it is valid."""
        key = self.app.cache_key
        cached = _TOKENS.get(key)
        if cached is not None and not fresh and clock.now() < cached[1]:
            return cached[0]
        _TOKENS.pop(key, None)
        auth = self.lark.api.auth.v3
        request = (auth.InternalTenantAccessTokenRequest.builder()
                   .request_body(auth.InternalTenantAccessTokenRequestBody.builder()
                                 .app_id(self.app.app_id).app_secret(self.app.app_secret).build())
                   .build())
        option = (self.lark.RequestOption.builder()
                  .headers({"Content-Type": "application/json; charset=utf-8"}).build())
        body = self._send("token", request, option)
        token = body.get("tenant_access_token")
        if not isinstance(token, str) or not token:
            raise _Failed("bad-json")
        expire = body.get("expire")
        seconds = float(expire) if isinstance(expire, int | float) else 7200.0
        _TOKENS[key] = (token, clock.now() + timedelta(seconds=seconds) - TOKEN_MARGIN)
        return token

    def call(self, stage: Stage, request: Any) -> dict[str, Any]:
        """An API request with the token; a token rejected is fetched again
        once (it expired, or the app's secret was reset) and the request
        repeated; rejected a second time, the read stops."""
        token = self.token()
        for attempt in range(2):
            option = self.lark.RequestOption.builder().tenant_access_token(token).build()
            try:
                return self._send(stage, request, option, extra=(token,))
            except _Failed as failed:
                if failed.kind != "token-rejected" or attempt:
                    raise
                token = self.token(fresh=True)
        raise AssertionError("unreachable")  # pragma: no cover

    def sheet_list(self, doc_id: str) -> list[dict[str, Any]]:
        v3 = self.lark.api.sheets.v3
        request = v3.QuerySpreadsheetSheetRequest.builder().spreadsheet_token(doc_id).build()
        data = self.call("sheets", request).get("data") or {}
        sheets = data.get("sheets") if isinstance(data, dict) else None
        if not isinstance(sheets, list):
            raise _Failed("bad-json")
        return sheets

    def values(self, doc_id: str, sheet_ids: list[str]) -> dict[str, Any]:
        lark = self.lark
        request = (lark.BaseRequest.builder().http_method(lark.HttpMethod.GET).uri(VALUES_URI)
                   .paths({"spreadsheet_token": doc_id})
                   .queries([("ranges", ",".join(sheet_ids)), *VALUE_PARAMS.items()])
                   .token_types({lark.AccessTokenType.TENANT}).build())
        data = self.call("values", request).get("data")
        if not isinstance(data, dict):
            raise _Failed("bad-json")
        return data


# --- configuration ---------------------------------------------------------------------


_HOW_TO_SET_APP = (
    f"请设置环境变量 {APP_ID_ENV} 和 {APP_SECRET_ENV}，或在 fengqiao.yml 里写 feishu_app_id "
    "和 feishu_app_secret（建立飞书应用的步骤见 README 的「飞书表格」一节）。")


def spreadsheet_token(spreadsheet: str) -> str:
    """Accept what a clerk pastes: the token, ``feishu:<token>`` or the
    browser's whole address (``https://xxx.feishu.cn/sheets/<token>?sheet=…``)."""
    text = spreadsheet.strip()
    if text.startswith("feishu:"):
        text = text[len("feishu:"):].strip()
    match = _URL_TOKEN.search(text)
    if match:
        return match.group(1)
    if _BARE_TOKEN.match(text):
        return text
    raise SourceError(
        f"“{spreadsheet}”不是有效的飞书表格链接或 token。",
        hint="请在浏览器里打开这张表格，复制地址栏里形如 https://xxx.feishu.cn/sheets/… 的完整链接，"
             "或写成 feishu:表格token。")


def app_credentials(config: Config | None) -> tuple[str, str]:
    """(app id, app secret): the environment first, then the config."""
    app_id = os.environ.get(APP_ID_ENV, "").strip()
    secret = os.environ.get(APP_SECRET_ENV, "").strip()
    if config is not None:
        app_id = app_id or (config.feishu_app_id or "")
        if not secret and config.feishu_app_secret is not None:
            secret = config.feishu_app_secret.get_secret_value().strip()
    if not app_id or not secret:
        missing = "App ID 和 App Secret" if not app_id and not secret else (
            "App ID" if not app_id else "App Secret")
        raise SourceError(f"没有提供飞书应用的 {missing}，无法读取飞书表格。", hint=_HOW_TO_SET_APP)
    return app_id, secret


def api_domain(domain: str | None = None) -> str:
    """Where the API is: ``domain`` when given (tests), else
    ``$FENGQIAO_FEISHU_EMULATOR`` (loopback addresses only: the app secret
    must never go to another host), else open.feishu.cn."""
    if domain:
        return domain.rstrip("/")
    url = os.environ.get(EMULATOR_ENV, "").strip()
    if not url:
        return FEISHU_DOMAIN
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in (
            "127.0.0.1", "localhost", "::1"):
        raise SourceError(f"环境变量 {EMULATOR_ENV} 只能指向本机地址（127.0.0.1 或 localhost）。",
                          hint=f"真实读取飞书表格时请删除 {EMULATOR_ENV}。")
    return f"{parts.scheme}://{parts.netloc}"


# --- messages -------------------------------------------------------------------------------


def _source_error(f: _Failed, *, token: str) -> SourceError:
    """The Chinese message for a failed read; never names the app or a token."""
    tried = f"，已尝试 {f.attempts} 次仍未成功" if f.attempts > 1 else ""
    later = "请稍后再试；上一次成功读取的快照不受影响。"
    said = f"（飞书的说明：{f.api_message}）" if f.api_message else ""
    fixed = {
        "auth-rejected": (
            f"飞书拒绝了本应用的凭据{said}：App ID 或 App Secret 不对，或应用已被停用。",
            "请到飞书开放平台的开发者后台，在应用的「凭证与基础信息」里核对 App ID 和 App Secret，"
            "改正后重试。"),
        "token-rejected": (
            "飞书不接受本应用的访问令牌（已重新获取过一次）。",
            "应用可能刚被停用，或 App Secret 刚被重置；请在开发者后台确认应用已启用、凭据是新的，然后重试。"),
        "scope-missing": (
            "本应用还没有读取飞书电子表格的权限。",
            "请在开发者后台的「权限管理」里为应用开通「查看、评论和导出电子表格」"
            "（sheets:spreadsheet:readonly），再到「版本管理与发布」发布新版本，管理员通过后重试。"),
        "not-added": (
            f"本应用没有权限打开飞书表格 {token}。",
            "请表格的所有者打开这张表格，点右上角「…」→「更多」→「添加文档应用」，"
            "搜索并加入本应用（可阅读即可），然后重试。"),
        "not-found": (
            f"找不到飞书表格 {token}：表格可能已被删除、移进了回收站，或者链接抄错了。",
            "请在浏览器里打开这张表格，复制地址栏里的完整链接（…/sheets/…）重新填写。"),
        "values-refused": (
            f"飞书拒绝了读取表格 {token} 各工作表内容的请求{said}。",
            "如果刚才有人删除或改动了工作表，请稍后重试；如果台账特别大，可能超过了飞书一次能返回的"
            "数据量，请把往年的记录移到另一张表格。上一次成功读取的快照不受影响。"),
        "bad-request": (f"飞书表格拒绝了对表格 {token} 的请求{said}。",
                        "如果刚刚有人删除或改动了工作表，请稍后重试。"),
        "quota": (f"飞书接口的调用次数超过了频率限制{tried.replace('未成功', '被拒绝')}（表格 {token}）。",
                  "请过几分钟再运行；同一个应用的所有任务共用一个限额，经常出现时请把它们错开。"),
        "server": (f"飞书表格服务暂时出错（HTTP {f.status}）{tried}（表格 {token}）。", later),
        "timeout": (f"连接飞书开放平台超时{tried}（表格 {token}）。", "请检查网络是否通畅，或稍后再试。"),
        "network": (f"无法连接飞书开放平台{tried}（表格 {token}）。",
                    "请检查网络连接和代理设置（需要能访问 open.feishu.cn），或稍后再试。"),
        "bad-json": (f"飞书表格返回的数据不完整{tried}（表格 {token}）。", later),
    }
    if f.kind in fixed:
        message, hint = fixed[f.kind]
        return SourceError(message, hint=hint)
    code = f"，错误码 {f.code}" if f.code is not None else ""
    return SourceError(f"飞书表格返回了意外的错误（HTTP {f.status}{code}）{said}，表格 {token}。",
                       hint=later)


# --- reading ----------------------------------------------------------------------------------


def grid_sheets(sheets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The grid tabs in their order (a bitable or other embedded object holds no cells)."""
    grids = [s for s in sheets if isinstance(s, dict)
             and s.get("resource_type", "sheet") == "sheet" and s.get("sheet_id")]
    return sorted(grids, key=lambda s: int(s.get("index") or 0))


def read_feishu_payload(spreadsheet: str, *, app_id: str, app_secret: str,
                        domain: str | None = None, retry: RetryPolicy | None = None
                        ) -> dict[str, Any]:
    """Fetch the spreadsheet as raw JSON: the snapshot layer stores exactly
    this and replays it through :func:`workbook_from_payload`.

    Keys: ``kind`` (``"fengqiao-feishu-payload"``), ``version`` (1),
    ``spreadsheetToken``, ``readAt`` (ISO 8601, UTC), ``valueParams``,
    ``sheets`` (the sheet list's ``data.sheets``) and ``values`` (the values
    read's ``data``). No credential and no token is in it.
    """
    token = spreadsheet_token(spreadsheet)
    app = _App(app_id, app_secret, api_domain(domain))
    try:
        reader = _Reader(app, retry or RetryPolicy())
        sheets = reader.sheet_list(token)
        ids = [str(s["sheet_id"]) for s in grid_sheets(sheets)]
        values: dict[str, Any] = {"valueRanges": []}
        if ids:
            values = reader.values(token, ids)
    except _Failed as f:
        raise _source_error(f, token=token) from None
    return {
        "kind": PAYLOAD_KIND,
        "version": PAYLOAD_VERSION,
        "spreadsheetToken": token,
        "readAt": clock.now().isoformat(),
        "valueParams": dict(VALUE_PARAMS),
        "sheets": sheets,
        "values": values,
    }


def fetch_payload(doc_id: str, config: Config | None, *, domain: str | None = None,
                  retry: RetryPolicy | None = None) -> dict[str, Any]:
    """The :class:`~fengqiao.sources.remote.RemoteAdapter` read."""
    token = spreadsheet_token(doc_id)  # a bad token is refused before credentials are asked
    app_id, app_secret = app_credentials(config)
    return read_feishu_payload(token, app_id=app_id, app_secret=app_secret, domain=domain,
                               retry=retry)


def _text(value: Any) -> Any:
    """A rich cell (a list of segments, or one link/mention object) as the
    text a person sees; anything else as it is."""
    if isinstance(value, list):
        parts = [_text(v) for v in value]
        return "".join("" if p is None else str(p) for p in parts) or None
    if isinstance(value, dict):
        for key in ("text", "link", "name"):
            if isinstance(value.get(key), str):
                return value[key]
        return None
    return value


_flatten = np.frompyfunc(_text, 1, 1)


def _merges(sheet: dict[str, Any]) -> list[Merge]:
    """Feishu's merged ranges (end indexes inclusive) as end-exclusive spans."""
    spans: list[Merge] = []
    for m in sheet.get("merges") or []:
        top, left = int(m.get("start_row_index", 0)), int(m.get("start_column_index", 0))
        spans.append((top, int(m.get("end_row_index", top)) + 1,
                      left, int(m.get("end_column_index", left)) + 1))
    return spans


def _table(title: str, value_range: dict[str, Any], sheet: dict[str, Any]) -> RawTable:
    rows = value_range.get("values") or []
    if rows:
        width = max(len(r) for r in rows)
        grid = np.empty((len(rows), width), dtype=object)
        for i, r in enumerate(rows):
            grid[i, : len(r)] = r
        rows = _flatten(grid).tolist()
    return grid_table(title, rows, range_origin(str(value_range.get("range", ""))),
                      _merges(sheet), trim=True)


def workbook_from_payload(payload: dict[str, Any]) -> RawWorkbook:
    """Rebuild the workbook from a stored payload, with no network at all."""
    try:
        if payload.get("kind") != PAYLOAD_KIND:
            raise KeyError("kind")
        token = str(payload["spreadsheetToken"])
        if not isinstance(payload["sheets"], list):
            raise TypeError("sheets")
        ranges = payload["values"].get("valueRanges") or []
        by_id = {str(r.get("range", "")).split("!", 1)[0]: r for r in ranges}
        read_at = datetime.fromisoformat(payload["readAt"]) if payload.get("readAt") else None
        tables: dict[str, RawTable] = {}
        for i, sheet in enumerate(grid_sheets(payload["sheets"])):
            title = str(sheet["title"])
            value_range = by_id.get(str(sheet["sheet_id"]))
            if value_range is None:
                value_range = ranges[i] if i < len(ranges) else {}
            tables[title] = _table(title, value_range, sheet)
            tables[title].hidden = bool(sheet.get("hidden", False))
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        raise SourceError("飞书表格快照的内容格式不对，无法使用。",
                          hint="快照文件可能被改动过或来自不兼容的版本，请重新读取表格。") from None
    info = SourceInfo(kind="feishu", name=f"飞书表格 {token}", location=f"feishu:{token}",
                      read_at=read_at)
    return RawWorkbook(info=info, tables=tables)


def read_feishu(spreadsheet: str, *, app_id: str, app_secret: str, domain: str | None = None,
                retry: RetryPolicy | None = None) -> RawWorkbook:
    """Read every tab of a live Feishu spreadsheet (see the module doc)."""
    return workbook_from_payload(read_feishu_payload(
        spreadsheet, app_id=app_id, app_secret=app_secret, domain=domain, retry=retry))


__all__ = ["APP_ID_ENV", "APP_SECRET_ENV", "EMULATOR_ENV", "PAYLOAD_KIND", "app_credentials",
           "clear_token_cache", "fetch_payload", "read_feishu", "read_feishu_payload",
           "spreadsheet_token", "workbook_from_payload"]
