"""A town on Feishu gets what a town on Excel gets: the demo workbook served
as a Feishu sheet (through the real ``lark-oapi`` client and the loopback
Feishu server) gives the same findings and the same metrics.json, apart
from the source block, as the same workbook read as xlsx; its reads are
kept as snapshots, and a failed read falls back to the last good one, as
for Google. The command line never shows the app's credentials."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from feishu_server import Fault, FeishuServer, spreadsheet_from_xlsx, status_fault
from fengqiao import demo, sitebuild
from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.retry import RetryPolicy
from fengqiao.sources import feishu
from fengqiao.sources.feishu import clear_token_cache
from fengqiao.sources.snapshots import list_snapshots, verify_snapshots

TOKEN = "shtcnFengXiDemo01"
APP, SECRET = "cli_fengxi_e2e", "e2e-secret-never-printed"


@dataclass
class Town:
    root: Path
    workbook: Path
    server: FeishuServer
    config_file: Path


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    root = tmp_path_factory.mktemp("feishu-e2e")
    workbook = demo.write_workbook(demo.generate_town(scale=0.5), root / "示范 台账.xlsx")
    server = FeishuServer().start()
    server.add_app(APP, SECRET)
    server.spreadsheets[TOKEN] = spreadsheet_from_xlsx(workbook, TOKEN)
    server.spreadsheets[TOKEN].apps = {APP}
    config_file = root / "fengqiao.yml"
    config_file.write_text("town: 枫溪镇\nreport_date: 2024-12-15\nsnapshots_dir: snapshots\n"
                           f"source: feishu:{TOKEN}\nsite:\n  months: 1\n", encoding="utf-8")
    clear_token_cache()
    try:
        yield Town(root, workbook, server, config_file)
    finally:
        server.stop()
        clear_token_cache()


@pytest.fixture
def emulated(town: Town, monkeypatch: pytest.MonkeyPatch) -> FeishuServer:
    """The real client routed to the loopback server, with credentials in
    the environment and the backoff waits recorded instead of slept."""
    monkeypatch.setattr(feishu, "RetryPolicy", functools.partial(
        RetryPolicy, sleep=lambda _s: None, random=lambda: 0.5))
    monkeypatch.setenv("FENGQIAO_FEISHU_EMULATOR", town.server.url)
    monkeypatch.setenv("FENGQIAO_FEISHU_APP_ID", APP)
    monkeypatch.setenv("FENGQIAO_FEISHU_APP_SECRET", SECRET)
    town.server.clear()
    return town.server


def run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.output
    for private in (APP, SECRET, "Bearer"):
        assert private not in result.output
    return result.stdout


def test_feishu_gives_the_findings_and_metrics_of_the_xlsx(town: Town,
                                                           emulated: FeishuServer) -> None:
    config = str(town.config_file)
    live = f"feishu:{TOKEN}"
    findings = {spec: run("validate", spec, "--format", "json", "--config", config)
                for spec in (str(town.workbook), live)}
    assert findings[live] == findings[str(town.workbook)]  # byte for byte
    assert len(json.loads(findings[live])) > 10  # the demo's planted defects, found on both
    metrics = {}
    for spec in (str(town.workbook), live):
        doc = json.loads(run("metrics", spec, "--period", "2024", "--format", "json",
                             "--config", config))
        metrics[spec] = doc
    sources = {spec: doc.pop("source") for spec, doc in metrics.items()}
    # the rest byte for byte, in the document's own key order
    text = {spec: json.dumps(doc, ensure_ascii=False) for spec, doc in metrics.items()}
    assert text[live] == text[str(town.workbook)]
    assert sources[str(town.workbook)]["kind"] == "xlsx"
    assert sources[live]["kind"] == "feishu"
    assert emulated.routes() == ["token", "sheets", "values", "sheets", "values"]  # token cached


def test_reads_are_snapshots_and_a_failed_read_falls_back(town: Town,
                                                          emulated: FeishuServer,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = load_config(town.config_file)
    first = sitebuild.collect(config)
    snapshots = town.root / "snapshots"
    records = [r for r in list_snapshots(snapshots) if r.location == f"feishu:{TOKEN}"]
    assert len(records) == 1 and records[0].kind == "feishu" and records[0].file.endswith(".json")
    assert first.source["stale_since"] is None
    assert verify_snapshots(snapshots) == []
    before = {p.name: p.read_bytes() for p in snapshots.iterdir()}

    emulated.clear()
    emulated.fault("values", status_fault(503), times=8)
    emulated.fault("sheets", Fault("action", action=emulated.expire_tokens))
    stale = sitebuild.collect(config)
    # the expired token is fetched again once, then five tries at the values, then the snapshot
    assert emulated.routes() == ["sheets", "token", "sheets"] + ["values"] * 5
    assert stale.source["kind"] == "feishu"
    assert stale.source["sha256"] == records[0].sha256
    assert stale.source["stale_since"] == records[0].last_read_at.isoformat()
    assert {p.name: p.read_bytes() for p in snapshots.iterdir()} == before
    assert json.dumps(stale.source, ensure_ascii=False).count(SECRET) == 0
    for private in (APP, SECRET, *emulated.tokens):
        assert private not in caplog.text


def test_a_failed_read_on_the_command_line_is_a_clean_exit_2(town: Town,
                                                             emulated: FeishuServer) -> None:
    town.server.spreadsheets[TOKEN].apps = set()
    try:
        result = CliRunner().invoke(cli, ["validate", f"feishu:{TOKEN}",
                                          "--config", str(town.config_file)])
    finally:
        town.server.spreadsheets[TOKEN].apps = {APP}
    assert result.exit_code == 2, result.output
    assert f"本应用没有权限打开飞书表格 {TOKEN}。" in result.output
    assert "「添加文档应用」" in result.output
    assert "Traceback" not in result.output
    for private in (APP, SECRET, "Bearer", *emulated.tokens):
        assert private not in result.output
