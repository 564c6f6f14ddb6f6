"""Property tests: the parsers never raise, every non-blank value either
parses or is flagged, and valid dates survive every spelling."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fengqiao.normalize import (
    parse_boolean_column,
    parse_date_column,
    parse_integer_column,
    parse_text_column,
)
from fengqiao.schema import load_schema

FIRST_TRY = load_schema()["disputes"].field("first_try_success")

cells = st.one_of(
    st.text(max_size=30),
    st.integers(min_value=-10**20, max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
    st.dates(),
)
columns = st.lists(cells, max_size=20)


def _each_row_parsed_or_flagged(parsed) -> None:  # type: ignore[no-untyped-def]
    present = parsed.values.notna().to_numpy()
    assert not (present & parsed.bad).any()          # a bad value is never kept
    assert not (present & parsed.blank).any()        # a blank is never a value
    assert (present | parsed.bad | parsed.blank).all()  # nothing falls through


@settings(max_examples=150, deadline=None)
@given(columns)
@example([106752])  # one day past a nanosecond timedelta's range (found by hypothesis)
@example([-1e300, 1e300, float("inf"), 0, 5, 20241345])
def test_date_parser_total(values: list[object]) -> None:
    p = parse_date_column(pd.Series(values, dtype=object))
    assert str(p.values.dtype) == "datetime64[ns]"
    _each_row_parsed_or_flagged(p)
    ok = p.values.dropna()
    assert ((ok >= pd.Timestamp("1990-01-01")) & (ok <= pd.Timestamp("2100-12-31"))).all()


@settings(max_examples=150, deadline=None)
@given(columns)
def test_integer_parser_total(values: list[object]) -> None:
    p = parse_integer_column(pd.Series(values, dtype=object))
    assert str(p.values.dtype) == "Int64"
    _each_row_parsed_or_flagged(p)


@settings(max_examples=150, deadline=None)
@given(columns)
def test_boolean_parser_total(values: list[object]) -> None:
    p = parse_boolean_column(pd.Series(values, dtype=object), FIRST_TRY)
    assert str(p.values.dtype) == "boolean"
    _each_row_parsed_or_flagged(p)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=40), st.none()), max_size=20))
def test_text_parser_total(values: list[object]) -> None:
    p = parse_text_column(pd.Series(values, dtype=object))
    _each_row_parsed_or_flagged(p)
    for v in p.values.dropna():
        assert v == v.strip() and v != ""


def _spellings(d: date) -> list[object]:
    wide = str.maketrans("0123456789-", "０１２３４５６７８９－")
    serial = (d - date(1899, 12, 30)).days
    return [
        d.isoformat(), f"{d.year}.{d.month}.{d.day}", f"{d.year}/{d.month:02d}/{d.day:02d}",
        f"{d.year}-{d.month}-{d.day}", f"{d.year}年{d.month}月{d.day}日", d.strftime("%Y%m%d"),
        int(d.strftime("%Y%m%d")), serial, float(serial), str(serial), d.isoformat().translate(wide),
        f"{d.isoformat()} 08:30", f" {d.isoformat()}  ", datetime(d.year, d.month, d.day, 23, 59), d,
    ]


@settings(max_examples=150, deadline=None)
@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_valid_dates_round_trip(d: date) -> None:
    p = parse_date_column(pd.Series(_spellings(d), dtype=object))
    assert not p.bad.any()
    assert p.values.tolist() == [pd.Timestamp(d)] * len(_spellings(d))


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=-10**15, max_value=10**15))
def test_integers_round_trip(n: int) -> None:
    wide = str.maketrans("0123456789-", "０１２３４５６７８９－")
    spellings: list[object] = [n, float(n), str(n), f"{n}.0", f" {n} ", str(n).translate(wide)]
    p = parse_integer_column(pd.Series(spellings, dtype=object))
    assert not p.bad.any()
    assert p.values.tolist() == [n] * len(spellings)
