"""The province-scale paths give exactly the results of the plain ones.

A million-row ledger takes paths a town's never does: columns parsed by
several threads, the workbook's raw cells dropped as they are read
(``consume``), the allocators told to give memory back. Each is checked
here on the demo town (every tab, planted defects, supervision loop) against
the path it replaces.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from fengqiao import cli, validate
from fengqiao.config import load_config
from fengqiao.demo import generate_town
from fengqiao.ledger import Ledger
from fengqiao.metrics import compute_metrics, dumps, parse_period
from fengqiao.schema import load_schema
from fengqiao.sources import open_source
from fengqiao.validate import validate_workbook


@pytest.fixture(scope="module")
def csv_town(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo town with its defects as a CSV folder (Arrow-backed columns)."""
    folder = tmp_path_factory.mktemp("province") / "csv"
    folder.mkdir()
    schema = load_schema()
    for tab, frame in generate_town(11, scale=0.4).items():
        frame.to_csv(folder / f"{schema[tab].title}.csv", index=False)
    return folder


def _observed(ledger: Ledger) -> tuple[list[tuple[object, ...]], dict[str, pd.DataFrame], str]:
    config = load_config()
    findings = [(f.sheet, f.cell, f.code, f.message) for f in ledger.findings]
    metrics = compute_metrics(ledger, parse_period("2024"), config=config, as_of=None)
    metrics["source"]["read_at"] = None
    return findings, ledger.tables, dumps(metrics)


def _same(a: tuple[list[tuple[object, ...]], dict[str, pd.DataFrame], str],
          b: tuple[list[tuple[object, ...]], dict[str, pd.DataFrame], str]) -> None:
    assert a[0] == b[0]
    assert sorted(a[1]) == sorted(b[1])
    for tab in a[1]:
        pd.testing.assert_frame_equal(a[1][tab], b[1][tab])
    assert a[2] == b[2]


def test_threaded_parsing_and_consume_match_the_plain_path(
        csv_town: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config()
    plain = _observed(validate_workbook(open_source(csv_town), config=config))
    codes = {f[2] for f in plain[0]}
    assert {"bad-date", "transfer-before-received"} <= codes  # defects and the loop's checks
    monkeypatch.setattr(validate, "PARALLEL_ROWS", 1)  # every tab parsed by threads
    workbook = open_source(csv_town)
    fast = _observed(validate_workbook(workbook, config=config, consume=True))
    _same(plain, fast)
    # consumed: the raw cells are gone, what the caller may still read stays
    assert all(raw.frame.empty for raw in workbook.tables.values())
    assert workbook.info.kind == "csv"


def test_consume_is_off_by_default(csv_town: Path) -> None:
    workbook = open_source(csv_town)
    validate_workbook(workbook, config=load_config())
    assert all(not raw.frame.empty for raw in workbook.tables.values())


def test_the_command_sets_the_allocator_but_never_over_the_user(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MIMALLOC_PURGE_DELAY", raising=False)
    cli.tune_allocators()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "0"
    monkeypatch.setenv("MIMALLOC_PURGE_DELAY", "250")
    cli.tune_allocators()
    assert os.environ["MIMALLOC_PURGE_DELAY"] == "250"
