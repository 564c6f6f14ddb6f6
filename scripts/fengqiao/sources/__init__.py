"""One door to every kind of ledger source.

``open_source`` is what every command calls; it decides from the spec alone
whether it is an Excel file, a folder of CSV files, a Google spreadsheet or a
stored snapshot, so a town can move from one to another by changing a single
``source:`` line in its config. Each reader first takes the exact bytes it
parses (``fetch_source``), which is what a snapshot stores: a published figure
can always be traced back to the bytes it came from.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import SourceError
from .base import RawTable, RawWorkbook, SourceInfo
from .csvdir import folder_members, read_csv_members
from .guard import DEFAULT_LIMITS, Limits, check_path, check_zip_sizes, read_regular_file
from .xlsx import ZIP_MAGIC, read_xlsx_bytes, workbook_format

Clock = Callable[[], datetime]

CREDENTIALS_ENV = "FENGQIAO_GOOGLE_CREDENTIALS"
#: names a workbook file goes by; its bytes decide how it is read (a WPS .et
#: is an .xlsx inside, a file called .xls may be one too), and a file with
#: any other name is read when its bytes are a spreadsheet
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".et", ".ett", ".xls", ".ods", ".ots")
_SHEET_URL = re.compile(r"^https?://docs\.google\.com/spreadsheets/d/([A-Za-z0-9_-]+)")
_GSHEETS_PREFIX = "gsheets:"


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class FetchedSource:
    """A workbook together with the exact bytes it was parsed from.

    For a CSV folder the bytes are a zip built only when asked for (a
    snapshot or a checksum is wanted): compressing a million-row file costs
    more than reading it, and a plain ``open_source`` needs neither."""

    def __init__(self, workbook: RawWorkbook, data: bytes | Callable[[], bytes],
                 ext: str) -> None:
        self.workbook = workbook
        self.ext = ext  # extension a snapshot of ``data`` gets: xlsx | xlsm | ods | zip | json
        self._data = data if isinstance(data, bytes) else None
        self._make = None if isinstance(data, bytes) else data

    @property
    def data(self) -> bytes:
        if self._data is None:
            assert self._make is not None
            self._data = self._make()
            self.workbook.info.sha256 = sha256_hex(self._data)
        return self._data

    @property
    def has_data(self) -> bool:
        return self._data is not None


def gsheets_id(spec: str | Path) -> str | None:
    """The spreadsheet id when the spec names a Google spreadsheet."""
    text = str(spec).strip()
    if text.startswith(_GSHEETS_PREFIX):
        return text[len(_GSHEETS_PREFIX):].strip() or None
    m = _SHEET_URL.match(text)
    return m.group(1) if m else None


def source_location(spec: str | Path) -> str:
    """The stable key snapshots are filed under: the spreadsheet id for
    Google (so the URL and ``gsheets:`` forms match), else the absolute path."""
    sid = gsheets_id(spec)
    if sid is not None:
        return sid
    return str(Path(spec).expanduser().resolve())


def is_remote(spec: str | Path) -> bool:
    return gsheets_id(spec) is not None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def zip_members(members: list[tuple[str, bytes]]) -> bytes:
    """A reproducible zip: fixed timestamps and order, so the same CSV
    files always give the same bytes and hence the same snapshot."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=1)
    return buf.getvalue()


def unzip_members(data: bytes, display: str,
                  limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, bytes]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            check_zip_sizes(zf, display, limits, noun="压缩包")
            names = sorted(
                n for n in zf.namelist()
                if n.lower().endswith(".csv") and not Path(n).name.startswith((".", "~$"))
            )
            members = [(Path(n).name, zf.read(n)) for n in names]
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SourceError(
            f"压缩包“{display}”已损坏，无法打开。",
            hint="请重新导出或找回之前保存的版本。",
        ) from exc
    if not members:
        raise SourceError(
            f"压缩包“{display}”里没有 CSV 文件。",
            hint="请把每张工作表存成一个 .csv 文件（文件名就是工作表名）后再打包。",
        )
    return members


def _credentials(config: Config | None) -> str | None:
    env = os.environ.get(CREDENTIALS_ENV)
    if env:
        return env
    if config is not None and config.google_credentials:
        return str(config.resolve(config.google_credentials))
    return None


def _fetch_gsheets(sid: str, config: Config | None, **options: Any) -> FetchedSource:
    from .gsheets import read_gsheet_payload, workbook_from_payload

    payload = read_gsheet_payload(sid, credentials_path=_credentials(config), **options)
    # The read time lives in the manifest, not in the stored bytes: an
    # unchanged spreadsheet then hashes the same and reuses its snapshot.
    payload = {k: v for k, v in payload.items() if k != "readAt"}
    workbook = workbook_from_payload(payload)
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")
    workbook.info.kind = "gsheets"
    workbook.info.location = sid
    workbook.info.read_at = None  # set from the injectable clock by fetch_source
    return FetchedSource(workbook, data, "json")


def workbook_from_bytes(data: bytes, ext: str, *, name: str, location: str,
                        kind: str | None = None) -> RawWorkbook:
    """Parse stored bytes the same way the live read did (used for
    snapshots: ``ext`` says which reader made them)."""
    if ext in ("xlsx", "xlsm", "ods"):
        return RawWorkbook(SourceInfo(kind or ("ods" if ext == "ods" else "xlsx"), name, location),
                           read_xlsx_bytes(data, name))
    if ext == "zip":
        tables, encodings, delimiters = read_csv_members(unzip_members(data, name), name)
        return RawWorkbook(SourceInfo(kind or "csv", name, location, encodings=encodings,
                                      delimiters=delimiters), tables)
    if ext == "json":
        try:
            payload = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SourceError(
                f"快照文件“{name}”不是有效的 JSON，无法读取。",
                hint="文件可能已损坏，请运行 fengqiao snapshots verify 检查。",
            ) from exc
        from .gsheets import workbook_from_payload

        workbook = workbook_from_payload(payload)
        workbook.info.kind = kind or "gsheets"
        workbook.info.location = location
        return workbook
    raise SourceError(f"不认识的快照文件类型“.{ext}”：{name}。")


def fetch_source(spec: str | Path, *, config: Config | None = None,
                 clock: Clock = utc_now, limits: Limits = DEFAULT_LIMITS,
                 **gsheets_options: Any) -> FetchedSource:
    """Read a source and keep the bytes it was parsed from (``info.sha256``
    is set once those bytes exist: at once for a file or a spreadsheet, on
    first use of ``.data`` for a CSV folder).

    ``limits`` bound what a local file may cost (see ``guard``);
    ``gsheets_options`` (``session``, ``retry``) are passed to the Google
    reader, so tests can point it at a local server.
    """
    read_at = clock()
    sid = gsheets_id(spec)
    if sid is not None:
        fetched = _fetch_gsheets(sid, config, **gsheets_options)
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
    from .snapshots import is_snapshot_name, open_snapshot_bytes

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


from .snapshots import (  # noqa: E402  (snapshots uses the helpers above)
    SnapshotRecord,
    latest_snapshot,
    list_snapshots,
    open_snapshot,
    read_source,
    save_snapshot,
    verify_snapshots,
)

__all__ = [
    "DEFAULT_LIMITS",
    "WORKBOOK_SUFFIXES",
    "FetchedSource",
    "Limits",
    "RawTable",
    "RawWorkbook",
    "SnapshotRecord",
    "SourceInfo",
    "fetch_source",
    "gsheets_id",
    "is_remote",
    "latest_snapshot",
    "list_snapshots",
    "open_snapshot",
    "open_source",
    "read_source",
    "save_snapshot",
    "source_location",
    "verify_snapshots",
]
