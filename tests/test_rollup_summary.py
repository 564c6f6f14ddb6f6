"""Contract 1.5: a city's or a province's roll-up is a summary.

What is named inside a town (villages, grids, leaders), every overdue case
and every excluded row stay with the county that supervises them; the
summary keeps every figure, ``by_town``, ``by_unit``, the summed breakdowns,
the counts of excluded rows and the :data:`SUMMARY_OVERDUE` longest-overdue
cases. Each check of the contract has a failing and a passing case here.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fengqiao.metrics import parse_period, validate_contract
from fengqiao.metrics.contract import SUMMARY_OVERDUE, detail_for, detail_of, dumps
from fengqiao.metrics.rollup import SUMMED_BREAKDOWNS, combine, summarised
from test_rollup_levels import town_file

Q1 = parse_period("2024-Q1")


@pytest.fixture(scope="module")
def towns() -> list[dict[str, Any]]:
    """Forty towns: four real engine files, each published under ten names,
    so the area has well over 100 overdue cases."""
    base = [town_file(seed, f"镇{seed}", Q1) for seed in (2, 3, 4, 5)]
    out = []
    for i in range(40):
        part = copy.deepcopy(base[i % 4])
        part["town"] = f"第{i:02d}镇"
        # a row the town left out of its figures (a bad 受理日期), as its engine lists it
        part["excluded_rows"]["纠纷台账"] = {"count": 1, "rows": [{"row": 7 + i, "codes": ["bad-date"]}]}
        out.append(part)
    return out


def test_levels_and_their_detail() -> None:
    assert [detail_for(level) for level in ("县", "市", "省")] == ["full", "summary", "summary"]
    assert detail_of({}) == "full"  # every file before 1.5


def test_a_province_of_towns_keeps_every_figure_and_the_longest_overdue(towns: list[dict[str, Any]]) -> None:
    full = combine(towns, name="示范县")
    summary = combine(towns, name="示范省", level="省")
    assert full["detail"] == "full" and summary["detail"] == "summary"
    assert validate_contract(full) == [] and validate_contract(summary) == []
    # the area has more overdue cases than a summary lists …
    overdue_open = full["metrics"]["overdue_open"]
    assert overdue_open == len(full["overdue"]) > SUMMARY_OVERDUE
    # … and the summary lists exactly the first 100 of the full list, in order
    assert summary["overdue"] == full["overdue"][:SUMMARY_OVERDUE]
    assert summary["metrics"] == full["metrics"]
    assert summary["distributions"] == full["distributions"]
    assert summary["comparisons"] == full["comparisons"]
    for key in (*SUMMED_BREAKDOWNS, "by_town", "by_unit"):
        assert summary["breakdowns"][key] == full["breakdowns"][key], key
    for key in ("village", "grid", "leader"):
        assert key in full["breakdowns"] and key not in summary["breakdowns"], key
    assert {t: v["count"] for t, v in summary["excluded_rows"].items()} \
        == {t: v["count"] for t, v in full["excluded_rows"].items()}
    assert sum(v["count"] for v in full["excluded_rows"].values()) > 0  # not a vacuous check
    assert all(v["rows"] == [] for v in summary["excluded_rows"].values())
    # what the summary is for: its size no longer grows with villages, grids and cases
    assert len(dumps(summary)) < len(dumps(full)) / 2


def test_summarised_parts_roll_up_to_the_same_summary(towns: list[dict[str, Any]]) -> None:
    """A city or province trims each file as it loads it (memory): the
    result equals trimming at the end, and the loaded file is not changed."""
    before = dumps(towns[0])
    slim = [summarised(t) for t in towns]
    assert dumps(towns[0]) == before
    assert all(len(t["overdue"]) <= SUMMARY_OVERDUE and "grid" not in t["breakdowns"] for t in slim)
    assert combine(slim, name="示范省", level="省") == combine(towns, name="示范省", level="省")
    # a summary is already summarised: the same object back
    city = combine(towns, name="示范市", level="市")
    assert summarised(city) is city


def test_a_summary_rolls_up_again(towns: list[dict[str, Any]]) -> None:
    cities = [combine(towns[:20], name="甲市", level="市"), combine(towns[20:], name="乙市", level="市")]
    province = combine(cities, name="示范省", level="省")
    flat = combine(towns, name="示范省", level="省")
    assert validate_contract(province) == []
    assert province["metrics"] == flat["metrics"]
    assert len(province["overdue"]) == SUMMARY_OVERDUE
    assert [r["days_overdue"] for r in province["overdue"]] == [r["days_overdue"] for r in flat["overdue"]]


def _problems(contract: dict[str, Any]) -> list[str]:
    return [p for p in validate_contract(contract) if p.startswith(("detail", "breakdowns", "overdue",
                                                                    "excluded_rows"))]


def test_checker_a_summary_belongs_above_a_county(towns: list[dict[str, Any]]) -> None:
    county = combine(towns[:3], name="示范县")
    assert _problems(county) == []
    # everything a summary leaves out, left out: only the level is wrong
    assert _problems({**summarised(county), "detail": "summary"}) \
        == ["detail：县级文件不能是 summary，只有市、省级汇总只带摘要。"]


def test_checker_a_summary_leaves_out_what_it_says(towns: list[dict[str, Any]]) -> None:
    summary = combine(towns, name="示范省", level="省")
    full = combine(towns, name="示范县")
    assert _problems(summary) == []
    with_grids = {**summary, "breakdowns": {**summary["breakdowns"], "grid": full["breakdowns"]["grid"]}}
    assert _problems(with_grids) == ["breakdowns：summary 文件不应带 grid。"]
    too_many = {**summary, "overdue": full["overdue"][:SUMMARY_OVERDUE + 1]}
    assert _problems(too_many) == [
        f"overdue：summary 文件最多列 {SUMMARY_OVERDUE} 件，且不超过逾期在办数，实际列了 101 件。"]
    rows = {**summary, "excluded_rows": full["excluded_rows"]}
    assert _problems(rows) == ["excluded_rows：summary 文件只带行数，不列行。"]


def test_checker_a_full_file_has_villages_and_grids(towns: list[dict[str, Any]]) -> None:
    town = towns[0]
    assert _problems(town) == []
    bare = {**town, "breakdowns": {k: v for k, v in town["breakdowns"].items() if k != "grid"}}
    assert _problems(bare) == ["breakdowns：缺少 grid（只有 detail 为 summary 的市、省级汇总可以不带）。"]


def test_a_unit_page_in_a_summary_says_where_its_cases_are(tmp_path: Any, towns: list[dict[str, Any]]) -> None:
    """A province of 40 towns: a town with overdue cases but none among the
    100 longest is not told it has none; one with some is told how many."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from fengqiao.cli import cli

    folders = []
    for t in towns:
        folder = Path(tmp_path) / t["town"] / "downloads" / "2024-Q1"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(t, ensure_ascii=False), "utf-8")
        folders.append(str(Path(tmp_path) / t["town"]))
    out = Path(tmp_path) / "site"
    result = CliRunner().invoke(cli, ["rollup", "build", *folders, "--period", "2024-Q1", "--out", str(out),
                                      "--name", "示范省", "--level", "省", "--now", "2024-04-03T09:00"])
    assert result.exit_code == 0, result.output
    province = json.loads((out / "downloads" / "2024-Q1" / "metrics.json").read_text("utf-8"))
    listed = {r["unit"] for r in province["overdue"]}
    pages = [(out / "towns" / f"town-{i + 1:02d}.html").read_text("utf-8") for i in range(len(towns))]
    by_name = {t: p for t, p in zip(sorted(t["town"] for t in towns), pages, strict=True)}
    absent = [n for n, t in zip(sorted(x["town"] for x in towns), sorted(towns, key=lambda x: x["town"]),
                                strict=True) if t["metrics"]["overdue_open"] and n not in listed]
    assert absent and listed  # both kinds of unit exist in this area
    for name in absent:
        assert "逾期最久的 100 件里没有本" in by_name[name] and "本期没有逾期在办的纠纷" not in by_name[name]
    for name in listed:
        count = sum(1 for r in province["overdue"] if r["unit"] == name)
        assert f" {count} 件，列在下面" in by_name[name]
