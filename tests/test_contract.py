"""The metrics.json contract: JSON Schema plus arithmetic consistency, passing and failing."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from fengqiao.config import load_config
from fengqiao.metrics import METRIC_TITLES, compute_metrics, dumps, parse_period, validate_contract
from fengqiao.metrics.contract import SCHEMA_PATH, json_schema
from metrics_helpers import dispute, ledger

ROWS = [dispute("A", "2024-03-01", closed="2024-03-03", status="已化解", level="村级"),
        dispute("B", "2024-03-02", star=2), dispute("C", "2024-02-01")]


@pytest.fixture()
def good() -> dict:
    return compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-03"), config=load_config())


def test_schema_is_valid_draft_2020_12() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_every_metric_id_has_a_title_and_a_described_schema_entry() -> None:
    props = json_schema()["properties"]["metrics"]["properties"]
    assert set(props) == set(METRIC_TITLES)
    for mid, spec in props.items():
        assert spec.get("description"), mid


def test_good_contract_is_valid(good: dict) -> None:
    assert validate_contract(good) == []
    assert validate_contract(json.loads(dumps(good))) == []


def test_wrong_rate_value(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["metrics"]["closure_rate"]["value"] = 0.4  # really 1/2 (A closed of A, B)
    assert validate_contract(bad) == [
        "metrics/closure_rate：比率值 0.4 与 分子 1 ÷ 分母 2 不符（应为 0.5）。"]


def test_zero_denominator_must_be_null(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["metrics"]["satisfaction_rate"]["value"] = 0.0
    assert validate_contract(bad) == [
        "metrics/satisfaction_rate：比率值 0.0 与 分子 0 ÷ 分母 0 不符（应为 None）。"]


def test_negative_count_is_a_schema_error(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["metrics"]["overdue_open"] = -1
    problems = validate_contract(bad)
    assert problems[0] == "metrics/overdue_open：-1 is less than the minimum of 0"
    assert "metrics/overdue_open：计数 -1 不能为负数。" in problems


def test_pending_identity_is_checked(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["metrics"]["pending_end"] += 1
    assert validate_contract(bad) == [
        "metrics：期初在办 + 受理数 应等于 期末在办 + 办结数，实际是 1 + 2 ≠ 3 + 1。"]


def test_median_must_match_distribution(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["metrics"]["median_days"] = 5.0
    assert validate_contract(bad) == [
        "metrics/median_days：5.0 与办结天数分布算出的 2.0 不符。"]


def test_wrong_change(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["metrics"]["received_yoy"] = {"count": 2, "previous": 4, "change": 0.5}
    assert validate_contract(bad) == [
        "metrics/received_yoy：同比变化 0.5 与本期 2、上年同期 4 不符（应为 -0.5）。"]


def test_missing_key_and_unknown_key(good: dict) -> None:
    bad = copy.deepcopy(good)
    del bad["metrics"]["received"]
    bad["extra"] = 1
    problems = validate_contract(bad)
    assert "（根）：Additional properties are not allowed ('extra' was unexpected)" in problems
    assert "metrics：'received' is a required property" in problems


def test_sensitive_field_in_overdue_is_rejected(good: dict) -> None:
    bad = copy.deepcopy(good)
    bad["overdue"][0]["parties"] = "张三"
    assert validate_contract(bad) == [
        "overdue/0：Additional properties are not allowed ('parties' was unexpected)"]


def test_byte_identical(good: dict) -> None:
    again = compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-03"),
                            config=load_config())
    assert dumps(good).encode("utf-8") == dumps(again).encode("utf-8")
    assert dumps(good) == json.dumps(good, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
