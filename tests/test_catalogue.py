"""The metric catalogue is the one list of metrics: the engine computes
exactly its ids, the config, renderer, county and JSON Schema read it, and
one contract checker serves the town and the county."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from fengqiao import catalogue
from fengqiao.catalogue import DISPUTE_BREAKDOWNS, METRICS, REQUIRED_TAB
from fengqiao.config import DEFAULTS_FILE, load_config
from fengqiao.county.collect import check_contract, collect_town
from fengqiao.county.config import (
    RANKED_RATES,
    CountyConfig,
    FetchSettings,
    TownSource,
    county_config,
    load_county_config,
)
from fengqiao.demo import generate_town, write_workbook
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import METRIC_TITLES, METRIC_UNITS, compute_metrics, parse_period
from fengqiao.metrics.breakdowns import DISPUTE_KEYS, OPTIONAL_BY_BREAKDOWN
from fengqiao.metrics.contract import SCHEMA_PATH, dumps, validate_contract
from fengqiao.render import fmt
from fengqiao.schema import load_schema
from fengqiao.sources import open_source
from fengqiao.validate import validate_workbook
from metrics_helpers import dispute, ledger

CJK = re.compile(r"[\u4e00-\u9fff]")
Q4 = parse_period("2024-Q4")


@pytest.fixture(scope="module")
def demo_contract(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo town (every tab present), read as a user's workbook is read."""
    path = tmp_path_factory.mktemp("demo") / "demo.xlsx"
    write_workbook(generate_town(3, scale=0.15, defects=False), path)
    config = load_config()
    book = validate_workbook(open_source(path), config=config)
    return compute_metrics(book, Q4, config=config, today=date(2025, 1, 1))


def catalogue_gaps(metrics: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(computed but not catalogued, catalogued but not computed)."""
    return sorted(set(metrics) - set(METRICS)), sorted(set(METRICS) - set(metrics))


# -- the catalogue and the engine ----------------------------------------------


def test_every_computed_metric_is_catalogued_and_back(demo_contract: dict[str, Any]) -> None:
    assert catalogue_gaps(demo_contract["metrics"]) == ([], [])
    assert list(METRIC_TITLES) == list(METRICS)


def test_a_metric_missing_from_either_side_is_named(demo_contract: dict[str, Any]) -> None:
    metrics = dict(demo_contract["metrics"])
    del metrics["closure_rate"]
    metrics["closure_rate_v2"] = {"numerator": 1, "denominator": 2, "value": 0.5}
    assert catalogue_gaps(metrics) == (["closure_rate_v2"], ["closure_rate"])


def _shape_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "count"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict) and set(value) == {"numerator", "denominator", "value"}:
        return "rate"
    if isinstance(value, dict) and set(value) == {"count", "previous", "change"}:
        return "change"
    return "mix" if isinstance(value, dict) else type(value).__name__


def test_every_figure_has_the_shape_the_catalogue_gives(demo_contract: dict[str, Any]) -> None:
    got = {k: _shape_of(v) for k, v in demo_contract["metrics"].items()}
    assert got == {m.id: m.shape for m in METRICS.values()}


def test_breakdowns_carry_the_figures_the_catalogue_lists(demo_contract: dict[str, Any]) -> None:
    breakdowns = demo_contract["breakdowns"]
    assert set(DISPUTE_KEYS) == set(DISPUTE_BREAKDOWNS)
    for name in (*DISPUTE_BREAKDOWNS, "reception_rank", "key_person_category"):
        want = {m.id for m in METRICS.values() if name in m.breakdowns}
        units = breakdowns[name]
        assert units, name
        for unit, body in units.items():
            assert set(body) == want, (name, unit)
    assert OPTIONAL_BY_BREAKDOWN["village"] == ("visit_coverage", "key_person_followup_rate",
                                                "needs_closure_rate")
    assert OPTIONAL_BY_BREAKDOWN["grid"] == ("visit_coverage", "key_person_followup_rate")


def test_optional_figures_are_null_exactly_when_their_tab_is_missing(
        demo_contract: dict[str, Any]) -> None:
    # an older workbook: no optional tab, and none of the optional columns of 纠纷台账
    old_columns = {"disputes": tuple(c.split(".", 1)[1] for c in catalogue.OPTIONAL_COLUMNS)}
    only_disputes = compute_metrics(ledger({"disputes": [dispute("A", "2024-03-01")]},
                                           missing_columns=old_columns),
                                    parse_period("2024-03"), config=load_config())
    nulls = {k for k, v in only_disputes["metrics"].items() if v is None}
    assert nulls == set(catalogue.OPTIONAL) | {"median_days"}  # no case closed: no median
    assert set(catalogue.OPTIONAL) == {
        "visit_coverage", "key_person_followup_rate", "reception_compliance", "needs_closure_rate",
        # the supervision loop (DOMAIN.md 4.2): optional tabs, or optional columns of 纠纷台账
        "supervised", "supervision_count", "overdue_explained_rate", "assign_days_median",
        "feedback_rate", "village_kept_rate", "passed_up", "passed_down", "passed_across",
        "force_mix", "key_persons_by_category"}
    assert all(demo_contract["metrics"][k] is not None for k in catalogue.OPTIONAL)


def test_every_needed_column_exists_in_the_sheets_schema() -> None:
    schema = load_schema()
    for m in METRICS.values():
        assert m.needs, m.id
        for need in m.needs:
            tab, field = need.split(".")
            assert tab in schema.tabs and field in schema[tab].field_names, (m.id, need)
        assert m.optional == (any(t != REQUIRED_TAB for t in m.tabs)
                              or bool(set(m.needs) & set(catalogue.OPTIONAL_COLUMNS)))
    # the optional columns are the ones the sheets schema lets a workbook leave out
    for need in catalogue.OPTIONAL_COLUMNS:
        tab, field = need.split(".")
        assert not schema[tab].field(field).warn_if_missing, need


# -- the entries themselves ------------------------------------------------------


@pytest.mark.parametrize("metric_id", list(METRICS))
def test_every_entry_is_complete(metric_id: str) -> None:
    m = METRICS[metric_id]
    assert CJK.search(m.title) and CJK.search(m.numerator) and m.unit
    assert not m.numerator.endswith("。") and not m.denominator.endswith("。")
    is_ratio = m.kind == "rate" or m.shape == "rate"
    assert bool(m.denominator) == is_ratio, "a ratio needs both sentences, a count only one"
    if is_ratio:
        assert CJK.search(m.denominator)
        assert m.shape == "rate"
    for count_id in (m.denominator_is, m.numerator_is):
        assert count_id is None or METRICS[count_id].shape == "count"
    assert m.target_key in (None, m.id)
    assert m.target_key is None or m.kind == "rate"
    assert not m.ranked or m.target_key is not None


def test_titles_and_units_are_views_of_the_catalogue() -> None:
    assert {m.id: m.title for m in METRICS.values()} == METRIC_TITLES
    assert len(set(METRIC_TITLES.values())) == len(METRIC_TITLES)
    assert METRIC_UNITS["received"] == "件" and METRIC_UNITS["petition_persons"] == "人次"
    assert METRIC_UNITS["disposition_days"] == "天"
    assert not any(METRICS[k].kind == "rate" for k in METRIC_UNITS)
    assert catalogue.title("closure_rate") == "办结率"
    assert catalogue.title("no_such_metric") == "no_such_metric"


def test_the_renderer_groups_every_metric_once() -> None:
    listed = [*fmt.COUNTS, *fmt.RATES, *fmt.DAYS, *fmt.CHANGES]
    assert len(listed) == len(set(listed))
    assert set(listed) | set(catalogue.ids(kind="mix")) == set(METRICS)
    assert catalogue.ids(kind="mix") == ("level_mix", "status_mix", "star_mix", "force_mix",
                                         "key_persons_by_category")
    assert fmt.CHANGES == ("received_yoy", "petition_batches", "petition_persons", "group_cases")
    assert set(fmt.KEY_FIGURES) <= set(METRICS)


def test_the_county_ranks_the_catalogues_ranked_rates() -> None:
    assert RANKED_RATES == ("closure_rate", "on_time_rate", "first_try_rate", "local_rate",
                            "satisfaction_rate")


# -- targets --------------------------------------------------------------------


def test_every_default_target_is_a_catalogued_rate() -> None:
    targets = yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8"))["targets"]
    assert targets
    for key in targets:
        assert key in catalogue.TARGET_KEYS, key
        assert METRICS[key].kind == "rate"


def test_a_target_for_a_rate_without_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fengqiao.yml").write_text("targets:\n  repeat_rate: 0.1\n", encoding="utf-8")
    with pytest.raises(FengqiaoError, match=r"targets\.repeat_rate 不是可设目标的指标。"):
        load_config(tmp_path / "fengqiao.yml")
    (tmp_path / "ok.yml").write_text("targets:\n  clearance_rate: 1.0\n", encoding="utf-8")
    assert load_config(tmp_path / "ok.yml").targets["clearance_rate"] == 1.0


def test_county_targets_are_checked_against_the_catalogue(tmp_path: Path) -> None:
    bad = tmp_path / "county.yml"
    bad.write_text("county: 示范县\ntargets:\n  closure_rat: 0.9\n", encoding="utf-8")
    with pytest.raises(FengqiaoError) as err:
        load_county_config(bad)
    assert err.value.message == f"县级配置文件 {bad} 里的 targets.closure_rat 不是可设目标的指标。"
    assert err.value.hint == ("您是不是想写 targets.closure_rate？"
                              f"可以写的有：{'、'.join(catalogue.TARGET_KEYS)}。")
    assert "closure_rate" in err.value.hint and "repeat_rate" not in err.value.hint
    good = tmp_path / "good.yml"
    good.write_text("county: 示范县\ntargets:\n  closure_rate: 0.8\n", encoding="utf-8")
    assert load_county_config(good).targets["closure_rate"] == 0.8


# -- the JSON Schema -------------------------------------------------------------


def _described_nodes(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node that describes one metric: the metrics object, the
    breakdown unit, and the per-rank reception figure."""
    for where in (schema["properties"]["metrics"]["properties"],
                  schema["$defs"]["unit"]["properties"]):
        yield from where.items()
    rank = schema["properties"]["breakdowns"]["properties"]["reception_rank"]
    yield from rank["additionalProperties"]["properties"].items()
    category = schema["properties"]["breakdowns"]["properties"]["key_person_category"]
    yield from category["additionalProperties"]["properties"].items()
    yield from schema["$defs"]["accountability"]["properties"].items()


def test_schema_descriptions_are_the_catalogues(request: pytest.FixtureRequest) -> None:
    """``pytest --update-golden`` rewrites them from the catalogue."""
    text = SCHEMA_PATH.read_text(encoding="utf-8")
    schema = json.loads(text)
    wanted = copy.deepcopy(schema)
    for metric_id, node in _described_nodes(wanted):
        node["description"] = METRICS[metric_id].description()
    if request.config.getoption("--update-golden"):
        SCHEMA_PATH.write_text(json.dumps(wanted, ensure_ascii=False, indent=2) + "\n",
                               encoding="utf-8")
        return
    stale = [mid for (mid, got), (_, want) in zip(_described_nodes(schema),
                                                  _described_nodes(wanted), strict=True)
             if got.get("description") != want["description"]]
    assert stale == [], f"schema descriptions differ from the catalogue: run pytest --update-golden ({stale})"
    assert text == json.dumps(schema, ensure_ascii=False, indent=2) + "\n"


def test_schema_lists_the_catalogues_ids() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    metrics = schema["properties"]["metrics"]
    assert set(metrics["properties"]) == set(METRICS)
    # a 1.1 file stays valid: only the 1.0 figures are required
    assert set(metrics["required"]) == set(catalogue.FIGURES_1_0)
    assert set(catalogue.FIGURES_1_0) < set(METRICS)
    assert set(schema["$defs"]["accountability"]["properties"]) == set(catalogue.ACCOUNTABILITY)
    unit = schema["$defs"]["unit"]
    in_units = {m.id for m in METRICS.values() if set(m.breakdowns) & set(DISPUTE_BREAKDOWNS)}
    assert in_units <= set(unit["properties"])
    assert set(unit["required"]) == {k for k in in_units if not METRICS[k].optional}
    breakdowns = schema["properties"]["breakdowns"]["properties"]
    for name, extra in OPTIONAL_BY_BREAKDOWN.items():
        for metric_id in extra:
            assert METRICS[metric_id].title in breakdowns[name]["description"], (name, metric_id)


def test_a_description_states_the_definition_and_any_interim_rule() -> None:
    assert METRICS["closure_rate"].description() == (
        "办结率：统计期内受理、且到截止日已办结的纠纷件数 ÷ 统计期内受理的纠纷件数。")
    followup = METRICS["followup_rate"].description()
    assert followup.startswith("回访率：统计期内办结、且回访日期不早于办结日期、不晚于截止日的纠纷件数 ÷ ")
    # the figure now follows DOMAIN.md 4.1, so no interim rule is stated
    assert "本版本暂按以下方法计算：" not in followup
    interim = catalogue.Metric("x", "某率", "rate", "rate", "%", "甲", "乙", interim="丙")
    assert interim.description() == "某率：甲 ÷ 乙。本版本暂按以下方法计算：丙。"


# -- one contract checker, for the town and the county ---------------------------


@pytest.fixture()
def small() -> dict[str, Any]:
    rows = [dispute("A", "2024-03-01", closed="2024-03-03", status="已化解", level="村级"),
            dispute("B", "2024-03-02", star=2), dispute("C", "2024-02-01")]
    return compute_metrics(ledger({"disputes": rows}), parse_period("2024-03"),
                           config=load_config())


def test_checker_accepts_right_rates_and_rejects_a_wrong_one(small: dict[str, Any]) -> None:
    assert validate_contract(small) == []
    good = copy.deepcopy(small)
    good["metrics"]["closure_rate"] = {"numerator": 1, "denominator": 2, "value": 0.5}
    assert validate_contract(good) == []
    bad = copy.deepcopy(small)
    bad["metrics"]["closure_rate"] = {"numerator": 1, "denominator": 2, "value": 0.6}
    assert validate_contract(bad) == [
        "metrics/closure_rate：比率值 0.6 与 分子 1 ÷ 分母 2 不符（应为 0.5）。"]


def test_checker_holds_parts_within_their_whole(small: dict[str, Any]) -> None:
    bad = copy.deepcopy(small)
    bad["metrics"]["first_try_rate"] = {"numerator": 2, "denominator": 1, "value": 2.0}
    assert validate_contract(bad) == ["metrics/first_try_rate：分子 2 不能大于分母 1。"]
    bad = copy.deepcopy(small)
    bad["metrics"]["resolved"] = 2
    assert validate_contract(bad) == ["metrics：化解数 2 不能大于办结数 1。"]
    # the clearance rate counts closures of older cases too: above 1 is fine
    fine = copy.deepcopy(small)
    fine["breakdowns"]["village"]["东岭村"]["clearance_rate"] = {
        "numerator": 3, "denominator": 2, "value": 1.5}
    # households visited against an understated 户数: the file is still consistent
    fine["metrics"]["visit_coverage"] = {"numerator": 120, "denominator": 100, "value": 1.2}
    assert validate_contract(fine) == []
    assert check_contract(fine, parse_period("2024-03"), "枫溪镇") == []


def test_checker_ties_denominators_to_their_counts(small: dict[str, Any]) -> None:
    bad = copy.deepcopy(small)
    bad["metrics"]["disposition_days"] = {"numerator": 62, "denominator": 2, "value": 31.0}
    assert validate_contract(bad) == ["metrics/disposition_days：分母应等于办结数 1。"]
    bad = copy.deepcopy(small)
    bad["metrics"]["clearance_rate"] = {"numerator": 2, "denominator": 2, "value": 1.0}
    assert validate_contract(bad) == ["metrics/clearance_rate：分子应等于办结数 1。"]


def _county(tmp_path: Path) -> CountyConfig:
    return county_config("示范县", collection_dir=tmp_path / "collection",
                         towns=(TownSource("枫溪镇", "path", str(tmp_path / "site")),),
                         fetch=FetchSettings(timeout=2, retries=0, backoff=0, concurrency=1))


def _publish(tmp_path: Path, contract: dict[str, Any]) -> None:
    folder = tmp_path / "site" / "downloads" / "2024-03"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(dumps(contract), encoding="utf-8")


def test_town_and_county_give_the_same_verdict_on_a_rate_off_by_1e7(
        tmp_path: Path, small: dict[str, Any]) -> None:
    period = parse_period("2024-03")
    cfg = _county(tmp_path)
    now = datetime(2024, 4, 2, 9, 0, tzinfo=UTC)
    _publish(tmp_path, small)
    assert check_contract(small, period, "枫溪镇") == validate_contract(small) == []
    assert collect_town(cfg, cfg.towns[0], period, now=now).status == "valid"

    off = copy.deepcopy(small)
    off["metrics"]["closure_rate"]["value"] = 0.5000001  # 1 ÷ 2, altered in the 7th digit
    message = "metrics/closure_rate：比率值 0.5000001 与 分子 1 ÷ 分母 2 不符（应为 0.5）。"
    assert validate_contract(off) == [message]
    assert check_contract(off, period, "枫溪镇") == [message]
    _publish(tmp_path, off)
    receipt = collect_town(cfg, cfg.towns[0], period, now=now)
    assert (receipt.status, receipt.reason) == ("invalid", message)


def test_the_county_has_no_checker_of_its_own() -> None:
    import importlib

    collect = importlib.import_module("fengqiao.county.collect")
    contract = importlib.import_module("fengqiao.metrics.contract")
    assert collect.validate_contract is contract.validate_contract
    assert not hasattr(collect, "consistency_problems")
