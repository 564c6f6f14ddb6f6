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
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
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


#: characters a spreadsheet shows two columns wide (CJK and full-width forms)
_WIDE = r"[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]"
#: column widths (characters) a download is fitted between
MIN_WIDTH, MAX_WIDTH = 6, 60


def column_widths(frame: pd.DataFrame) -> list[int]:
    """Each column's width in characters, fitted to its title and its
    longest value (a Chinese character counts two), so dates never show as
    ### and ids are not cut. The columns are measured as one long column
    (two string operations in all, not two per column: a statistics sheet
    has thirty narrow columns), with no loop per row."""
    n, rows = len(frame.columns), len(frame)
    longest = np.zeros(n, dtype=np.int64)
    if n and rows:
        cells = pd.concat([frame.iloc[:, i].astype("string") for i in range(n)],
                          ignore_index=True).fillna("")
        shown = (cells.str.len() + cells.str.count(_WIDE)).to_numpy(dtype=np.int64)
        longest = shown.reshape(n, rows).max(axis=1)
    widths = []
    for col, most in zip(frame.columns, longest, strict=True):
        title = str(col)
        head = len(title) + len(re.findall(_WIDE, title))
        widths.append(min(MAX_WIDTH, max(MIN_WIDTH, head + 2, int(most) + 2)))
    return widths


def _format_sheet(ws: Any, frame: pd.DataFrame, percent: Iterable[str]) -> None:
    """What makes a download open well in WPS or Excel: fitted widths, the
    header frozen, a filter on every column, dates as dates and rates as
    percentages (the value stays the exact fraction)."""
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(column_widths(frame), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    if len(frame.columns):
        ws.auto_filter.ref = f"A1:{get_column_letter(len(frame.columns))}{len(frame) + 1}"
    formats = {c: "0.0%" for c in percent if c in frame.columns}
    formats |= {c: "yyyy-mm-dd" for c in frame.columns
                if frame[c].map(lambda v: isinstance(v, date)).any()}
    for col, number_format in formats.items():
        letter = get_column_letter(list(frame.columns).index(col) + 1)
        for (cell,) in ws[f"{letter}2:{letter}{len(frame) + 1}"] if len(frame) else ():
            cell.number_format = number_format


def xlsx_bytes(frame: pd.DataFrame, titles: Mapping[str, str], sheet: str, *,
               percent: Iterable[str] = ()) -> bytes:
    """A one-sheet xlsx whose bytes depend only on the table (fixed times in
    the zip and in the document properties), so equal data gives an equal
    file; ``percent`` names the (titled) columns holding rates."""
    out = frame.rename(columns={c: titles.get(c, c) for c in frame.columns})
    return workbook_sheets_bytes([(sheet, out, tuple(percent))])


def workbook_sheets_bytes(sheets: Iterable[tuple[str, pd.DataFrame, Iterable[str]]]) -> bytes:
    """An xlsx of several sheets, each ``(name, frame with its final column
    titles, the columns holding rates)`` and each formatted like
    :func:`xlsx_bytes` (widths, frozen header, filter, dates, percentages);
    byte-stable the same way. A statistics page's tables go into one file
    this way, one sheet per table."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl", date_format="yyyy-mm-dd") as writer:
        for sheet, frame, percent in sheets:
            out = frame.copy()
            for col in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[col]):
                    out[col] = out[col].dt.date
                elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
                    out[col] = csv_safe(out[col].astype(object))
            out.to_excel(writer, sheet_name=sheet, index=False)
            _format_sheet(writer.sheets[sheet], out, percent)
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


__all__ = ["EPOCH", "MAX_WIDTH", "MIN_WIDTH", "ZIP_TIME", "column_widths", "csv_bytes", "restamp_xlsx", "save_workbook", "workbook_bytes",
           "workbook_sheets_bytes", "write_site_zip", "xlsx_bytes", "zip_bytes"]
