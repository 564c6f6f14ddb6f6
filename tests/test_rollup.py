"""Roll-up: parts of a ledger add up to the whole, exactly; invariants of the definitions."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.config import load_config
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import compute_metrics, dumps, parse_period, validate_contract
from fengqiao.metrics.periods import Period
from fengqiao.metrics.rollup import combine, parts_digest
from fengqiao.metrics.shapes import add_figures
from metrics_helpers import dispute, ledger

BASE = date(2023, 1, 1)
# every town keeps its ledger from BASE: otherwise each part's ledger would
# start at its own first 受理日期 and know less of the year before than the
# whole (the year-earlier counts are null before a ledger's start)
CONFIG = dataclasses.replace(load_config(), ledger_start=BASE)
WORKING = dataclasses.replace(CONFIG, deadlines=dataclasses.replace(CONFIG.deadlines,
                                                                    day_count="working"))
VILLAGES = ["东村", "西村", "南村"]
STATUSES = ["调处中", "已化解", "转司法", "已终结", "已撤回"]
SOURCES = ["网格排查", "群众来访", "信访", "网上舆情", "12345热线"]
TYPES = ["邻里", "劳资", "婚姻家庭"]


def _day(n: int) -> str:
    return (BASE + timedelta(days=n)).isoformat()


case = st.fixed_dictionaries({
    "village": st.integers(0, 2),
    "grid": st.integers(0, 2),  # 2 = no grid
    "received": st.integers(0, 900),
    "took": st.none() | st.integers(-3, 200),  # negative: 办结日期 before 受理日期
    "status": st.sampled_from(STATUSES),
    "star": st.integers(1, 3),
    "source": st.sampled_from(SOURCES),
    "type": st.sampled_from(TYPES),
    "level": st.none() | st.sampled_from(["村级", "镇级", "县级"]),
    "first": st.none() | st.booleans(),
    "followup": st.booleans(),
    "satisfaction": st.none() | st.sampled_from(["满意", "基本满意", "不满意"]),
    "repeat": st.booleans(),
    "persons": st.none() | st.integers(1, 9),
})


@st.composite
def periods(draw: Any) -> Period:
    year = draw(st.sampled_from([2023, 2024]))
    kind = draw(st.sampled_from(["month", "quarter", "half", "year", "custom"]))
    if kind == "month":
        return parse_period(f"{year}-{draw(st.integers(1, 12)):02d}")
    if kind == "quarter":
        return parse_period(f"{year}-Q{draw(st.integers(1, 4))}")
    if kind == "half":
        return parse_period(f"{year}-H{draw(st.integers(1, 2))}")
    if kind == "year":
        return parse_period(str(year))
    start = draw(st.integers(300, 800))
    return Period.custom(BASE + timedelta(days=start),
                         BASE + timedelta(days=start + draw(st.integers(0, 120))))


def build_tables(cases: list[dict[str, Any]], village_filter: set[int] | None,
                 with_receptions: bool) -> dict[str, list[dict[str, Any]]]:
    keep = (lambda v: True) if village_filter is None else (lambda v: v in village_filter)
    disputes = []
    for i, c in enumerate(cases):
        if not keep(c["village"]):
            continue
        v = VILLAGES[c["village"]]
        disputes.append(dispute(
            f"D{i}", _day(c["received"]), star=c["star"], status=c["status"],
            closed=None if c["took"] is None else _day(c["received"] + c["took"]),
            village=v, grid_id=None if c["grid"] == 2 else f"{v}-G{c['grid']}",
            source=c["source"], dispute_type=c["type"], level=c["level"],
            first_try_success=c["first"], persons_involved=c["persons"],
            followup_date=_day(c["received"] + 210) if c["followup"] else None,
            satisfaction=c["satisfaction"], repeat_of="D0" if c["repeat"] and i else None))
    grids, visits, persons, kp_visits, needs = [], [], [], [], []
    for vi, v in enumerate(VILLAGES):
        if not keep(vi):
            continue
        for g in range(2):
            gid = f"{v}-G{g}"
            grids.append({"grid_id": gid, "village": v, "households": 10 + vi})
            for k in range(3 + vi + g):
                visits.append({"date": _day(400 + 37 * k + 11 * vi), "grid_id": gid,
                               "household": f"{gid}-h{k % 4}", "visitor": "甲"})
            pid = f"{gid}-P"
            persons.append({"person_id": pid, "category": "其他", "grid_id": gid,
                            "frequency": ["每周", "每月", "每季度"][(vi + g) % 3]})
            for k in range(2 * vi + g + 1):
                kp_visits.append({"person_id": pid, "date": _day(420 + 13 * k)})
        for k in range(4):
            needs.append({"id": f"N{vi}-{k}", "raised_date": _day(380 + 50 * k + vi),
                          "status": "已办结" if k % 2 else "办理中",
                          "closed_date": _day(400 + 50 * k + vi) if k % 2 else None, "village": v})
    tables = {"disputes": disputes, "grids": grids, "visits": visits, "key_persons": persons,
              "key_person_visits": kp_visits, "needs": needs}
    if with_receptions:
        tables["receptions"] = [
            {"date": _day(365 + 9 * k), "leader": ["李", "王", "赵"][k % 3],
             "rank": ["党政主要领导", "科级领导", "村两委"][k % 3], "mode": "接访"}
            for k in range(60)]
    return tables


def _strip(table: dict[str, Any]) -> dict[str, Any]:
    """Combined village/grid units are keyed "town/unit"; add up units with the same name."""
    grouped: dict[str, list[Any]] = {}
    for key, body in table.items():
        grouped.setdefault(key.split("/", 1)[1], []).append(body)
    return {k: add_figures(v) for k, v in grouped.items()}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(case, min_size=0, max_size=40), period=periods(),
       working=st.booleans(), split=st.sampled_from([[{0}, {1}, {2}], [{0, 1}, {2}], [{0, 1, 2}]]))
def test_parts_roll_up_to_the_whole(cases: list[dict[str, Any]], period: Period, working: bool,
                                    split: list[set[int]]) -> None:
    config = WORKING if working else CONFIG
    whole = compute_metrics(ledger(build_tables(cases, None, True)), period, config=config,
                            as_of=period.end)
    parts = [compute_metrics(ledger(build_tables(cases, villages, i == 0), town=f"镇{i}"),
                             period, config=config, as_of=period.end)
             for i, villages in enumerate(split)]
    county = combine(parts, name="示范县", towns=[f"镇{i}" for i in range(4)])
    assert validate_contract(county) == []
    assert county["metrics"] == whole["metrics"]
    assert county["distributions"] == whole["distributions"]
    for key in ("dispute_type", "source", "reception_rank", "key_person_category", "unit"):
        assert county["breakdowns"][key] == whole["breakdowns"][key]
    assert county["baselines"] == whole["baselines"]
    assert _strip(county["breakdowns"]["village"]) == whole["breakdowns"]["village"]
    assert _strip(county["breakdowns"]["grid"]) == whole["breakdowns"]["grid"]
    assert sorted(r["id"] for r in county["overdue"]) == sorted(r["id"] for r in whole["overdue"])
    assert county["missing_towns"] == [f"镇{i}" for i in range(len(split), 4)]
    if len(split) > 1:
        # no town keeps a 督办记录 or 流转记录 tab here
        no_loop = {m: [f"镇{i}" for i in range(len(split))]
                   for m in ("supervised", "supervision_count", "overdue_explained_rate",
                             "passed_up", "passed_down", "passed_across")}
        assert county["missing_figures"] == {
            "reception_compliance": [f"镇{i}" for i in range(1, len(split))], **no_loop}
    assert county["breakdowns"]["by_town"]["镇0"] == parts[0]["metrics"]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(case, min_size=0, max_size=40), period=periods(),
       lag=st.integers(-20, 60))
def test_invariants(cases: list[dict[str, Any]], period: Period, lag: int) -> None:
    """pending_start + received == pending_end + closed, exactly.

    With A = cases received by e' (e' = min(e, d)): A splits into those received
    before s (pending_start + closed before s) and those received in the window
    (received). A also splits into those still open at e' (pending_end) and those
    closed by e' — closed before s, or closed in the window. A closure is never
    earlier than its receipt (办结日期 ≥ 受理日期 or the case is not closed), so every
    case closed in the window was received by e' and belongs to A. Cancelling
    "closed before s" on both sides leaves the identity. Rates lie in [0, 1]
    except clearance_rate (may exceed 1) and disposition_days (a number of days).
    """
    as_of = max(period.start, period.end + timedelta(days=lag))
    c = compute_metrics(ledger(build_tables(cases, None, True)), period, config=CONFIG,
                        as_of=as_of)
    m = c["metrics"]
    assert m["pending_start"] + m["received"] == m["pending_end"] + m["closed"]
    assert m["backlog_cleared"] <= m["backlog_start"] <= m["pending_start"]
    assert m["overdue_open"] <= m["pending_end"] or as_of > period.end
    assert sum(m["level_mix"].values()) == m["closed"]
    for key, value in m.items():
        if isinstance(value, dict) and "value" in value and value["value"] is not None \
                and key not in ("clearance_rate", "disposition_days"):
            assert 0 <= value["value"] <= 1, key
    assert validate_contract(c) == []
    assert sum(u["received"] for u in c["breakdowns"]["village"].values()) == m["received"]
    assert sum(u["closed"] for u in c["breakdowns"]["source"].values()) == m["closed"]


def _town(name: str, rows: list[dict[str, Any]], **tabs: list[dict[str, Any]]) -> dict[str, Any]:
    return compute_metrics(ledger({"disputes": rows, **tabs}, town=name), parse_period("2024-03"),
                           config=CONFIG)


def test_combine_hand_example() -> None:
    # 镇A: 2 received, 1 closed on time (2 days); 镇B: 1 received, closed in 10 days (late, 1★)
    a = _town("镇A", [dispute("A1", "2024-03-01", closed="2024-03-03", status="已化解"),
                     dispute("A2", "2024-03-02")],
              needs=[{"id": "N", "raised_date": "2024-03-02", "status": "已办结",
                      "closed_date": "2024-03-05", "village": "东岭村"}])
    b = _town("镇B", [dispute("B1", "2024-03-05", closed="2024-03-15", status="已化解")])
    county = combine([b, a], name="示范县", towns=["镇A", "镇B", "镇C"])
    m = county["metrics"]
    assert (m["received"], m["closed"]) == (3, 2)
    assert m["on_time_rate"] == {"numerator": 1, "denominator": 2, "value": 0.5}
    assert m["median_days"] == 6.0  # days {2, 10}
    assert county["distributions"]["days_to_close"] == {"10": 1, "2": 1}
    assert m["needs_closure_rate"] == {"numerator": 1, "denominator": 1, "value": 1.0}
    no_tab = {m: ["镇A", "镇B"] for m in (
        "key_person_followup_rate", "reception_compliance", "visit_coverage",
        # the supervision loop's tabs (督办记录, 流转记录) and 重点人员
        "supervised", "supervision_count", "overdue_explained_rate", "passed_up", "passed_down",
        "passed_across", "key_persons_by_category")}
    assert county["missing_figures"] == {"needs_closure_rate": ["镇B"], **no_tab}
    assert m["visit_coverage"] is None
    assert county["towns"] == ["镇A", "镇B"]
    assert county["missing_towns"] == ["镇C"]
    assert county["town"] == "示范县"
    assert county["source"]["kind"] == "rollup"
    assert sorted(county["breakdowns"]["village"]) == ["镇A/东岭村", "镇B/东岭村"]
    assert county["breakdowns"]["dispute_type"]["邻里"]["received"] == 3
    assert [(r["town"], r["id"]) for r in county["overdue"]] == [("镇A", "A2")]
    assert validate_contract(county) == []
    # order of parts does not matter, byte for byte
    assert dumps(combine([a, b], name="示范县", towns=["镇A", "镇B", "镇C"])) == dumps(county)


def test_combine_refuses_mismatches() -> None:
    a = _town("镇A", [dispute("A1", "2024-03-01")])
    with pytest.raises(FengqiaoError) as err:
        combine([a, a], name="示范县")
    assert str(err.value) == "汇总时有重复的镇：镇A。每个镇只能提供一份统计文件，请去掉重复的那份。"
    b = compute_metrics(ledger({"disputes": [dispute("B1", "2024-03-01")]}, town="镇B"),
                        parse_period("2024-Q1"), config=CONFIG)
    with pytest.raises(FengqiaoError) as err:
        combine([a, b], name="示范县")
    assert str(err.value) == ("各镇的统计期不一致，无法汇总：镇A（2024-03）、镇B（2024-Q1）。"
                              "请让各镇发布同一统计期的指标文件。")
    with pytest.raises(FengqiaoError):
        combine([], name="示范县")


def test_the_source_digest_is_the_parts_content_in_order() -> None:
    """``source.sha256`` of a roll-up: compact JSON of each part with sorted
    keys, hashed in order; the same content in another key order gives the
    same digest, another figure or another order of parts does not."""
    a = {"town": "东镇", "metrics": {"received": 3, "closed": 2}}
    b = {"town": "西镇", "metrics": {"received": 1, "closed": 1}}
    by_hand = hashlib.sha256(
        '{"metrics":{"closed":2,"received":3},"town":"东镇"}'.encode()
        + '{"metrics":{"closed":1,"received":1},"town":"西镇"}'.encode()).hexdigest()
    assert parts_digest([a, b]) == by_hand
    shuffled = {"metrics": {"closed": 2, "received": 3}, "town": "东镇"}
    assert parts_digest([shuffled, b]) == by_hand
    assert parts_digest([b, a]) != by_hand
    assert parts_digest([{**a, "metrics": {"received": 4, "closed": 2}}, b]) != by_hand
