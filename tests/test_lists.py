"""问题清单, 解决清单 and the supervision list, as of 2024-03-31 (calendar days, 5/15/60)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from fengqiao.config import load_config
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import parse_period
from fengqiao.metrics.lists import (
    PROBLEM_COLUMNS,
    SOLUTION_COLUMNS,
    SUPERVISION_COLUMNS,
    newest_first,
    problem_list,
    solution_list,
    supervision_list,
)
from metrics_helpers import d, dispute, ledger

CONFIG = load_config()
AS_OF = d("2024-03-31")

DISPUTES = [
    # open, 1★ received 03-20: deadline 03-25, 6 over → days_left -6
    dispute("A", "2024-03-20", responsible_unit="司法所", lead_official="王镇长", grid_id="G1"),
    # open, 2★ received 03-18: deadline 04-02 → 2 left (= warn_days)
    dispute("B", "2024-03-18", star=2, village="西坡村", dispute_type="劳资"),
    # open, 3★ received 03-01: deadline 04-30 → 30 left
    dispute("C", "2024-03-01", star=3),
    # closed 03-12 after 2 days
    dispute("E", "2024-03-10", closed="2024-03-12", status="已化解", level="村级"),
    # closed in February: not in March's solution list
    dispute("F", "2024-02-01", closed="2024-02-05", status="转司法", level="县级"),
    # received after as_of: not open yet
    dispute("G", "2024-04-02"),
]
NEEDS = [
    {"id": "N1", "raised_date": "2024-03-02", "status": "办理中", "village": "东岭村",
     "category": "道路", "unit": "城建办", "content": "张三家门口 13800000000"},
    {"id": "N2", "raised_date": "2024-03-05", "status": "已办结", "closed_date": "2024-03-15",
     "village": "西坡村", "category": "用水", "unit": "水利站"},
    {"id": "N3", "raised_date": "2024-03-06", "status": "已办结", "closed_date": "2024-04-15",
     "village": "西坡村", "category": "用电", "unit": "供电所"},
]


@pytest.fixture(scope="module")
def town() -> object:
    return ledger({"disputes": DISPUTES, "needs": NEEDS})


def test_problem_list(town: object) -> None:
    t = problem_list(town, AS_OF, CONFIG)  # type: ignore[arg-type]
    assert tuple(t.columns) == PROBLEM_COLUMNS
    # latest received first: A 03-20, B 03-18, N3 03-06, N1 03-02, C 03-01
    assert t[["kind", "id", "days_left"]].astype(object).where(t[["kind", "id", "days_left"]].notna(),
                                                               None).values.tolist() == [
        ["纠纷", "A", -6], ["纠纷", "B", 2], ["需求", "N3", None], ["需求", "N1", None], ["纠纷", "C", 30]]
    a = t.iloc[0]
    assert (a["village"], a["category"], a["star"], a["responsible_unit"], a["lead_official"]) == \
        ("东岭村", "邻里", 1, "司法所", "王镇长")
    assert a["received_date"] == pd.Timestamp("2024-03-20")
    assert a["deadline"] == pd.Timestamp("2024-03-25")
    # the key columns come first: 编号, 村, 类型, 星级, 剩余/逾期, 责任单位, 包案领导
    assert PROBLEM_COLUMNS[:7] == ("id", "village", "category", "star", "days_left",
                                   "responsible_unit", "lead_official")
    n1 = t.iloc[3]
    assert pd.isna(n1["lead_official"])  # a need has no 包案领导
    assert (n1["category"], n1["responsible_unit"]) == ("道路", "城建办")
    assert pd.isna(n1["star"]) and pd.isna(n1["deadline"])
    assert str(t["days_left"].dtype) == "Int64"
    text = t.to_csv()
    for secret in ("张三", "13800000000", "秘密"):
        assert secret not in text


def test_solution_list(town: object) -> None:
    t = solution_list(town, parse_period("2024-03"), AS_OF, CONFIG)  # type: ignore[arg-type]
    assert tuple(t.columns) == SOLUTION_COLUMNS
    rows = t[["kind", "id", "level", "status", "days_taken"]].astype(object)
    # latest closure first: N2 closed 03-15, E 03-12
    assert rows.where(rows.notna(), None).values.tolist() == [
        ["需求", "N2", None, "已办结", 10], ["纠纷", "E", "村级", "已化解", 2]]
    assert t.iloc[1]["closed_date"] == pd.Timestamp("2024-03-12")
    # 状态 (办理结果) and 办结日期 among the first five columns
    assert SOLUTION_COLUMNS.index("status") < 5 and SOLUTION_COLUMNS.index("closed_date") < 5


def test_newest_first_puts_undated_rows_last_and_breaks_ties_by_id() -> None:
    frame = pd.DataFrame({"id": ["b", "a", "c", "d"],
                          "day": pd.to_datetime(["2024-03-01", "2024-03-01", None, "2024-03-09"])})
    assert newest_first(frame, "day")["id"].tolist() == ["d", "a", "b", "c"]


def test_supervision_list(town: object) -> None:
    t = supervision_list(town, AS_OF, CONFIG)  # type: ignore[arg-type]
    assert tuple(t.columns) == SUPERVISION_COLUMNS
    assert t["id"].tolist() == ["A", "B"]  # C has 30 days left > warn_days 2
    assert t["days_overdue"].tolist() == [6, 0]
    assert t["days_open"].tolist() == [11, 13]
    assert t.iloc[0]["lead_official"] == "王镇长"
    only_overdue = supervision_list(town, AS_OF, CONFIG, near_days=-1)  # type: ignore[arg-type]
    assert only_overdue["id"].tolist() == ["A"]
    wide = supervision_list(town, AS_OF, CONFIG, near_days=30)  # type: ignore[arg-type]
    assert wide["id"].tolist() == ["A", "B", "C"]


def test_empty_and_missing_tabs() -> None:
    L = ledger({"disputes": []})
    assert problem_list(L, AS_OF, CONFIG).empty
    assert tuple(problem_list(L, AS_OF, CONFIG).columns) == PROBLEM_COLUMNS
    assert solution_list(L, parse_period("2024-03"), AS_OF, CONFIG).empty
    assert supervision_list(L, AS_OF, CONFIG).empty


def test_working_day_deadline_beyond_known_years_is_an_error() -> None:
    cfg = dataclasses.replace(CONFIG, deadlines=dataclasses.replace(CONFIG.deadlines,
                                                                    day_count="working"))
    L = ledger({"disputes": [dispute("Z9", "2026-12-01", star=3)]})
    with pytest.raises(FengqiaoError) as err:
        problem_list(L, d("2026-12-10"), cfg)
    assert str(err.value).startswith(
        "编号 Z9 的纠纷：从 2026-12-01 起算的期限落在法定工作日历已公布的年份（2004–2026 年）之后，")
