"""The people-supervision figures of DOMAIN.md 4.1, worked by hand: revisits
bounded by the as-of date, satisfaction only next to a valid revisit, visit
coverage by (grid, household), and the key-person gap rule with accepted
methods per category. Each rule has a case the old rule got wrong (the old
figure is in the comment) and one both rules get right; the procedures pages
state the catalogue's words, and no person code reaches a published file.
"""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.catalogue import METRICS
from fengqiao.config import Config, load_config
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import compute_metrics, parse_period, validate_contract
from fengqiao.metrics.periods import Period
from fengqiao.metrics.shapes import Window
from fengqiao.metrics.tabs import key_person_followup, visit_coverage
from fengqiao.render import render_site_page
from fengqiao.render.town import SITE_PAGES
from metrics_helpers import d, dispute, ledger

CONFIG = load_config()
HOME_ONLY = dataclasses.replace(CONFIG, key_person_methods={"三失一偏": ["上门"]})
MARCH = parse_period("2024-03")
Q4 = parse_period("2024-Q4")  # 2024-10-01 .. 2024-12-31, 92 days


def rate(n: int, den: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": den, "value": None if den == 0 else round(n / den, 6)}


def days(first: str, last: str, step: int = 1) -> list[str]:
    a, b = d(first), d(last)
    return [(a + timedelta(days=k)).isoformat() for k in range(0, (b - a).days + 1, step)]


# -- followup_rate and satisfaction_rate -------------------------------------------


def _march(rows: list[dict[str, Any]], *, today: date) -> dict[str, Any]:
    """March as published on ``today`` (an ended period: as-of = 03-31)."""
    return compute_metrics(ledger({"disputes": rows}), MARCH, config=CONFIG, today=today)["metrics"]


def test_a_revisit_after_the_as_of_date_is_not_counted_and_a_rerun_agrees() -> None:
    closed: dict[str, Any] = {"closed": "2024-03-10", "status": "已化解", "satisfaction": "满意"}
    # published on 04-01: the case was not yet revisited
    early = _march([dispute("A", "2024-03-02", **closed)], today=d("2024-04-01"))
    # re-run on 06-30 from the sheet as it is then: revisited on 04-05
    late = _march([dispute("A", "2024-03-02", followup_date="2024-04-05", **closed)],
                  today=d("2024-06-30"))
    # old rule: 0/1 on 04-01 but 1/1 on 06-30 (and satisfaction 1/1 both times)
    assert early["followup_rate"] == late["followup_rate"] == rate(0, 1)
    assert early["satisfaction_rate"] == late["satisfaction_rate"] == rate(0, 0)
    # asked as of a day on or after the revisit, it counts (04-05 ≤ 04-30)
    m = compute_metrics(ledger({"disputes": [dispute("A", "2024-03-02", followup_date="2024-04-05",
                                                    **closed)]}),
                        MARCH, as_of=d("2024-04-30"), config=CONFIG)["metrics"]
    assert m["followup_rate"] == rate(1, 1) and m["satisfaction_rate"] == rate(1, 1)


@pytest.mark.parametrize("followup", [None, "2024-03-05"])
def test_a_rating_without_a_valid_revisit_is_not_counted(followup: str | None) -> None:
    """None: the validator blanked a revisit dated before the closure
    (followup-before-closed); "2024-03-05": the same date reaching the
    figures unvalidated. Either way the rating has no valid revisit."""
    rows = [dispute("A", "2024-03-01", closed="2024-03-08", status="已化解",
                    followup_date=followup, satisfaction="满意"),
            dispute("B", "2024-03-01", closed="2024-03-08", status="已化解",
                    followup_date="2024-03-20", satisfaction="不满意")]
    m = _march(rows, today=d("2024-04-01"))
    # followup: B only (A has no revisit on/after 03-08) → 1/2
    assert m["followup_rate"] == rate(1, 2)
    # old rule: (满意 A) 1 ÷ (rated A, B) 2 = 1/2; new: only B counts → 0/1
    assert m["satisfaction_rate"] == rate(0, 1)


def test_followup_and_satisfaction_both_rules_agree() -> None:
    rows = [
        # closed 03-05, revisited 03-09, 满意 → followup, satisfied
        dispute("A", "2024-03-01", closed="2024-03-05", status="已化解",
                followup_date="2024-03-09", satisfaction="满意"),
        # closed 03-06, revisited the same day, 基本满意 → followup, satisfied
        dispute("B", "2024-03-01", closed="2024-03-06", status="已终结",
                followup_date="2024-03-06", satisfaction="基本满意"),
        # closed 03-07, revisited 03-31, 不满意 → followup, rated, not satisfied
        dispute("C", "2024-03-02", closed="2024-03-07", status="转司法",
                followup_date="2024-03-31", satisfaction="不满意"),
        # closed, never revisited, no rating → closed only
        dispute("D", "2024-03-02", closed="2024-03-07", status="已化解"),
        # still open with a revisit: not closed, counts nowhere
        dispute("E", "2024-03-03", followup_date="2024-03-10", satisfaction="满意"),
    ]
    m = _march(rows, today=d("2024-04-01"))
    assert m["closed"] == 4
    assert m["followup_rate"] == rate(3, 4)  # A B C of A B C D
    assert m["satisfaction_rate"] == rate(2, 3)  # A B of A B C


def test_followup_breakdowns_add_up_to_the_town() -> None:
    rows = [dispute("A", "2024-03-01", closed="2024-03-05", status="已化解", village="东岭村",
                    followup_date="2024-04-02", satisfaction="满意"),
            dispute("B", "2024-03-01", closed="2024-03-05", status="已化解", village="西坡村",
                    followup_date="2024-03-20", satisfaction="满意")]
    c = compute_metrics(ledger({"disputes": rows}), MARCH, config=CONFIG, today=d("2024-04-10"))
    v = c["breakdowns"]["village"]
    # A's revisit (04-02) is after the as-of date 03-31
    assert v["东岭村"]["followup_rate"] == rate(0, 1)
    assert v["东岭村"]["satisfaction_rate"] == rate(0, 0)
    assert v["西坡村"]["followup_rate"] == rate(1, 1)
    assert c["metrics"]["followup_rate"] == rate(1, 2)
    assert validate_contract(c) == []


# -- visit_coverage -----------------------------------------------------------------

GRIDS = [
    {"grid_id": "G1", "village": "东岭村", "households": 50},
    {"grid_id": "G2", "village": "西坡村", "households": 30},
    {"grid_id": "G3", "village": "东岭村", "households": 20},
]


def _coverage(visits: list[dict[str, Any]]) -> dict[str, Any]:
    tables = {"disputes": [dispute("A", "2024-03-01")], "grids": GRIDS, "visits": visits}
    return compute_metrics(ledger(tables), MARCH, config=CONFIG)


def test_the_same_household_code_in_every_grid_is_a_household_each() -> None:
    visits: list[dict[str, Any]] = [
        {"date": "2024-03-02", "grid_id": g, "household": "001"} for g in ("G1", "G2", "G3")]
    visits += [
        {"date": "2024-03-09", "grid_id": "G1", "household": "001"},  # again: same pair
        {"date": "2024-03-03", "grid_id": None, "household": "001"},  # no grid: nowhere
        {"date": "2024-03-04", "grid_id": "G9", "household": "002"},  # unknown grid: nowhere
    ]
    c = _coverage(visits)
    # old rule: town 1/100 (one distinct code) while its grids add up to 3/100
    assert c["metrics"]["visit_coverage"] == rate(3, 100)
    g = c["breakdowns"]["grid"]
    assert [g[k]["visit_coverage"] for k in ("G1", "G2", "G3")] == [
        rate(1, 50), rate(1, 30), rate(1, 20)]  # 1 + 1 + 1 = 3; 50 + 30 + 20 = 100
    v = c["breakdowns"]["village"]
    # 东岭村 = G1 + G3: (1 + 1)/(50 + 20); old rule 1/70
    assert v["东岭村"]["visit_coverage"] == rate(2, 70)
    assert v["西坡村"]["visit_coverage"] == rate(1, 30)


def test_coverage_with_codes_unique_across_grids_both_rules_agree() -> None:
    visits = [{"date": "2024-03-02", "grid_id": "G1", "household": "G1-001"},
              {"date": "2024-03-05", "grid_id": "G1", "household": "G1-002"},
              {"date": "2024-03-06", "grid_id": "G2", "household": "G2-001"},
              {"date": "2024-02-28", "grid_id": "G3", "household": "G3-001"}]  # February
    c = _coverage(visits)
    assert c["metrics"]["visit_coverage"] == rate(3, 100)  # 2 in G1 + 1 in G2
    assert c["breakdowns"]["grid"]["G3"]["visit_coverage"] == rate(0, 20)


visit_row = st.fixed_dictionaries({
    "grid": st.sampled_from(["G1", "G2", "G3", "G9", None]),  # G9 not in 网格, None blank
    "household": st.sampled_from(["001", "002", "003", None]),  # the same codes in every grid
    "day": st.integers(-10, 40),  # from 2024-02-20; March is days 10..40
})


@given(rows=st.lists(visit_row, max_size=40))
def test_town_coverage_is_the_sum_of_its_grids(rows: list[dict[str, Any]]) -> None:
    visits = [{"date": (date(2024, 2, 20) + timedelta(days=r["day"])).isoformat(),
               "grid_id": r["grid"], "household": r["household"]} for r in rows]
    got = visit_coverage(ledger({"grids": GRIDS, "visits": visits}),
                         Window.of(MARCH, d("2024-03-31")))
    assert got is not None
    assert got.whole[0] == sum(n for n, _ in got.grid.values())
    assert got.whole[1] == sum(den for _, den in got.grid.values()) == 100
    for village, grids in (("东岭村", ("G1", "G3")), ("西坡村", ("G2",))):
        assert got.village[village] == (sum(got.grid[g][0] for g in grids),
                                        sum(got.grid[g][1] for g in grids))
    # an independent count: the distinct pairs, in Python
    pairs = {(r["grid"], r["household"]) for r in rows
             if r["grid"] in ("G1", "G2", "G3") and r["household"] and 10 <= r["day"] <= 40}
    assert got.whole[0] == len(pairs)
    for g in ("G1", "G2", "G3"):
        assert got.grid[g][0] == len({h for gg, h in pairs if gg == g})


# -- key_person_followup_rate --------------------------------------------------------


def _kp(persons: list[dict[str, Any]], visits: list[dict[str, Any]], *, period: Period = Q4,
        as_of: date | None = None, config: Config = CONFIG) -> dict[str, Any]:
    tables = {"disputes": [dispute("A", "2024-10-01")], "grids": GRIDS, "key_persons": persons,
              "key_person_visits": visits}
    return compute_metrics(ledger(tables), period, as_of=as_of, config=config)


def _person(pid: str, category: str = "三失一偏", frequency: str | None = "每周",
            grid: str = "G1", listed: str | None = None) -> dict[str, Any]:
    return {"person_id": pid, "category": category, "grid_id": grid, "frequency": frequency,
            "listed_date": listed}


def _visits(pid: str, dates: list[str], method: str | None = "上门") -> list[dict[str, Any]]:
    return [{"person_id": pid, "date": x, "method": method} for x in dates]


def test_daily_visits_for_two_weeks_then_none_do_not_meet_a_weekly_rule() -> None:
    c = _kp([_person("P1")], _visits("P1", days("2024-10-01", "2024-10-14")))
    # old rule: 14 distinct days ≥ floor(92 / 7) = 13 → 1/1.
    # new: the last gap is 2025-01-01 − 10-14 = 79 days > 7 → 0/1
    assert c["metrics"]["key_person_followup_rate"] == rate(0, 1)
    assert c["breakdowns"]["key_person_category"] == {
        "三失一偏": {"key_person_followup_rate": rate(0, 1)}}
    assert c["breakdowns"]["grid"]["G1"]["key_person_followup_rate"] == rate(0, 1)
    assert c["breakdowns"]["village"]["东岭村"]["key_person_followup_rate"] == rate(0, 1)


def test_a_weekly_visit_all_quarter_meets_both_rules() -> None:
    # 10-01, 10-08, …, 12-31: 14 visits (old rule: 14 ≥ 13 → met); gaps
    # 10-01 − 09-30 = 1, then 7 each, and 2025-01-01 − 12-31 = 1 → met
    weekly = days("2024-10-01", "2024-12-31", 7)
    assert len(weekly) == 14 and weekly[-1] == "2024-12-31"
    c = _kp([_person("P1"), _person("P2", grid="G2")],
            _visits("P1", weekly) + _visits("P2", []))
    # P2 never visited: one gap of 2025-01-01 − 09-30 = 93 > 7 (old rule: 0 < 13)
    assert c["metrics"]["key_person_followup_rate"] == rate(1, 2)
    g = c["breakdowns"]["grid"]
    assert g["G1"]["key_person_followup_rate"] == rate(1, 1)
    assert g["G2"]["key_person_followup_rate"] == rate(0, 1)


@pytest.mark.parametrize("first, last, met", [
    # gaps 10-02 − 09-30 = 2, then 7 each, and 2025-01-01 − 12-25 = 7 → met
    ("2024-10-02", "2024-12-25", 1),
    # gaps 1, then 7 each, and 2025-01-01 − 12-24 = 8 > 7 → not met
    ("2024-10-01", "2024-12-24", 0),
])
def test_the_last_gap_runs_to_the_day_after_the_window(first: str, last: str, met: int) -> None:
    weekly = days(first, last, 7)
    assert weekly[-1] == last and len(weekly) == 13  # old rule: 13 ≥ floor(92 / 7) → met both
    c = _kp([_person("P1")], _visits("P1", weekly))
    assert c["metrics"]["key_person_followup_rate"] == rate(met, 1)


def test_boundary_days_of_the_gap_rule() -> None:
    """Every gap exactly at the limit meets it; one day more fails."""
    persons = [
        # 每月 31 in November (30 days) with no visit: one gap 12-01 − 10-31 = 31 → met
        _person("M0", "安置帮教", "每月"),
        # 每季度 92 in Q4 with no visit: one gap 2025-01-01 − 09-30 = 93 > 92 → not met
        _person("Q0", "重复信访", "每季度"),
        # 每周: first visit 11-07: 11-07 − 10-31 = 7 → ok; then 11-14 (7), 11-21 (7),
        # 11-28 (7), last gap 12-01 − 11-28 = 3 → met
        _person("W7", "三失一偏", "每周"),
        # 每周: first visit 11-08: 11-08 − 10-31 = 8 > 7 → not met
        _person("W8", "三失一偏", "每周"),
    ]
    visits = (_visits("W7", ["2024-11-07", "2024-11-14", "2024-11-21", "2024-11-28"])
              + _visits("W8", ["2024-11-08", "2024-11-15", "2024-11-22", "2024-11-29"]))
    nov = _kp(persons, visits, period=parse_period("2024-11"))
    assert nov["breakdowns"]["key_person_category"] == {
        "三失一偏": {"key_person_followup_rate": rate(1, 2)},  # W7
        "安置帮教": {"key_person_followup_rate": rate(1, 1)},  # M0
        "重复信访": {"key_person_followup_rate": rate(1, 1)},  # Q0: 12-01 − 10-31 = 31 ≤ 92
    }
    q4 = _kp([_person("Q0", "重复信访", "每季度")], [])
    assert q4["metrics"]["key_person_followup_rate"] == rate(0, 1)  # 93 > 92


def test_the_window_ends_at_the_as_of_date() -> None:
    # Q4 as of 11-15: visits 10-01 … 11-12 every 7 days; last gap 11-16 − 11-12 = 4 → met
    c = _kp([_person("P1")], _visits("P1", days("2024-10-01", "2024-11-12", 7)),
            as_of=d("2024-11-15"))
    assert c["metrics"]["key_person_followup_rate"] == rate(1, 1)
    # and a visit after the as-of date cannot repair a gap: as of 11-25 the gap
    # from 11-12 is 11-26 − 11-12 = 14 > 7, whatever happens on 11-28
    c = _kp([_person("P1")], _visits("P1", [*days("2024-10-01", "2024-11-12", 7), "2024-11-28"]),
            as_of=d("2024-11-25"))
    assert c["metrics"]["key_person_followup_rate"] == rate(0, 1)


def test_the_listed_date_starts_the_watch_and_a_later_listing_is_off_the_list() -> None:
    persons = [
        # listed 11-20: first gap 11-26 − 11-19 = 7, then 7 each to 12-31, last 1 → met
        _person("L1", listed="2024-11-20"),
        # listed 11-20, first visit 11-28: 11-28 − 11-19 = 9 > 7 → not met
        _person("L2", listed="2024-11-20"),
        # listed after Q4: not on the list in Q4, in no count
        _person("L3", listed="2025-01-05"),
        # listed long before Q4: watched from 10-01, never visited → not met
        _person("L4", listed="2023-05-01"),
    ]
    visits = (_visits("L1", days("2024-11-26", "2024-12-31", 7))
              + _visits("L2", [*days("2024-11-28", "2024-12-26", 7), "2024-12-31"])
              + _visits("L3", days("2024-10-01", "2024-12-31", 7)))
    assert days("2024-11-26", "2024-12-31", 7)[-1] == "2024-12-31"
    c = _kp(persons, visits)
    # old rule: every person counted, L3 met (14 visits), L1 6 < 13 not met → 1/4
    assert c["metrics"]["key_person_followup_rate"] == rate(1, 3)


def test_only_the_configured_methods_count_for_a_restricted_category() -> None:
    weekly = days("2024-10-01", "2024-12-31", 7)
    persons = [_person("H", "三失一偏"), _person("T", "三失一偏"),
               _person("A", "安置帮教", "每月")]
    visits = (_visits("H", weekly, "上门") + _visits("T", weekly, "电话")
              + _visits("A", days("2024-10-01", "2024-12-31", 30), "电话"))
    # 安置帮教 每月: 10-01, 10-31, 11-30, 12-30: gaps 1, 30, 30, 30, 2 → met
    any_way = _kp(persons, visits)
    assert any_way["metrics"]["key_person_followup_rate"] == rate(3, 3)
    home = _kp(persons, visits, config=HOME_ONLY)
    # 三失一偏 only by 上门: T's phone calls do not count (one gap of 93 days)
    assert home["metrics"]["key_person_followup_rate"] == rate(2, 3)
    assert home["breakdowns"]["key_person_category"] == {
        "三失一偏": {"key_person_followup_rate": rate(1, 2)},
        "安置帮教": {"key_person_followup_rate": rate(1, 1)}}
    # a blank 方式 cannot prove a home visit
    blank = _kp([_person("H", "三失一偏")], _visits("H", weekly, None), config=HOME_ONLY)
    assert blank["metrics"]["key_person_followup_rate"] == rate(0, 1)


def test_a_method_rule_without_a_method_column_is_null_not_zero() -> None:
    tables = {"disputes": [dispute("A", "2024-10-01")], "key_persons": [_person("H")],
              "key_person_visits": _visits("H", days("2024-10-01", "2024-12-31", 7))}
    lacking = ledger(tables, missing_columns={"key_person_visits": ("method",)})
    w = Window.of(Q4, d("2024-12-31"))
    assert key_person_followup(lacking, w, HOME_ONLY) is None
    counted = key_person_followup(lacking, w, CONFIG)
    assert counted is not None and counted.whole == (1, 1)  # no rule on 方式: any counts


# an independent reference: walk each person's watched days one by one and
# count the longest run without a qualifying visit (no gaps, no pandas)
def _reference(persons: list[dict[str, Any]], visits: list[dict[str, Any]], start: date,
               end: date, config: Config) -> tuple[int, int]:
    intervals = config.key_person_intervals
    met = listed = 0
    for p in persons:
        first = start
        if p["listed_date"] is not None:
            on = date.fromisoformat(p["listed_date"])
            if on > end:
                continue
            first = max(start, on)
        listed += 1
        limit = intervals.get(p["frequency"], min(intervals.values()))
        ways = config.key_person_methods.get(p["category"])
        seen = {date.fromisoformat(v["date"]) for v in visits
                if v["person_id"] == p["person_id"] and (ways is None or v["method"] in ways)}
        run = longest = 0
        day = first
        while day <= end:
            run = 0 if day in seen else run + 1
            longest = max(longest, run)
            day += timedelta(days=1)
        met += longest < limit  # a run of `limit` days without a visit is a gap > limit
    return met, listed


person_row = st.fixed_dictionaries({
    "category": st.sampled_from(["三失一偏", "安置帮教"]),
    "frequency": st.sampled_from(["每周", "每半月", "每月", "每季度", None]),
    "listed": st.none() | st.integers(-30, 100),  # days from 2024-10-01
    "visits": st.lists(st.tuples(st.integers(-20, 100), st.sampled_from(["上门", "电话", None])),
                       max_size=25),
})


@given(rows=st.lists(person_row, min_size=1, max_size=6), as_of=st.integers(0, 120),
       home_only=st.booleans())
def test_the_gap_rule_matches_a_day_by_day_walk(rows: list[dict[str, Any]], as_of: int,
                                                home_only: bool) -> None:
    base = date(2024, 10, 1)
    persons, visits = [], []
    for i, r in enumerate(rows):
        pid = f"P{i}"
        listed = None if r["listed"] is None else (base + timedelta(days=r["listed"])).isoformat()
        persons.append({"person_id": pid, "category": r["category"], "grid_id": "G1",
                        "frequency": r["frequency"], "listed_date": listed})
        visits += [{"person_id": pid, "date": (base + timedelta(days=k)).isoformat(), "method": m}
                   for k, m in r["visits"]]
    config = HOME_ONLY if home_only else CONFIG
    day = base + timedelta(days=as_of)
    got = key_person_followup(ledger({"key_persons": persons, "key_person_visits": visits}),
                              Window.of(Q4, day), config)
    assert got is not None
    assert got.whole == _reference(persons, visits, Q4.start, min(Q4.end, day), config)
    assert sum(n for n, _ in got.category.values()) == got.whole[0]
    assert sum(den for _, den in got.category.values()) == got.whole[1]


# -- the config key ------------------------------------------------------------------


def _config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "fengqiao.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_the_default_accepts_any_method_and_intervals_fit_a_month_and_a_quarter() -> None:
    assert CONFIG.key_person_methods == {}
    assert CONFIG.key_person_intervals == {"每周": 7, "每半月": 15, "每月": 31, "每季度": 92}


def test_accepted_methods_are_read_with_the_sheet_aliases(tmp_path: Path) -> None:
    config = _config(tmp_path, "key_person_methods:\n  三失一偏: [入户, 上门]\n  精神障碍: [视频]\n")
    # 入户 is 上门 on the sheet, 精神障碍 is 严重精神障碍: both read as canonical
    assert config.key_person_methods == {"三失一偏": ["上门"], "严重精神障碍": ["视频"]}


@pytest.mark.parametrize("text, message, hint", [
    ("key_person_methods:\n  三失一偏: [微信]\n",
     "key_person_methods.三失一偏[1] 不是重点人员随访的方式，实际写的是“微信”。",
     "可以写的有：上门、电话、视频。"),
    ("key_person_methods:\n  三无人员: [上门]\n",
     "key_person_methods.三无人员 不是重点人员的类别，实际写的是“三无人员”。",
     "可以写的有：安置帮教、严重精神障碍、三失一偏、重复信访、其他。"),
    ("key_person_methods:\n  三失一偏: []\n",
     "key_person_methods.三失一偏 不能空着。",
     "至少写一种方式，例如 [上门]；不限方式的类别不用写。"),
])
def test_a_bad_method_setting_is_named_in_chinese(tmp_path: Path, text: str, message: str,
                                                  hint: str) -> None:
    with pytest.raises(FengqiaoError) as err:
        _config(tmp_path, text)
    assert err.value.message.endswith(message), err.value.message
    assert err.value.hint == hint


# -- the procedures pages say the catalogue's words ----------------------------------


def _page(name: str, config: Config) -> str:
    return render_site_page(SITE_PAGES / "procedures" / name, config)


def test_the_key_persons_page_states_the_catalogue_rule_and_the_config() -> None:
    page = _page("key-persons.md", CONFIG)
    assert METRICS["key_person_followup_rate"].definition() in page
    assert "两次随访的间隔不超过" in page
    for line in ("| 每周 | 7 天 |", "| 每半月 | 15 天 |", "| 每月 | 31 天 |", "| 每季度 | 92 天 |"):
        assert line in page
    assert "各种方式的随访都算一次有效随访" in page and "| 三失一偏 | 上门 |" not in page
    restricted = _page("key-persons.md", HOME_ONLY)
    assert "| 三失一偏 | 上门 |" in restricted and "其他类别用哪种方式随访都算" in restricted
    weekly = _page("key-persons.md", dataclasses.replace(
        CONFIG, key_person_intervals={"每周": 6, "每月": 31}))
    assert "| 每周 | 6 天 |" in weekly and "最短的 6 天" in weekly and "| 每季度 |" not in weekly


@pytest.mark.parametrize("page, metric_ids", [
    ("followup.md", ("followup_rate", "satisfaction_rate")),
    ("grid-visits.md", ("visit_coverage",)),
])
def test_the_page_states_the_catalogue_definition(page: str, metric_ids: tuple[str, ...]) -> None:
    text = _page(page, CONFIG)
    for metric_id in metric_ids:
        assert METRICS[metric_id].definition() in text, metric_id
    if page == "followup.md":
        assert METRICS["satisfaction_rate"].note in text


def test_the_fixed_metrics_carry_no_interim_rule() -> None:
    for metric_id in ("followup_rate", "satisfaction_rate", "visit_coverage",
                      "key_person_followup_rate"):
        assert METRICS[metric_id].interim == "", metric_id
        assert "本版本暂按" not in METRICS[metric_id].description()


# -- counts only ---------------------------------------------------------------------


def test_no_person_code_of_the_demo_reaches_a_published_file(tmp_path: Path) -> None:
    from fengqiao.charts import ChartMaker
    from fengqiao.demo import generate_town, write_workbook
    from fengqiao.render.town import render_docs, write_downloads
    from fengqiao.sitebuild import collect

    town = generate_town(5, scale=0.35)
    codes = set(town["key_persons"]["人员编号"].astype(str)) | set(
        town["key_person_visits"]["人员编号"].astype(str))
    assert len(codes) >= 40
    write_workbook(town, tmp_path / "town.xlsx")
    config = _config(tmp_path, "town: 枫溪镇\nsource: town.xlsx\nreport_date: 2024-12-31\n"
                               "site:\n  title: 平台\n  months: 2\n")
    data = collect(config)
    docs = tmp_path / "docs"
    render_docs(data, config, docs, ChartMaker(tmp_path / "docs" / "charts"))
    write_downloads(data, docs)
    texts: dict[str, str] = {}
    for path in docs.rglob("*"):
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                texts[str(path)] = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif path.is_file():
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = sorted({(Path(where).name, code) for where, text in texts.items()
                    for code in codes if code in text})
    assert leaks == []
    # and the counts are there: by category in metrics.json, a section on the page
    quarter = (docs / "downloads" / "2024-Q4" / "metrics.json").read_text(encoding="utf-8")
    assert '"key_person_category"' in quarter and '"三失一偏"' in quarter
    page = (docs / "stats" / "2024-Q4.md").read_text(encoding="utf-8")
    assert "## 重点人员随访" in page and "### 按类别" in page and "### 按网格" in page


def test_the_statistics_page_lists_met_and_not_met_counts() -> None:
    from fengqiao.render import fmt

    breakdowns = {
        "key_person_category": {"三失一偏": {"key_person_followup_rate": rate(1, 3)},
                                "安置帮教": {"key_person_followup_rate": rate(2, 2)}},
        # a grid with nobody on the list, and a ledger without the tab, show nothing
        "grid": {"G1": {"key_person_followup_rate": rate(3, 5)},
                 "G2": {"key_person_followup_rate": rate(0, 0)},
                 "G3": {"key_person_followup_rate": None}},
        "village": {},
    }
    sections = fmt.key_person_sections(breakdowns)
    assert [s["title"] for s in sections] == ["类别", "网格"]
    assert sections[0]["table"] == (
        "| 类别 | 人数 | 达标 | 未达标 | 重点人员随访达标率 |\n"
        "|---|---|---|---|---|\n"
        "| 三失一偏 | 3 | 1 | 2 | 33.3% |\n"  # 3 − 1 = 2 not met
        "| 安置帮教 | 2 | 2 | 0 | 100% |\n")
    assert sections[1]["table"].splitlines()[2:] == ["| G1 | 5 | 3 | 2 | 60% |"]
    assert fmt.key_person_sections({"grid": {"G1": {"key_person_followup_rate": None}}}) == []
