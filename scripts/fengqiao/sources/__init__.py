"""One door to every kind of ledger source.

``open_source`` is what every command calls; it decides from the spec alone
whether it is an Excel file, a folder of CSV files, a Google spreadsheet or a
stored snapshot, so a town can move from one to another by changing a single
``source:`` line in its config. Each reader first takes the exact bytes it
parses (``fetch_source``), which is what a snapshot stores: a published figure
can always be traced back to the bytes it came from.

This package module only re-exports. The modules below it import one
another in one direction: ``spec`` and ``fetched`` (the bytes of a read) →
``manifest`` (the snapshot format) → ``fetch`` (the readers) → ``snapshots``
(the store, and reads that fall back to it).
"""

from __future__ import annotations

from .base import RawTable, RawWorkbook, SourceInfo
from .fetch import fetch_source, open_source
from .fetched import FetchedSource, sha256_hex, utc_now, workbook_from_bytes
from .guard import DEFAULT_LIMITS, Limits
from .manifest import SnapshotRecord
from .snapshots import (
    latest_snapshot,
    list_snapshots,
    open_snapshot,
    read_source,
    save_snapshot,
    verify_snapshots,
)
from .spec import WORKBOOK_SUFFIXES, gsheets_id, in_folder, is_remote, resolve_spec, source_location

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
    "in_folder",
    "is_remote",
    "latest_snapshot",
    "list_snapshots",
    "open_snapshot",
    "open_source",
    "read_source",
    "resolve_spec",
    "save_snapshot",
    "sha256_hex",
    "source_location",
    "utc_now",
    "verify_snapshots",
    "workbook_from_bytes",
]
