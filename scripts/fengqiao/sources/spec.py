"""What a source spec names, told from the text alone (no file is opened).

A spec is what a user writes after a command or on the ``source:`` line of
a config: a path, ``gsheets:<id>``, ``feishu:<token>`` or a spreadsheet's
browser address (the live services are listed in :mod:`.remote`). The
snapshot store files reads under :func:`source_location`, so that the URL
and the prefixed forms of one spreadsheet share their snapshots.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import FengqiaoError
from .remote import remote_of

if TYPE_CHECKING:
    from ..config import Config

#: names a workbook file goes by; its bytes decide how it is read (a WPS .et
#: is an .xlsx inside, a file called .xls may be one too), and a file with
#: any other name is read when its bytes are a spreadsheet
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".et", ".ett", ".xls", ".ods", ".ots")


def gsheets_id(spec: str | Path) -> str | None:
    """The spreadsheet id when the spec names a Google spreadsheet (the
    Google-only features, such as marks written into the sheet, ask this)."""
    found = remote_of(spec)
    if found is None or found[0].kind != "gsheets":
        return None
    return found[1] or None


def source_location(spec: str | Path) -> str:
    """The stable key snapshots are filed under: the spreadsheet's id for a
    live service (so the URL and prefixed forms match; see
    :meth:`RemoteService.location`), else the absolute path."""
    found = remote_of(spec)
    if found is not None:
        return found[0].location(found[1])
    return str(Path(spec).expanduser().resolve())


def is_remote(spec: str | Path) -> bool:
    """Whether reading the spec needs the network (and may fall back to a snapshot)."""
    found = remote_of(spec)
    return found is not None and (bool(found[1]) or found[0].kind != "gsheets")


def in_folder(spec: str, folder: Path) -> str | Path:
    """A spec written inside a config file: a path is relative to the
    config's folder; a live spreadsheet passes through untouched."""
    text = spec.strip()
    if is_remote(text):
        return text
    path = Path(text).expanduser()
    return path if path.is_absolute() else folder / path


def resolve_spec(cli_value: str | Path | None, config: Config | None = None) -> str | Path:
    """The ledger a command reads, decided the same way by every command:
    a SOURCE typed on the command line is relative to the current folder (and
    kept as typed, so messages show it so); else the config's ``source:``,
    relative to the config file's folder. Specs of a live service
    (``gsheets:``, ``feishu:``, their addresses) pass through untouched."""
    if cli_value is not None and str(cli_value).strip():
        text = str(cli_value).strip()
        return text if is_remote(text) else Path(text).expanduser()
    if config is not None and config.source:
        return in_folder(config.source, config.base_dir)
    if config is not None and config.path is not None:
        raise FengqiaoError(f"没有指定台账：配置文件 {config.path} 里的 source 是空的。",
                            hint="请在 source: 后写上台账文件、CSV 文件夹、Google 表格地址（gsheets:表格ID）"
                                 "或飞书表格地址（feishu:表格token），或在命令后直接写上台账。")
    raise FengqiaoError("没有指定台账，当前文件夹也不在乡镇工作文件夹里（找不到 fengqiao.yml）。",
                        hint="请先用 fengqiao init 文件夹名 建立本镇的工作文件夹，再到那个文件夹里运行命令；"
                             "或在命令后直接写上台账文件、CSV 文件夹、Google 表格地址（gsheets:表格ID）"
                             "或飞书表格地址（feishu:表格token）。")
