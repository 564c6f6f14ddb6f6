"""fengqiao.yml and county.yml: one typed model each, defaults only in YAML,
every mistake a Chinese message (exit 2, no traceback); one source resolver
and one clock for every command."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import date
from pathlib import Path
from typing import Any, get_type_hints

import openpyxl
import pytest
import yaml
from click.testing import CliRunner, Result
from pydantic.dataclasses import dataclass as pydantic_dataclass

from fengqiao.cli import cli
from fengqiao.config import DEFAULTS_FILE, Config, Quota, load_config
from fengqiao.county.collect import classify
from fengqiao.county.config import COUNTY_DEFAULTS_FILE, CountyFile, load_county_config
from fengqiao.errors import FengqiaoError
from fengqiao.schema import load_schema
from fengqiao.sources import resolve_spec

PACKAGE = Path(__file__).resolve().parents[1] / "scripts" / "fengqiao"
#: words of pydantic's own messages, which must never reach a user
ENGLISH = re.compile(r"Input should|validation error|Field required|Traceback|type=")
GOOGLE_KEY_MISSING = "没有提供 Google 服务账号密钥"

COLUMNS = ["id", "received_date", "source", "village", "dispute_type", "parties",
           "persons_involved", "star", "level", "status", "first_try_success", "closed_date"]
ROWS = [
    ["D1", date(2024, 3, 1), "网格排查", "东岭村", "邻里", "张三", 2, 1, "村级", "已化解", "是",
     date(2024, 3, 3)],
    ["D2", date(2024, 3, 10), "群众来访", "西坡村", "劳资", "王五", 1, 1, None, "调处中", None,
     None],
]


def write_ledger(path: Path) -> Path:
    spec = load_schema()["disputes"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = spec.title
    ws.append([spec.field(c).title for c in COLUMNS])
    for row in ROWS:
        ws.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def refused(result: Result) -> str:
    """The message of a clean refusal: exit 2, Chinese, no traceback, no pydantic."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert not ENGLISH.search(result.output), result.output
    assert result.output.startswith("错误：")
    return result.output


# -- fengqiao.yml: every bad config of issue 10 -------------------------------------------

BAD_TOWN = [
    ("deadlines:\n  star4: 3", "deadlines.star4 不是可用的设置。您是不是想写 deadlines.star_3？"
     "可用的有：star_1、star_2、star_3、day_count、warn_days。"),
    ("deadlines:\n  warn_days: abc", "deadlines.warn_days 应是整数，实际写的是“abc”。例如 warn_days: 2。"),
    ("report_date: 2024-02-30", "report_date 不是真实存在的日期，实际写的是“2024-02-30”。"
     "请检查月份和日子，例如 2024-12-31。"),
    ("site: yes", "site 应是几行设置，写在下一行、缩进两格（可写 title、months、pages），实际写的是 true。"),
    ("targets: 0.9", "targets 应是几行设置，写在下一行、缩进两格（每行“名称: 值”），实际写的是 0.9。"),
    ("reception_quotas: {书记: 3}", "reception_quotas.书记 应是几行设置，写在下一行、缩进两格"
     "（可写 per、min_days、modes），实际写的是 3。"),
    ("town: [1, 2]", "town 应是一段文字，实际写的是 [1, 2]。例如 town: 枫溪镇。"),
]


@pytest.mark.parametrize(("text", "message"), BAD_TOWN, ids=[t for t, _ in BAD_TOWN])
@pytest.mark.parametrize("command", [["validate"], ["metrics", "--period", "2024-Q1"],
                                     ["overdue"], ["template", "--out", "x.xlsx"]])
def test_a_bad_town_config_stops_every_command(tmp_path: Path, text: str, message: str,
                                               command: list[str]) -> None:
    config = write(tmp_path / "fengqiao.yml", text + "\n")
    output = refused(run(*command, "--config", str(config)))
    assert output.startswith(f"错误：配置文件 {config} 里的 {message}")


@pytest.mark.parametrize("text", [
    "deadlines:\n  star_3: 30\n  warn_days: 0", "report_date: 2024-02-29",
    "site:\n  months: 3", "targets:\n  closure_rate: 0.8",
    "reception_quotas:\n  书记: {per: day, min_days: 1}", "town: 东湖镇",
])
def test_the_same_keys_written_well_load(tmp_path: Path, text: str) -> None:
    config = load_config(write(tmp_path / "fengqiao.yml", text + "\n"))
    assert config.path == tmp_path / "fengqiao.yml" and config.base_dir == tmp_path


def test_good_values_arrive_typed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "fengqiao.yml", (
        "town: 东湖镇\nreport_date: 2024-02-29\ndeadlines:\n  star_3: 30\n"
        "reception_quotas:\n  县处级领导: {per: day, min_days: 1}\n"
        "key_person_intervals:\n  每两月: 61\n")))
    assert config.town == "东湖镇" and config.report_date == date(2024, 2, 29)
    assert config.deadlines.for_star(3) == 30 and config.deadlines.for_star(1) == 5  # default kept
    # one mapping is one quota; `modes` left out counts all four 方式
    assert config.reception_quotas["县处级领导"] == (Quota("day", 1, ("接访", "下访", "约访", "走访")),)
    assert set(config.reception_quotas) == {"党政主要领导", "科级领导", "村两委", "县处级领导"}
    assert config.key_person_intervals["每两月"] == 61 and config.key_person_intervals["每周"] == 7


def test_a_typo_gets_the_nearest_key_at_any_depth(tmp_path: Path) -> None:
    with pytest.raises(FengqiaoError) as top:
        load_config(write(tmp_path / "a.yml", "sourse: 台账.xlsx\n"))
    assert top.value.message == f"配置文件 {tmp_path / 'a.yml'} 里的 sourse 不是可用的设置。"
    assert top.value.hint.startswith("您是不是想写 source？可用的有：town、source、")
    with pytest.raises(FengqiaoError) as nested:
        load_config(write(tmp_path / "b.yml", "site:\n  titel: 东湖镇平台\n"))
    assert nested.value.hint == "您是不是想写 site.title？可用的有：title、months、pages。"
    with pytest.raises(FengqiaoError) as value:
        load_config(write(tmp_path / "c.yml", "deadlines:\n  day_count: workin\n"))
    assert str(value.value).endswith("只能是 calendar 或 working，实际写的是“workin”。"
                                     "您是不是想写 day_count: working？")
    with pytest.raises(FengqiaoError) as far:  # nothing near: the list only
        load_config(write(tmp_path / "d.yml", "zzz: 1\n"))
    assert far.value.hint.startswith("可用的有：town、")


def test_the_loaders_own_fields_are_not_settings(tmp_path: Path) -> None:
    with pytest.raises(FengqiaoError, match=r"里的 base_dir 不是可用的设置。"):
        load_config(write(tmp_path / "fengqiao.yml", "base_dir: /\n"))


def test_several_mistakes_are_listed_together(tmp_path: Path) -> None:
    path = write(tmp_path / "fengqiao.yml", "backlog_days: 0\nsite:\n  months: 1.5\n")
    with pytest.raises(FengqiaoError) as err:
        load_config(path)
    assert str(err.value) == (
        f"配置文件 {path} 里有 2 处需要改正：\n"
        "  1. backlog_days 应是大于 0 的整数，实际写的是 0。例如 backlog_days: 90。\n"
        "  2. site.months 应是整数，实际写的是 1.5。例如 months: 12。")


def test_targets_take_only_catalogued_rates_between_0_and_1(tmp_path: Path) -> None:
    with pytest.raises(FengqiaoError) as key:
        load_config(write(tmp_path / "a.yml", "targets:\n  closure_rat: 0.9\n"))
    assert key.value.message.endswith("里的 targets.closure_rat 不是可设目标的指标。")
    assert key.value.hint.startswith("您是不是想写 targets.closure_rate？可以写的有：")
    for bad, found in (("1.5", "1.5"), ("true", "true"), ("'0.9'", "“0.9”")):
        with pytest.raises(FengqiaoError, match=f"targets.closure_rate 应是.*实际写的是 ?{found}"):
            load_config(write(tmp_path / "b.yml", f"targets:\n  closure_rate: {bad}\n"))
    assert load_config(write(tmp_path / "c.yml", "targets:\n  closure_rate: 1\n")) \
        .targets["closure_rate"] == 1.0


def test_an_empty_section_keeps_its_defaults_and_an_empty_source_means_none(
        tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "fengqiao.yml", "deadlines:\nsource:\n"))
    assert config.deadlines == load_config().deadlines
    assert config.source == ""
    with pytest.raises(FengqiaoError) as err:
        resolve_spec(None, config)
    assert err.value.message.startswith("没有指定台账：配置文件 ")
    assert err.value.message.endswith("里的 source 是空的。")


def test_replace_revalidates_so_a_test_cannot_build_a_bad_config() -> None:
    config = load_config()
    working = dataclasses.replace(config, deadlines=dataclasses.replace(
        config.deadlines, day_count="working"))
    assert working.deadlines.day_count == "working"
    with pytest.raises(ValueError):
        dataclasses.replace(config.deadlines, star_1=0)


# -- county.yml ---------------------------------------------------------------------------

BAD_COUNTY = [
    ("county: 示范县\ncounty_name: 东湖县", "county_name 不是可用的设置。您是不是想写 county？"),
    ("county: 示范县\ntowns:\n  - {name: 东湖镇, url: 123}",
     "towns[1].url 应是一段文字，实际写的是 123。"),
    ("county: 示范县\ntowns:\n  - {name: 东湖镇, url: 'ftp://x'}",
     "towns[1].url 应以 http:// 或 https:// 开头，实际写的是“ftp://x”。"),
    ("county: 示范县\ndue_days: {month: -1}", "due_days.month 应是不小于 0 的整数，实际写的是 -1。"),
    ("county: 示范县\ndue_days: {quarter: 十天}", "due_days.quarter 应是整数，实际写的是“十天”。"),
    ("county: 示范县\ndue_days: {quartr: 7}", "due_days.quartr 不是可用的设置。"
     "您是不是想写 due_days.quarter？"),
    ("county: 示范县\nranking: {min_denominator: -5}",
     "ranking.min_denominator 应是不小于 0 的整数，实际写的是 -5。"),
    ("county: 示范县\nreport_date: 2024-02-30", "report_date 不是真实存在的日期"),
    ("county: 示范县\ntimezone: 北京时间", "timezone 不是有效的时区名，实际写的是“北京时间”。"),
    ("county: 示范县\nfetch: {retries: 11}", "fetch.retries 应是不大于 10 的整数，实际写的是 11。"),
    ("county: 示范县\ntowns:\n  - {name: 东湖镇, url: 'http://a/', path: b}",
     "towns[1]（东湖镇）必须且只能填写 url、path、workbook 中的一项。"),
]


@pytest.mark.parametrize(("text", "message"), BAD_COUNTY, ids=[t for t, _ in BAD_COUNTY])
def test_a_bad_county_config_stops_collect(tmp_path: Path, text: str, message: str) -> None:
    config = write(tmp_path / "county.yml", text + "\n")
    output = refused(run("county", "collect", "--config", str(config), "--period", "2024-Q1"))
    assert output.startswith(f"错误：县级配置文件 {config} 里的 {message}")


def test_a_county_without_a_name_is_asked_for_one(tmp_path: Path) -> None:
    config = write(tmp_path / "county.yml", "towns: []\n")
    output = refused(run("county", "collect", "--config", str(config), "--period", "2024-Q1"))
    assert output == f"错误：县级配置文件 {config} 里缺少 county。请写上这一项。例如 county: 示范县。\n"


def test_a_good_county_config_loads_with_its_defaults(tmp_path: Path) -> None:
    config = load_county_config(write(tmp_path / "county.yml", (
        "county: 示范县\nreport_date: 2024-03-20\nranking: {min_denominator: 0}\n"
        "towns:\n  - {name: 东湖镇, workbook: 'gsheets:abc', config: 东湖镇.yml}\n"
        "  - {name: 西山镇, path: xishan}\n")))
    assert config.report_date == date(2024, 3, 20) and config.min_denominator == 0
    assert config.due_days["month"] == 5 and config.fetch.timeout == 10
    assert config.targets == load_config().targets  # the town defaults, written once
    east, west = config.towns
    assert (east.kind, east.location, east.config) == ("workbook", "gsheets:abc",
                                                      tmp_path / "东湖镇.yml")
    assert (west.kind, west.location) == ("path", str(tmp_path / "xishan"))


# -- defaults live in the YAML files only -------------------------------------------------


def _fields_with_defaults(model: Any, written: dict[str, Any], prefix: str = "") -> list[str]:
    """Model fields named in a defaults file that still declare a default,
    at every depth."""
    out = []
    hints = get_type_hints(model)
    for f in dataclasses.fields(model):
        if f.name not in written:
            continue
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            out.append(prefix + f.name)
        inner = hints[f.name]
        if dataclasses.is_dataclass(inner) and isinstance(written[f.name], dict):
            out += _fields_with_defaults(inner, written[f.name], f"{prefix}{f.name}.")
    return out


def test_the_models_declare_no_default_for_a_key_the_defaults_file_writes() -> None:
    town = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))
    county = yaml.safe_load(COUNTY_DEFAULTS_FILE.read_text(encoding="utf-8"))
    assert "deadlines" in town and "fetch" in county
    assert _fields_with_defaults(Config, town) == []
    assert _fields_with_defaults(CountyFile, county) == []


def test_the_default_check_catches_a_model_default() -> None:
    @pydantic_dataclass
    class Sneaky:
        months: int = 12

    assert _fields_with_defaults(Sneaky, {"months": 3}) == ["months"]


def _without(source: Path, target: Path, section: str, key: str) -> Path:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    inside = False
    kept = []
    for line in lines:
        if re.match(rf"^{section}:", line):
            inside = True
        elif re.match(r"^\S", line):
            inside = False
        if inside and re.match(rf"^\s+{key}:", line):
            continue
        kept.append(line)
    target.write_text("".join(kept), encoding="utf-8")
    return target


def test_a_key_removed_from_the_defaults_fails_loudly(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _without(DEFAULTS_FILE, tmp_path / "defaults.yml", "deadlines", "star_2")
    monkeypatch.setattr("fengqiao.config.DEFAULTS_FILE", broken)
    with pytest.raises(FengqiaoError) as err:
        load_config(write(tmp_path / "fengqiao.yml", "town: 东湖镇\n"))
    assert err.value.message == (f"配置文件 {tmp_path / 'fengqiao.yml'} 里缺少 deadlines.star_2，"
                                 f"默认设置 {broken} 里也没有这一项。")

    broken_county = _without(COUNTY_DEFAULTS_FILE, tmp_path / "county_defaults.yml", "fetch",
                             "timeout")
    monkeypatch.setattr("fengqiao.county.config.COUNTY_DEFAULTS_FILE", broken_county)
    with pytest.raises(FengqiaoError, match=r"里缺少 fetch\.timeout，默认设置 .* 里也没有这一项"):
        load_county_config(write(tmp_path / "county.yml", "county: 示范县\n"))


# -- one source resolver --------------------------------------------------------------------


def test_a_source_on_the_command_line_is_relative_to_the_current_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_ledger(tmp_path / "here" / "镇.xlsx")
    config = write(tmp_path / "cfg" / "fengqiao.yml", "source: 别处.xlsx\n")
    monkeypatch.chdir(tmp_path / "here")
    for command in (["validate"], ["metrics", "--period", "2024-03"], ["overdue"]):
        result = run(*command, "镇.xlsx", "--config", str(config))
        assert result.exit_code in (0, 1), result.output
        assert "找不到" not in result.output
    refused(run("validate", "别处.xlsx", "--config", str(config)))  # not the config's folder


def test_a_source_in_the_config_is_relative_to_the_configs_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_ledger(tmp_path / "cfg" / "data" / "镇.xlsx")
    config = write(tmp_path / "cfg" / "fengqiao.yml", "source: data/镇.xlsx\n")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    for command in (["validate"], ["metrics", "--period", "2024-03"], ["overdue"]):
        result = run(*command, "--config", str(config))
        assert result.exit_code in (0, 1), result.output
    assert resolve_spec(None, load_config(config)) == tmp_path / "cfg" / "data" / "镇.xlsx"


@pytest.mark.parametrize("command", [["validate"], ["metrics", "--period", "2024-03"],
                                     ["overdue"]])
def test_gsheets_in_the_config_reaches_the_google_reader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]) -> None:
    monkeypatch.delenv("FENGQIAO_GOOGLE_CREDENTIALS", raising=False)
    config = write(tmp_path / "fengqiao.yml", "source: gsheets:abc\n")
    output = refused(run(*command, "--config", str(config)))
    assert GOOGLE_KEY_MISSING in output and "找不到数据源" not in output


def test_the_resolver_passes_google_specs_through_from_either_side(tmp_path: Path) -> None:
    url = "https://docs.google.com/spreadsheets/d/abc123/edit#gid=0"
    config = load_config(write(tmp_path / "fengqiao.yml", f"source: '{url}'\n"))
    assert resolve_spec(None, config) == url
    assert resolve_spec("gsheets:xyz", config) == "gsheets:xyz"
    assert resolve_spec("台账.xlsx", config) == Path("台账.xlsx")
    with pytest.raises(FengqiaoError, match="没有指定台账"):
        resolve_spec(None, None)
    town = classify(url)  # a Google address given to county build is a workbook, not a site
    assert (town.kind, town.location) == ("workbook", url)
    assert classify("http://east.example/").kind == "url"


# -- one clock -----------------------------------------------------------------------------


def test_metrics_and_overdue_use_the_configs_report_date(tmp_path: Path) -> None:
    ledger = write_ledger(tmp_path / "镇.xlsx")
    fixed = write(tmp_path / "fixed.yml", "report_date: 2024-03-20\n")
    result = run("metrics", str(ledger), "--period", "2024-03", "--format", "json",
                 "--config", str(fixed))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["as_of"] == "2024-03-20"
    plain = run("metrics", str(ledger), "--period", "2024-03", "--format", "json")
    assert json.loads(plain.stdout)["as_of"] == "2024-03-31"  # the period is long over
    overdue = run("overdue", str(ledger), "--config", str(fixed))
    assert overdue.exit_code == 0, overdue.output
    assert "2024-03-20" in overdue.stdout


def test_the_county_computes_a_workbook_as_of_its_report_date(tmp_path: Path) -> None:
    write_ledger(tmp_path / "东湖镇.xlsx")
    towns = "towns:\n  - {name: 东湖镇, workbook: 东湖镇.xlsx}\n"

    def as_of(config: Path) -> str:
        result = run("county", "collect", "--config", str(config), "--period", "2024-03",
                     "--now", "2024-03-25T10:00")
        assert result.exit_code == 0, result.output
        stored = sorted((tmp_path / config.stem).rglob("*.json"))
        return str(json.loads(stored[-1].read_text(encoding="utf-8"))["as_of"])

    fixed = write(tmp_path / "fixed.yml", "county: 示范县\nreport_date: 2024-03-20\n"
                  "collection_dir: fixed\n" + towns)
    assert as_of(fixed) == "2024-03-20"
    clock = write(tmp_path / "clock.yml", "county: 示范县\ncollection_dir: clock\n" + towns)
    assert as_of(clock) == "2024-03-25"  # the county's day at the collection moment


def test_only_the_clock_module_asks_the_computer_for_the_date() -> None:
    asking = re.compile(r"\bdate\.today\(\)|\bdatetime\.(now|utcnow|today)\(")
    offenders = [str(p.relative_to(PACKAGE)) for p in sorted(PACKAGE.rglob("*.py"))
                 if p.name != "clock.py" and asking.search(p.read_text(encoding="utf-8"))]
    assert offenders == []
