"""The live spreadsheet services a ledger can be read from, and the one
contract their adapters share.

A town keeps its ledger where it can reach it: Google Sheets, Feishu (Lark)
Sheets, and whatever comes next (DingTalk, Tencent Docs, WPS). Everything
above the adapters treats them alike, so each is described here by a
:class:`RemoteService` (how a spec names it, what it is called in Chinese,
which module reads it) and implemented by one module that provides the
:class:`RemoteAdapter` functions:

* ``fetch_payload(doc_id, config, **options)`` reads the whole spreadsheet in
  a bounded number of requests and returns its raw JSON as a *payload*: a
  dict whose ``"kind"`` is the service's ``payload_kind``. The payload is
  exactly what the snapshot store keeps, so it must hold everything the
  workbook is built from and nothing secret (no token, no key);
* ``workbook_from_payload(payload)`` rebuilds the :class:`RawWorkbook` from
  it with no network at all, identically for a live read and a snapshot.

Adding a service is one module with those two functions plus its entry in
:data:`SERVICES`; spec parsing, snapshots, the stale-data fallback and every
command pick it up from there. The adapter module is imported only when a
read or a replay needs it, so a town on Excel never loads an SDK.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..errors import SourceError

if TYPE_CHECKING:
    from ..config import Config
    from .base import RawWorkbook


class RemoteAdapter(Protocol):
    """What an adapter module provides (see the module docstring)."""

    def fetch_payload(self, doc_id: str, config: Config | None,
                      **options: Any) -> dict[str, Any]: ...

    def workbook_from_payload(self, payload: dict[str, Any]) -> RawWorkbook: ...


@dataclass(frozen=True)
class RemoteService:
    """One live spreadsheet service, told from the spec's text alone."""

    #: ``SourceInfo.kind`` and the snapshot manifest's kind
    kind: str
    #: what the service is called in messages ("Google 表格")
    label: str
    #: the spec prefix (``gsheets:``)
    prefix: str
    #: a browser address of one spreadsheet; group 1 is its id
    address: re.Pattern[str]
    #: the adapter module, imported on first use
    module: str
    #: the ``"kind"`` of the payloads the adapter writes
    payload_kind: str
    #: whether snapshots are filed under the bare id (Google, kept so for the
    #: stores written before there was a second service) or ``prefix + id``
    bare_location: bool = False

    def adapter(self) -> RemoteAdapter:
        return cast(RemoteAdapter, importlib.import_module(self.module))

    def location(self, doc_id: str) -> str:
        """The stable key a read of ``doc_id`` is filed under."""
        return doc_id if self.bare_location else f"{self.prefix}{doc_id}"


SERVICES: tuple[RemoteService, ...] = (
    RemoteService(
        kind="gsheets", label="Google 表格", prefix="gsheets:",
        address=re.compile(r"^https?://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)"),
        module="fengqiao.sources.gsheets", payload_kind="fengqiao-gsheets-payload",
        bare_location=True),
    RemoteService(
        kind="feishu", label="飞书表格", prefix="feishu:",
        address=re.compile(r"^https?://[A-Za-z0-9.-]+\.(?:feishu\.cn|larksuite\.com|"
                           r"larkoffice\.com)/sheets/([A-Za-z0-9]+)"),
        module="fengqiao.sources.feishu", payload_kind="fengqiao-feishu-payload"),
)

#: a Feishu wiki page: the sheet inside it has another token, which only the
#: wiki API can tell, so the address is refused with a way to get the right one
_FEISHU_WIKI = re.compile(r"^https?://[A-Za-z0-9.-]+\.(?:feishu\.cn|larksuite\.com|"
                          r"larkoffice\.com)/wiki/")


def remote_of(spec: str | Path) -> tuple[RemoteService, str] | None:
    """The service and document id a spec names, or None for a local path.
    A prefix with nothing after it still names the service (its adapter
    then says what is missing)."""
    text = str(spec).strip()
    for service in SERVICES:
        if text.startswith(service.prefix):
            return service, text[len(service.prefix):].strip()
        m = service.address.match(text)
        if m:
            return service, m.group(1)
    if _FEISHU_WIKI.match(text):
        raise SourceError(
            "这是飞书知识库页面的链接，不是表格本身的链接。",
            hint="请在知识库里打开这张表格，点右上角「…」→「在新窗口打开」（或「复制链接」），"
                 "用地址里 /sheets/ 后面的那段表格 token，写成 feishu:表格token。")
    return None


def service_for_payload(payload: Any) -> RemoteService | None:
    """The service whose adapter wrote a stored payload."""
    kind = payload.get("kind") if isinstance(payload, dict) else None
    return next((s for s in SERVICES if s.payload_kind == kind), None)


def service_named(kind: str) -> RemoteService | None:
    return next((s for s in SERVICES if s.kind == kind), None)


def source_hint() -> str:
    """The remote forms a spec may take, for the hints that list sources."""
    return "、".join(f"{s.label}（{s.prefix}…）" for s in SERVICES)
