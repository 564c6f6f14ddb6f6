"""What a read keeps: the parsed workbook with the exact bytes it came from.

Those bytes are what a snapshot stores, and :func:`workbook_from_bytes` parses
them again exactly as the live read did, so a published figure can always be
traced back to the bytes behind it. This module sits below both the readers
(:mod:`.fetch`) and the snapshot store (:mod:`.snapshots`), which each need it.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from .. import clock
from ..errors import SourceError
from ..publish.files import zip_bytes
from .base import RawWorkbook, SourceInfo
from .csvdir import read_csv_members
from .guard import DEFAULT_LIMITS, Limits, check_zip_sizes
from .remote import service_for_payload
from .xlsx import read_xlsx_bytes

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The read time stamped on a workbook (whole seconds, as the manifest keeps it)."""
    return clock.now().replace(microsecond=0)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def zip_members(members: list[tuple[str, bytes]]) -> bytes:
    """A reproducible zip: fixed timestamps and order, so the same CSV
    files always give the same bytes and hence the same snapshot."""
    return zip_bytes(members, compresslevel=1)  # level 1: a big ledger zips fast


def unzip_members(data: bytes, display: str,
                  limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, bytes]]:
    """The CSV files of a zip (a stored CSV folder, or a zip a user gave)."""
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
        service = service_for_payload(payload)
        if service is None:
            raise SourceError(f"快照文件“{name}”不是 fengqiao 保存的在线表格快照，无法读取。",
                              hint="请运行 fengqiao snapshots verify 检查快照目录。")
        # the adapter (and its SDK) loads only when one of its reads is replayed
        workbook = service.adapter().workbook_from_payload(payload)
        workbook.info.kind = kind or service.kind
        workbook.info.location = location
        return workbook
    raise SourceError(f"不认识的快照文件类型“.{ext}”：{name}。")
