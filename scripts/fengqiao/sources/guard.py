"""What a source file may cost before anything parses it.

A ledger is a few megabytes. A path that is a named pipe or a device, a
file of gigabytes, or a workbook whose parts inflate a thousandfold is never
a ledger, and handing it to a parser either hangs (opening a FIFO blocks),
exhausts memory (``/dev/zero`` never ends; calamine aborts the whole process
when an allocation fails) or takes minutes. Every such input is refused here,
before it is read or unpacked, with a message that names the file.

The limits are one frozen :class:`Limits`; :data:`DEFAULT_LIMITS` is sized
for the largest ledger the kit supports (1,048,576 rows × 20 columns, an
Excel sheet filled to the last row: about 0.9 GB of sheet XML, 70 MB in the
file), with room to spare. A caller that needs other limits passes its own
``Limits`` to ``fetch_source``/``open_source``.
"""

from __future__ import annotations

import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import SourceError

KB = 1024
MB = 1024 * KB
GB = 1024 * MB


@dataclass(frozen=True)
class Limits:
    """Upper bounds for one source; anything past them is refused."""

    #: the file on disk (a CSV file, a workbook, a snapshot)
    file_bytes: int = 512 * MB
    #: all parts of a zip (workbook, ODS, CSV snapshot) once unpacked
    unzipped_bytes: int = 2 * GB
    #: one part once unpacked (the largest is a sheet's XML)
    part_bytes: int = 1536 * MB
    #: unpacked ÷ packed size of one part above ``ratio_floor`` bytes: sheet
    #: XML packs 5–15 times, a shared-string bomb hundreds of times
    part_ratio: int = 100
    ratio_floor: int = 16 * MB
    #: the extent of one sheet, counted from A1 (Excel's own maxima)
    rows: int = 1_048_576
    columns: int = 16_384
    #: rows × columns of one sheet, counted from A1: the reader allocates
    #: every cell of that rectangle, filled or not
    cells: int = 50_000_000


DEFAULT_LIMITS = Limits()


def size_text(n: int) -> str:
    """A byte count as staff read it: ``1.5 GB``, ``512 MB``, ``80 KB``."""
    for unit, scale in (("GB", GB), ("MB", MB), ("KB", KB)):
        if n >= scale:
            text = f"{n / scale:.1f}".removesuffix(".0")
            return f"{text} {unit}"
    return f"{n} 字节"


def not_found(display: str) -> SourceError:
    return SourceError(
        f"找不到数据源“{display}”。",
        hint="请检查路径是否写对；路径里有空格时，在命令行中要用引号把整个路径括起来。",
    )


def _unreadable(display: str, exc: OSError) -> SourceError:
    return SourceError(
        f"无法读取文件“{display}”：{exc.strerror or exc}。",
        hint="请确认文件没有被其他程序独占打开，并且有读取权限。",
    )


def _kind_text(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "命名管道 FIFO"
    if stat.S_ISSOCK(mode):
        return "套接字 socket"
    if stat.S_ISCHR(mode):
        return "字符设备"
    if stat.S_ISBLK(mode):
        return "块设备"
    return "特殊文件"


def _not_regular(path: Path, display: str, mode: int) -> SourceError:
    kind = _kind_text(mode)
    if path.is_symlink():
        text = (f"“{display}”是一个链接，它指向的“{os.path.realpath(path)}”不是普通文件"
                f"（是{kind}），程序不会从它读取数据。")
    else:
        text = f"“{display}”不是普通文件（是{kind}），程序不会从它读取数据。"
    return SourceError(
        text,
        hint="请指定保存在磁盘上的台账文件（例如 .xlsx 工作簿或 .csv 文件），或放着 CSV 文件的文件夹。",
    )


def _too_big(display: str, size: int, limits: Limits) -> SourceError:
    return SourceError(
        f"文件“{display}”有 {size_text(size)}，超过了程序读取的上限 {size_text(limits.file_bytes)}，"
        "不像是一份台账。",
        hint="请确认选对了文件；如果台账确实这么大，请删去不需要的工作表，或按年份拆成几个文件后再试。",
    )


def check_path(path: Path, display: str) -> os.stat_result:
    """The path's status (symlinks followed), refused unless it is a regular
    file or a directory. Only ``stat`` is called: opening a FIFO would block
    until someone writes to it, and opening a device can have effects."""
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise not_found(display) from exc
    except OSError as exc:
        raise _unreadable(display, exc) from exc
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise _not_regular(path, display, st.st_mode)
    return st


def read_regular_file(path: Path, display: str, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """All bytes of a regular file no larger than ``limits.file_bytes``.

    The file is checked by ``stat`` before it is opened and again by
    ``fstat`` on the open descriptor (opened non-blocking, so a path swapped
    for a FIFO in between cannot hang the read); at most one byte past the
    limit is ever read, so a file that grows meanwhile is refused too."""
    st = check_path(path, display)
    if stat.S_ISDIR(st.st_mode):
        raise SourceError(f"“{display}”是一个文件夹，不是文件。",
                          hint="请指定文件夹里的台账文件，或把整个 CSV 文件夹作为数据源。")
    if st.st_size > limits.file_bytes:
        raise _too_big(display, st.st_size, limits)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError as exc:
        raise not_found(display) from exc
    except OSError as exc:
        raise _unreadable(display, exc) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, display, st.st_mode)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limits.file_bytes + 1)
    except OSError as exc:
        raise _unreadable(display, exc) from exc
    finally:
        os.close(fd)
    if len(data) > limits.file_bytes:
        raise _too_big(display, len(data), limits)
    return data


def _inflated(display: str, noun: str, what: str) -> SourceError:
    hint = ("请用 Excel 或 WPS 打开它，确认内容无误后“另存为”一个新的 .xlsx 文件再试；"
            "如果打不开或内容不对，请找回之前保存的版本。") if noun == "工作簿" else (
            "请确认选对了文件；快照文件可以运行 fengqiao snapshots verify 检查。")
    return SourceError(
        f"{noun}“{display}”解压后异常巨大（{what}），可能已损坏，或者并不是一份台账。",
        hint=hint)


def check_zip_sizes(zf: zipfile.ZipFile, display: str, limits: Limits = DEFAULT_LIMITS, *,
                    noun: str = "工作簿") -> None:
    """Refuse a zip whose parts would unpack past the limits, judged from its
    directory alone (nothing is unpacked). The sizes there are what the
    readers trust: Python's zipfile stops at the recorded size, and calamine
    refuses a part whose data does not match its record."""
    total = 0
    for info in zf.infolist():
        size = info.file_size
        total += size
        if size > limits.part_bytes:
            raise _inflated(display, noun, f"其中“{info.filename}”解压后约 {size_text(size)}，"
                                           f"上限是 {size_text(limits.part_bytes)}")
        if size > limits.ratio_floor and size > limits.part_ratio * max(info.compress_size, 1):
            raise _inflated(display, noun,
                            f"其中“{info.filename}”从 {size_text(info.compress_size)} "
                            f"解压成约 {size_text(size)}，超过 {limits.part_ratio} 倍")
    if total > limits.unzipped_bytes:
        raise _inflated(display, noun, f"全部内容解压后约 {size_text(total)}，"
                                       f"上限是 {size_text(limits.unzipped_bytes)}")


def check_extent(rows: int, columns: int, *, sheet: str, display: str,
                 limits: Limits = DEFAULT_LIMITS, declared: bool = False) -> None:
    """Refuse a sheet reaching past row ``rows`` / column ``columns`` (both
    counted from A1) when that is beyond the limits: the reader would
    allocate the whole rectangle."""
    if rows <= limits.rows and columns <= limits.columns and rows * columns <= limits.cells:
        return
    said = "标明的" if declared else ""
    raise SourceError(
        f"工作簿“{display}”的工作表“{sheet}”{said}范围到了第 {rows:,} 行、第 {columns:,} 列，"
        "远超一份台账的正常大小，可能已损坏。",
        hint="请在 Excel 或 WPS 中删除表格最下方和最右侧多余的行和列"
             "（或把有用的内容复制到一个新工作簿），保存后再试。",
    )


__all__ = ["DEFAULT_LIMITS", "GB", "KB", "MB", "Limits", "check_extent", "check_path",
           "check_zip_sizes", "not_found", "read_regular_file", "size_text"]
