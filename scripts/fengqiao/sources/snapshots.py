"""Stored copies of every read, so any published figure can be reproduced.

A snapshot is the exact bytes a read parsed (an .xlsx copied as is, a CSV
folder as a reproducible zip, a Google spreadsheet as its JSON payload),
named ``<YYYYmmddTHHMMSSZ>-<sha256[:12]>.<ext>``. Files are written to a
temporary name, fsynced and renamed into place, so a crash never leaves a
half-written snapshot or manifest, and an existing snapshot is never touched
again. When the Google API is down, the last good snapshot lets the site be
rebuilt, marked stale, instead of publishing nothing.

The store holds personal data (parties' names, phone numbers, case
descriptions), so on POSIX its folder is owner-only (0700) and every file in
it 0600, re-applied on each write. Snapshots are removed only by retention
(:mod:`.retention`) and rewritten only by an erasure (:mod:`fengqiao.erasure`),
both through :func:`update_store`, and both recorded in the manifest.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .. import outdir
from ..config import Config
from ..errors import FengqiaoError, SourceError
from ..publish.atomic import write_atomic
from .base import RawWorkbook
from .fetch import fetch_source
from .fetched import Clock, FetchedSource, sha256_hex, utc_now
from .guard import read_regular_file
from .manifest import (
    MANIFEST,
    Manifest,
    SnapshotRecord,
    is_snapshot_name,
    load_manifest,
    open_snapshot_bytes,
    read_manifest,
)
from .spec import is_remote, source_location

# flock is POSIX only; on Windows concurrent writers are simply not expected
fcntl = None if sys.platform == "win32" else importlib.import_module("fcntl")

_LOCK = ".lock"
#: owner-only: the store holds personal data (POSIX permissions)
DIR_MODE = 0o700
FILE_MODE = 0o600


def _store_file(rel: str) -> bool:
    """A file a snapshot store of ours holds: the manifest, the lock, a
    snapshot, or a temp file of an interrupted write."""
    return "/" not in rel and (rel in (MANIFEST, _LOCK) or is_snapshot_name(rel)
                               or (rel.startswith(".") and rel.endswith(".tmp")))


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def secure_store(directory: Path) -> None:
    """Owner-only permissions on the folder and on every file in it (POSIX;
    on Windows the folder's access list is the administrator's to set, see
    the README). Links are left alone: chmod would follow them."""
    if os.name != "posix":  # pragma: no cover - Windows has no mode bits to speak of
        return
    directory = Path(directory)
    if stat.S_IMODE(directory.stat().st_mode) != DIR_MODE:
        directory.chmod(DIR_MODE)
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False) \
                and stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode) != FILE_MODE:
            os.chmod(entry.path, FILE_MODE)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Serialise writers (two scheduled builds at once) on one directory."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
    with open(fd, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _manifest_error(directory: Path, reason: str) -> FengqiaoError:
    return FengqiaoError(
        f"快照清单“{directory / MANIFEST}”无法读取：{reason}。",
        hint="请不要手工修改这个文件；可以运行 fengqiao snapshots verify 查看详情，"
             "或从备份中恢复它。",
    )


def list_snapshots(directory: Path) -> list[SnapshotRecord]:
    """Every manifest entry, oldest first; an absent directory has none."""
    directory = Path(directory)
    try:
        records = load_manifest(directory)
    except ValueError as exc:
        raise _manifest_error(directory, str(exc)) from exc
    return sorted(records, key=lambda r: (r.last_read_at, r.read_at, r.file))


def read_store(directory: Path) -> Manifest:
    """The whole manifest of a store (see :mod:`.manifest`), or a Chinese
    error when it cannot be trusted."""
    try:
        return read_manifest(directory)
    except ValueError as exc:
        raise _manifest_error(directory, str(exc)) from exc


def _open_store(directory: Path, sources: Iterable[Path] = ()) -> None:
    """Claim the folder as a snapshot store (never one holding the ledger),
    create it owner-only and mark it."""
    outdir.claim(directory, "snapshots", sources=sources, replacing=False, owned=_store_file,
                 option="fengqiao.yml 里的 snapshots_dir")
    try:
        fresh = not directory.exists()
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if fresh:
            secure_store(directory)  # before the first file: mkdir's mode is cut by the umask
        outdir.make_own(directory, "snapshots")
    except OSError as exc:
        raise FengqiaoError(f"无法创建快照目录“{directory}”：{exc.strerror or exc}。",
                            hint="请检查 snapshots_dir 设置和目录权限。") from exc


@contextlib.contextmanager
def update_store(directory: Path) -> Iterator[Manifest]:
    """The manifest of an existing store, locked against other writers; what
    the block leaves in it is written back atomically when the block ends
    without an exception, and the permissions are tightened again. Used by
    retention and erasure, which change snapshots already stored."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FengqiaoError(f"快照目录“{directory}”不存在。",
                            hint="请检查 snapshots_dir 设置，或用 --dir 指定快照目录。")
    _open_store(directory)
    with _locked(directory):
        manifest = read_store(directory)
        yield manifest
        write_atomic(directory / MANIFEST, manifest.to_bytes(), mode=FILE_MODE)
        secure_store(directory)


def save_snapshot(source: FetchedSource, directory: Path, *,
                  clock: Clock = utc_now, sources: Iterable[Path] = ()) -> SnapshotRecord:
    """Store the bytes of one read and list them in the manifest.

    The same bytes are never stored twice: a read identical to an earlier
    one reuses that file. The workbook's ``info`` gets the sha256 and the
    snapshot path. Only a folder that is new, empty or already a snapshot
    store is written into (never one holding the ledger, ``sources``), and
    nothing in it but our own temp files is ever deleted."""
    directory = Path(directory)
    _open_store(directory, sources)
    info = source.workbook.info
    moment = info.read_at or clock()
    sha = sha256_hex(source.data)
    rows = {name: int(t.frame.shape[0]) for name, t in source.workbook.tables.items()}
    with _locked(directory):
        manifest = read_store(directory)
        records = manifest.records
        same = [r for r in records if r.sha256 == sha and r.path.exists()
                and r.path.stat().st_size == len(source.data)]
        if same:
            file = same[0].file
        else:
            file = f"{_stamp(moment)}-{sha[:12]}.{source.ext}"
            target = directory / file
            if target.exists():
                if sha256_hex(target.read_bytes()) != sha:
                    raise FengqiaoError(
                        f"快照目录里已经有同名文件“{target}”，但内容不同，不会覆盖它。",
                        hint="请运行 fengqiao snapshots verify 检查快照目录。",
                    )
            else:
                write_atomic(target, source.data, mode=FILE_MODE)
        old = next((r for r in records if r.file == file and r.location == info.location),
                   None)
        if old is not None:
            record = SnapshotRecord(
                file=file, sha256=sha, size=len(source.data), kind=old.kind,
                location=old.location, name=old.name, read_at=old.read_at,
                last_read_at=max(moment, old.last_read_at), rows=old.rows,
                directory=directory, previous=old.previous)
            records = [record if r is old else r for r in records]
        else:
            record = SnapshotRecord(
                file=file, sha256=sha, size=len(source.data), kind=info.kind,
                location=info.location, name=info.name, read_at=moment,
                last_read_at=moment, rows=rows, directory=directory)
            records.append(record)
        manifest.records = records
        write_atomic(directory / MANIFEST, manifest.to_bytes(), mode=FILE_MODE)
        secure_store(directory)
    info.sha256 = sha
    info.snapshot_path = str(record.path)
    return record


def verify_snapshots(directory: Path) -> list[str]:
    """Every reason the snapshot directory cannot be trusted, in Chinese;
    an empty list means every listed file is there with its recorded bytes."""
    directory = Path(directory)
    if not directory.is_dir():
        return [f"快照目录“{directory}”不存在。"]
    try:
        records = load_manifest(directory)
    except ValueError as exc:
        return [f"快照清单 {MANIFEST} 无法读取：{exc}。"]
    problems: list[str] = []
    on_disk = {p.name for p in directory.iterdir()
               if p.is_file() and p.name != MANIFEST and not p.name.startswith(".")}
    if on_disk and not (directory / MANIFEST).exists():
        problems.append(f"缺少快照清单 {MANIFEST}。")
    checked: dict[str, str | None] = {}
    for r in records:
        if r.file not in checked:
            checked[r.file] = sha256_hex(r.path.read_bytes()) if r.path.is_file() else None
        actual = checked[r.file]
        if actual is None:
            problems.append(f"清单里记录的快照 {r.file} 不见了。")
        elif actual != r.sha256:
            problems.append(
                f"快照 {r.file} 的内容与清单记录不一致（应为 sha256 {r.sha256[:12]}…，"
                f"实际是 {actual[:12]}…），文件可能被改动或损坏。")
    listed = {r.file for r in records}
    for name in sorted(on_disk - listed):
        problems.append(f"文件 {name} 不在快照清单里。")
    return list(dict.fromkeys(problems))


def latest_snapshot(directory: Path, location: str | None = None) -> SnapshotRecord | None:
    """The most recent snapshot (of one location, when given) whose file is
    still there with the bytes the manifest recorded."""
    directory = Path(directory)
    if location is not None and is_remote(location):
        location = source_location(location)
    try:
        records = load_manifest(directory)
    except ValueError:
        return None
    candidates = [r for r in records if location is None or r.location == location]
    for r in sorted(candidates, key=lambda r: (r.last_read_at, r.read_at), reverse=True):
        if r.path.is_file() and sha256_hex(r.path.read_bytes()) == r.sha256:
            return r
    return None


def open_snapshot(path: Path | str) -> RawWorkbook:
    """A stored snapshot read back exactly as the original read saw it."""
    path = Path(path)
    if not path.exists():
        raise SourceError(f"找不到快照文件“{path}”。",
                          hint="可以运行 fengqiao snapshots list 查看有哪些快照。")
    return open_snapshot_bytes(path, read_regular_file(path, str(path)))


def read_source(spec: str | Path, *, config: Config | None, snapshot_dir: Path | None,
                fallback: bool = False, clock: Clock = utc_now,
                **gsheets_options: Any) -> RawWorkbook:
    """Read a source and, when ``snapshot_dir`` is given, store what was read.

    With ``fallback``, a live spreadsheet (Google, Feishu) that cannot be reached is
    replaced by its latest good snapshot, with ``info.stale_since`` saying
    how old the figures are; a local file that cannot be read is always an
    error, since the user can fix it on the spot."""
    try:
        fetched = fetch_source(spec, config=config, clock=clock, **gsheets_options)
    except SourceError:
        if not (fallback and snapshot_dir is not None and is_remote(spec)):
            raise
        record = latest_snapshot(Path(snapshot_dir), source_location(spec))
        if record is None:
            raise
        workbook = open_snapshot(record.path)
        workbook.info.stale_since = record.last_read_at
        return workbook
    if snapshot_dir is not None:
        local = () if is_remote(spec) else (Path(spec),)
        save_snapshot(fetched, Path(snapshot_dir), clock=clock, sources=local)
    else:
        fetched.workbook.info.sha256 = sha256_hex(fetched.data)
    return fetched.workbook
