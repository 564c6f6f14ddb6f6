"""Every command example in the README runs as written, in order, and exits
with the code the README gives.

Each ```sh block runs in one shell (so a ``cd`` carries to the next line)
from the root of a temporary copy of the repository's examples/ and README,
after what ``make demo`` leaves behind (the demo workbook). A line's expected
exit code is its trailing ``# exit N`` comment, 0 when there is none. Three
kinds of line are not run, each for a stated reason: ``make …`` (the two
entry points; CI runs ``make test`` itself and ``make demo`` ends in a
server), ``pip install …`` (the test venv is that install; the wheel test
covers a real one) and ``fengqiao serve`` (it runs until stopped).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
EXIT = re.compile(r"#\s*exit (\d+)\b")
NOT_RUN = ("make ", "pip install ", "fengqiao serve")
MARK = "__fengqiao_rc__"


def readme_blocks(text: str) -> list[list[str]]:
    """The sh blocks' command lines (comments and blank lines dropped)."""
    blocks = []
    for body in BLOCK.findall(text):
        lines = [ln.strip() for ln in body.splitlines()]
        blocks.append([ln for ln in lines if ln and not ln.startswith("#")])
    return blocks


def expected_exit(line: str) -> int:
    m = EXIT.search(line)
    return int(m.group(1)) if m else 0


def _script(lines: list[str]) -> str:
    out = ["set +e"]
    for i, line in enumerate(lines):
        out.append(line)
        out.append(f'echo "{MARK} {i} $?"')
    return "\n".join(out) + "\n"


def test_the_readme_has_the_examples_this_test_runs() -> None:
    blocks = readme_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    commands = [ln for b in blocks for ln in b]
    assert sum(ln.startswith("fengqiao ") for ln in commands) >= 15
    assert any(expected_exit(ln) == 1 for ln in commands)
    assert any(expected_exit(ln) == 2 for ln in commands)
    assert any(ln.startswith("fengqiao init") for ln in commands)
    assert any(ln.startswith("fengqiao county collect") for ln in commands)


def test_every_readme_command_exits_as_the_readme_says(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "examples", tmp_path / "examples",
                    ignore=shutil.ignore_patterns("*.xlsx", "__pycache__"))
    shutil.copy2(ROOT / "README.md", tmp_path / "README.md")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    # what make demo leaves behind
    subprocess.run([sys.executable, "examples/generate_demo.py"], cwd=tmp_path, env=env,
                   check=True, capture_output=True, timeout=120)
    ran = 0
    for lines in readme_blocks((tmp_path / "README.md").read_text(encoding="utf-8")):
        todo = [ln for ln in lines if not ln.startswith(NOT_RUN)]
        if not todo:
            continue
        proc = subprocess.run(["bash", "-c", _script(todo)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        codes = {int(i): int(rc) for i, rc in re.findall(rf"^{MARK} (\d+) (\d+)$",
                                                            proc.stdout, re.M)}
        for i, line in enumerate(todo):
            assert i in codes, f"never ran: {line}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            assert codes[i] == expected_exit(line), \
                f"{line}\nexit {codes[i]}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            ran += 1
        assert "Traceback" not in proc.stderr
    assert ran >= 20


@pytest.mark.parametrize(("line", "code"), [
    ("fengqiao validate   # exit 1: planted defects", 1),
    ("fengqiao metrics --period 2024-Q4", 0),
    ("fengqiao validate  # exit 2: no source", 2),
])
def test_the_exit_comment_is_read(line: str, code: int) -> None:
    assert expected_exit(line) == code
