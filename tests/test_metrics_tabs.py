"""Optional-tab figures (visits, key persons, receptions, needs), worked by hand for 2024-03."""

from __future__ import annotations

import pytest

from fengqiao.config import load_config
from fengqiao.metrics import compute_metrics, dumps, parse_period, validate_contract
from metrics_helpers import d, dispute, ledger

CONFIG = load_config()
MARCH = parse_period("2024-03")  # 31 days, 1 month, touches 5 Monday-Sunday weeks

GRIDS = [
    {"grid_id": "G1", "village": "东岭村", "households": 50},
    {"grid_id": "G2", "village": "西坡村", "households": 30},
    {"grid_id": "G3", "village": "东岭村", "households": 20},
]
# in March with a known grid: h1 (twice), h2 in G1; h9 in G2 → 3 distinct of 100 households
VISITS = [
    {"date": "2024-03-02", "grid_id": "G1", "household": "h1", "visitor": "网格员甲"},
    {"date": "2024-03-20", "grid_id": "G1", "household": "h1", "visitor": "网格员甲"},
    {"date": "2024-03-03", "grid_id": "G1", "household": "h2", "visitor": "网格员甲"},
    {"date": "2024-03-04", "grid_id": "G2", "household": "h9", "visitor": "网格员乙"},
    {"date": "2024-02-28", "grid_id": "G3", "household": "h20", "visitor": "网格员丙"},  # February
    {"date": "2024-03-05", "grid_id": None, "household": "h77", "visitor": "网格员丙"},  # no grid
]
# the gap rule (DOMAIN.md 4.1): gaps b − a between visits, first − 02-29 and
# 04-01 − last at the ends (the days around March count as visits); allowed
# 每周 7, 每月 31, 每季度 92, and a blank frequency the shortest, 7
KEY_PERSONS = [
    {"person_id": "P1", "category": "三失一偏", "grid_id": "G1", "frequency": "每周"},
    {"person_id": "P2", "category": "三失一偏", "grid_id": "G2", "frequency": "每周"},
    {"person_id": "P3", "category": "安置帮教", "grid_id": "G1", "frequency": "每月"},
    {"person_id": "P4", "category": "重复信访", "grid_id": "G3", "frequency": "每季度"},
    {"person_id": "P5", "category": "其他", "grid_id": "G2", "frequency": None},
]
KP_VISITS = (
    # P1 每周: gaps 1, 7, 7, 7, 0 and 04-01 − 03-22 = 10 > 7 → not met
    [{"person_id": "P1", "date": f"2024-03-{x:02d}"} for x in (1, 8, 15, 22, 22)]
    # P2 每周: last gap 04-01 − 03-15 = 17 > 7 → not met
    + [{"person_id": "P2", "date": f"2024-03-{x:02d}"} for x in (1, 8, 8, 15)]
    # P3 每月: gaps 03-05 − 02-29 = 5 and 04-01 − 03-05 = 27, both ≤ 31 → met
    + [{"person_id": "P3", "date": "2024-03-05"}]
    # P4 每季度: no visit in March, one gap 04-01 − 02-29 = 32 ≤ 92 → met
    + [{"person_id": "P4", "date": "2024-02-20"}]
    # P5 blank (7): gap 03-17 − 03-03 = 14 > 7 → not met
    + [{"person_id": "P5", "date": f"2024-03-{x:02d}"} for x in (3, 17)]
)
# quotas (defaults): 党政主要领导 5 days of 接访/约访 in each full month; 科级领导 1 day of
# 下访/走访 in each full Monday–Sunday week; 村两委 1 day of 走访/下访 in each full month.
# No 领导名册 here, so the leaders judged are those with a record in March (records basis).
# March 2024 is one full month; its full weeks are 03-04..10, 11..17, 18..24, 25..31
# (03-01..03 belong to a week that began in February: not judged).
RECEPTIONS = (
    [{"date": f"2024-03-{x:02d}", "leader": "李镇长", "rank": "党政主要领导", "mode": "接访"}
     for x in (1, 5, 12, 19, 26)]  # 5 days → met
    + [{"date": f"2024-03-{x:02d}", "leader": "赵书记", "rank": "党政主要领导", "mode": "接访"}
       for x in (1, 5, 12, 12, 19)]  # 4 distinct days → not met
    + [{"date": f"2024-03-{x:02d}", "leader": "钱科长", "rank": "科级领导", "mode": "下访"}
       for x in (1, 4, 11, 18, 25)]  # one in each of the 4 full weeks → met
    # no record in March → not judged on the records basis (the old rule counted
    # anyone with a record in the past 365 days: 0 days → not met)
    + [{"date": "2023-06-01", "leader": "孙科长", "rank": "科级领导", "mode": "下访"}]
    + [{"date": "2022-06-01", "leader": "周主任", "rank": "村两委", "mode": "走访"}]  # gone → not counted
    + [{"date": "2024-03-09", "leader": "吴委员", "rank": "村两委", "mode": "走访"}]  # met
)
NEEDS = [
    {"id": "N1", "raised_date": "2024-03-02", "status": "已办结", "closed_date": "2024-03-10", "village": "东岭村"},
    {"id": "N2", "raised_date": "2024-03-05", "status": "无法办理", "closed_date": "2024-03-06", "village": "西坡村"},
    {"id": "N3", "raised_date": "2024-03-10", "status": "办理中", "village": "东岭村"},
    {"id": "N4", "raised_date": "2024-03-20", "status": "已办结", "closed_date": "2024-04-02", "village": "西坡村"},
    {"id": "N5", "raised_date": "2024-02-20", "status": "已办结", "closed_date": "2024-03-01", "village": "南山村"},
    {"id": "N6", "raised_date": "2024-03-21", "status": "待派单", "village": "南山村"},
]


def full(**drop: bool) -> dict:
    tables = {"disputes": [dispute("A", "2024-03-01", grid_id="G1")], "grids": GRIDS,
              "visits": VISITS, "key_persons": KEY_PERSONS, "key_person_visits": KP_VISITS,
              "receptions": RECEPTIONS, "needs": NEEDS}
    return {k: v for k, v in tables.items() if not drop.get(k)}


def rate(n: int, den: int, value: float | None) -> dict[str, object]:
    return {"numerator": n, "denominator": den, "value": value}


@pytest.fixture(scope="module")
def march() -> dict:
    return compute_metrics(ledger(full()), MARCH, config=CONFIG)


def test_visit_coverage(march: dict) -> None:
    assert march["metrics"]["visit_coverage"] == rate(3, 100, 0.03)
    v = march["breakdowns"]["village"]
    assert v["东岭村"]["visit_coverage"] == rate(2, 70, 0.028571)
    assert v["西坡村"]["visit_coverage"] == rate(1, 30, 0.033333)
    g = march["breakdowns"]["grid"]
    assert g["G1"]["visit_coverage"] == rate(2, 50, 0.04)
    assert g["G3"]["visit_coverage"] == rate(0, 20, 0.0)


def test_key_person_followup(march: dict) -> None:
    assert march["metrics"]["key_person_followup_rate"] == rate(2, 5, 0.4)  # P3, P4
    v = march["breakdowns"]["village"]
    assert v["东岭村"]["key_person_followup_rate"] == rate(2, 3, 0.666667)  # P1 P3 P4
    assert v["西坡村"]["key_person_followup_rate"] == rate(0, 2, 0.0)  # P2 P5
    g = march["breakdowns"]["grid"]
    assert g["G1"]["key_person_followup_rate"] == rate(1, 2, 0.5)  # P1 P3
    assert g["G3"]["key_person_followup_rate"] == rate(1, 1, 1.0)  # P4
    assert march["breakdowns"]["key_person_category"] == {
        "三失一偏": {"key_person_followup_rate": rate(0, 2, 0.0)},  # P1 P2
        "其他": {"key_person_followup_rate": rate(0, 1, 0.0)},  # P5
        "安置帮教": {"key_person_followup_rate": rate(1, 1, 1.0)},  # P3
        "重复信访": {"key_person_followup_rate": rate(1, 1, 1.0)},  # P4
    }
    text = dumps(march)
    for secret in ("P1", "P5", "h1", "h77"):
        assert f'"{secret}"' not in text


def test_reception_compliance(march: dict) -> None:
    # 李镇长 ✓, 赵书记 ✗ (4 days), 钱科长 ✓, 吴委员 ✓; 孙科长 has no March record → 3/4
    # (was 3/5 when 孙科长 was counted from a 2023 record)
    assert march["metrics"]["reception_compliance"] == rate(3, 4, 0.75)
    assert march["reception_basis"] == "records"
    assert march["breakdowns"]["reception_rank"] == {
        "党政主要领导": {"reception_compliance": rate(1, 2, 0.5)},
        "科级领导": {"reception_compliance": rate(1, 1, 1.0)},
        "村两委": {"reception_compliance": rate(1, 1, 1.0)},
    }


def test_weekly_quota_partial_weeks() -> None:
    # 2024-03-04..2024-03-10 is exactly one full week: judged, met. 2024-03-06..2024-03-12
    # holds no full Monday–Sunday week, so the leader cannot be judged: 0/0 → null
    # (the old rule asked for one day in each of the 2 weeks touched: 0/1)
    rec = [{"date": "2024-03-06", "leader": "钱科长", "rank": "科级领导", "mode": "下访"}]
    tables = {"disputes": [dispute("A", "2024-03-01")], "receptions": rec}
    one = compute_metrics(ledger(tables), parse_period("2024-03-04..2024-03-10"), config=CONFIG)
    two = compute_metrics(ledger(tables), parse_period("2024-03-06..2024-03-12"), config=CONFIG)
    assert one["metrics"]["reception_compliance"] == rate(1, 1, 1.0)
    assert two["metrics"]["reception_compliance"] == rate(0, 0, None)


def test_needs_closure(march: dict) -> None:
    # raised in March: N1 N2 N3 N4 N6; closed by 03-31: N1 N2
    assert march["metrics"]["needs_closure_rate"] == rate(2, 5, 0.4)
    later = compute_metrics(ledger(full()), MARCH, as_of=d("2024-04-30"), config=CONFIG)
    assert later["metrics"]["needs_closure_rate"] == rate(3, 5, 0.6)  # N4 closed 04-02
    v = march["breakdowns"]["village"]
    assert v["南山村"]["needs_closure_rate"] == rate(0, 1, 0.0)
    assert v["南山村"]["received"] == 0  # a village known only from the needs list
    assert v["南山村"]["clearance_rate"] == rate(0, 0, None)


@pytest.mark.parametrize("drop, nulls", [
    ({"visits": True}, ["visit_coverage"]),
    ({"grids": True}, ["visit_coverage"]),
    ({"key_person_visits": True}, ["key_person_followup_rate"]),
    ({"key_persons": True}, ["key_person_followup_rate"]),
    ({"receptions": True}, ["reception_compliance"]),
    ({"needs": True}, ["needs_closure_rate"]),
])
def test_missing_tab_is_null(drop: dict, nulls: list[str]) -> None:
    m = compute_metrics(ledger(full(**drop)), MARCH, config=CONFIG)
    for metric in ("visit_coverage", "key_person_followup_rate", "reception_compliance",
                   "needs_closure_rate"):
        if metric in nulls:
            assert m["metrics"][metric] is None
        else:
            assert m["metrics"][metric] is not None
    assert validate_contract(m) == []


def test_missing_needed_column_is_null() -> None:
    L = ledger(full(), missing_columns={"needs": ("closed_date",), "grids": ("households",)})
    m = compute_metrics(L, MARCH, config=CONFIG)["metrics"]
    assert m["needs_closure_rate"] is None
    assert m["visit_coverage"] is None


def test_empty_optional_tab_is_zero_denominator_not_null() -> None:
    m = compute_metrics(ledger({"disputes": [dispute("A", "2024-03-01")], "needs": []}), MARCH,
                        config=CONFIG)["metrics"]
    assert m["needs_closure_rate"] == rate(0, 0, None)


def test_valid(march: dict) -> None:
    assert validate_contract(march) == []
