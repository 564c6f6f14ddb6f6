"""A real wheel, installed into a fresh venv outside the checkout, runs the
main job from any folder and publishes the same pages as the checkout.

The wheel is built from a copy of the project's files (so the checkout never
gets a build/ or egg-info folder), with the build backend of the test venv
(no network). The fresh venv has no pip and no fengqiao of its own: the wheel
is installed into it with ``pip --python``, and a .pth file lends it the test
venv's site-packages for the pinned dependencies only (an editable install's
path hook lives in a .pth there, and .pth files inside an added folder are not
run, so the checkout's fengqiao cannot leak in; the test asserts that).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: what a source distribution of the project holds (MANIFEST.in, pyproject)
PROJECT_FILES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "mkdocs.yml")
PROJECT_DIRS = ("scripts", "sheets_schema", "site")
BIN = "Scripts" if os.name == "nt" else "bin"


def _copy_project(target: Path) -> None:
    for name in PROJECT_FILES:
        shutil.copy2(ROOT / name, target / name)
    for name in PROJECT_DIRS:
        shutil.copytree(ROOT / name, target / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".*"))


def _run(args: list[str | Path], cwd: Path, ok: tuple[int, ...] = (0,)
         ) -> subprocess.CompletedProcess[str]:
    # no PYTHONPATH: the fresh venv must see its own install, nothing else
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode in ok, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    _copy_project(src)
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
          "--no-index", "-q", "-w", dist, src], cwd=work)
    wheels = list(dist.glob("fengqiao-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("venv") / "fresh"
    _run([sys.executable, "-m", "venv", "--without-pip", home], cwd=home.parent)
    python = home / BIN / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=home).stdout.strip())
    (purelib / "zz_test_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
          "-q", wheel], cwd=home)
    return home


def test_the_wheel_carries_schemas_pages_engine_config_assets_and_contract(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ["fengqiao/data/sheets_schema/defaults.yml",
                 "fengqiao/data/sheets_schema/county_defaults.yml",
                 "fengqiao/data/sheets_schema/disputes.yml",
                 "fengqiao/data/site/about.md",
                 "fengqiao/data/site/procedures/star-grading.md",
                 "fengqiao/data/mkdocs.yml",
                 "fengqiao/contract/metrics.schema.json",
                 "fengqiao/assets/fengqiao.css", "fengqiao/assets/fengqiao.js"]:
        assert path in names, path
    pages = {p for p in names if p.startswith("fengqiao/data/site/")}
    assert len(pages) == len(list((ROOT / "site").rglob("*.md")))
    assert not any("__pycache__" in n for n in names)


def test_an_installed_wheel_runs_the_main_job_from_any_folder(
        venv: Path, tmp_path: Path) -> None:
    fengqiao = venv / BIN / "fengqiao"
    python = venv / BIN / "python"
    where = _run([python, "-c", "import fengqiao.resources as r; print(r.__file__); "
                  "print(r.DATA_ROOT)"], cwd=tmp_path).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in where), where

    # a blank template from an empty folder, no config anywhere
    _run([fengqiao, "template", "--out", "模板.xlsx"], cwd=tmp_path)
    assert (tmp_path / "模板.xlsx").stat().st_size > 10_000
    # no source and no town folder: named, never the demo
    refused = _run([fengqiao, "validate"], cwd=tmp_path, ok=(2,))
    assert "fengqiao init" in refused.stderr

    _run([fengqiao, "init", "demo", "--demo"], cwd=tmp_path)
    town = tmp_path / "demo"
    checked = _run([fengqiao, "validate"], cwd=town, ok=(1,))
    assert "台账.xlsx" in checked.stdout
    figures = _run([fengqiao, "metrics", "--period", "2024-Q4"], cwd=town)
    assert figures.stdout.startswith("枫溪镇 2024-Q4")
    _run([fengqiao, "build", "--out", "public"], cwd=town)

    # the same demo folder built by the checkout's own (editable) install
    editable = tmp_path / "editable"
    ours = Path(sys.executable).parent / "fengqiao"
    _run([ours, "init", editable, "--demo"], cwd=tmp_path)
    _run([ours, "build", "--out", "public"], cwd=editable)
    installed_pages = _pages(town / "public")
    assert installed_pages == _pages(editable / "public")
    assert "procedures/star-grading.html" in installed_pages
    assert len(installed_pages) >= 40


def test_an_install_missing_its_data_says_so_in_chinese(venv: Path, tmp_path: Path) -> None:
    python = venv / BIN / "python"
    package = Path(_run([python, "-c", "import fengqiao; print(fengqiao.__file__)"],
                        cwd=tmp_path).stdout.strip()).parent
    data = package / "data"
    hidden = package / "data-hidden"
    data.rename(hidden)
    try:
        out = _run([venv / BIN / "fengqiao", "template", "--out", "x.xlsx"], cwd=tmp_path, ok=(2,))
    finally:
        hidden.rename(data)
    assert out.stderr.startswith("错误：fengqiao 的安装不完整")
    assert "Traceback" not in out.stderr
