"""The README's fault table is a promise: every test it names must exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_test_named_in_the_fault_table_exists() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## What happens when something goes wrong"):]
    named = 0
    for line in table.splitlines():
        if not line.startswith("| ") or line.startswith("| Fault") or line.startswith("|---"):
            continue
        cell = line.rstrip("|").rsplit("|", 1)[1]
        for module, tests in re.findall(r"(test_\w+)(?::\s*([^;]+))?", cell):
            path = ROOT / "tests" / f"{module}.py"
            assert path.exists(), f"{module}.py named in README does not exist"
            source = path.read_text(encoding="utf-8")
            for name in re.findall(r"`(test_[\w*]+)`", tests or ""):
                pattern = re.escape(name).replace(r"\*", r"\w*")
                assert re.search(rf"def {pattern}\(", source), f"{module}::{name} not found"
                named += 1
    assert named > 40
