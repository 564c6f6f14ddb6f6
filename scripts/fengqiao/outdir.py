"""Output folders are fengqiao's alone.

A site build replaces its output folder wholesale, so pointing ``--out`` at
the wrong folder once would delete a ledger or someone's documents. Every
command that writes a folder therefore calls :func:`claim` before it writes
anything, and leaves a marker file (:data:`MARKER`) naming what it wrote
there. A folder is only ever written into when it does not exist yet, is
empty, or carries our marker of the same kind; a replacing writer also
refuses when files not listed in the marker have appeared since.

This module only decides and records ownership (the marker itself is
written with :func:`fengqiao.publish.atomic.write_atomic`). It imports
nothing but :mod:`fengqiao.errors` and that stdlib-only helper, so every
stage may use it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from .errors import FengqiaoError
from .publish.atomic import TEMP_SUFFIX, shared_mode, write_atomic

#: the file that says "fengqiao wrote this folder"; hidden, so MkDocs neither
#: publishes nor cleans it and ``snapshots verify`` ignores it
MARKER = ".fengqiao-output.json"
MARKER_FORMAT = 1
_MARKER_TMP = MARKER + ".tmp"  # the temp name of versions before publish.atomic


def _is_marker_temp(rel: str) -> bool:
    """The temp file of a marker write cut short (ours, whatever it holds)."""
    return rel == _MARKER_TMP or (rel.startswith(f".{MARKER}.") and rel.endswith(TEMP_SUFFIX))

#: kind → how a message names such a folder
KIND_TITLES = {
    "town-site": "乡镇网站",
    "county-site": "县级网站",
    "work": "生成网站用的中间文件",
    "county-collection": "县级收取存档",
    "schema-export": "表结构导出",
    "snapshots": "台账快照",
}

#: how many file names a refusal lists before "等 N 个"
_SHOWN = 5


@dataclass(frozen=True)
class Marker:
    """What a marker file says: the kind of folder, the fengqiao version that
    wrote it, and relative path → sha256 of every file written there (empty
    for add-only stores, whose own files are recognised by name)."""

    kind: str
    version: str
    files: dict[str, str] = field(default_factory=dict)


def _version() -> str:
    try:
        return metadata.version("fengqiao")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def work_dir(out: Path) -> Path:
    """The working folder of a build that writes ``out``: beside it, named
    after it, so two sites in one folder never share (or delete) each other's
    intermediate files."""
    out = Path(out).expanduser().resolve()
    if not out.name:  # the disk root has no name to put a folder beside
        _check_place(out, replacing=False, option="--out")
    return out.with_name(out.name + ".fengqiao-tmp")


def read_marker(folder: Path) -> Marker | None:
    """The folder's marker, or None when there is none or it cannot be read
    (an unreadable marker proves nothing, so the folder counts as foreign)."""
    path = Path(folder) / MARKER
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("fengqiao") != "output-folder" \
            or not isinstance(data.get("kind"), str):
        return None
    files = data.get("files")
    if not isinstance(files, dict):
        return None
    return Marker(kind=data["kind"], version=str(data.get("version", "")),
                  files={str(k): str(v) for k, v in files.items()})


def is_ours(folder: Path) -> bool:
    return read_marker(folder) is not None


def _entries(folder: Path) -> Iterator[str]:
    """Relative paths of every file (and symlink) under ``folder`` except the
    marker itself; symlinked folders are listed, never followed."""
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in list(dirs):
            if (base / name).is_symlink():
                dirs.remove(name)
                files.append(name)
        for name in files:
            rel = (base / name).relative_to(folder).as_posix()
            if rel != MARKER and not _is_marker_temp(rel):
                yield rel


def _listing(names: Sequence[str], total: int) -> str:
    shown = "、".join(names[:_SHOWN])
    return f"{shown} 等 {total} 个" if total > _SHOWN else shown


def _refuse(message: str, option: str, extra: str = "") -> FengqiaoError:
    return FengqiaoError(message, hint=extra or f"请用 {option} 另选一个新的或空的文件夹。")


def _check_place(folder: Path, *, replacing: bool, option: str) -> None:
    if folder.parent == folder:
        raise _refuse(f"不能使用“{folder}”：这是磁盘的根目录，fengqiao 只往自己专用的文件夹里写。",
                      option)
    with contextlib.suppress(RuntimeError, KeyError):  # no home folder: nothing to protect
        if folder == Path.home().resolve():
            raise _refuse(f"不能使用“{folder}”：这是您的主文件夹，fengqiao 只往自己专用的文件夹里写。",
                          option)
    if replacing:
        with contextlib.suppress(OSError):
            if Path.cwd().resolve().is_relative_to(folder):
                raise _refuse(
                    f"不能使用“{folder}”：当前所在的文件夹就在它里面，生成时整个文件夹都会被替换。",
                    option, f"请用 {option} 指定当前文件夹之外的一个新文件夹，例如 public。")


def _check_sources(folder: Path, sources: Iterable[Path], *, option: str, what: str) -> None:
    for src in sources:
        src = Path(src).expanduser().resolve()
        if src == folder:
            raise _refuse(f"不能使用“{folder}”存放{what}：它就是台账数据来源本身。", option,
                          f"请用 {option} 另选一个新的文件夹，不要和台账放在同一处。")
        if src.is_relative_to(folder):
            raise _refuse(
                f"不能使用“{folder}”存放{what}：台账数据来源“{src}”就在这个文件夹里，"
                "写入时可能把它替换或删除。", option,
                f"请用 {option} 另选一个新的文件夹（例如台账旁边新建的 public 文件夹）。")
        if folder.is_relative_to(src):
            raise _refuse(f"不能使用“{folder}”存放{what}：它在台账数据文件夹“{src}”里面。", option,
                          f"请用 {option} 另选一个台账数据文件夹以外的文件夹。")


def claim(folder: Path, kind: str, *, sources: Iterable[Path] = (), replacing: bool = True,
          owned: Callable[[str], bool] | None = None, option: str = "--out") -> None:
    """Check, before anything is written, that ``folder`` may be written as a
    folder of ``kind``; raises :class:`FengqiaoError` (exit 2) otherwise.

    Allowed: a folder that does not exist, is empty, or carries our marker of
    the same kind. Refused: a disk root or the home folder; a folder holding
    one of ``sources`` or lying inside a source folder; a non-empty folder
    without the marker (unless every file in it is ``owned``, i.e. named
    like this store's own files: a store from before markers existed); and,
    for a ``replacing`` writer (one that swaps the whole folder), a folder
    the current folder lies in, or a marked folder holding files the marker
    does not list. ``option`` names where the user chooses the folder."""
    if kind not in KIND_TITLES:  # pragma: no cover - a programming error
        raise ValueError(f"unknown output kind {kind!r}")
    what = KIND_TITLES[kind]
    folder = Path(folder).expanduser().resolve()
    _check_place(folder, replacing=replacing, option=option)
    _check_sources(folder, sources, option=option, what=what)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise _refuse(f"“{folder}”是一个文件，不是文件夹，不能用来存放{what}。", option)
    marker = read_marker(folder)
    if marker is None:
        top = sorted(p.name for p in folder.iterdir() if not _is_marker_temp(p.name))
        if not top:
            return
        if owned is not None and all(owned(rel) for rel in _entries(folder)):
            return
        raise _refuse(
            f"“{folder}”里已经有其他文件（{_listing(top, len(top))}），不是 fengqiao 生成的"
            f"{what}文件夹。为免误删或覆盖这些文件，没有写入任何内容。", option,
            f"请用 {option} 另选一个新的或空的文件夹；如果这里确实是以前生成的内容，"
            "请先把它改名或移走，再重新运行。")
    if marker.kind != kind:
        raise _refuse(
            f"“{folder}”是 fengqiao 生成的{KIND_TITLES.get(marker.kind, marker.kind)}文件夹，"
            f"不能用来存放{what}。", option)
    if replacing:
        foreign = sorted(set(_entries(folder)) - set(marker.files))
        if foreign:
            raise _refuse(
                f"“{folder}”是以前生成的{what}，但里面多了不是 fengqiao 生成的文件："
                f"{_listing(foreign, len(foreign))}。生成时整个文件夹会被替换，"
                "这些文件会丢失，所以没有继续。", option,
                f"请先把这些文件移到别处，或用 {option} 另选一个文件夹。")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_marker(folder: Path, kind: str, files: Iterable[str] | None = None) -> None:
    """Record that fengqiao wrote ``folder``. ``files`` are the relative
    paths it wrote (None: every file now in the folder, for a folder built
    from scratch). For a site this runs inside the new folder before the
    swap, so the marker arrives together with the site."""
    folder = Path(folder)
    names = sorted(set(_entries(folder) if files is None else files))
    body = {
        "fengqiao": "output-folder",
        "format": MARKER_FORMAT,
        "kind": kind,
        "version": _version(),
        "files": {rel: _sha256(folder / rel) for rel in names if (folder / rel).is_file()},
    }
    write_atomic(folder / MARKER,
                 (json.dumps(body, ensure_ascii=False, indent=1) + "\n").encode("utf-8"),
                 mode=shared_mode())


def make_own(folder: Path, kind: str) -> Path:
    """Create ``folder`` (already claimed) and mark it at once, so a build
    killed halfway leaves a folder that is recognisably ours."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not is_ours(folder):
        write_marker(folder, kind, files=())
    return folder


def claim_zip(zip_path: Path, top: str, *, option: str = "--out") -> None:
    """An existing zip is only replaced when it is one we wrote: a zip whose
    every entry sits under ``top/`` (the site folder's name)."""
    zip_path = Path(zip_path)
    if not zip_path.exists() and not zip_path.is_symlink():
        return
    try:
        with zipfile.ZipFile(zip_path) as zf:
            ours = all(n.startswith(f"{top}/") for n in zf.namelist())
    except (OSError, zipfile.BadZipFile):
        ours = False
    if not ours or not zip_path.is_file():
        raise FengqiaoError(
            f"压缩包位置“{zip_path}”已经有一个不是 fengqiao 为“{top}”生成的文件，为免覆盖，没有继续。",
            hint=f"请把这个文件改名或移走，或用 {option} 换一个输出文件夹名。")


__all__ = ["KIND_TITLES", "MARKER", "Marker", "claim", "claim_zip", "is_ours", "make_own",
           "read_marker", "work_dir", "write_marker"]
