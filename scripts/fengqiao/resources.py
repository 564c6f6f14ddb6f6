"""Where the package's own data lives: the tab schemas and defaults, the
default procedure pages and the engine's base settings.

The repository keeps them at its top level (``sheets_schema/``, ``site/``,
``mkdocs.yml``), because that is the layout people edit. A wheel cannot
reach a checkout, so the build copies the three into ``fengqiao/data/``
(``setup.py``), and this module is the one place that decides which copy
is read: the packaged one when it is there (any ``pip install``), else the
checkout's (an editable install or a test run from the repository). Both
are found through :mod:`importlib.resources`, so nothing depends on the
current folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import FengqiaoError

#: the folder inside the installed package the build copies the data into
PACKAGED = "data"
#: what must be there for a copy to count as complete
_MARKER = ("sheets_schema", "defaults.yml")


def _complete(root: Path) -> bool:
    return root.joinpath(*_MARKER).is_file() and (root / "site").is_dir() \
        and (root / "mkdocs.yml").is_file()


def data_root() -> Path:
    """The folder holding ``sheets_schema/``, ``site/`` and ``mkdocs.yml``;
    the packaged location when neither copy is complete (the CLI then stops
    with :func:`require_complete`'s message rather than a missing-file one)."""
    package = Path(str(files("fengqiao")))
    for root in (package / PACKAGED, package.parent.parent):
        if _complete(root):
            return root
    return package / PACKAGED


def require_complete() -> None:
    """Stop with a Chinese message when the install lacks its own data
    (checked once at start-up, not at import, so no traceback escapes)."""
    if not _complete(DATA_ROOT):
        raise FengqiaoError(
            "fengqiao 的安装不完整：找不到自带的表结构、页面和网站设置。",
            hint="请重新安装：pip install --force-reinstall fengqiao（从源码安装时请用 pip install .）。")


DATA_ROOT = data_root()
#: one YAML per tab, plus defaults.yml and county_defaults.yml
SCHEMA_DIR = DATA_ROOT / "sheets_schema"
#: the procedure pages a town gets when it has no copy of its own
DEFAULT_PAGES = DATA_ROOT / "site"
#: the engine settings every generated engine config starts from
ENGINE_BASE = DATA_ROOT / "mkdocs.yml"

__all__ = ["DATA_ROOT", "DEFAULT_PAGES", "ENGINE_BASE", "PACKAGED", "SCHEMA_DIR", "data_root",
           "require_complete"]
