"""Column parsers, header and tab location (fengqiao.normalize)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from fengqiao.normalize import (
    header_key,
    locate_header,
    locate_tabs,
    parse_boolean_column,
    parse_booleans,
    parse_date_column,
    parse_dates,
    parse_enum_column,
    parse_field,
    parse_integer_column,
    parse_integers,
    parse_text_column,
)
from fengqiao.schema import load_schema
from fengqiao.sources.base import RawTable

SCHEMA = load_schema()
DISPUTES = SCHEMA["disputes"]
TS = pd.Timestamp("2024-03-05")


def vals(series: pd.Series) -> list[object]:
    """Values with every kind of NA as None, so lists compare plainly."""
    return [None if pd.isna(v) else v for v in series.tolist()]


def issues(parsed) -> dict[str, list[int]]:
    return {code: np.flatnonzero(mask).tolist() for code, mask in parsed.issues.items()}


MESSY_DATES = [
    "2024.3.5", "2024/03/05", "2024-3-5", "2024年3月5日", "2024年3月5号", "20240305",
    20240305, 45356, 45356.0, 45356.75, "45356", "２０２４－０３－０５", "２０２４年３月５日",
    "2024-03-05 14:30", "2024-03-05 14:30:59", "2024/3/5 8:05", "2024-03-05T14:30:00",
    "2024-03-05T14:30:00+08:00", " 2024-03-05\u3000 ", "2024 年 3 月 5 日",
    datetime(2024, 3, 5, 14, 30), date(2024, 3, 5), pd.Timestamp("2024-03-05 09:00"),
    np.datetime64("2024-03-05"), "\ufeff2024-03-05",
]


@pytest.mark.parametrize("value", MESSY_DATES, ids=repr)
def test_every_spelling_of_a_date(value: object) -> None:
    values, bad = parse_dates(pd.Series([value], dtype=object))
    assert values.tolist() == [TS]
    assert bad.tolist() == [False]
    assert str(values.dtype) == "datetime64[ns]"


def test_bad_dates_and_codes() -> None:
    raw = ["2024-02-30", "2024-13-01", "abc", "1985-06-01", "2204-01-01", "#REF!", "#n/a",
           3, True, "2024-03-05 25:00", None, "", "  ", "19850601", 10000000, "3月5日"]
    p = parse_date_column(pd.Series(raw, dtype=object))
    assert p.values.isna().all()
    assert issues(p) == {
        "bad-date": [0, 1, 2, 8, 9, 15],
        # a number is a day count to a spreadsheet: 3 and 10000000 are days
        # far outside the window, not unreadable text
        "date-out-of-range": [3, 4, 7, 13, 14],
        "formula-error": [5, 6],
    }
    assert p.blank.tolist() == [False] * 10 + [True, True, True] + [False] * 3
    assert p.shown(p.bad).tolist()[:3] == ["2024-02-30", "2024-13-01", "abc"]


def test_date_column_maps_back_repeated_values() -> None:
    raw = pd.Series(["2024-3-5", "2024.3.5", None, "2024-3-5", 45357] * 3, dtype=object)
    values, bad = parse_dates(raw)
    assert vals(values) == [TS, TS, None, TS, pd.Timestamp("2024-03-06")] * 3
    assert not bad.any()


@pytest.mark.parametrize("number", [106752, 106752.5, 109574, 0, -1, -1e300, 1e300,
                                    float("inf"), float("-inf"), 2**63, -(2**63)])
def test_any_number_in_a_date_column_is_out_of_range(number: object) -> None:
    # 106752 days is one past a nanosecond timedelta's range: it used to raise
    p = parse_date_column(pd.Series([number, 45356], dtype=object))
    assert issues(p) == {"date-out-of-range": [0]}
    assert vals(p.values) == [None, pd.Timestamp("2024-03-05")]


def test_largest_serial_in_the_window_is_a_date() -> None:
    # 73415 is 2100-12-31, the last accepted day; 73416 is the day after
    p = parse_date_column(pd.Series([73415, 73416], dtype=object))
    assert vals(p.values) == [pd.Timestamp("2100-12-31"), None]
    assert issues(p) == {"date-out-of-range": [1]}


def test_datetime_objects_out_of_range() -> None:
    p = parse_date_column(pd.Series([datetime(1899, 12, 31), date(2150, 1, 1)], dtype=object))
    assert issues(p) == {"date-out-of-range": [0, 1]}
    assert p.shown(p.bad).tolist() == ["1899-12-31", "2150-01-01"]


def test_integers() -> None:
    raw = [3, "3", "３", 3.0, "3.0", " 12 ", "1,200", "3人", "3.5", 3.5, "三", True, None, ""]
    p = parse_integer_column(pd.Series(raw, dtype=object))
    assert p.values.tolist()[:7] == [3, 3, 3, 3, 3, 12, 1200]
    assert p.values.iloc[7:].isna().all()
    assert str(p.values.dtype) == "Int64"
    assert issues(p) == {"bad-integer": [7, 8, 9, 10, 11]}
    assert p.blank.tolist() == [False] * 12 + [True, True]


def test_true_and_one_are_not_merged() -> None:
    # True == 1 in Python; a checkbox must not make the number 1 a bad integer
    values, bad = parse_integers(pd.Series([True, 1, 1.0, "1"], dtype=object))
    assert bad.tolist() == [True, False, False, False]
    assert values.iloc[1:].tolist() == [1, 1, 1]


def test_integer_minimum() -> None:
    p = parse_field(pd.Series([0, 1, -2, "5"], dtype=object), DISPUTES.field("persons_involved"))
    assert issues(p) == {"below-minimum": [0, 2]}
    assert vals(p.values) == [None, 1, None, 5]


def test_booleans_from_field_values() -> None:
    spec = DISPUTES.field("first_try_success")
    raw = ["是", "√", "Y", "ｙ", "yes", "TRUE", True, 1, "1", "否", "×", "N", False, 0, "无", "maybe",
           None]
    p = parse_boolean_column(pd.Series(raw, dtype=object), spec)
    assert vals(p.values)[:15] == [True] * 9 + [False] * 5 + [None]
    assert issues(p) == {"bad-boolean": [14, 15]}
    # 有/无 is allowed for 发现问题 in 走访记录
    values, bad = parse_booleans(pd.Series(["有", "无"]), SCHEMA["visits"].field("issue_found"))
    assert values.tolist() == [True, False] and not bad.any()


def test_enum_aliases_and_full_width() -> None:
    spec = DISPUTES.field("status")
    raw = ["已化解", "化解", " 调处中 ", "在 办", "调解成功", "已结", None]
    p = parse_enum_column(pd.Series(raw, dtype=object), spec)
    assert vals(p.values) == ["已化解", "已化解", "调处中", "调处中", "已化解", None, None]
    assert issues(p) == {"not-in-enum": [5]}
    src = parse_field(pd.Series(["１２３４５", "12345热线", "１１０接处警"]), DISPUTES.field("source"))
    assert src.values.tolist() == ["12345热线", "12345热线", "110转办"]


def test_star_enum() -> None:
    spec = DISPUTES.field("star")
    raw = [1, 2.0, "3", "２", "★★", "三星", "2星", 4, "0", "abc", None]
    p = parse_field(pd.Series(raw, dtype=object), spec)
    assert p.values.tolist()[:7] == [1, 2, 3, 2, 2, 3, 2]
    assert str(p.values.dtype) == "Int64"
    assert issues(p) == {"not-in-enum": [7, 8, 9]}


def test_text_normalisation() -> None:
    raw = ["ＤＺ２０２４－０００１ ", "东\u3000村", "a\x07b\u200b", "x" * 2001, "#DIV/0!", "  ", None]
    p = parse_text_column(pd.Series(raw, dtype=object), code_like=True)
    assert p.values.tolist()[:3] == ["DZ2024-0001", "东 村", "ab"]
    assert p.values.iloc[3] == "x" * 2001  # a warning keeps the text
    assert p.values.iloc[4:].isna().all()
    assert issues(p) == {"formula-error": [4], "control-characters": [2],
                         "text-too-long": [3]}
    assert p.blank.tolist() == [False] * 5 + [True, True]


def test_free_text_keeps_chinese_punctuation() -> None:
    p = parse_text_column(pd.Series(["因宅基地（东侧）争执，已调解 ", "１２户"]))
    assert p.values.tolist() == ["因宅基地（东侧）争执，已调解", "12户"]


def test_text_from_numbers() -> None:
    p = parse_text_column(pd.Series([1001, 1001.0, "1001", None], dtype=object), code_like=True)
    assert vals(p.values) == ["1001", "1001", "1001", None]


def test_header_key_ignores_widths_spaces_and_brackets() -> None:
    assert header_key("村（社区）") == header_key("村(社区)") == header_key(" 村 ( 社区 )")
    assert header_key("＊编号") == header_key("编号\n") == "编号"


def _raw(rows: list[list[object]], first_row: int = 1) -> RawTable:
    return RawTable("纠纷台账", pd.DataFrame(rows, dtype=object), first_row)


def test_header_under_title_rows_with_aliases() -> None:
    raw = _raw([
        ["示范镇矛盾纠纷台账", None, None, None, None],
        ["填报单位：镇综治中心", None, "2024年", None, None],
        ["序号", "案件编号", "受理时间", "村（社区）", "备用"],
        [1, "D1", "2024-03-05", "东村", None],
    ])
    match = locate_header(raw, DISPUTES)
    assert match is not None
    assert (match.index, match.sheet_row) == (2, 3)
    assert match.columns == {"id": 1, "received_date": 2, "village": 3}
    assert match.headers == {"id": "案件编号", "received_date": "受理时间", "village": "村（社区）"}


def test_header_duplicates_title_wins_over_alias() -> None:
    raw = _raw([["纠纷编号", "受理日期", "编号", "受理时间"]], first_row=4)
    match = locate_header(raw, DISPUTES)
    assert match is not None and match.sheet_row == 4
    assert match.columns == {"id": 2, "received_date": 1}
    assert match.duplicates == [(0, "纠纷编号", "id"), (3, "受理时间", "received_date")]


def test_header_with_note_in_brackets() -> None:
    match = locate_header(_raw([["编号(必填)", "受理日期（格式2024-03-05）"]]), DISPUTES)
    assert match is not None and match.columns == {"id": 0, "received_date": 1}


def test_no_header() -> None:
    assert locate_header(_raw([["甲", "乙"], [1, 2]]), DISPUTES) is None


def test_locate_tabs() -> None:
    tabs = [SCHEMA[name] for name in ("disputes", "grids", "key_persons", "key_person_visits")]
    names = ["说明", "2024年矛盾纠纷登记台账", "网格 ", "重点人员随访记录", "重点人群"]
    assert locate_tabs(names, tabs) == {
        "disputes": "2024年矛盾纠纷登记台账", "grids": "网格 ",
        "key_persons": "重点人群", "key_person_visits": "重点人员随访记录",
    }
    # full-width and spaced spellings still match; nothing matches a short fragment
    assert locate_tabs(["纠纷 台账", "网格员名单"], tabs) == {"disputes": "纠纷 台账"}
