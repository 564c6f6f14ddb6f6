"""The ``fengqiao`` command: thin wrappers over the library.

Library code raises :class:`~fengqiao.errors.FengqiaoError` for anything the
user can fix; this module alone turns those into a Chinese message and an exit
code (0 fine, 1 the ledger has errors, 2 the input or config could not be
used), so no traceback ever reaches township staff.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from .config import Config, load_config
from .errors import FengqiaoError

EXIT_FINDINGS = 1
EXIT_INPUT = 2


def _handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FengqiaoError as exc:
            click.echo(f"错误：{exc}", err=True)
            sys.exit(exc.exit_code)
    return wrapper


def _config(path: str | None) -> Config:
    return load_config(Path(path) if path else None)


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="项目配置文件 fengqiao.yml（不填则用默认配置）。",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fengqiao")
def cli() -> None:
    """fengqiao：矛盾纠纷调处化解台账的校验、统计与内部网站。"""


# --- schema / template (template.py, export.py) -------------------------------

# --- validate / annotate (validate.py, annotate.py) ----------------------------

# --- metrics / overdue (metrics/) ------------------------------------------------

# --- snapshots / sheets (sources/) -----------------------------------------------

# --- build / serve (sitebuild.py) ------------------------------------------------

# --- county (county.py) ---------------------------------------------------------------


def main() -> None:
    cli(prog_name="fengqiao")
