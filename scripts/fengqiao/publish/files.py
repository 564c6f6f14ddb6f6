"""Byte-stable files: equal content gives equal bytes, on any day.

A published file whose bytes change with the clock would make every build
look different and every checksum useless, so the zip containers written
here (CSV snapshots of a ledger folder, xlsx downloads and workbooks, the
site archive) all come from :func:`zip_bytes`: entries sorted by name, each
dated :data:`EPOCH`, with the same permissions and system on every platform.
Tables for download go through :func:`csv_bytes` and :func:`xlsx_bytes`,
which also make every cell formula-safe (a cell starting with ``=`` is text).

1980-01-01 is the epoch because it is the earliest time a zip entry can
hold and the one the CSV snapshots always had: keeping it keeps every
stored snapshot's sha256.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..outdir import MARKER
from ..privacy import csv_safe
from .atomic import shared_mode, write_atomic

#: the one fixed time of every zip entry and xlsx document property we write
EPOCH = datetime(1980, 1, 1, 0, 0, 0)
ZIP_TIME = (EPOCH.year, EPOCH.month, EPOCH.day, EPOCH.hour, EPOCH.minute, EPOCH.second)

_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def zip_bytes(members: Iterable[tuple[str, bytes]], *, compresslevel: int | None = None) -> bytes:
    """A zip of ``(name, bytes)`` members whose bytes depend only on them:
    sorted, dated :data:`EPOCH`, mode 0644, made on "Unix" whatever the
    platform. ``compresslevel`` trades size for speed (1 for big ledgers)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=compresslevel)
    return buf.getvalue()


def restamp_xlsx(data: bytes, stamp: datetime = EPOCH) -> bytes:
    """An xlsx as openpyxl saved it, rewritten byte-stable: the document's
    created/modified times set to ``stamp`` (openpyxl writes the wall clock
    into docProps/core.xml whatever the properties say) and the container
    rewritten by :func:`zip_bytes`."""
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode("ascii")
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        members = []
        for name in src.namelist():
            body = src.read(name)
            if name == "docProps/core.xml":
                body = _CORE_TIMES.sub(rb"\g<1>" + when + rb"\g<2>", body)
            members.append((name, body))
    return zip_bytes(members)


def workbook_bytes(workbook: Any, *, stamp: datetime = EPOCH) -> bytes:
    """The bytes of an openpyxl workbook, with fixed document properties
    (author "fengqiao", created = modified = ``stamp``)."""
    props = workbook.properties
    props.creator = props.lastModifiedBy = "fengqiao"
    props.created = props.modified = stamp
    buf = io.BytesIO()
    workbook.save(buf)
    props.modified = stamp  # saving stamps the wall clock here too: put ours back
    return restamp_xlsx(buf.getvalue(), stamp)


def save_workbook(workbook: Any, path: Path, *, stamp: datetime = EPOCH) -> Path:
    """Write :func:`workbook_bytes` to ``path`` atomically, readable like any
    file the user saved (a template or demo ledger is meant to be shared)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, workbook_bytes(workbook, stamp=stamp), mode=shared_mode())
    return path


def csv_bytes(frame: pd.DataFrame, titles: Mapping[str, str]) -> bytes:
    """A table as Excel opens it: UTF-8 with BOM, CRLF, dates as
    YYYY-MM-DD, Chinese column titles, no cell Excel would run as a formula."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        out[col] = csv_safe(out[col])
    out = out.rename(columns={c: titles.get(c, c) for c in out.columns})
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def xlsx_bytes(frame: pd.DataFrame, titles: Mapping[str, str], sheet: str) -> bytes:
    """A one-sheet xlsx whose bytes depend only on the table (fixed times in
    the zip and in the document properties), so equal data gives an equal file."""
    out = frame.rename(columns={c: titles.get(c, c) for c in frame.columns})
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.date
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = csv_safe(out[col].astype(object))
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet, index=False)
        props = writer.book.properties
        props.creator = props.lastModifiedBy = "fengqiao"
        props.created = props.modified = EPOCH
    return restamp_xlsx(buf.getvalue())


def write_site_zip(site_dir: Path, zip_path: Path, top: str) -> None:
    """One archive of the site under ``top/``, written atomically; the
    ownership marker of the local folder is left out (it is not the site)."""
    files = {p.relative_to(site_dir).as_posix(): p for p in site_dir.rglob("*") if p.is_file()}
    files.pop(MARKER, None)
    data = zip_bytes((f"{top}/{rel}", path.read_bytes()) for rel, path in files.items())
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(zip_path, data)


__all__ = ["EPOCH", "ZIP_TIME", "csv_bytes", "restamp_xlsx", "save_workbook", "workbook_bytes",
           "write_site_zip", "xlsx_bytes", "zip_bytes"]
