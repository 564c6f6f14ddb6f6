"""Every command over every hostile input of ``hostile_corpus.CASES``.

The promises checked here hold for all of them at once: no Python
traceback, the documented exit code (0 fine, 1 findings, 2 unusable), no
run longer than a bound (a FIFO or a zip bomb must not hang or exhaust the
machine), and no file outside the output folder created, changed or
removed. Commands run in-process through click's runner, so the corpus costs
seconds, not a Python start-up per run; the time bound is a real timer
signal, which also interrupts a blocking ``open()``.
"""

from __future__ import annotations

import hashlib
import os
import signal
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from fengqiao.cli import cli
from fengqiao.county.collect import classify
from fengqiao.errors import FengqiaoError
from hostile_corpus import CASES, Case

#: seconds one command may take; a hang fails the test instead of CI
BOUND = 60


class TookTooLong(Exception):
    pass


@contextmanager
def time_bound(seconds: int) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # timers only reach the main thread; xdist runs tests there
        return

    def expire(_signum: int, _frame: object) -> None:
        raise TookTooLong(f"a command ran longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def tree_state(root: Path, skip: Path) -> dict[str, str]:
    """Every entry under ``root`` but ``skip``: a hash for a regular file,
    the target for a link, the kind for anything else (a FIFO is never
    opened: that would block)."""
    state: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == skip or skip in here.parents:
            dirnames[:] = []
            continue
        for name in [*dirnames, *filenames]:
            path = here / name
            if path == skip:
                continue
            st = path.lstat()
            rel = path.relative_to(root).as_posix()
            if stat.S_ISLNK(st.st_mode):
                state[rel] = "link:" + os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISDIR(st.st_mode):
                state[rel] = "dir"
            else:
                state[rel] = f"special:{stat.S_IFMT(st.st_mode)}"
    return state


def run(args: list[str]) -> Result:
    with time_bound(BOUND):
        result = CliRunner().invoke(cli, args, catch_exceptions=True)
    return result


def assert_clean_exit(result: Result, allowed: frozenset[int] | set[int], what: str) -> None:
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"{what}: raised {type(exc).__name__}: {exc}\n{result.output}")
    assert "Traceback" not in result.output, f"{what}: traceback in output\n{result.output}"
    assert result.exit_code in allowed, (
        f"{what}: exit {result.exit_code}, expected one of {sorted(allowed)}\n{result.output}")
    if result.exit_code == 2:
        assert "错误" in result.output, f"{what}: exit 2 without a Chinese message\n{result.output}"


@pytest.fixture
def town(tmp_path: Path) -> Path:
    """A town folder with a config and bystander files that must survive."""
    root = tmp_path / "镇"
    root.mkdir()
    (root / "fengqiao.yml").write_text(
        "town: 测试镇\nreport_date: 2024-03-31\nsnapshots_dir: out/snapshots\nsite:\n  months: 1\n",
        encoding="utf-8")
    (root / "工作总结.docx").write_bytes(b"PK\x03\x04 not really a docx, but not ours either")
    (root / "旧网站").mkdir()
    (root / "旧网站" / "index.html").write_text("<p>别人的网站</p>", encoding="utf-8")
    return root


def test_the_corpus_is_large_and_named_uniquely() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_command_on_a_hostile_input(case: Case, town: Path) -> None:
    source = case.make(town)
    out = town / "out"
    before = tree_state(town, skip=out)
    config = ["--config", str(town / "fengqiao.yml")]
    src = str(source)

    v = run(["validate", src, *config])
    assert_clean_exit(v, case.validate, "validate")
    assert_clean_exit(run(["validate", src, "--format", "json", *config]), {v.exit_code},
                      "validate --format json")

    annotated = out / "标注.xlsx"
    a = run(["validate", src, "--annotate", str(annotated), *config])
    assert_clean_exit(a, {v.exit_code, 2}, "validate --annotate")
    if a.exit_code != 2 and v.exit_code != 2:
        book = openpyxl.load_workbook(annotated, read_only=True)
        assert "校验结果" in book.sheetnames
        book.close()
    else:
        assert not annotated.exists(), "a failed annotation left a file behind"

    m = run(["metrics", src, "--period", "2024-Q1", "--format", "json", *config])
    assert_clean_exit(m, case.metrics, "metrics")
    if m.exit_code == 0:
        assert '"received"' in m.output
    assert_clean_exit(run(["overdue", src, "--as-of", "2024-03-31", *config]), {m.exit_code},
                      "overdue")

    if m.exit_code == 2:
        # stops at the read or the figures gate, before any page is written
        b = run(["build", "--source", src, "--out", str(out / "site"), *config])
        assert_clean_exit(b, {2}, "build")
        assert not (out / "site").exists()

    assert tree_state(town, skip=out) == before, "a file outside the output folder changed"


@pytest.mark.parametrize("name", ["csv-semicolon", "et-with-xlsx-content", "formula-without-result",
                                  "hidden-stale-tab"])
def test_build_and_county_build_on_readable_hostile_inputs(name: str, town: Path) -> None:
    """A full site build costs seconds, so the readable inputs are built for a
    few representative cases; the others stop before the engine (above)."""
    case = next(c for c in CASES if c.name == name)
    source = case.make(town)
    out = town / "out"
    before = tree_state(town, skip=out)
    config = ["--config", str(town / "fengqiao.yml")]
    b = run(["build", "--source", str(source), "--out", str(out / "site"), *config])
    assert_clean_exit(b, {0}, "build")
    assert (out / "site" / "index.html").is_file()
    c = run(["county", "build", str(source), "--period", "2024-Q1", "--out", str(out / "county")])
    assert_clean_exit(c, {0}, "county build")
    assert tree_state(town, skip=out) == before, "a file outside the output folder changed"


def test_county_build_over_the_whole_corpus(tmp_path: Path) -> None:
    """Every hostile input as a town of one county: one engine run covers
    them all, each bad town is reported and the others still roll up."""
    root = tmp_path / "县"
    root.mkdir()
    sources = []
    for case in CASES:
        folder = root / case.name
        folder.mkdir()
        made = case.make(folder)
        # a town is named after its file: give each input its case's name
        unique = made.with_name(case.name + made.suffix)
        if made.exists() or made.is_symlink():
            made.rename(unique)
        sources.append(str(unique))
    out = root / "out"
    before = tree_state(root, skip=out)
    towns, refused = [], []
    for src in sources:
        try:
            classify(src)
        except FengqiaoError:
            refused.append(src)  # not a town at all: a usage error before anything runs
        else:
            towns.append(src)
    assert 0 < len(refused) <= 4
    for src in refused:
        r = run(["county", "build", src, "--period", "2024-Q1", "--out", str(out / "refused")])
        assert_clean_exit(r, {2}, "county build of a non-town")
    c = run(["county", "build", *towns, "--period", "2024-Q1", "--name", "测试县",
             "--out", str(out / "county")])
    assert_clean_exit(c, {0, 1}, "county build")
    assert (out / "county" / "index.html").is_file()
    assert f"应报 {len(towns)} 个乡镇" in c.output, c.output
    unusable = sum(1 for case in CASES if case.metrics == {2})
    assert c.output.count("（未报）") + c.output.count("（数据无效）") >= unusable - len(refused)
    assert tree_state(root, skip=out) == before, "a file outside the output folder changed"
