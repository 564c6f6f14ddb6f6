"""Invariants over the whole path from raw cells: RawTable → validate_workbook
→ compute_metrics, on random ledgers typed the way township staff type them.

``tests/test_rollup.py`` checks the identities on typed ledgers built
directly; here the rows start as raw cells (title rows, blank rows, dates as
text in five spellings or as serial numbers, full-width digits, aliases for
stars and statuses, ``√``) and some rows are invalid (no id, a repeated id, a
date that is not one, a star of 4), so the validator's choices about which
rows count are part of what is checked:

* ``pending_start + received == closed + pending_end`` (the identity
  test_rollup.py documents, with e' = min(period end, as-of));
* every rate lies in [0, 1] except clearance_rate and disposition_days, and a
  rate is null exactly when its denominator is 0;
* every data row is counted or excluded, and the excluded rows are exactly
  the rows the generator made invalid in a key field.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fengqiao.config import load_config
from fengqiao.metrics import compute_metrics, validate_contract
from fengqiao.metrics.periods import Period
from fengqiao.sources.base import RawTable, RawWorkbook, SourceInfo
from fengqiao.validate import validate_workbook
from test_rollup import BASE, periods

CONFIG = load_config()
HEADER = ["案件编号", "受理时间", "纠纷来源", "村（社区）", "类型", "人数", "星级评定",
          "办理状态", "首调成功", "结案日期"]
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
EPOCH = date(1899, 12, 30)

GOOD_STARS = {1: [1, 1.0, "1", "１", "一星", "★", "1星"], 2: [2, "2", "二星", "★★"],
              3: [3, "3", "三星", "★★★", "3星"]}
BAD_STARS = [4, "五星", None, "#REF!"]
STATUSES = {"open": ["调处中", "在办", "调解中", "办理中 "],
            "closed": ["已化解", "化解", "转司法", "诉讼", "已终结", "撤回", "已撤回"]}
BAD_DATES = ["2024.13.01", "不详", "#REF!", "2024年2月30日"]


def spell(day: date, style: int) -> Any:
    """One of the ways a date reaches us from a real sheet."""
    if style == 0:
        return day
    if style == 1:
        return datetime(day.year, day.month, day.day, 9, 30)
    if style == 2:
        return float((day - EPOCH).days)  # an Excel serial number
    if style == 3:
        return f"{day.year}.{day.month}.{day.day}"
    if style == 4:
        return f"{day.year}年{day.month}月{day.day}日"
    if style == 5:
        return f"{day:%Y%m%d}"
    if style == 6:
        return f"{day:%Y/%m/%d}".translate(FULL_WIDTH)
    return f" {day.isoformat()} "


case = st.fixed_dictionaries({
    # "ok", or how the row is made invalid in a key field
    "key": st.sampled_from(["ok"] * 6 + ["no-id", "repeat-id", "bad-date", "bad-star"]),
    "received": st.integers(0, 900),
    "received_style": st.integers(0, 7),
    "star": st.integers(1, 3),
    "star_spelling": st.integers(0, 6),
    "bad": st.integers(0, 3),
    "closed": st.sampled_from(["open", "closed"]),
    "status_spelling": st.integers(0, 6),
    "took": st.none() | st.integers(-5, 120),  # negative: 办结日期 before 受理日期
    "closed_style": st.integers(0, 7),
    "village": st.sampled_from(["东村", "西村 ", "南村"]),
    "first": st.sampled_from(["是", "√", "Y", "否", None]),
    "persons": st.sampled_from([2, "3", "３", "两人", None]),
    "blank_after": st.booleans(),
})


def raw_workbook(cases: list[dict[str, Any]], title_rows: int
                 ) -> tuple[RawWorkbook, set[int], dict[int, tuple[date, int]]]:
    """The raw tab, the sheet rows the generator made invalid, and the
    (受理日期, 星级) each valid row must be read as."""
    rows: list[list[Any]] = [["东村矛盾纠纷调处化解台账"]] * title_rows + [HEADER]
    invalid: set[int] = set()
    seen: set[str] = set()
    meant: dict[int, tuple[date, int]] = {}
    for i, c in enumerate(cases):
        received = BASE + timedelta(days=c["received"])
        key = c["key"]
        ident = None if key == "no-id" else "D000" if key == "repeat-id" else f"D{i:03d}"
        if key == "repeat-id" and ident not in seen:
            key = "ok"  # the first row with this id stays
        if ident is not None:
            seen.add(ident)
        if key != "ok":
            invalid.add(len(rows) + 1)
        else:
            meant[len(rows) + 1] = (received, c["star"])
        stars = GOOD_STARS[c["star"]]
        star = BAD_STARS[c["bad"]] if key == "bad-star" else stars[c["star_spelling"] % len(stars)]
        statuses = STATUSES[c["closed"]]
        closed_at = None
        if c["took"] is not None:
            closed_at = spell(received + timedelta(days=c["took"]), c["closed_style"])
        rows.append([
            ident,
            BAD_DATES[c["bad"]] if key == "bad-date" else spell(received, c["received_style"]),
            "群众来访", c["village"], "邻里", c["persons"], star,
            statuses[c["status_spelling"] % len(statuses)], c["first"], closed_at,
        ])
        if c["blank_after"]:
            rows.append([None] * len(HEADER))
    frame = pd.DataFrame(rows, dtype=object)
    table = RawTable("纠纷台账", frame, first_row=1)
    info = SourceInfo("xlsx", "随机台账.xlsx", "/tmp/随机台账.xlsx", sha256="0" * 64)
    return RawWorkbook(info, {"纠纷台账": table}), invalid, meant


def _rates(metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in metrics.items()
            if isinstance(v, dict) and {"numerator", "denominator", "value"} <= set(v)}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(case, min_size=0, max_size=30), period=periods(),
       lag=st.integers(-20, 60), title_rows=st.integers(0, 2))
def test_raw_rows_to_figures(cases: list[dict[str, Any]], period: Period, lag: int,
                             title_rows: int) -> None:
    workbook, invalid, meant = raw_workbook(cases, title_rows)
    ledger = validate_workbook(workbook, config=CONFIG)
    counted = ledger.tables["disputes"]
    excluded = ledger.excluded["disputes"]

    # every data row is counted or excluded, and exactly the invalid ones are excluded
    assert len(counted) + len(excluded) == len(cases)
    assert set(excluded["_row"]) == invalid
    assert set(counted["_row"]).isdisjoint(invalid)
    errors_in_keys = {f.row for f in ledger.errors
                      if f.field in ("id", "received_date", "star")}
    assert errors_in_keys == invalid
    # and every spelling was read as the date and star that was meant
    read = {int(r): (d.date(), int(s)) for r, d, s in
            zip(counted["_row"], counted["received_date"], counted["star"], strict=True)}
    assert read == meant

    as_of = max(period.start, period.end + timedelta(days=lag))
    contract = compute_metrics(ledger, period, as_of=as_of, config=CONFIG)
    assert validate_contract(contract) == []
    assert contract["excluded_rows"]["disputes"]["count"] == len(invalid)
    m = contract["metrics"]
    assert m["pending_start"] + m["received"] == m["closed"] + m["pending_end"]
    assert sum(m["level_mix"].values()) <= m["closed"]
    for key, rate in _rates(m).items():
        assert (rate["value"] is None) == (rate["denominator"] == 0), key
        if rate["value"] is not None and key not in ("clearance_rate", "disposition_days"):
            assert 0 <= rate["value"] <= 1, key
            assert 0 <= rate["numerator"] <= rate["denominator"], key
    assert m["received"] <= len(counted)
