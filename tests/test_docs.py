"""Documentation cannot drift from the code: every command, setting, finding
code and metric id is documented where a user looks for it."""

from __future__ import annotations

import dataclasses
import json
import re
import string
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import click
import pytest

from fengqiao.cli import cli
from fengqiao.config import DEFAULTS_FILE, KNOWN_KEYS, RATE_TITLES_FOR_TARGETS, Config
from fengqiao.county.config import COUNTY_DEFAULTS_FILE, CountyFile
from fengqiao.county.config import KNOWN_KEYS as COUNTY_KEYS
from fengqiao.errors import CATALOGUE, make_finding
from fengqiao.metrics import METRIC_TITLES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOMAIN = ROOT.parent / "shared" / "DOMAIN.md"
CJK = re.compile(r"[\u4e00-\u9fff]")


def _commands(group: click.Group, prefix: str = "fengqiao") -> list[str]:
    out = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            out.extend(_commands(command, path))
        else:
            out.append(path)
    return out


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_is_in_the_readme(command: str) -> None:
    # "fengqiao snapshots list" is documented as "fengqiao snapshots list|verify"
    head, _, last = command.rpartition(" ")
    pattern = re.escape(head) + r" [\w|\\]*\b" + re.escape(last) + r"\b"
    assert re.search(pattern, README), f"{command} is not documented in README.md"


@pytest.mark.parametrize("command", _commands(cli))
def test_every_command_has_chinese_help(command: str) -> None:
    ctx = click.Context(cli)
    node: click.Command = cli
    for part in command.split()[1:]:
        assert isinstance(node, click.Group)
        node = node.commands[part]
    help_text = node.get_help(ctx)
    assert CJK.search(node.help or node.short_help or ""), f"{command} has no Chinese help"
    assert help_text


def test_every_setting_is_documented_in_defaults() -> None:
    text = DEFAULTS_FILE.read_text(encoding="utf-8")
    for key in KNOWN_KEYS:
        assert re.search(rf"^#? ?{key}:", text, re.M), f"setting {key} missing from defaults.yml"
    for key in RATE_TITLES_FOR_TARGETS:
        assert key in METRIC_TITLES


def _setting_keys(model: Any, prefix: str = "") -> list[str]:
    """Every key a user may write under a config model, dotted, at every depth
    (through nested settings and the items of a list such as ``towns:``)."""
    out = []
    hints = get_type_hints(model)
    for f in dataclasses.fields(model):
        if f.metadata.get("internal"):
            continue
        out.append(prefix + f.name)
        inner = hints[f.name]
        if get_origin(inner) is list:
            inner = get_args(inner)[0]
        if dataclasses.is_dataclass(inner) and isinstance(inner, type):
            out += _setting_keys(inner, f"{prefix}{f.name}.")
    return out


@pytest.mark.parametrize(("model", "path"), [(Config, DEFAULTS_FILE),
                                             (CountyFile, COUNTY_DEFAULTS_FILE)])
def test_every_setting_at_every_depth_is_documented_in_its_defaults_file(
        model: Any, path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    keys = _setting_keys(model)
    assert len(keys) > len(dataclasses.fields(model))  # nested settings are included
    for key in keys:
        top = "." not in key
        leaf = key.rsplit(".", 1)[-1]
        pattern = rf"^#? ?{leaf}:" if top else rf"^#?\s*(- )?{leaf}:|[{{,] ?{leaf}:"
        assert re.search(pattern, text, re.M), f"setting {key} missing from {path.name}"


def test_every_county_setting_has_a_comment_in_county_defaults() -> None:
    text = COUNTY_DEFAULTS_FILE.read_text(encoding="utf-8")
    for key in COUNTY_KEYS:
        block = text[:re.search(rf"^#? ?{key}:", text, re.M).start()]  # type: ignore[union-attr]
        assert block.rstrip().splitlines()[-1].lstrip().startswith("#"), \
            f"{key} has no comment above it"


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_finding_code_has_a_chinese_message_that_formats(code: str) -> None:
    entry = CATALOGUE[code]
    assert CJK.search(entry.title) and CJK.search(entry.template) and CJK.search(entry.hint)
    allowed = {"sheet", "cell", "column", "value", "detail"}
    for text in (entry.template, entry.hint):
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert names <= allowed, f"{code} uses unknown placeholders {names - allowed}"
    finding = make_finding(code, sheet="纠纷台账", row=12, col=5, column="办结日期",
                           value="x", detail="1")
    assert "{" not in finding.message and finding.cell == "纠纷台账!F12"


def test_the_guide_page_lists_every_finding_code() -> None:
    from fengqiao.render import render_generated
    from fengqiao.render.town import guide_context

    page = render_generated("guide.md.j2", guide_context() | {"template_url": "t.xlsx"})
    for code in CATALOGUE:
        assert f"`{code}`" in page


def test_every_metric_has_a_title_and_a_schema_description() -> None:
    schema = json.loads((ROOT / "scripts/fengqiao/contract/metrics.schema.json")
                        .read_text(encoding="utf-8"))
    props = schema["properties"]["metrics"]["properties"]
    assert set(props) == set(METRIC_TITLES)
    for metric_id, title in METRIC_TITLES.items():
        assert CJK.search(title)
        assert "description" in props[metric_id] or "$ref" in props[metric_id] or \
            "allOf" in props[metric_id] or "oneOf" in props[metric_id] or \
            "anyOf" in props[metric_id], metric_id


@pytest.mark.skipif(not DOMAIN.exists(), reason="../shared/DOMAIN.md not beside the project")
def test_every_metric_of_the_domain_reference_is_computed() -> None:
    text = DOMAIN.read_text(encoding="utf-8")
    table = text[text.index("| id | name | definition |"):]
    ids: set[str] = set()
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cell = line.split("|")[1]
        ids.update(part.strip() for part in cell.split("/"))
    assert ids, "could not read the metric table"
    assert ids <= set(METRIC_TITLES), sorted(ids - set(METRIC_TITLES))
