"""Read whatever a spec names, keeping the exact bytes that were parsed.

``fetch_source`` decides from the spec alone whether it is an Excel file, a
folder of CSV files, a live spreadsheet (Google, Feishu) or a stored snapshot, so a town can
move from one to another by changing a single ``source:`` line in its config.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import SourceError
from .base import RawWorkbook, SourceInfo
from .csvdir import folder_members, read_csv_members
from .fetched import Clock, FetchedSource, sha256_hex, utc_now, zip_members
from .guard import DEFAULT_LIMITS, Limits, check_path, read_regular_file
from .manifest import is_snapshot_name, open_snapshot_bytes
from .remote import RemoteService, remote_of
from .spec import WORKBOOK_SUFFIXES
from .xlsx import ZIP_MAGIC, read_xlsx_bytes, workbook_format


def _fetch_remote(service: RemoteService, doc_id: str, config: Config | None,
                  **options: Any) -> FetchedSource:
    """A live spreadsheet through its service's adapter (see :mod:`.remote`);
    the adapter, and the SDK behind it, load only now."""
    payload = service.adapter().fetch_payload(doc_id, config, **options)
    # The read time lives in the manifest, not in the stored bytes: an
    # unchanged spreadsheet then hashes the same and reuses its snapshot.
    payload = {k: v for k, v in payload.items() if k != "readAt"}
    workbook = service.adapter().workbook_from_payload(payload)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    workbook.info.kind = service.kind
    workbook.info.location = service.location(doc_id)
    workbook.info.read_at = None  # set from the injectable clock by fetch_source
    return FetchedSource(workbook, data, "json")


def fetch_source(spec: str | Path, *, config: Config | None = None,
                 clock: Clock = utc_now, limits: Limits = DEFAULT_LIMITS,
                 **gsheets_options: Any) -> FetchedSource:
    """Read a source and keep the bytes it was parsed from (``info.sha256``
    is set once those bytes exist: at once for a file or a spreadsheet, on
    first use of ``.data`` for a CSV folder).

    ``limits`` bound what a local file may cost (see ``guard``);
    ``gsheets_options`` (``retry``, and ``session`` for Google or ``domain``
    for Feishu) are passed to a live service's adapter, so tests can point
    it at a local server.
    """
    read_at = clock()
    remote = remote_of(spec)
    if remote is not None:
        fetched = _fetch_remote(*remote, config, **gsheets_options)
    else:
        fetched = _fetch_path(Path(spec).expanduser(), str(spec), limits)
    if fetched.workbook.info.read_at is None:  # a snapshot keeps its own read time
        fetched.workbook.info.read_at = read_at
    if fetched.has_data:
        fetched.workbook.info.sha256 = sha256_hex(fetched.data)
    return fetched


def _unsupported(path: Path, display: str) -> SourceError:
    return SourceError(
        f"不支持的文件类型“{path.suffix or '（无扩展名）'}”：{display}。",
        hint="请提供 .xlsx 工作簿、一个放着 CSV 文件的文件夹，或 Google 表格的地址（gsheets:表格ID）。",
    )


def _fetch_path(path: Path, display: str, limits: Limits = DEFAULT_LIMITS) -> FetchedSource:
    st = check_path(path, display)  # a FIFO or a device is refused before it is opened
    location = str(path.resolve())
    if stat.S_ISDIR(st.st_mode):
        members = folder_members(path, display, limits)
        tables, encodings, delimiters = read_csv_members(members, display)
        info = SourceInfo("csv", path.resolve().name, location, encodings=encodings,
                          delimiters=delimiters)
        return FetchedSource(RawWorkbook(info, tables), lambda: zip_members(members), "zip")
    suffix = path.suffix.lower()
    if is_snapshot_name(path.name) or suffix in (".zip", ".json"):
        data = read_regular_file(path, display, limits)
        if not data:
            raise SourceError(f"文件“{display}”是空的（0 字节），里面没有任何内容。",
                              hint="可能是保存或复制时中断了，请换一个完好的文件。")
        workbook = open_snapshot_bytes(path, data)
        return FetchedSource(workbook, data, suffix.lstrip("."))
    if suffix == ".csv":
        data = read_regular_file(path, display, limits)
        if not data:
            raise SourceError(f"文件“{display}”是空的（0 字节），里面没有任何内容。",
                              hint="可能是保存或导出时中断了，请重新导出这个文件。")
        members = [(path.name, data)]
        tables, encodings, delimiters = read_csv_members(members, display)
        info = SourceInfo("csv", path.name, location, encodings=encodings,
                          delimiters=delimiters)
        return FetchedSource(RawWorkbook(info, tables), lambda: zip_members(members), "zip")
    # A workbook, told by its bytes: an .et or .xls may be an .xlsx inside,
    # and a file with no or another extension is read when it is one.
    data = read_regular_file(path, display, limits)
    fmt = workbook_format(data, display, limits) if data.startswith(ZIP_MAGIC) else None
    if suffix not in WORKBOOK_SUFFIXES and fmt is None:
        raise _unsupported(path, display)
    tables = read_xlsx_bytes(data, display, limits=limits)  # refuses OLE, encrypted, damaged
    kind, ext = ("ods", "ods") if fmt == "ods" else ("xlsx", "xlsm" if suffix == ".xlsm" else "xlsx")
    return FetchedSource(RawWorkbook(SourceInfo(kind, path.name, location), tables), data, ext)


def open_source(spec: str | Path, *, config: Config | None = None,
                limits: Limits = DEFAULT_LIMITS, **gsheets_options: Any) -> RawWorkbook:
    """The workbook a spec names, whatever kind of source it is."""
    return fetch_source(spec, config=config, limits=limits, **gsheets_options).workbook
