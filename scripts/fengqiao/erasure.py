"""Erase one case's personal data from every stored snapshot.

A person may ask for their personal information to be deleted (PIPL art.
47). The ledger itself is the town's to edit; the snapshots are fengqiao's,
so ``fengqiao snapshots erase --case 编号`` rewrites every stored snapshot
that holds the case:

* on 纠纷台账, every row with that 编号 (a repeated row too) has the text
  of its sensitive cells replaced by 「（已删除）」 (the schema's
  ``sensitive`` flags: 当事人, 简要情况, 备注); a filled cell stays filled,
  because whether a 逾期说明 was written is itself counted;
* on every other tab with a foreign key to 纠纷台账.编号 (走访记录, 领导接访,
  督办记录, 流转记录 …), the rows naming the case are treated the same way. A
  sensitive field that is required (a blank would be a finding) is a code a
  figure counts distinct values of (户编号 for 走访覆盖率): it is renamed
  instead, ``已删除-1`` for the first such value, in every row of the tab
  holding the same value, so every distinct count, and so every figure,
  stays what it was.

Sensitive fields never feed a figure except as such counts, so the figures
recomputed from a rewritten snapshot equal the published ones; the rewrite
itself is checked cell by cell (:mod:`fengqiao.sources.redact`). Each file
is written atomically under a new name (its hash changes), the manifest
records the old and new sha256 with the case, the reason and the date, and
the record keeps the old hash in ``previous_sha256`` so a metrics.json that
names it is still explained; the old file is deleted last.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from .config import Config
from .errors import FengqiaoError
from .normalize import choose_tabs, locate_header, parse_field
from .publish.atomic import write_atomic
from .schema import TAB_ORDER, Schema, TabSpec
from .sources.base import RawTable, RawWorkbook
from .sources.fetched import sha256_hex, workbook_from_bytes
from .sources.manifest import Manifest, SnapshotRecord
from .sources.redact import CellEdit, redact_bytes
from .sources.snapshots import FILE_MODE, read_store, update_store, verify_snapshots
from .townschema import schema_for

#: the name an erased code takes (a number follows)
ERASED = "已删除-"
#: what an erased free-text cell holds instead of its words
ERASED_TEXT = "（已删除）"
DEFAULT_REASON = "当事人依法申请删除个人信息"


@dataclass(frozen=True)
class FileErasure:
    """One snapshot file the erasure rewrote (or would rewrite)."""

    old_file: str
    old_sha256: str
    new_file: str
    new_sha256: str
    cells: int


@dataclass(frozen=True)
class ErasureReport:
    case: str
    files: list[FileErasure]
    scanned: int  # snapshot files looked at
    found: int  # of those, how many hold the case (erased already or not)


def _tab_rows(workbook: RawWorkbook, spec: TabSpec, sheet: str | None
              ) -> tuple[RawTable, dict[str, int], int] | None:
    """The raw table of a tab, its field → column map and first data row."""
    if sheet is None:
        return None
    raw = workbook.tables[sheet]
    header = locate_header(raw, spec)
    if header is None:
        return None
    return raw, header.columns, header.index + 1


def _parsed(raw: RawTable, spec: TabSpec, field: str, col: int, start: int) -> pd.Series:
    """A column's values as validation reads them (ids full-width-folded)."""
    series = raw.frame.iloc[start:, col].reset_index(drop=True)
    return parse_field(series, spec.field(field), code_like=True).values


def _matches(values: pd.Series, case: str) -> np.ndarray:
    return np.asarray(values.eq(case).fillna(False), dtype=bool)


def _is_blank(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value))) \
        or (isinstance(value, str) and not value.strip())


def _renames(raw: RawTable, col: int, start: int, rows: np.ndarray) -> list[CellEdit]:
    """Rename the codes the ``rows`` hold to fresh ``已删除-N`` in every row of
    the column holding the same code: a one-to-one rename keeps every count
    of distinct codes."""
    column = raw.frame.iloc[start:, col].reset_index(drop=True)
    texts = column.map(lambda v: None if _is_blank(v) else str(v).strip())
    wanted = [t for t in dict.fromkeys(texts.iloc[np.flatnonzero(rows)])
              if t is not None and not t.startswith(ERASED)]
    taken = {t for t in texts.dropna() if t.startswith(ERASED)}
    edits: list[CellEdit] = []
    n = 0
    for code in wanted:
        n += 1
        while f"{ERASED}{n}" in taken:
            n += 1
        token = f"{ERASED}{n}"
        for i in np.flatnonzero(texts.eq(code).fillna(False).to_numpy(dtype=bool)):
            edits.append(CellEdit(raw.name, start + int(i), col, token))
    return edits


def _blanks(raw: RawTable, col: int, start: int, rows: np.ndarray) -> list[CellEdit]:
    """Each filled cell's text replaced by :data:`ERASED_TEXT`: the words go,
    the fact that something was written stays (逾期说明 present or not is
    what 逾期说明率 counts), so no figure moves."""
    cells = raw.frame.iloc[:, col]
    return [CellEdit(raw.name, start + int(i), col, ERASED_TEXT) for i in np.flatnonzero(rows)
            if not _is_blank(cells.iat[start + int(i)])
            and str(cells.iat[start + int(i)]).strip() != ERASED_TEXT]  # erased already


def _tab_edits(found: tuple[RawTable, dict[str, int], int], spec: TabSpec, rows: np.ndarray
               ) -> list[CellEdit]:
    raw, columns, start = found
    edits: list[CellEdit] = []
    for f in spec.fields:
        if f.name not in columns or not spec.is_sensitive(f.name):
            continue
        col = columns[f.name]
        edits += (_renames if f.required else _blanks)(raw, col, start, rows)
    return edits


def case_edits(workbook: RawWorkbook, case: str, schema: Schema,
               tabs: dict[str, str] | None = None) -> tuple[bool, list[CellEdit]]:
    """(whether the workbook holds the case, the cells to change). A case
    erased already is found with nothing left to change."""
    specs = [schema[name] for name in TAB_ORDER]
    sheets = {name: t.hidden for name, t in workbook.tables.items()}
    choices = choose_tabs(sheets, specs, tabs)
    disputes = schema["disputes"]
    found = _tab_rows(workbook, disputes, choices["disputes"].sheet)
    if found is None or "id" not in found[1]:
        return False, []
    rows = _matches(_parsed(found[0], disputes, "id", found[1]["id"], found[2]), case)
    if not rows.any():
        return False, []
    edits = _tab_edits(found, disputes, rows)
    for spec in specs:
        links = [fk.field for fk in spec.foreign_keys
                 if fk.resource == "disputes" and spec.name != "disputes"]
        linked = _tab_rows(workbook, spec, choices[spec.name].sheet) if links else None
        if linked is None:
            continue
        mask = np.zeros(len(linked[0].frame) - linked[2], dtype=bool)
        for field in links:
            if field in linked[1]:
                mask |= _matches(_parsed(linked[0], spec, field, linked[1][field], linked[2]),
                                 case)
        if mask.any():
            edits += _tab_edits(linked, spec, mask)
    return True, edits


def _case_key(case: str, schema: Schema) -> str:
    """The 编号 as validation reads it (full-width digits folded, trimmed)."""
    text = str(case).strip()
    value = parse_field(pd.Series([text], dtype=object), schema["disputes"].field("id"),
                        code_like=True).values.iloc[0]
    if _is_blank(value):
        raise FengqiaoError("没有写要删除的纠纷编号。", hint="例如：fengqiao snapshots erase --case DZ2024-0001")
    return str(value)


def _new_name(record: SnapshotRecord, sha: str) -> str:
    stamp = record.file.split("-", 1)[0]
    return f"{stamp}-{sha[:12]}.{record.file.rsplit('.', 1)[-1]}"


def _plan(directory: Path, manifest: Manifest, case: str, schema: Schema,
          tabs: dict[str, str]) -> tuple[list[tuple[SnapshotRecord, bytes, int]], int, int]:
    """Every file holding the case's personal data, with its new bytes and
    the number of cells changed; the files looked at; those holding the case."""
    out: list[tuple[SnapshotRecord, bytes, int]] = []
    seen: set[str] = set()
    found = 0
    for record in manifest.records:
        if record.file in seen:
            continue
        seen.add(record.file)
        data = record.path.read_bytes()
        ext = record.file.rsplit(".", 1)[-1]
        workbook = workbook_from_bytes(data, ext, name=record.file, location=record.location,
                                       kind=record.kind)
        holds, edits = case_edits(workbook, case, schema, tabs)
        found += holds
        if edits:
            out.append((record, redact_bytes(data, ext, edits, name=record.file,
                                             before=workbook), len(edits)))
    return out, len(seen), found


def erase_case(directory: Path, case: str, *, config: Config, reason: str = DEFAULT_REASON,
               now: datetime, dry_run: bool = False) -> ErasureReport:
    """Rewrite every snapshot in ``directory`` that holds personal data of
    ``case`` (see the module docstring); ``dry_run`` writes nothing and
    reports what would change. A store that does not verify is refused
    first: an erasure must not rewrite a file whose origin is in doubt."""
    directory = Path(directory)
    problems = verify_snapshots(directory)
    if problems:
        raise FengqiaoError(f"快照目录“{directory}”核对不通过，没有删除任何内容：{problems[0]}",
                            hint="请先运行 fengqiao snapshots verify 查看并处理这些问题。")
    schema = schema_for(config)
    key = _case_key(case, schema)
    if dry_run:
        plan, scanned, found = _plan(directory, read_store(directory), key, schema, config.tabs)
        return ErasureReport(key, [_file(r, d, n) for r, d, n in plan], scanned, found)
    written: list[Path] = []
    try:
        with update_store(directory) as manifest:
            plan, scanned, found = _plan(directory, manifest, key, schema, config.tabs)
            files = []
            for record, data, cells in plan:
                f = _file(record, data, cells)
                write_atomic(directory / f.new_file, data, mode=FILE_MODE)
                written.append(directory / f.new_file)
                files.append(f)
            _apply(manifest, files, key, reason, now)
    except BaseException:
        for path in written:  # the manifest was not written: nothing may point at these
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            (directory / f.old_file).unlink()
    return ErasureReport(key, files, scanned, found)


def _file(record: SnapshotRecord, data: bytes, cells: int) -> FileErasure:
    sha = sha256_hex(data)
    return FileErasure(old_file=record.file, old_sha256=record.sha256,
                       new_file=_new_name(record, sha), new_sha256=sha, cells=cells)


def _apply(manifest: Manifest, files: Iterable[FileErasure], case: str, reason: str,
           now: datetime) -> None:
    files = list(files)
    if not files:
        return
    by_old = {f.old_file: f for f in files}
    records = []
    for r in manifest.records:
        f = by_old.get(r.file)
        if f is not None:
            r = replace(r, file=f.new_file, sha256=f.new_sha256,
                        size=(r.directory / f.new_file).stat().st_size,
                        previous=(*r.previous, r.sha256))
        records.append(r)
    manifest.records = records
    manifest.history.append({
        "action": "erase",
        "at": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "case": case,
        "reason": reason,
        "files": [{"old_file": f.old_file, "old_sha256": f.old_sha256,
                   "new_file": f.new_file, "new_sha256": f.new_sha256, "cells": f.cells}
                  for f in files],
    })
