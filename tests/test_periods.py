"""Period parsing and iteration."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.errors import FengqiaoError
from fengqiao.metrics.periods import (
    Period,
    months_between,
    months_touched,
    parse_date,
    parse_period,
    recent_months,
    weeks_touched,
)


@pytest.mark.parametrize("text, start, end, label, kind", [
    ("2024-03", date(2024, 3, 1), date(2024, 3, 31), "2024-03", "month"),
    ("2024-02", date(2024, 2, 1), date(2024, 2, 29), "2024-02", "month"),
    ("２０２４－０３", date(2024, 3, 1), date(2024, 3, 31), "2024-03", "month"),
    ("2024年3月", date(2024, 3, 1), date(2024, 3, 31), "2024-03", "month"),
    ("202403", date(2024, 3, 1), date(2024, 3, 31), "2024-03", "month"),
    ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31), "2024-Q1", "quarter"),
    (" 2024 - q4 ", date(2024, 10, 1), date(2024, 12, 31), "2024-Q4", "quarter"),
    ("２０２４Ｑ２", date(2024, 4, 1), date(2024, 6, 30), "2024-Q2", "quarter"),
    ("2024年第三季度", date(2024, 7, 1), date(2024, 9, 30), "2024-Q3", "quarter"),
    ("2024-H1", date(2024, 1, 1), date(2024, 6, 30), "2024-H1", "half"),
    ("2024年下半年", date(2024, 7, 1), date(2024, 12, 31), "2024-H2", "half"),
    ("2024", date(2024, 1, 1), date(2024, 12, 31), "2024", "year"),
    ("2024年", date(2024, 1, 1), date(2024, 12, 31), "2024", "year"),
    ("2024-01-01..2024-03-31", date(2024, 1, 1), date(2024, 3, 31), "2024-01-01..2024-03-31", "custom"),
    ("2024/1/5 ～ 2024/2/3", date(2024, 1, 5), date(2024, 2, 3), "2024-01-05..2024-02-03", "custom"),
    ("2024年1月5日至2024年2月3日", date(2024, 1, 5), date(2024, 2, 3), "2024-01-05..2024-02-03", "custom"),
])
def test_parse(text: str, start: date, end: date, label: str, kind: str) -> None:
    assert parse_period(text) == Period(start, end, label, kind)  # type: ignore[arg-type]


HINT = ("可以这样写：2024-03（月）、2024-Q1（季度）、2024-H1（半年）、2024（全年）、"
        "2024-01-01..2024-03-31（自定义）。")


@pytest.mark.parametrize("text, message", [
    ("上个月", "无法识别统计期“上个月”。" + HINT),
    ("2024-Q5", "无法识别统计期“2024-Q5”。" + HINT),
    ("2024-13", "无法识别统计期“2024-13”：月份 13 不在 1 到 12 之间。" + HINT),
    ("2024-02-30..2024-03-01", "无法识别统计期“2024-02-30..2024-03-01”：2024-02-30 不是有效日期。" + HINT),
    ("", "无法识别统计期“”。" + HINT),
    # years the calendar (or the ledger's date window) cannot hold
    ("0000", "无法识别统计期“0000”：只能统计 1990 年至 2100 年之间的日期。" + HINT),
    ("0001-01", "无法识别统计期“0001-01”：只能统计 1990 年至 2100 年之间的日期。" + HINT),
    ("0000-Q1", "无法识别统计期“0000-Q1”：只能统计 1990 年至 2100 年之间的日期。" + HINT),
    ("9999-H2", "无法识别统计期“9999-H2”：只能统计 1990 年至 2100 年之间的日期。" + HINT),
    ("1989-12-01..2024-01-31",
     "无法识别统计期“1989-12-01..2024-01-31”：只能统计 1990 年至 2100 年之间的日期。" + HINT),
])
def test_bad_period(text: str, message: str) -> None:
    with pytest.raises(FengqiaoError) as err:
        parse_period(text)
    assert str(err.value) == message


def test_reversed_custom_period() -> None:
    with pytest.raises(FengqiaoError) as err:
        parse_period("2024-03-31..2024-01-01")
    assert str(err.value) == ("统计期 2024-03-31..2024-01-01 的结束日期早于开始日期。"
                              "请把较早的日期写在前面，例如 2024-01-01..2024-03-31。")


def test_days_and_previous_year() -> None:
    q1 = parse_period("2024-Q1")
    assert q1.days == 91
    assert q1.previous_year() == parse_period("2023-Q1")
    assert q1.previous_year().days == 90
    assert parse_period("2024-02").previous_year() == parse_period("2023-02")
    assert parse_period("2024-H2").previous_year() == parse_period("2023-H2")
    assert parse_period("2024").previous_year() == parse_period("2023")
    leap = parse_period("2024-02-01..2024-02-29").previous_year()
    assert (leap.start, leap.end, leap.kind) == (date(2023, 2, 1), date(2023, 2, 28), "custom")


def test_months() -> None:
    assert [p.label for p in parse_period("2024-Q1").months()] == ["2024-01", "2024-02", "2024-03"]
    assert [p.label for p in months_between(date(2023, 11, 15), date(2024, 2, 1))] == [
        "2023-11", "2023-12", "2024-01", "2024-02"]
    assert months_between(date(2024, 3, 1), date(2024, 2, 1)) == []
    assert [p.label for p in recent_months(date(2024, 2, 10), 3)] == ["2023-12", "2024-01", "2024-02"]


def test_default_as_of() -> None:
    march = parse_period("2024-03")
    assert march.default_as_of(date(2024, 5, 1)) == date(2024, 3, 31)
    assert march.default_as_of(date(2024, 3, 31)) == date(2024, 3, 31)
    assert march.default_as_of(date(2024, 3, 10)) == date(2024, 3, 10)


def test_touched_units() -> None:
    # 2024-03-01 is a Friday: March touches the weeks of Feb 26, Mar 4, 11, 18, 25
    assert weeks_touched(date(2024, 3, 1), date(2024, 3, 31)) == 5
    assert weeks_touched(date(2024, 3, 4), date(2024, 3, 10)) == 1
    assert weeks_touched(date(2024, 3, 10), date(2024, 3, 11)) == 2
    assert months_touched(date(2024, 1, 31), date(2024, 2, 1)) == 2


def test_parse_date() -> None:
    assert parse_date("2024/3/5") == date(2024, 3, 5)
    assert parse_date("２０２４年３月５日") == date(2024, 3, 5)
    assert parse_date("20240305") == date(2024, 3, 5)
    with pytest.raises(FengqiaoError) as err:
        parse_date("2024-02-30", what="统计截止日期")
    assert str(err.value) == "无法识别统计截止日期“2024-02-30”。请写成 2024-03-31 或 2024/3/31 这样的日期。"
    with pytest.raises(FengqiaoError) as err:
        parse_date("0001-01-01", what="统计截止日期")
    assert str(err.value) == "统计截止日期“0001-01-01”不在 1990 年至 2100 年之间。请检查年份是否输错。"


def test_edges_of_the_window_are_periods() -> None:
    assert parse_period("1990").start == date(1990, 1, 1)
    assert parse_period("2100-12").end == date(2100, 12, 31)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
def test_every_kind_contains_its_day(day: date) -> None:
    q = (day.month - 1) // 3 + 1
    h = 1 if day.month <= 6 else 2
    for text in (f"{day.year}-{day.month:02d}", f"{day.year}-Q{q}", f"{day.year}-H{h}", str(day.year)):
        p = parse_period(text)
        assert p.contains(day)
        assert p.label == text
        assert parse_period(p.label) == p
