"""The supervision loop (DOMAIN.md 4.2), worked by hand.

Period March 2024 (03-01..03-31), as-of d = 03-31 unless a test says
otherwise; default deadlines (1★ 5 days, 2★ 15, 3★ 60). Each figure has a
case that counts and one that does not, and a missing tab or column gives
null ("—"), never 0.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.catalogue import ACCOUNTABILITY, METRICS, OPTIONAL_COLUMNS
from fengqiao.config import DEFAULTS_FILE, from_dict, load_config
from fengqiao.ledger import DTYPES, Ledger
from fengqiao.metrics import compute_metrics, parse_period, validate_contract
from fengqiao.metrics.lists import followup_todo
from fengqiao.metrics.rollup import combine
from fengqiao.schema import load_schema
from metrics_helpers import dispute, frame, ledger

MARCH = parse_period("2024-03")
CONFIG = load_config()

#: the columns of 4.2, typed as the ledger contract types them; used where
#: the sheets schema does not have them yet (both halves of the issue land
#: at the same time), so these tests hold before and after
EXTRA = {
    "disputes": {"assigned_date": "date", "initial_level": "string",
                 "feedback_date": "date", "mediation_force": "string"},
    "supervisions": {"dispute_id": "string", "date": "date", "unit": "string", "mode": "string",
                     "explanation": "string", "next_steps": "string", "new_deadline": "date"},
    "transfers": {"dispute_id": "string", "date": "date", "direction": "string",
                  "to_level": "string", "to_unit": "string", "reason": "string"},
}
NEW_DISPUTE_COLUMNS = tuple(c.split(".", 1)[1] for c in OPTIONAL_COLUMNS)


def table(tab: str, records: list[dict[str, Any]]) -> pd.DataFrame:
    out = frame(tab, records) if tab in load_schema().tabs else pd.DataFrame(
        {"_row": pd.Series([r.get("_row", 2 + i) for i, r in enumerate(records)], dtype="int64")})
    for column, kind in EXTRA.get(tab, {}).items():
        if column not in out.columns:
            values = [r.get(column) for r in records]
            out[column] = (pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
                           if kind == "date" else pd.Series(values, dtype=DTYPES[kind]))
    return out


def book(tables: dict[str, list[dict[str, Any]]], *, missing: dict[str, tuple[str, ...]] | None = None,
         town: str = "枫溪镇") -> Ledger:
    led = ledger({}, town=town, missing_columns=missing)
    led.tables = {tab: table(tab, records) for tab, records in tables.items()}
    return led


def figures(led: Ledger, period: str = "2024-03", as_of: date | None = None,
            config: Any = CONFIG) -> dict[str, Any]:
    contract = compute_metrics(led, parse_period(period), as_of=as_of, config=config)
    assert validate_contract(contract) == []
    return contract


def pair(r: dict[str, Any] | None) -> tuple[int, int] | None:
    return None if r is None else (r["numerator"], r["denominator"])


def closed(id: str, received: str, done: str, **extra: Any) -> dict[str, Any]:
    return dispute(id, received, status="已化解", closed=done, **extra)


# -- 反馈率 ----------------------------------------------------------------------------


def test_feedback_after_d_does_not_count_yet() -> None:
    rows = [closed("A", "2024-03-01", "2024-03-05", feedback_date="2024-03-06"),  # counts
            closed("B", "2024-03-02", "2024-03-10", feedback_date="2024-04-02"),  # after d
            closed("C", "2024-03-03", "2024-03-12")]  # no feedback
    got = figures(book({"disputes": rows}))["metrics"]
    assert pair(got["feedback_rate"]) == (1, 3)
    # re-run later, with d = 04-30: B's feedback has happened, the March figure counts it
    later = figures(book({"disputes": rows}), as_of=date(2024, 4, 30))["metrics"]
    assert pair(later["feedback_rate"]) == (2, 3)


def test_feedback_rate_is_null_without_the_column() -> None:
    rows = [closed("A", "2024-03-01", "2024-03-05")]
    got = figures(book({"disputes": rows}, missing={"disputes": NEW_DISPUTE_COLUMNS}))["metrics"]
    assert got["feedback_rate"] is None
    assert got["assign_days_median"] is None and got["force_mix"] is None
    assert got["village_kept_rate"] is None


# -- 督办: the overdue case chased twice, only once with an explanation ---------------------

OVERDUE = [dispute("O", "2024-02-01"), dispute("P", "2024-02-05", responsible_unit="司法所"),
           dispute("Q", "2024-02-10"), dispute("R", "2024-03-30")]  # R: open, not yet due
CHASES = [
    {"dispute_id": "O", "date": "2024-03-05", "mode": "电话督办", "explanation": "当事人外出务工，无法联系"},
    {"dispute_id": "O", "date": "2024-03-20", "mode": "书面督办"},
    {"dispute_id": "P", "date": "2024-03-08", "mode": "约谈"},  # chased, never explained
    {"dispute_id": "Q", "date": "2024-04-02", "mode": "约谈", "explanation": "说明"},  # after d
    {"dispute_id": "O", "date": "2024-02-25", "mode": "电话督办"},  # before P: a chase, not in P
]


def test_the_case_chased_twice_once_with_an_explanation() -> None:
    contract = figures(book({"disputes": OVERDUE, "supervisions": CHASES}))
    m = contract["metrics"]
    assert m["overdue_open"] == 3  # O, P, Q
    # O explained (one of its chases carries a 逾期说明), P never, Q only after d
    assert pair(m["overdue_explained_rate"]) == (1, 3)
    assert m["supervised"] == 2  # O and P have a record dated in March; Q's is in April
    assert m["supervision_count"] == 3  # O twice, P once (O's February record is outside P)
    rows = {r["id"]: r for r in contract["overdue"]}
    assert {k: rows["O"][k] for k in ("chases", "last_chase_date", "last_chase_mode", "explained")} \
        == {"chases": 3, "last_chase_date": "2024-03-20", "last_chase_mode": "书面督办",
            "explained": True}
    assert (rows["P"]["chases"], rows["P"]["explained"]) == (1, False)
    assert (rows["Q"]["chases"], rows["Q"]["last_chase_date"], rows["Q"]["explained"]) == (0, None, False)


def test_no_supervision_tab_gives_null_not_zero() -> None:
    contract = figures(book({"disputes": OVERDUE}))
    m = contract["metrics"]
    assert (m["supervised"], m["supervision_count"], m["overdue_explained_rate"]) == (None, None, None)
    assert all(r["chases"] is None and r["explained"] is None for r in contract["overdue"])
    # a tab without its 逾期说明 column: chases are known, explanations are not
    no_text = figures(book({"disputes": OVERDUE, "supervisions": CHASES},
                           missing={"supervisions": ("explanation",)}))
    assert no_text["metrics"]["supervised"] == 2
    assert no_text["metrics"]["overdue_explained_rate"] is None


def test_the_explanation_text_never_reaches_the_contract() -> None:
    text = str(figures(book({"disputes": OVERDUE, "supervisions": CHASES})))
    assert "外出务工" not in text and "说明" not in text.replace("逾期说明", "")


# -- 三传 and 小事不出村率 -----------------------------------------------------------------

KEPT = [
    closed("V1", "2024-03-01", "2024-03-04", initial_level="村级", level="村级"),  # kept
    closed("V2", "2024-03-01", "2024-03-12", initial_level="村级", level="镇级"),  # passed up
    closed("V3", "2024-03-02", "2024-03-06", initial_level="镇级", level="镇级"),  # began at town
    closed("V4", "2024-03-02", "2024-03-05", level="村级"),  # blank 初始层级: 调处层级 is used
    closed("V5", "2024-03-03", "2024-03-20", initial_level="村级", level="村级"),  # up, then down
]
MOVES = [
    {"dispute_id": "V2", "date": "2024-03-03", "direction": "上传", "to_level": "镇级"},
    {"dispute_id": "V5", "date": "2024-03-05", "direction": "上传", "to_level": "镇级"},
    {"dispute_id": "V5", "date": "2024-03-09", "direction": "下传", "to_level": "村级"},
    {"dispute_id": "V3", "date": "2024-02-20", "direction": "专传", "to_unit": "派出所"},  # before P
]


def test_a_case_passed_up_and_resolved_at_town_is_not_kept_in_the_village() -> None:
    m = figures(book({"disputes": KEPT, "transfers": MOVES}))["metrics"]
    # first level 村级: V1, V2, V4, V5; kept: V1 and V4 (V2 went up, V5 went up and came back)
    assert pair(m["village_kept_rate"]) == (2, 4)
    # without the transfers, V5 looks kept (it began and ended in the village)
    assert pair(figures(book({"disputes": KEPT}))["metrics"]["village_kept_rate"]) == (3, 4)
    # neither 初始层级 nor 流转记录: nobody can tell → null
    none = figures(book({"disputes": KEPT}, missing={"disputes": ("initial_level",)}))
    assert none["metrics"]["village_kept_rate"] is None


def test_a_transfer_dated_outside_the_period_is_not_counted() -> None:
    m = figures(book({"disputes": KEPT, "transfers": MOVES}))["metrics"]
    assert (m["passed_up"], m["passed_down"], m["passed_across"]) == (2, 1, 0)  # V3's 专传 is in Feb
    feb = figures(book({"disputes": KEPT, "transfers": MOVES}), period="2024-02",
                  as_of=date(2024, 2, 29))["metrics"]
    assert (feb["passed_up"], feb["passed_down"], feb["passed_across"]) == (0, 0, 1)
    assert figures(book({"disputes": KEPT}))["metrics"]["passed_up"] is None


# -- 交办用时, 群体性纠纷, mixes ------------------------------------------------------------


def test_assign_days_median_counts_valid_assignments_of_cases_received_in_p() -> None:
    rows = [dispute("A", "2024-03-01", assigned_date="2024-03-03"),  # 2 days
            dispute("B", "2024-03-02", assigned_date="2024-03-03"),  # 1
            dispute("C", "2024-03-05", assigned_date="2024-03-09"),  # 4
            dispute("D", "2024-02-20", assigned_date="2024-03-01"),  # received in Feb: not in P
            dispute("E", "2024-03-10", assigned_date="2024-03-08"),  # before 受理: not valid
            dispute("F", "2024-03-11")]  # not assigned
    contract = figures(book({"disputes": rows}))
    assert contract["metrics"]["assign_days_median"] == 2.0
    assert contract["distributions"]["assign_days"] == {"1": 1, "2": 1, "4": 1}


def test_group_cases_use_the_configured_threshold_year_on_year() -> None:
    rows = [dispute("A", "2024-03-01", persons_involved=5),  # counts (≥ 5)
            dispute("B", "2024-03-02", persons_involved=4),  # does not
            dispute("C", "2023-03-15", persons_involved=30),  # a year earlier
            dispute("D", "2024-03-03", persons_involved=None)]  # unknown: 1 person
    started = from_dict({"ledger_start": "2023-01-01"}, DEFAULTS_FILE, DEFAULTS_FILE.parent)
    assert figures(book({"disputes": rows}), config=started)["metrics"]["group_cases"] == {
        "count": 1, "previous": 1, "change": 0.0}
    three = from_dict({"group_threshold": 4}, DEFAULTS_FILE, DEFAULTS_FILE.parent)
    assert figures(book({"disputes": rows}), config=three)["metrics"]["group_cases"]["count"] == 2
    # without ledger_start the ledger starts at C's 2023-03-15, inside March 2023:
    # that March is not known, so neither is its count
    assert figures(book({"disputes": rows}))["metrics"]["group_cases"] == {
        "count": 1, "previous": None, "change": None}


def test_status_star_and_force_mixes() -> None:
    rows = [closed("A", "2024-03-01", "2024-03-04", mediation_force="村调委会",
                   first_try_success=True),
            closed("B", "2024-03-01", "2024-03-09", mediation_force="村调委会",
                   first_try_success=False, star=2),
            dispute("C", "2024-03-02", status="转司法", closed="2024-03-20",
                    mediation_force="律师法律顾问", star=3),
            dispute("D", "2024-03-03", mediation_force="老干部"),  # open: in no closed mix
            dispute("E", "2024-02-03", status="已撤回", closed="2024-03-02")]  # force blank
    m = figures(book({"disputes": rows}))["metrics"]
    assert m["status_mix"] == {"已化解": 2, "转司法": 1, "已终结": 0, "已撤回": 1}
    assert m["star_mix"] == {"1": 2, "2": 1, "3": 1}  # E was received in February
    force = m["force_mix"]
    assert force["村调委会"] == {"closed": 2, "first_try_rate": {
        "numerator": 1, "denominator": 2, "value": 0.5}}
    assert force["律师法律顾问"]["closed"] == 1
    assert force["老干部"]["closed"] == 0 and force["未填"]["closed"] == 1
    assert sum(v["closed"] for v in force.values()) == m["closed"] == 4


def test_key_persons_by_category_counts_those_on_the_list_at_the_end() -> None:
    persons = [{"person_id": "K1", "category": "安置帮教", "frequency": "每月"},
               {"person_id": "K2", "category": "安置帮教", "frequency": "每月"},
               {"person_id": "K3", "category": "严重精神障碍患者", "frequency": "每周"},
               {"person_id": "K4", "category": "三失一偏", "frequency": "每周",
                "listed_date": "2024-04-10"}]  # listed after the period
    rows = [dispute("A", "2024-03-01")]
    m = figures(book({"disputes": rows, "key_persons": persons}))["metrics"]
    assert m["key_persons_by_category"] == {"严重精神障碍患者": 1, "安置帮教": 2}
    assert figures(book({"disputes": rows}))["metrics"]["key_persons_by_category"] is None
    assert "K1" not in str(figures(book({"disputes": rows, "key_persons": persons})))


def test_five_baselines_counts() -> None:
    rows = [dispute("A", "2024-03-01", dispute_type="婚姻家庭", star=3),  # open 3★
            closed("B", "2024-03-02", "2024-03-05", dispute_type="邻里"),
            dispute("C", "2024-01-02", dispute_type="土地林草"),  # older, still open
            dispute("D", "2024-03-09", dispute_type="劳资")]
    grids = [{"grid_id": "G1", "village": "东岭村", "households": 80},
             {"grid_id": "G2", "village": "东岭村", "households": 60}]
    contract = figures(book({"disputes": rows, "grids": grids}))
    assert contract["baselines"] == {
        "open": 3, "star_3_open": 1, "households": 140,
        "types": {"婚姻家庭": {"received": 1, "open": 1}, "邻里": {"received": 1, "open": 0},
                  "土地林草": {"received": 0, "open": 1}}}
    assert figures(book({"disputes": rows}))["baselines"]["households"] is None


# -- accountability ------------------------------------------------------------------------


def test_accountability_by_unit_and_leader_with_denominators() -> None:
    rows = [closed("A", "2024-03-01", "2024-03-04", responsible_unit="司法所", lead_official="王书记",
                   followup_date="2024-03-06", satisfaction="满意"),
            closed("B", "2024-03-01", "2024-03-20", responsible_unit="司法所", lead_official="李镇长"),
            dispute("C", "2024-02-01", responsible_unit="派出所", lead_official="王书记"),  # overdue
            dispute("D", "2024-03-05")]  # no unit, no leader
    chases = [{"dispute_id": "C", "date": "2024-03-10", "mode": "约谈", "explanation": "等鉴定"}]
    bd = figures(book({"disputes": rows, "supervisions": chases}))["breakdowns"]
    unit = bd["unit"]
    assert set(unit) == {"司法所", "派出所", "（未填）"}
    assert unit["司法所"]["received"] == 2 and unit["司法所"]["closed"] == 2
    assert pair(unit["司法所"]["on_time_rate"]) == (1, 2)  # B took 19 days, 1★ allows 5
    assert pair(unit["司法所"]["satisfaction_rate"]) == (1, 1)
    assert unit["派出所"]["overdue_open"] == 1 and unit["派出所"]["supervised"] == 1
    assert pair(unit["派出所"]["overdue_explained_rate"]) == (1, 1)
    assert pair(unit["司法所"]["overdue_explained_rate"]) == (0, 0)
    assert set(bd["leader"]) == {"王书记", "李镇长", "（未填）"}
    assert bd["leader"]["王书记"]["supervised"] == 1
    assert "等鉴定" not in str(bd)


# -- 回访待办 ------------------------------------------------------------------------------


def test_followup_todo_lists_closures_without_a_valid_revisit_oldest_first() -> None:
    rows = [closed("A", "2024-03-01", "2024-03-10"),  # no revisit: listed
            closed("B", "2024-03-01", "2024-03-04", followup_date="2024-03-06"),  # revisited
            closed("C", "2024-02-01", "2024-02-15", followup_date="2024-02-10"),  # before closure
            closed("D", "2024-03-01", "2024-03-20", followup_date="2024-04-05"),  # after d
            closed("E", "2024-03-25", "2024-04-02"),  # closed after d: not yet
            dispute("F", "2024-03-02")]  # open
    todo = followup_todo(book({"disputes": rows}), date(2024, 3, 31), CONFIG)
    assert todo["id"].tolist() == ["C", "A", "D"]
    assert todo["days_since_closed"].tolist() == [45, 21, 11]
    assert "parties" not in todo.columns and "summary" not in todo.columns


# -- identities: breakdown sums, county = sum of towns --------------------------------------

UNITS = ["司法所", "派出所", "自然资源所", None]
LEADERS = ["王书记", "李镇长", None]


@st.composite
def loops(draw: st.DrawFn) -> Ledger:
    n = draw(st.integers(1, 25))
    rows, chases = [], []
    for i in range(n):
        received = date(2024, 1, 1) + pd.Timedelta(days=draw(st.integers(0, 120)))
        took = draw(st.none() | st.integers(0, 40))
        done = None if took is None else (received + pd.Timedelta(days=took)).isoformat()
        rows.append(dispute(
            f"C{i}", received.isoformat(), star=draw(st.integers(1, 3)),
            status="调处中" if done is None else draw(st.sampled_from(["已化解", "转司法"])),
            closed=done, responsible_unit=draw(st.sampled_from(UNITS)),
            lead_official=draw(st.sampled_from(LEADERS)),
            followup_date=None if done is None else draw(st.sampled_from([None, done])),
            satisfaction=draw(st.sampled_from([None, "满意", "不满意"]))))
        for _ in range(draw(st.integers(0, 2))):
            chases.append({"dispute_id": f"C{i}",
                           "date": (received + pd.Timedelta(days=draw(st.integers(0, 60)))).isoformat(),
                           "explanation": draw(st.sampled_from([None, "有说明"]))})
    return book({"disputes": rows, "supervisions": chases})


def _unit_sums(units: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for body in units.values():
        for k, v in body.items():
            if isinstance(v, dict):
                prev = out.setdefault(k, [0, 0])
                prev[0] += v["numerator"]
                prev[1] += v["denominator"]
            else:
                out[k] = out.get(k, 0) + v
    return out


@given(loops())
def test_unit_and_leader_breakdowns_add_up_to_the_town(led: Ledger) -> None:
    contract = figures(led, period="2024-03")
    m = contract["metrics"]
    total = {"received": m["received"], "closed": m["closed"], "overdue_open": m["overdue_open"],
             "supervised": m["supervised"],
             "on_time_rate": [m["on_time_rate"]["numerator"], m["on_time_rate"]["denominator"]],
             "satisfaction_rate": list(pair(m["satisfaction_rate"]) or ()),
             "overdue_explained_rate": list(pair(m["overdue_explained_rate"]) or ())}
    for name in ("unit", "leader"):
        sums = _unit_sums(contract["breakdowns"][name])
        for key in ACCOUNTABILITY:
            assert sums.get(key, 0 if not isinstance(total[key], list) else [0, 0]) == total[key], \
                (name, key)


@given(loops(), loops())
def test_the_county_is_the_sum_of_its_towns(a: Ledger, b: Ledger) -> None:
    a.town, b.town = "甲镇", "乙镇"
    parts = [figures(a), figures(b)]
    county = combine(parts, name="示范县")
    assert validate_contract(county) == []
    for key in ("supervised", "supervision_count", "overdue_open", "received"):
        assert county["metrics"][key] == sum(p["metrics"][key] for p in parts)
    for key in ("overdue_explained_rate", "feedback_rate"):
        got = county["metrics"][key]
        want = [p["metrics"][key] for p in parts]
        assert pair(got) == (sum(w["numerator"] for w in want), sum(w["denominator"] for w in want))
    assert county["metrics"]["status_mix"] == {
        k: sum(p["metrics"]["status_mix"][k] for p in parts) for k in parts[0]["metrics"]["status_mix"]}
    # units add across towns (unit types share names); leaders stay in their town
    for unit in county["breakdowns"]["unit"]:
        assert county["breakdowns"]["unit"][unit]["received"] == sum(
            p["breakdowns"]["unit"].get(unit, {}).get("received", 0) for p in parts)
    assert all("/" in k for k in county["breakdowns"]["leader"])
    assert county["baselines"]["open"] == sum(p["baselines"]["open"] for p in parts)


def test_every_new_figure_is_catalogued_with_a_definition() -> None:
    contract = figures(book({"disputes": KEPT, "transfers": MOVES, "supervisions": CHASES}))
    for key in ("supervised", "supervision_count", "overdue_explained_rate", "assign_days_median",
                "feedback_rate", "village_kept_rate", "passed_up", "passed_down", "passed_across",
                "group_cases", "status_mix", "star_mix", "force_mix", "key_persons_by_category"):
        assert key in contract["metrics"] and METRICS[key].since == "1.2"
        assert METRICS[key].numerator and METRICS[key].title
    assert np.all([METRICS[k].optional for k in ("supervised", "feedback_rate", "force_mix")])
    assert not METRICS["group_cases"].optional and not METRICS["status_mix"].optional
