"""The snapshot store's format: file names, the manifest, reading a file back.

A snapshot is named ``<YYYYmmddTHHMMSSZ>-<sha256[:12]>.<ext>`` and listed in
``manifest.json`` beside it with its hash, size, kind, location and read
times. This module only reads and writes that format; the store itself
(locking, atomic writes, reuse of identical bytes) is :mod:`.snapshots`. The
readers need it too: a snapshot file given as a source is read back with the
kind, location and read time its manifest recorded.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import SourceError
from .base import RawWorkbook
from .fetched import sha256_hex, workbook_from_bytes

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
_NAME = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{12}\.(xlsx|xlsm|ods|zip|json)$")
#: a snapshot's kind told by its extension alone (a .json payload names its
#: service itself, see ``workbook_from_bytes``)
_KIND_BY_EXT = {"xlsx": "xlsx", "xlsm": "xlsx", "ods": "ods", "zip": "csv"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: Any) -> datetime:
    if not isinstance(text, str):
        raise ValueError(f"不是时间：{text!r}")
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class SnapshotRecord:
    """One manifest entry. ``read_at`` is the first read that produced these
    bytes from this location, ``last_read_at`` the latest one (an unchanged
    sheet read again reuses the file and only moves ``last_read_at``)."""

    file: str
    sha256: str
    size: int
    kind: str
    location: str
    name: str
    read_at: datetime
    last_read_at: datetime
    rows: dict[str, int] = field(default_factory=dict)
    directory: Path = Path(".")
    #: the sha256 this snapshot had before each erasure, oldest first
    previous: tuple[str, ...] = ()

    @property
    def path(self) -> Path:
        return self.directory / self.file

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "location": self.location,
            "name": self.name,
            "read_at": _iso(self.read_at),
            "last_read_at": _iso(self.last_read_at),
            "rows": dict(self.rows),
            **({"previous_sha256": list(self.previous)} if self.previous else {}),
        }

    @property
    def hashes(self) -> tuple[str, ...]:
        """Every sha256 these bytes were known by: a published figure that
        names any of them is reproduced from this file."""
        return (*self.previous, self.sha256)


def is_snapshot_name(name: str) -> bool:
    return _NAME.match(name) is not None


def _record(entry: dict[str, Any], directory: Path) -> SnapshotRecord:
    rows = entry.get("rows") or {}
    if not isinstance(rows, dict):
        raise ValueError("rows 应为对象")
    previous = entry.get("previous_sha256") or []
    if not isinstance(previous, list):
        raise ValueError("previous_sha256 应为列表")
    read_at = _parse_time(entry["read_at"])
    return SnapshotRecord(
        file=str(entry["file"]),
        sha256=str(entry["sha256"]),
        size=int(entry["size"]),
        kind=str(entry["kind"]),
        location=str(entry["location"]),
        name=str(entry.get("name", entry["file"])),
        read_at=read_at,
        last_read_at=_parse_time(entry.get("last_read_at", entry["read_at"])),
        rows={str(k): int(v) for k, v in rows.items()},
        directory=directory,
        previous=tuple(str(h) for h in previous),
    )


@dataclass(frozen=True)
class Publication:
    """The snapshot one period's published metrics.json was computed from:
    ``out`` is the site folder, ``period`` the label (``2024-Q4``)."""

    out: str
    period: str
    sha256: str
    at: datetime

    def as_json(self) -> dict[str, Any]:
        return {"out": self.out, "period": self.period, "sha256": self.sha256,
                "at": _iso(self.at)}


@dataclass
class Manifest:
    """The whole manifest file: the snapshots, what was published from
    which, and the history of prunes and erasures (plain JSON objects, each
    with ``action`` and ``at``; kept as written)."""

    records: list[SnapshotRecord] = field(default_factory=list)
    published: list[Publication] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        lists: dict[str, list[Any]] = {"snapshots": [r.as_json() for r in self.records]}
        if self.published:
            lists["published"] = [p.as_json() for p in self.published]
        if self.history:
            lists["history"] = self.history
        # one entry per line: readable, and written by json's fast C encoder
        # (indentation would take the slow one; a store's history only grows)
        parts = [f'  "format": {MANIFEST_FORMAT}']
        for key, items in lists.items():
            lines = ",\n".join("    " + json.dumps(item, ensure_ascii=False) for item in items)
            parts.append(f'  "{key}": [\n{lines}\n  ]' if items else f'  "{key}": []')
        text = "{\n" + ",\n".join(parts) + "\n}"
        return (text + "\n").encode("utf-8")


def load_manifest(directory: Path) -> list[SnapshotRecord]:
    """The manifest's entries; raises ``ValueError`` with a Chinese reason
    when the file is there but cannot be trusted."""
    return read_manifest(directory).records


def _publication(entry: dict[str, Any]) -> Publication:
    return Publication(out=str(entry["out"]), period=str(entry["period"]),
                       sha256=str(entry["sha256"]), at=_parse_time(entry["at"]))


def read_manifest(directory: Path) -> Manifest:
    """The whole manifest (an absent file is an empty one); raises
    ``ValueError`` with a Chinese reason when it cannot be trusted."""
    path = directory / MANIFEST
    if not path.exists():
        return Manifest()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"不是有效的 JSON（{exc}）") from exc
    if not isinstance(data, dict) or not isinstance(data.get("snapshots"), list):
        raise ValueError("缺少 snapshots 列表")
    published, history = data.get("published", []), data.get("history", [])
    if not isinstance(published, list) or not isinstance(history, list) \
            or not all(isinstance(h, dict) for h in history):
        raise ValueError("published 和 history 应为列表")
    try:
        return Manifest(records=[_record(e, directory) for e in data["snapshots"]],
                        published=[_publication(e) for e in published],
                        history=list(history))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"有一条记录不完整（{exc}）") from exc


def manifest_bytes(records: list[SnapshotRecord]) -> bytes:
    """The manifest file's content for these records alone, in their order."""
    return Manifest(records=list(records)).to_bytes()


def open_snapshot_bytes(path: Path, data: bytes) -> RawWorkbook:
    """Parse a snapshot's bytes; the manifest beside it (when there is one)
    gives back the original kind, location and read time."""
    ext = path.suffix.lower().lstrip(".")
    sha = sha256_hex(data)
    record: SnapshotRecord | None = None
    with contextlib.suppress(ValueError):
        record = next((r for r in load_manifest(path.parent) if r.file == path.name), None)
    if record is not None and record.sha256 != sha:
        raise SourceError(
            f"快照“{path}”的内容与清单记录不一致，文件可能被改动或损坏，不能用来复核数字。",
            hint="请运行 fengqiao snapshots verify 检查快照目录。",
        )
    kind = record.kind if record else _KIND_BY_EXT.get(ext)
    location = record.location if record else str(path.resolve())
    name = record.name if record else path.name
    workbook = workbook_from_bytes(data, ext, name=name, location=location, kind=kind)
    workbook.info.sha256 = sha
    workbook.info.snapshot_path = str(path)
    if record is not None:
        workbook.info.read_at = record.read_at
    return workbook
