"""Dispute metrics against a ledger worked out by hand (DOMAIN.md section 4)."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from fengqiao.config import load_config
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import compute_metrics, dumps, parse_period, validate_contract
from metrics_helpers import d, dispute, ledger

CONFIG = load_config()

# Period 2024-Q1: s = 2024-01-01, e = d = 2024-03-31, 91 days; default config
# (calendar days, deadlines 5/15/60, backlog 90 days).
#
#  id  received    closed       status  star  notes
#  A   2024-01-10  2024-01-10   已化解   1    closed the same day, 村级, first try, 回访 满意, 网格排查
#  B   2024-03-25  2024-04-03   已化解   2    received in Q1, closed in Q2 → open at d, age 6 ≤ 15
#  C   2023-09-01  —            调处中   2    backlog: open at s, 122 days old > 90; overdue at d
#  D   2023-12-01  2024-02-15   转司法   3    76 days > 60 → late; 县级; 信访 (received last year)
#  E   2023-08-15  2024-03-01   已终结   1    backlog (139 days at s) and cleared in Q1; late; 镇级
#  F   2024-02-01  2024-03-20   已化解   3    48 days ≤ 60 → a 3-star case on time; repeat of A;
#                                               信访 with 5 persons; 基本满意
#  G   2024-03-01  —            调处中   1    网上舆情; 30 days > 5 → overdue
#  H   2024-02-10  (blank)      已化解   1    no 办结日期 → not closed; overdue
#  I   2024-01-20  2024-01-22   已撤回   1    2 days, 层级 blank, 不满意
#  J   2023-02-10  2023-02-12   已化解   1    信访, 4 persons (year-earlier window)
#  K   2023-03-05  2023-03-10   已化解   1    信访, 2 persons (year-earlier window)
#  L   2024-03-10  2024-03-05   已化解   1    办结日期 before 受理日期 → not closed; overdue
ROWS = [
    dispute("A", "2024-01-10", closed="2024-01-10", status="已化解", level="村级",
            first_try_success=True, followup_date="2024-01-15", satisfaction="满意",
            source="网格排查", grid_id="G1"),
    dispute("B", "2024-03-25", closed="2024-04-03", status="已化解", star=2, level="镇级"),
    dispute("C", "2023-09-01", star=2, responsible_unit="司法所", lead_official="王书记"),
    dispute("D", "2023-12-01", closed="2024-02-15", status="转司法", star=3, level="县级",
            first_try_success=False, source="信访", persons_involved=3),
    dispute("E", "2023-08-15", closed="2024-03-01", status="已终结", level="镇级"),
    dispute("F", "2024-02-01", closed="2024-03-20", status="已化解", star=3, level="村级",
            first_try_success=True, repeat_of="A", source="信访", persons_involved=5,
            satisfaction="基本满意", followup_date="2024-03-25"),
    dispute("G", "2024-03-01", source="网上舆情", village="西坡村", grid_id="G2"),
    dispute("H", "2024-02-10", status="已化解", village="西坡村"),
    dispute("I", "2024-01-20", closed="2024-01-22", status="已撤回", satisfaction="不满意",
            followup_date="2024-01-25"),
    dispute("J", "2023-02-10", closed="2023-02-12", status="已化解", source="信访", persons_involved=4),
    dispute("K", "2023-03-05", closed="2023-03-10", status="已化解", source="信访", persons_involved=2),
    dispute("L", "2024-03-10", closed="2024-03-05", status="已化解", dispute_type="劳资"),
]


def rate(n: int, den: int, value: float | None) -> dict[str, object]:
    return {"numerator": n, "denominator": den, "value": value}


@pytest.fixture(scope="module")
def q1() -> dict[str, object]:
    return compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-Q1"), config=CONFIG)


def test_counts(q1: dict) -> None:
    m = q1["metrics"]
    # received: A B F G H I L; closed in Q1: A D E F I; resolved: A F
    assert (m["received"], m["closed"], m["resolved"]) == (7, 5, 2)
    # pending_start: C D E; pending_end: B C G H L; overdue at d: C G H L
    assert (m["pending_start"], m["pending_end"], m["overdue_open"]) == (3, 5, 4)
    # backlog: C (122 days) and E (139 days); E cleared in Q1
    assert (m["backlog_start"], m["backlog_cleared"]) == (2, 1)
    assert m["level_mix"] == {"村级": 2, "镇级": 1, "县级": 1, "未填": 1}


def test_rates(q1: dict) -> None:
    m = q1["metrics"]
    assert m["clearance_rate"] == rate(5, 7, 0.714286)
    assert m["closure_rate"] == rate(3, 7, 0.428571)  # A F I
    assert m["resolution_rate"] == rate(2, 7, 0.285714)  # A F (H has no 办结日期)
    assert m["on_time_rate"] == rate(3, 5, 0.6)  # A 0≤5, F 48≤60, I 2≤5; D 76>60, E 199>5
    assert m["first_try_rate"] == rate(2, 5, 0.4)
    assert m["local_rate"] == rate(3, 5, 0.6)  # A 村, E 镇, F 村
    assert m["grid_discovery_rate"] == rate(1, 7, 0.142857)
    assert m["repeat_rate"] == rate(1, 7, 0.142857)
    assert m["online_rate"] == rate(1, 7, 0.142857)
    assert m["followup_rate"] == rate(3, 5, 0.6)
    assert m["satisfaction_rate"] == rate(2, 3, 0.666667)
    assert m["disposition_days"] == rate(91 * 5, 5, 91.0)


def test_distribution_and_median(q1: dict) -> None:
    assert q1["distributions"]["days_to_close"] == {"0": 1, "2": 1, "48": 1, "76": 1, "199": 1}
    assert q1["metrics"]["median_days"] == 48.0


def test_year_on_year(tmp_path: Path) -> None:
    """With the ledger complete from 2023-01-01, 2023-Q1 is known: J and K
    (信访, 4 + 2 persons) against F (5 persons) and D's batch of last year."""
    (tmp_path / "fengqiao.yml").write_text("ledger_start: 2023-01-01\n", encoding="utf-8")
    config = load_config(tmp_path / "fengqiao.yml")
    m = compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-Q1"), config=config)["metrics"]
    assert m["petition_batches"] == {"count": 1, "previous": 2, "change": -0.5}
    assert m["petition_persons"] == {"count": 5, "previous": 6, "change": -0.166667}
    assert m["received_yoy"] == {"count": 7, "previous": 2, "change": 2.5}


def test_year_on_year_before_the_ledger_starts_is_unknown(q1: dict) -> None:
    """No ledger_start: the ledger starts at its first 受理日期, J's 2023-02-10,
    after 2023-Q1 begins, so January 2023 may simply not have been recorded:
    the year-earlier counts are null ("—"), never J and K's 2 as if complete."""
    m = q1["metrics"]
    assert m["petition_batches"] == {"count": 1, "previous": None, "change": None}
    assert m["petition_persons"] == {"count": 5, "previous": None, "change": None}
    assert m["received_yoy"] == {"count": 7, "previous": None, "change": None}
    assert m["group_cases"]["previous"] is None
    east = q1["breakdowns"]["village"]["东岭村"]["received_yoy"]
    assert east["previous"] is None and east["change"] is None


def test_optional_tabs_missing_are_null_not_zero(q1: dict) -> None:
    m = q1["metrics"]
    for metric in ("visit_coverage", "key_person_followup_rate", "reception_compliance",
                   "needs_closure_rate"):
        assert m[metric] is None
    assert q1["breakdowns"]["village"]["东岭村"]["visit_coverage"] is None
    assert q1["breakdowns"]["reception_rank"] == {
        "党政主要领导": {"reception_compliance": None},
        "科级领导": {"reception_compliance": None},
        "村两委": {"reception_compliance": None},
    }


def test_overdue_list_most_overdue_first_without_sensitive_fields(q1: dict) -> None:
    ids = [(r["id"], r["days_open"], r["days_overdue"], r["deadline"]) for r in q1["overdue"]]
    # C: 212 days open, 15 allowed → 197 over; H: 50-5; G: 30-5; L: 21-5
    assert ids == [("C", 212, 197, "2023-09-16"), ("H", 50, 45, "2024-02-15"),
                   ("G", 30, 25, "2024-03-06"), ("L", 21, 16, "2024-03-15")]
    assert q1["overdue"][0] == {
        "id": "C", "village": "东岭村", "grid_id": None, "dispute_type": "邻里", "star": 2,
        "received_date": "2023-09-01", "deadline": "2023-09-16", "days_open": 212,
        "days_overdue": 197, "responsible_unit": "司法所", "lead_official": "王书记",
        # no 督办记录 tab: the chases are unknown, not zero
        "chases": None, "last_chase_date": None, "last_chase_mode": None, "explained": None,
    }
    text = dumps(q1)
    for secret in ("张三", "13800000000", "秘密"):
        assert secret not in text


def test_header_blocks(q1: dict) -> None:
    # 1.1 added reception_basis, 1.2 the supervision loop, 1.3 levels (roll-ups of
    # roll-ups), 1.4 comparisons (环比/同比), 1.5 detail (city and province summaries)
    assert q1["schema_version"] == "1.6"
    assert q1["generator"] == f"fengqiao {metadata.version('fengqiao')}" == "fengqiao 0.2.0"
    assert q1["town"] == "枫溪镇"
    assert q1["level"] == "镇"
    assert q1["period"] == {"start": "2024-01-01", "end": "2024-03-31", "label": "2024-Q1",
                            "kind": "quarter"}
    assert q1["as_of"] == "2024-03-31"
    assert q1["config"] == {"deadlines": {"1": 5, "2": 15, "3": 60}, "day_count": "calendar",
                            "backlog_days": 90, "group_threshold": 5}
    assert q1["targets"]["first_try_rate"] == 0.85
    assert q1["source"] == {"kind": "xlsx", "name": "demo_town.xlsx", "sha256": "0" * 64,
                            "read_at": None, "stale_since": None}
    assert q1["excluded_rows"] == {"disputes": {"count": 0, "rows": []}}


def test_valid_and_deterministic(q1: dict) -> None:
    assert validate_contract(q1) == []
    again = compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-Q1"), config=CONFIG)
    assert dumps(again).encode() == dumps(q1).encode()
    assert dumps(q1).endswith("}\n")
    assert json.loads(dumps(q1)) == q1


def test_zero_denominator_period_is_null() -> None:
    c = compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-06"), config=CONFIG)
    m = c["metrics"]
    assert (m["received"], m["closed"]) == (0, 0)
    assert m["clearance_rate"] == rate(0, 0, None)
    assert m["on_time_rate"] == rate(0, 0, None)
    assert m["median_days"] is None
    assert m["petition_batches"] == {"count": 0, "previous": 0, "change": None}
    # B closed 2024-04-03, so June starts with C G H L open
    assert (m["pending_start"], m["pending_end"]) == (4, 4)
    assert validate_contract(c) == []


def test_period_received_then_closed_next_period() -> None:
    # B: received 2024-03-25 (in March), closed 2024-04-03 (in April)
    L = ledger({"disputes": [ROWS[1]]})
    march = compute_metrics(L, parse_period("2024-03"), config=CONFIG)["metrics"]
    april = compute_metrics(L, parse_period("2024-04"), config=CONFIG)["metrics"]
    assert (march["received"], march["closed"], march["pending_end"]) == (1, 0, 1)
    assert (april["received"], april["closed"], april["pending_start"]) == (0, 1, 1)
    assert april["on_time_rate"] == rate(1, 1, 1.0)  # 9 days ≤ 15
    # asked later, March's closure rate counts the April closure (closed by d)
    later = compute_metrics(L, parse_period("2024-03"), as_of=d("2024-04-30"), config=CONFIG)
    assert later["metrics"]["closure_rate"] == rate(1, 1, 1.0)
    assert march["closure_rate"] == rate(0, 1, 0.0)


def test_backlog_threshold_is_strictly_older() -> None:
    # at s = 2024-01-01: 90 days old is not backlog, 91 days old is
    rows = [dispute("X", "2023-10-03"), dispute("Y", "2023-10-02")]
    m = compute_metrics(ledger({"disputes": rows}), parse_period("2024-01"), config=CONFIG)["metrics"]
    assert (m["pending_start"], m["backlog_start"]) == (2, 1)


def test_running_period_as_of_today() -> None:
    # the month is not over on 2024-03-10: as_of is today and figures stop there
    c = compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-03"), config=CONFIG,
                        today=date(2024, 3, 10))
    m = c["metrics"]
    assert c["as_of"] == "2024-03-10"
    assert m["received"] == 2  # G (03-01), L (03-10); B is after today
    assert m["closed"] == 1  # E (03-01)
    assert m["disposition_days"]["numerator"] == 10 * m["pending_end"]


def test_as_of_before_period_is_an_error() -> None:
    with pytest.raises(FengqiaoError) as err:
        compute_metrics(ledger({"disputes": ROWS}), parse_period("2024-03"), config=CONFIG,
                        as_of=d("2024-02-01"))
    assert str(err.value) == (
        "统计截止日期 2024-02-01 早于统计期 2024-03 的开始日期 2024-03-01。"
        "请用 --as-of 指定统计期开始之后的日期，或换一个已经开始的统计期。")


def test_excluded_rows_are_listed() -> None:
    excluded = pd.DataFrame({"_row": [14, 9], "codes": ["bad-date", "duplicate-id,bad-date"]})
    c = compute_metrics(ledger({"disputes": ROWS}, excluded={"disputes": excluded}),
                        parse_period("2024-Q1"), config=CONFIG)
    assert c["excluded_rows"]["disputes"] == {
        "count": 2, "rows": [{"row": 9, "codes": ["duplicate-id", "bad-date"]},
                             {"row": 14, "codes": ["bad-date"]}]}


def _working() -> object:
    return dataclasses.replace(CONFIG, deadlines=dataclasses.replace(CONFIG.deadlines,
                                                                     day_count="working"))


def test_working_day_deadline_across_national_day() -> None:
    # received Fri 2024-09-27, 1 star = 5 working days: Sun 09-29 (make-up day) 1,
    # Mon 09-30 2, 10-01..10-07 holiday, 10-08 3, 10-09 4, 10-10 5 → deadline 10-10
    rows = [dispute("N1", "2024-09-27", closed="2024-10-10", status="已化解"),
            dispute("N2", "2024-09-27", closed="2024-10-11", status="已化解")]
    cfg = _working()
    m = compute_metrics(ledger({"disputes": rows}), parse_period("2024-10"), config=cfg)["metrics"]
    assert m["on_time_rate"] == rate(1, 2, 0.5)
    cal = compute_metrics(ledger({"disputes": rows}), parse_period("2024-10"), config=CONFIG)
    assert cal["metrics"]["on_time_rate"] == rate(0, 2, 0.0)  # calendar deadline 10-02


def test_working_day_overdue_with_make_up_saturday() -> None:
    # received Wed 2024-10-09: 10-10 1, 10-11 2, Sat 10-12 (make-up) 3, 10-14 4, 10-15 5
    rows = [dispute("M", "2024-10-09")]
    cfg = _working()
    on_15 = compute_metrics(ledger({"disputes": rows}), parse_period("2024-10"),
                            as_of=d("2024-10-15"), config=cfg)
    on_16 = compute_metrics(ledger({"disputes": rows}), parse_period("2024-10"),
                            as_of=d("2024-10-16"), config=cfg)
    assert on_15["metrics"]["overdue_open"] == 0
    assert on_16["metrics"]["overdue_open"] == 1
    assert on_16["overdue"][0]["deadline"] == "2024-10-15"
    assert on_16["overdue"][0]["days_overdue"] == 1
    assert on_16["overdue"][0]["days_open"] == 7


def test_working_days_outside_known_years_is_a_clear_error() -> None:
    rows = [dispute("OLD-1", "2003-12-20", closed="2004-01-05", status="已化解")]
    with pytest.raises(FengqiaoError) as err:
        compute_metrics(ledger({"disputes": rows}), parse_period("2004-01"), config=_working())
    assert str(err.value) == (
        "编号 OLD-1 的纠纷：日期 2003-12-20 不在法定工作日历已公布的年份（2004–2026 年）内，"
        "无法按工作日计算期限。请升级 chinesecalendar 以获得新一年的节假日安排，"
        "或在配置中把 deadlines.day_count 改为 calendar（按自然日计算）。")
    # calendar days need no calendar: the same case is fine
    ok = compute_metrics(ledger({"disputes": rows}), parse_period("2004-01"), config=CONFIG)
    assert ok["metrics"]["on_time_rate"] == rate(0, 1, 0.0)  # 16 days > 5


def test_breakdowns_by_village_type_source(q1: dict) -> None:
    b = q1["breakdowns"]
    assert sorted(b["village"]) == ["东岭村", "西坡村"]
    west = b["village"]["西坡村"]
    assert (west["received"], west["closed"], west["overdue_open"]) == (2, 0, 2)
    assert west["clearance_rate"] == rate(0, 2, 0.0)
    east = b["village"]["东岭村"]
    assert east["received"] + west["received"] == 7
    assert east["on_time_rate"] == rate(3, 5, 0.6)
    assert sorted(b["grid"]) == ["G1", "G2", "（无网格）"]
    assert b["grid"]["G1"]["received"] == 1
    assert b["dispute_type"]["劳资"]["received"] == 1
    # 2023-Q1 begins before the ledger's first 受理日期: not known (see below)
    assert b["source"]["信访"]["petition_batches"] == {"count": 1, "previous": None, "change": None}
    assert b["source"]["网上舆情"]["online_rate"] == rate(1, 1, 1.0)
