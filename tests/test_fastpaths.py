"""The column-wide fast paths agree with the per-value rules they replace.

Arrow-backed text (what the CSV reader gives) takes whole-column pyarrow
kernels; object columns (xlsx) and the per-value Python rules are the
reference. Columns here are long enough (tens of thousands of rows) to look
like real ledgers, with a few planted bad cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.metrics.breakdowns import _patterns, _sums
from fengqiao.normalize import (
    _ALNUM_TABLE,
    _CONTROL_RE,
    _FULL_TABLE,
    _SLOW_ALNUM,
    STRING_DTYPE,
    _buffer_matches,
    null_where,
    parse_field,
    parse_text_column,
    set_null,
)
from fengqiao.schema import load_schema
from fengqiao.sources.csvdir import is_utf8, parse_csv
from fengqiao.validate import _isin

N = 30_000


def _arrow(values: list[str | None]) -> pd.Series:
    return pd.Series(values, dtype=STRING_DTYPE)


def _same(a, b) -> None:  # type: ignore[no-untyped-def]
    pd.testing.assert_series_equal(a.values.astype(object), b.values.astype(object),
                                   check_dtype=False)
    assert a.values.dtype == b.values.dtype
    np.testing.assert_array_equal(a.bad, b.bad)
    np.testing.assert_array_equal(a.blank, b.blank)
    assert sorted(a.issues) == sorted(b.issues)
    for code in a.issues:
        np.testing.assert_array_equal(a.issues[code], b.issues[code])
    every = np.ones(len(a.bad), dtype=bool)
    assert list(a.shown(every)) == list(b.shown(every))


def test_large_text_column_with_control_and_fullwidth() -> None:
    values: list[str | None] = [f"因宅基地边界发生争执{i}" for i in range(N)]
    values[7] = "  电话\x07联系 "
    values[12_345] = "涉及１２人"
    values[20_000] = None
    values[25_000] = "   "
    values[29_999] = "\u200b隐藏\ufeff"
    p = parse_text_column(_arrow(values))
    assert np.flatnonzero(p.issues["control-characters"]).tolist() == [7, 29_999]
    assert p.values[7] == "电话联系"
    assert p.values[12_345] == "涉及12人"
    assert p.values[29_999] == "隐藏"
    assert np.flatnonzero(p.blank).tolist() == [20_000, 25_000]
    assert pd.isna(p.values[20_000]) and pd.isna(p.values[25_000])
    assert p.values[0] == "因宅基地边界发生争执0"
    assert p.shown(np.arange(N) == 7).tolist() == ["电话联系"]


def test_large_clean_column_takes_no_fix() -> None:
    values = [f"DZ{i:07d}" for i in range(N)]
    p = parse_text_column(_arrow(values), code_like=True)
    assert p.issues == {} and not p.bad.any() and not p.blank.any()
    assert p.values.tolist() == values


def test_code_like_converts_fullwidth_punctuation() -> None:
    values = ["DZ2024-001"] * N
    values[3] = "DZ2024－００１"
    p = parse_text_column(_arrow(values), code_like=True)
    assert p.values[3] == "DZ2024-001"
    free = parse_text_column(_arrow(values), code_like=False)
    assert free.values[3] == "DZ2024－001"  # free text keeps the full-width dash


def test_buffer_scan_on_sliced_and_null_arrays() -> None:
    arr = pa.array(["ab", "c\x01d", None, "ef"], type=pa.large_string())
    assert _buffer_matches(arr, _SLOW_ALNUM)
    assert not _buffer_matches(arr.slice(2), _SLOW_ALNUM)
    assert not _buffer_matches(arr.slice(0, 1), _SLOW_ALNUM)
    assert not _buffer_matches(pa.array([None, None], type=pa.string()), _SLOW_ALNUM)
    # bytes left behind a null cell only cost a cell-by-cell check
    masked = set_null(arr, np.array([False, True, False, False]))
    p = parse_text_column(pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([masked]))))
    assert "control-characters" not in p.issues and p.blank.tolist() == [False, True, True, False]


_CHARS = [*"ab1 #\t\nRE!F", "\x00", "\x07", "\u200b", "\ufeff", "\u3000", "\u00a0", "１", "Ａ",
          "－", "（", "中", "\x1c", "\x85", "\u1680", "\u2028", "\u205f", "。", "…", "”"]
texts = st.lists(
    st.one_of(st.none(), st.sampled_from(["#REF!", " #N/A ", "#ref!\x07"]),
              st.text(alphabet=st.sampled_from(_CHARS), max_size=8)),
    min_size=1, max_size=60)


def _oracle(values: list[str | None], *, code_like: bool) -> list[str | None]:
    """Per value: control characters out, full-width converted, trimmed."""
    table = _FULL_TABLE if code_like else _ALNUM_TABLE
    out: list[str | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        t = _CONTROL_RE.sub("", v).translate(table)
        t = pa.compute.utf8_trim_whitespace(pa.array([t])).to_pylist()[0]
        out.append(t or None)
    return out


@settings(max_examples=150, deadline=None)
@given(texts, st.booleans(), st.integers(min_value=1, max_value=300))
def test_text_fast_path_matches_per_value_rules(values: list[str | None], code_like: bool,
                                                 repeat: int) -> None:
    values = values * repeat  # long columns too
    fast = parse_text_column(_arrow(values), code_like=code_like)
    slow = parse_text_column(pd.Series(values, dtype=object), code_like=code_like)
    _same(fast, slow)
    expected = _oracle(values, code_like=code_like)
    got = [None if pd.isna(v) else v for v in fast.values]
    formula = fast.bad
    assert [e for e, f in zip(expected, formula, strict=True) if not f] == \
        [g for g, f in zip(got, formula, strict=True) if not f]
    control = fast.issues.get("control-characters", np.zeros(len(values), dtype=bool))
    assert control.tolist() == [v is not None and bool(_CONTROL_RE.search(v)) for v in values]


cells = st.lists(st.one_of(st.none(), st.sampled_from(
    ["2024-03-05", "2024.3.5", "2024年3月5日", "20240305", "45000", "待补", "2024-13-45",
     " 3 ", "３", "0", "-1", "1,234", "是", "否", "√", "Y", "网格排查", "网格员排查",
     "12345", "信访 ", "#REF!", "", "  ", "\x07是"])), min_size=1, max_size=40)


@settings(max_examples=100, deadline=None)
@given(cells, st.sampled_from(["received_date", "persons_involved", "star", "source",
                               "first_try_success", "id", "village"]))
def test_arrow_and_object_columns_parse_alike(values: list[str | None], name: str) -> None:
    spec = load_schema()["disputes"].field(name)
    fast = parse_field(_arrow(values), spec, code_like=name == "id")
    slow = parse_field(pd.Series(values, dtype=object), spec, code_like=name == "id")
    _same(fast, slow)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=1, max_size=50),
       st.data())
def test_null_where_matches_mask(values: list[str | None], data: st.DataObject) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(values),
                                       max_size=len(values))), dtype=bool)
    s = _arrow(values)
    pd.testing.assert_series_equal(null_where(s, mask), s.mask(mask))
    sliced = s.iloc[1:].reset_index(drop=True)
    pd.testing.assert_series_equal(null_where(sliced, mask[1:]), sliced.mask(mask[1:]))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(list("abcdefgh"))), max_size=40),
       st.lists(st.one_of(st.none(), st.sampled_from(list("abcxyz"))), max_size=400))
def test_isin_both_directions_agree(values: list[str | None], known: list[str | None]) -> None:
    got = _isin(_arrow(values), _arrow(known))
    expected = [v is not None and v in set(known) for v in values]
    assert got.tolist() == expected


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=500), st.integers(min_value=1, max_value=12),
       st.integers(min_value=0, max_value=2**32 - 1))
def test_breakdown_patterns_match_per_column_sums(n: int, units: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ind = {f"flag{k}": rng.random(n) < rng.random() for k in range(30)}
    ind["persons"] = np.where(ind["flag0"], rng.integers(1, 9, n), 0)
    slot = rng.integers(0, units, n)
    fast, present = _sums(ind, _patterns(ind), slot, units)
    slow, present_slow = _sums(ind, None, slot, units)
    assert list(fast) == list(slow)
    for k in ind:
        np.testing.assert_array_equal(fast[k], slow[k])
    np.testing.assert_array_equal(present, present_slow)


@pytest.mark.parametrize("data", [b"\xed\xa0\x80", b"\xc0\x80", b"ab\xe4\xb8", b"\xf4\x90\x80\x80"])
def test_is_utf8_rejects_what_python_rejects(data: bytes) -> None:
    assert not is_utf8(data)
    assert is_utf8("编号,受理日期\n".encode())


def test_csv_encodings_after_the_arrow_first_read() -> None:
    text = "编号,村(社区)\nDZ1,东岭村\n"
    frame, enc = parse_csv(text.encode("utf-8"), "a.csv")
    assert enc == "utf-8" and frame.iloc[1, 1] == "东岭村"
    frame, enc = parse_csv(b"\xef\xbb\xbf" + text.encode("utf-8"), "a.csv")
    assert enc == "utf-8-sig" and frame.iloc[0, 0] == "编号"
    frame, enc = parse_csv(text.encode("gb18030"), "a.csv")
    assert enc == "gb18030" and frame.iloc[1, 1] == "东岭村"
    frame, enc = parse_csv(b"\r\n\r\n", "a.csv")
    assert enc == "utf-8" and frame.empty


_json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=False), st.text(alphabet=st.sampled_from(
        [*'ab"\\/{}[],: ', "\n", "\r", "\t", "\x00", "\x1f", "\u2028", "中", "😀"]), max_size=6))
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(alphabet=st.sampled_from([*'ab"\n{,中']), max_size=4),
                        inner, max_size=5),
        st.dictionaries(st.integers(-3, 3), inner, max_size=3)),  # keys json turns into text
    max_leaves=40)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_contract_dumps_writes_the_stdlib_bytes(value: object) -> None:
    """metrics.json is written by the C encoder a flat container at a time;
    the bytes are those of the indenting pure-Python encoder."""
    import json

    from fengqiao.metrics.contract import dumps

    doc = {"metrics": value, "overdue": [value, {"id": "DZ1", "star": 1, "x": None}],
           "nested": {"a": [[], {}, [value]]}}
    assert dumps(doc) == json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def test_trim_keeps_a_clean_column_and_trims_any_other() -> None:
    """Every Unicode character at the start and at the end of a cell: the
    result is Arrow's trim; a column with nothing to trim is kept as it is
    (no second copy of its text)."""
    from fengqiao.normalize import _trim

    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    cells = pa.array([f"中{c}" for c in chars] + [f"{c}a" for c in chars] + ["", None],
                     type=pa.large_string())
    assert _trim(cells).equals(pa.compute.utf8_trim_whitespace(cells))
    clean = pa.array(["中a", None, "b c", ""], type=pa.large_string())
    assert _trim(clean) is clean
    # bytes under a null cell (Arrow leaves them unspecified) do not hide a trim
    hidden = set_null(pa.array(["xy", " a"], type=pa.large_string()), np.array([True, False]))
    assert _trim(hidden).to_pylist() == [None, "a"]
