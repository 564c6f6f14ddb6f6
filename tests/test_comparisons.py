"""环比 and 同比 in metrics.json (contract 1.4): earlier windows worked out by
hand on a tiny ledger, the ledger-start rule, the cache a build shares, the
checker's failing and passing cases, the roll-up and the page's cells."""

from __future__ import annotations

import copy
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fengqiao.catalogue import COMPARED
from fengqiao.config import Config, load_config
from fengqiao.metrics import compute_metrics, parse_period, validate_contract
from fengqiao.metrics.comparisons import FigureCache, earlier_windows
from fengqiao.metrics.periods import Period
from fengqiao.metrics.report import metrics_table
from fengqiao.metrics.rollup import combine
from fengqiao.render import fmt
from fengqiao.render.word import baseline_rows
from metrics_helpers import dispute, ledger

# Eight cases; the ledger's first 受理日期 is 2023-03-05.
#   A 2023-03-05 closed 03-08 (已化解)   B 2023-03-20 closed 2023-04-02
#   C 2024-02-10 closed 02-12            D 2024-02-25 closed 2024-03-05
#   E 2024-03-01 closed 03-02            F 2024-03-10 closed 03-11
#   G 2024-03-15 open                    H 2024-03-20 open, 信访
# March 2024 (as of 03-31): received E F G H = 4; closed D E F = 3;
#   办结率 = received and closed by 03-31: E F = 2 / 4.
# February 2024 (环比, as of 02-29): received C D = 2; closed C = 1; 办结率 1/2.
# March 2023 (同比, as of 2023-03-31): received A B = 2; closed A = 1; 办结率 1/2.
ROWS = [
    dispute("A", "2023-03-05", closed="2023-03-08", status="已化解"),
    dispute("B", "2023-03-20", closed="2023-04-02", status="已化解"),
    dispute("C", "2024-02-10", closed="2024-02-12", status="已化解"),
    dispute("D", "2024-02-25", closed="2024-03-05", status="已化解"),
    dispute("E", "2024-03-01", closed="2024-03-02", status="已化解"),
    dispute("F", "2024-03-10", closed="2024-03-11", status="已撤回"),
    dispute("G", "2024-03-15"),
    dispute("H", "2024-03-20", source="信访"),
]
MARCH = parse_period("2024-03")


def _config(tmp_path: Path, text: str = "") -> Config:
    path = tmp_path / "fengqiao.yml"
    path.write_text("town: 枫溪镇\n" + text, encoding="utf-8")
    return load_config(path)


def _rate(n: int, d: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "value": None if d == 0 else round(n / d, 6)}


@pytest.fixture()
def started(tmp_path: Path) -> Config:
    """The town says its ledger is complete from 2023-01-01."""
    return _config(tmp_path, "ledger_start: 2023-01-01\n")


# -- the windows -------------------------------------------------------------------


def test_a_whole_period_is_compared_with_whole_periods() -> None:
    windows = earlier_windows(MARCH, date(2024, 3, 31))
    assert windows["previous"] == (Period.month(2024, 2), date(2024, 2, 29))
    assert windows["year_ago"] == (Period.month(2023, 3), date(2023, 3, 31))
    q1 = earlier_windows(parse_period("2024-Q1"), date(2024, 3, 31))
    assert [p.label for p, _ in q1.values()] == ["2023-Q4", "2023-Q1"]


def test_a_running_period_is_compared_with_the_same_stretch() -> None:
    windows = earlier_windows(MARCH, date(2024, 3, 10))  # ten days of March
    assert windows["previous"] == (Period.custom(date(2024, 2, 1), date(2024, 2, 10)),
                                   date(2024, 2, 10))
    assert windows["year_ago"] == (Period.custom(date(2023, 3, 1), date(2023, 3, 10)),
                                   date(2023, 3, 10))


def test_an_as_of_after_the_period_is_kept_the_same_days_after() -> None:
    windows = earlier_windows(parse_period("2024-02"), date(2024, 3, 31))  # 31 days after
    assert windows["previous"] == (Period.month(2024, 1), date(2024, 3, 2))
    assert windows["year_ago"] == (Period.month(2023, 2), date(2023, 3, 31))


# -- the figures, by hand ----------------------------------------------------------


def test_previous_and_year_ago_figures_by_hand(started: Config) -> None:
    c = compute_metrics(ledger({"disputes": ROWS}), MARCH, config=started)
    assert validate_contract(c) == []
    assert (c["metrics"]["received"], c["metrics"]["closed"]) == (4, 3)
    assert c["metrics"]["closure_rate"] == _rate(2, 4)
    prev, year = c["comparisons"]["previous"], c["comparisons"]["year_ago"]
    assert prev["period"] == {"start": "2024-02-01", "end": "2024-02-29", "label": "2024-02",
                              "kind": "month"}
    assert prev["as_of"] == "2024-02-29" and year["as_of"] == "2023-03-31"
    assert set(prev["metrics"]) == set(COMPARED)
    assert (prev["metrics"]["received"], prev["metrics"]["closed"]) == (2, 1)
    assert prev["metrics"]["closure_rate"] == _rate(1, 2)
    assert (year["metrics"]["received"], year["metrics"]["closed"]) == (2, 1)
    assert year["metrics"]["closure_rate"] == _rate(1, 2)
    # a year-on-year figure is compared as its count: H is the one petition
    assert c["metrics"]["petition_batches"] == {"count": 1, "previous": 0, "change": None}
    assert prev["metrics"]["petition_batches"] == 0
    assert year["metrics"]["petition_batches"] == 0
    # a figure whose tab is missing is null in every window, never 0
    assert prev["metrics"]["visit_coverage"] is None
    # the year-earlier window is the one received_yoy already uses
    assert year["metrics"]["received"] == c["metrics"]["received_yoy"]["previous"] == 2


def test_a_running_period_by_hand(started: Config) -> None:
    """March to the 10th: received E F = 2, closed D E = 2; February to the
    10th: received C, closed none (C closed on the 12th); March 2023 to the
    10th: received A, closed A."""
    c = compute_metrics(ledger({"disputes": ROWS}), MARCH, as_of=date(2024, 3, 10),
                        config=started)
    assert validate_contract(c) == []
    assert (c["metrics"]["received"], c["metrics"]["closed"]) == (2, 2)
    prev, year = c["comparisons"]["previous"], c["comparisons"]["year_ago"]
    assert prev["period"]["label"] == "2024-02-01..2024-02-10" and prev["as_of"] == "2024-02-10"
    assert (prev["metrics"]["received"], prev["metrics"]["closed"]) == (1, 0)
    assert prev["metrics"]["closure_rate"] == _rate(0, 1)
    assert prev["metrics"]["on_time_rate"] == _rate(0, 0)  # nothing closed: value null
    assert year["period"]["label"] == "2023-03-01..2023-03-10"
    assert (year["metrics"]["received"], year["metrics"]["closed"]) == (1, 1)
    assert year["metrics"]["closure_rate"] == _rate(1, 1)


def test_a_window_before_the_ledger_starts_is_unknown_not_zero(tmp_path: Path) -> None:
    """Without ledger_start the ledger starts at its first 受理日期, 2023-03-05:
    March 2023 begins before it, so nothing of it is known; February 2024 is."""
    c = compute_metrics(ledger({"disputes": ROWS}), MARCH, config=_config(tmp_path))
    assert validate_contract(c) == []
    assert c["comparisons"]["year_ago"]["metrics"] == dict.fromkeys(COMPARED)
    assert c["comparisons"]["year_ago"]["period"]["label"] == "2023-03"
    assert c["comparisons"]["previous"]["metrics"]["received"] == 2
    # so is the year-on-year figures' own year-earlier count: E F G H against
    # an unknown March 2023, not against A B as if the ledger were complete
    assert c["metrics"]["received_yoy"] == {"count": 4, "previous": None, "change": None}
    assert c["metrics"]["petition_batches"] == {"count": 1, "previous": None, "change": None}
    known = compute_metrics(ledger({"disputes": ROWS}), MARCH,
                            config=_config(tmp_path, "ledger_start: 2023-03-01\n"))
    assert known["metrics"]["received_yoy"] == {"count": 4, "previous": 2, "change": 1.0}
    # a ledger_start after the window makes it unknown too
    late = _config(tmp_path, "ledger_start: 2024-02-02\n")
    c = compute_metrics(ledger({"disputes": ROWS}), MARCH, config=late)
    assert c["comparisons"]["previous"]["metrics"]["received"] is None


def test_an_unknown_year_earlier_count_reads_as_a_dash(tmp_path: Path) -> None:
    """Every place that words a year-on-year figure says "上年同期 —" for it,
    never "0" or "None": the statistics table, the Markdown report, the Word
    report's 五个底数清."""
    c = compute_metrics(ledger({"disputes": ROWS}), MARCH, config=_config(tmp_path))
    assert fmt.change(c["metrics"]["received_yoy"]) == "4（上年同期 —）"
    table = metrics_table(c)
    assert "上年同期 —（台账未覆盖）" in table and "None" not in table
    petitions = dict(baseline_rows(c))["群体性纠纷与信访"]
    assert "信访 1 批次（上年同期 —）" in petitions and "None" not in petitions


def test_a_build_computes_a_window_once(started: Config) -> None:
    """January to March with one cache: February's 环比 is January, March's
    is February, both already there; only December and the three months of
    2023 are computed for the comparisons. The figures are the same."""
    book = ledger({"disputes": ROWS})
    months = [Period.month(2024, m) for m in (1, 2, 3)]
    cache = FigureCache(book, started)
    shared = [compute_metrics(book, p, config=started, cache=cache) for p in months]
    alone = [compute_metrics(book, p, config=started) for p in months]
    assert cache.extra == 4
    assert shared == alone
    with pytest.raises(ValueError):
        compute_metrics(ledger({"disputes": ROWS}), MARCH, config=started, cache=cache)


# -- the checker: failing and passing ------------------------------------------------


@pytest.fixture()
def good(started: Config) -> dict[str, Any]:
    return compute_metrics(ledger({"disputes": ROWS}), MARCH, config=started)


def test_checker_passes_a_computed_file(good: dict[str, Any]) -> None:
    assert validate_contract(good) == []
    assert good["schema_version"] == "1.6"


def test_checker_recomputes_an_earlier_rate(good: dict[str, Any]) -> None:
    bad = copy.deepcopy(good)
    bad["comparisons"]["previous"]["metrics"]["closure_rate"]["value"] = 0.6
    assert validate_contract(bad) == [
        "comparisons/previous/metrics/closure_rate：比率值 0.6 与 分子 1 ÷ 分母 2 不符（应为 0.5）。"]


def test_checker_ties_an_earlier_rate_to_its_count(good: dict[str, Any]) -> None:
    bad = copy.deepcopy(good)
    bad["comparisons"]["previous"]["metrics"]["closure_rate"] = _rate(1, 3)
    assert validate_contract(bad) == [
        "comparisons/previous/metrics/closure_rate：分母 3 应等于上期的受理数 2。"]


def test_checker_ties_year_ago_counts_to_the_year_on_year_figures(good: dict[str, Any]) -> None:
    bad = copy.deepcopy(good)
    bad["comparisons"]["year_ago"]["metrics"]["petition_batches"] = 3
    assert validate_contract(bad) == [
        "comparisons/year_ago/metrics/petition_batches：上年同期 3 与 "
        "metrics/petition_batches 的 previous 0 不符。"]


def test_checker_wants_a_known_year_earlier_count(good: dict[str, Any]) -> None:
    """March 2023 is known (2 received), so received_yoy may not say "unknown";
    and an unknown count has no change."""
    bad = copy.deepcopy(good)
    bad["metrics"]["received_yoy"] = {"count": 4, "previous": None, "change": None}
    assert validate_contract(bad) == [
        "comparisons/year_ago/metrics/received_yoy：上年同期 2 与 "
        "metrics/received_yoy 的 previous null 不符。",
        "comparisons/year_ago/metrics/received：上年同期 2 与 "
        "metrics/received_yoy 的 previous null 不符。"]
    unknown = copy.deepcopy(good)
    unknown["comparisons"]["year_ago"]["metrics"] = dict.fromkeys(COMPARED)
    del unknown["comparisons"]["year_ago"]["distributions"]  # an unknown window has none
    for key in ("received_yoy", "petition_batches", "petition_persons", "group_cases"):
        unknown["metrics"][key]["previous"] = None
        unknown["metrics"][key]["change"] = None
    assert validate_contract(unknown) == []
    unknown["metrics"]["received_yoy"]["change"] = 1.0
    assert validate_contract(unknown) == [
        "metrics/received_yoy：同比变化 1.0 与本期 4、上年同期 null 不符（应为 null）。"]


def test_earlier_medians_come_with_their_distributions(good: dict[str, Any]) -> None:
    """February 2024 closed C (2 days); March 2023 closed A (3 days; B closed
    in April): each earlier median is its window's, from its distribution."""
    prev, year = good["comparisons"]["previous"], good["comparisons"]["year_ago"]
    # the same distributions as the file's own: 交办天数 empty (no 交办日期 filled)
    assert prev["distributions"] == {"days_to_close": {"2": 1}, "assign_days": {}}
    assert set(good["distributions"]) == set(prev["distributions"])
    assert prev["metrics"]["median_days"] == 2.0
    assert year["distributions"] == {"days_to_close": {"3": 1}, "assign_days": {}}
    assert year["metrics"]["median_days"] == 3.0
    assert prev["metrics"]["assign_days_median"] is None
    # the statistics page: "2 天" before, and the change in days
    assert fmt.earlier_cells("median_days", good["metrics"]["median_days"],
                             prev["metrics"]["median_days"]) == ("2 天", "-1 天")


def test_checker_ties_an_earlier_median_to_its_distribution(good: dict[str, Any]) -> None:
    bad = copy.deepcopy(good)
    bad["comparisons"]["previous"]["metrics"]["median_days"] = 5.0
    assert validate_contract(bad) == [
        "comparisons/previous/metrics/median_days：5.0 与 distributions/days_to_close "
        "算出的 2.0 不符。"]
    bad = copy.deepcopy(good)
    del bad["comparisons"]["year_ago"]["distributions"]
    assert validate_contract(bad) == [
        "comparisons/year_ago/metrics/median_days：3.0 与 这一段没有 "
        "distributions/days_to_close，应为 null 不符。"]
    # a file from before 1.6 compares no medians, and stays valid
    older = copy.deepcopy(good)
    for kind in ("previous", "year_ago"):
        del older["comparisons"][kind]["distributions"]
        for key in ("median_days", "assign_days_median"):
            del older["comparisons"][kind]["metrics"][key]
    assert validate_contract(older) == []


def test_checker_wants_every_compared_figure(good: dict[str, Any]) -> None:
    bad = copy.deepcopy(good)
    del bad["comparisons"]["year_ago"]["metrics"]["closure_rate"]
    assert validate_contract(bad) == ["comparisons/year_ago/metrics：缺少 closure_rate。"]


def test_checker_refuses_a_wrong_shape(good: dict[str, Any]) -> None:
    bad = copy.deepcopy(good)
    bad["comparisons"]["previous"]["metrics"]["received"] = "2"
    problems = validate_contract(bad)
    assert problems and problems[0].startswith("comparisons/previous/metrics/received：")
    older = copy.deepcopy(good)
    del older["comparisons"]  # a file before 1.4 stays valid
    assert validate_contract(older) == []


# -- the roll-up --------------------------------------------------------------------


def _town(name: str, rows: list[dict[str, Any]], config: Config,
          as_of: date | None = None) -> dict[str, Any]:
    return compute_metrics(ledger({"disputes": rows}, town=name), MARCH, config=config,
                           as_of=as_of)


def test_a_rollup_adds_the_earlier_figures(started: Config) -> None:
    east, west = _town("东镇", ROWS[:4], started), _town("西镇", ROWS[4:], started)
    county = combine([east, west], name="示范县")
    assert validate_contract(county) == []
    whole = compute_metrics(ledger({"disputes": ROWS}), MARCH, config=started)
    assert county["comparisons"] == whole["comparisons"]


def test_a_rollup_does_not_know_what_one_town_does_not(tmp_path: Path, started: Config) -> None:
    """西镇 keeps its ledger from 2024-02-01: its March 2023 is unknown, so
    the county's is too, never 东镇's count alone; February it knows (0)."""
    east = _town("东镇", ROWS[:4], started)
    west = _town("西镇", ROWS[4:], _config(tmp_path, "ledger_start: 2024-02-01\n"))
    county = combine([east, west], name="示范县")
    assert validate_contract(county) == []
    assert county["comparisons"]["year_ago"]["metrics"]["received"] is None
    assert county["comparisons"]["previous"]["metrics"]["received"] == 2
    # 东镇 knows its March 2023 (A B), 西镇 does not: the county's is unknown
    assert east["metrics"]["received_yoy"]["previous"] == 2
    assert west["metrics"]["received_yoy"]["previous"] is None
    assert county["metrics"]["received_yoy"] == {"count": 4, "previous": None, "change": None}
    # towns judged at different dates compare different windows: unknown
    late = _town("西镇", ROWS[4:], started, as_of=date(2024, 3, 10))
    mixed = combine([east, late], name="示范县")
    assert mixed["comparisons"]["previous"]["period"] is None
    assert mixed["comparisons"]["previous"]["metrics"] == dict.fromkeys(COMPARED)
    # a town's file from before 1.4 has no comparisons: the county has none
    older = copy.deepcopy(west)
    del older["comparisons"]
    assert "comparisons" not in combine([east, older], name="示范县")


# -- the statistics page's cells -----------------------------------------------------


def test_changes_read_as_percent_points_and_days() -> None:
    assert fmt.earlier_cells("received", 30, 24) == ("24", "+25%")
    assert fmt.earlier_cells("received", 3, 0) == ("0", "—")  # no percentage of nothing
    assert fmt.earlier_cells("received", 3, None) == ("—", "—")
    assert fmt.earlier_cells("petition_batches", {"count": 2, "previous": 4, "change": -0.5}, 4) \
        == ("4", "-50%")
    assert fmt.earlier_cells("closure_rate", _rate(24, 30), _rate(19, 24)) \
        == ("79.2%", "+0.8 个百分点")
    assert fmt.earlier_cells("closure_rate", _rate(24, 30), _rate(0, 0)) == ("—", "—")
    assert fmt.earlier_cells("closure_rate", _rate(0, 0), _rate(1, 2)) == ("50%", "—")
    assert fmt.earlier_cells("on_time_rate", _rate(9, 10), _rate(9, 10)) == ("90%", "0 个百分点")
    assert fmt.earlier_cells("disposition_days", _rate(150, 25), _rate(150, 20)) \
        == ("7.5 天", "-1.5 天")


def test_the_schema_lists_the_compared_figures() -> None:
    """The JSON Schema's earlier window names exactly the catalogue's
    compared figures, each a count or a rate as in ``metrics``, or null."""
    from fengqiao.catalogue import METRICS
    from fengqiao.metrics.contract import json_schema

    schema = json_schema()
    earlier = schema["$defs"]["earlier"]["properties"]["metrics"]["properties"]
    assert set(earlier) == set(COMPARED)
    for metric_id, node in earlier.items():
        if METRICS[metric_id].shape == "number":  # a median: days, as in metrics
            assert node == {"type": ["number", "null"], "minimum": 0}
            continue
        shape = "rate" if METRICS[metric_id].shape == "rate" else "count"
        assert node == {"anyOf": [{"$ref": f"#/$defs/{shape}"}, {"type": "null"}]}
    assert "comparisons" not in schema["required"]  # a file before 1.4 stays valid
