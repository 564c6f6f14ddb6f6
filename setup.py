"""Build hook: put the repository's top-level data into the package.

``sheets_schema/``, ``site/`` and ``mkdocs.yml`` stay where people edit them
(the repository's layout is fixed), and a wheel must still carry them, so
building copies the three into ``fengqiao/data/`` of the built package.
``fengqiao.resources`` reads that copy when it is there and the checkout
otherwise (an editable install). Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
#: top-level source → name inside fengqiao/data/
DATA = ("sheets_schema", "site", "mkdocs.yml")


class BuildWithData(build_py):
    """The usual build, plus the data copy (skipped for an editable install,
    which reads the checkout itself)."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "fengqiao" / "data"
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name in DATA:
            source = HERE / name
            if source.is_dir():
                shutil.copytree(source, target / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithData})
