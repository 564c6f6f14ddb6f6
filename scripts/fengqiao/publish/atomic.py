"""Atomic output: a file or a folder is either the old one or the new one.

Every file fengqiao must never leave half-written (snapshots and their
manifest, the county's received copies, an annotated workbook, the site zip,
output markers, templates) goes through :func:`atomic_path` or
:func:`write_atomic`: a temporary file in the same folder, flushed and
fsynced, renamed over the target (or, with ``replace=False``, linked so an
existing file is never replaced), then the folder fsynced so the rename
itself survives a power cut. A whole site folder is replaced with two
renames by :func:`swap_into_place`, and what a killed build left beside it
is tidied by :func:`clean_leftovers`.

Only the standard library is used, so every stage (sources, outdir, county,
annotate) may import this module without an import cycle.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

#: the suffix of every temporary file written here (``.<name>.<random>.tmp``),
#: so a store can recognise what an interrupted write of ours left behind
TEMP_SUFFIX = ".tmp"


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in ``directory`` durable. Some systems
    (Windows) cannot open a folder; there the rename is as durable as it gets."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def shared_mode() -> int:
    """The permissions a plain ``open()`` would give a new file (0666 minus
    the umask), for files meant to be handed on; temp files start private."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temp_name(path: Path) -> str:
    """A fresh temporary name beside ``path`` (the file is created, empty)."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    return name


@contextlib.contextmanager
def atomic_path(path: Path, *, replace: bool = True, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write; when the block ends
    without an exception the file is fsynced and renamed to ``path``.

    On any exception (including one raised by the block to refuse what it
    wrote) the temporary file is removed and ``path`` is untouched. With
    ``replace=False`` an existing ``path`` is never replaced: the new file is
    linked into place and :class:`FileExistsError` is raised when the name is
    taken. ``mode`` sets the permissions (default: private to the user, as
    ``mkstemp`` creates it)."""
    path = Path(path)
    tmp = Path(temp_name(path))
    try:
        yield tmp
        _fsync_file(tmp)
        if mode is not None:
            os.chmod(tmp, mode)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails instead of replacing an existing file
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_dir(path.parent)


def write_atomic(path: Path, data: bytes, *, replace: bool = True,
                 mode: int | None = None) -> bool:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`).
    Returns False, writing nothing, when ``replace=False`` and ``path``
    already exists; True otherwise."""
    try:
        with atomic_path(path, replace=replace, mode=mode) as tmp, tmp.open("wb") as fh:
            fh.write(data)
    except FileExistsError:
        if replace:  # pragma: no cover - os.replace never raises this
            raise
        return False
    return True


def swap_into_place(new: Path, out: Path) -> None:
    """Replace the folder ``out`` by ``new`` with two renames; the old
    folder is removed only after the new one is in place, and put back when
    the second rename fails."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    try:
        new.rename(out)
    except OSError:
        if old.exists():
            old.rename(out)
        raise
    fsync_dir(out.parent)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def staging_prefix(out: Path) -> str:
    """The name prefix of a folder a build of this process fills before
    :func:`swap_into_place` (``.<out>.new-<pid>-``)."""
    return f".{out.name}.new-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (EPERM), or cannot tell: leave it alone
        return True
    return True


def clean_leftovers(out: Path, *, owned: Callable[[Path], bool]) -> None:
    """Remove what a build killed halfway left beside ``out``: its
    ``.<out>.new-<pid>-*`` folder, and its ``.<out>.old-<pid>`` folder (put
    back as ``out`` when the kill fell between the two renames). Folders of
    a build that is still running are left alone, and so is a folder named
    like ours that is not empty and not ``owned`` (it carries no marker of
    ours): the name alone does not prove we wrote it."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(new|old)-(\d+)(?:-.*)?$")
    if not out.parent.is_dir():
        return
    for path in sorted(out.parent.iterdir()):
        m = pattern.match(path.name)
        if m is None or path.is_symlink() or not path.is_dir() or _pid_alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not out.exists():
            path.rename(out)
        elif owned(path) or not any(path.iterdir()):
            shutil.rmtree(path, ignore_errors=True)


__all__ = ["TEMP_SUFFIX", "atomic_path", "clean_leftovers", "fsync_dir", "shared_mode",
           "staging_prefix", "swap_into_place", "temp_name", "write_atomic"]
