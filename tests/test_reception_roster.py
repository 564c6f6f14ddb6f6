"""领导接访达标率 on the 领导名册 (DOMAIN.md 4.1 and 5), ranks from the config.

Every figure is worked by hand in the comments. Weeks are Monday–Sunday:
in March 2024 the full weeks are 03-04..10, 11..17, 18..24 and 25..31
(03-01..03 belong to a week that began in February).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from fengqiao.catalogue import METRICS
from fengqiao.charts import ChartMaker
from fengqiao.config import Config, Quota, load_config
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import compute_metrics, parse_period, validate_contract
from fengqiao.metrics.receptions import BASIS_WORDS, full_windows, window_ids
from fengqiao.metrics.rollup import combine
from fengqiao.render import render_site_page
from fengqiao.render.town import SITE_PAGES, guide_context, render_docs
from fengqiao.sources.base import RawTable, RawWorkbook, SourceInfo
from fengqiao.template import write_template
from fengqiao.townschema import schema_for
from fengqiao.validate import validate_workbook
from metrics_helpers import dispute, ledger
from site_fixture import fixture_config, site_data

MARCH = parse_period("2024-03")
DEFAULT = load_config()
DISPUTES = [dispute("A", "2024-03-01")]


def config(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "fengqiao.yml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def rec(leader: str, rank: str, mode: str, *days: int, month: int = 3) -> list[dict[str, Any]]:
    return [{"date": f"2024-{month:02d}-{x:02d}", "leader": leader, "rank": rank, "mode": mode}
            for x in days]


def compliance(tables: dict[str, list[dict[str, Any]]], cfg: Config = DEFAULT,
               period: str = "2024-03") -> dict[str, Any]:
    contract = compute_metrics(ledger({"disputes": DISPUTES, **tables}), parse_period(period),
                               config=cfg)
    assert validate_contract(contract) == []
    ranks = {r: (None if v["reception_compliance"] is None else
                 (v["reception_compliance"]["numerator"], v["reception_compliance"]["denominator"]))
             for r, v in contract["breakdowns"]["reception_rank"].items()}
    whole = contract["metrics"]["reception_compliance"]
    return {"whole": None if whole is None else (whole["numerator"], whole["denominator"]),
            "ranks": ranks, "basis": contract["reception_basis"]}


# -- the old rule wrong, the new rule right ------------------------------------------------


def test_a_roster_leader_who_never_received_anyone_is_in_the_denominator() -> None:
    # 李镇长: 接访 on 5 distinct March days → meets 5 days a month
    # 钱科长: on the roster, in post all March, not a single reception → judged, fails
    receptions = rec("李镇长", "党政主要领导", "接访", 4, 6, 12, 19, 26)
    roster = [{"leader": "李镇长", "rank": "党政主要领导", "start_date": "2021-06-01"},
              {"leader": "钱科长", "rank": "科级领导"}]
    got = compliance({"receptions": receptions, "leaders": roster})
    assert got == {"whole": (1, 2), "basis": "roster",
                   "ranks": {"党政主要领导": (1, 1), "科级领导": (0, 1), "村两委": (0, 0)}}
    # the old rule (and the records basis without a roster) only saw leaders with
    # records: 钱科长 dropped out and the town showed 1/1 = 100%
    assert compliance({"receptions": receptions})["whole"] == (1, 1)


def test_a_section_leader_with_only_jiefang_fails_a_xiafang_quota(tmp_path: Path) -> None:
    cfg = config(tmp_path, "reception_quotas:\n  科级领导: {per: week, min_days: 1, modes: [下访]}\n")
    # a day in each of the 5 weeks March touches, but every one a 接访 at the office.
    # Old rule (方式 ignored): 5 days ≥ 1 × 5 weeks touched → met. New: no 下访 in
    # any of the 4 full weeks → not met.
    office = rec("钱科长", "科级领导", "接访", 1, 5, 12, 19, 26)
    assert compliance({"receptions": office}, cfg)["ranks"]["科级领导"] == (0, 1)
    # the same days as 下访 (going down to the villages) meet the quota
    villages = rec("钱科长", "科级领导", "下访", 5, 12, 19, 26)
    assert compliance({"receptions": villages}, cfg)["ranks"]["科级领导"] == (1, 1)
    # three weeks of 下访 and one of 接访: the week of 03-18..24 fails → not met
    mixed = rec("钱科长", "科级领导", "下访", 5, 12, 26) + rec("钱科长", "科级领导", "接访", 19)
    assert compliance({"receptions": mixed}, cfg)["ranks"]["科级领导"] == (0, 1)


def test_a_per_day_quota_for_village_cadres_added_by_config(tmp_path: Path) -> None:
    cfg = config(tmp_path, "reception_quotas:\n  村居干部: {per: day, min_days: 1, modes: [走访]}\n")
    week = "2024-03-04..2024-03-08"  # Monday to Friday: 5 full day windows
    roster = [{"leader": "周干部", "rank": "村居干部"}, {"leader": "吴干部", "rank": "村居干部"},
              # arrived on Thursday: judged on 03-07 and 03-08 only
              {"leader": "郑干部", "rank": "村居干部", "start_date": "2024-03-07"}]
    receptions = (rec("周干部", "村居干部", "走访", 4, 5, 6, 7, 8)    # every day → met
                  + rec("吴干部", "村居干部", "走访", 4, 5, 6, 8)      # no 走访 on 03-07 → not met
                  + rec("吴干部", "村居干部", "接访", 7)               # a 接访 does not count
                  + rec("郑干部", "村居干部", "走访", 7, 8))           # both days in post → met
    got = compliance({"receptions": receptions, "leaders": roster}, cfg, week)
    assert got["ranks"]["村居干部"] == (2, 3)
    # the three default ranks stay configured, with nobody to judge
    assert got["ranks"]["党政主要领导"] == (0, 0)


def test_a_rank_added_in_config_validates_and_is_in_the_template_dropdown(tmp_path: Path) -> None:
    cfg = config(tmp_path, "reception_quotas:\n  县处级领导: {per: month, min_days: 1, modes: [接访]}\n")
    rows = [["日期", "领导", "职务类别", "方式", "接待人次"],
            ["2024-03-05", "孙县长", "县处级领导", "接访", 3],
            ["2024-03-06", "李镇长", "主要领导", "接访", 2]]  # an alias of 党政主要领导
    book = workbook(领导接访=rows, 领导名册=[["领导", "职务类别"], ["孙县长", "县处级领导"]])
    # the default ranks do not know it: a finding at the cell
    assert [f.key() for f in validate_workbook(book).findings if f.code == "not-in-enum"] == [
        ("领导接访", "C2", "not-in-enum"), ("领导名册", "B2", "not-in-enum")]
    ledger_ = validate_workbook(book, config=cfg)
    assert [f for f in ledger_.findings if f.code == "not-in-enum"] == []
    assert ledger_.tables["receptions"]["rank"].tolist() == ["县处级领导", "党政主要领导"]
    # the template offers it in both tabs' dropdowns
    path = tmp_path / "模板.xlsx"
    write_template(path, config=cfg)
    wb = openpyxl.load_workbook(path)
    for sheet, column in (("领导接访", "C"), ("领导名册", "B")):
        lists = [dv.formula1 for dv in wb[sheet].data_validations.dataValidation
                 if dv.type == "list" and f"{column}2:{column}2001" in str(dv.sqref)]
        assert lists == ['"党政主要领导,科级领导,村两委,县处级领导"'], sheet
    # and the fill-in guide page lists it
    tabs = {t["title"]: t for t in guide_context(cfg)["tabs"]}
    ranks = next(f for f in tabs["领导名册"]["fields"] if f["title"] == "职务类别")
    assert ranks["enum"] == "党政主要领导、科级领导、村两委、县处级领导"


def test_an_alias_whose_rank_is_not_configured_is_dropped() -> None:
    schema = load_schema_with(("县处级领导", "科级领导"))
    rank = schema["receptions"].field("rank")
    assert rank.enum == ("县处级领导", "科级领导")
    # 科级干部 → 科级领导 stays; 主要领导 → 党政主要领导 and 村干部 → 村两委 go
    assert rank.enum_aliases == {"科级干部": "科级领导", "班子成员": "科级领导"}


def load_schema_with(ranks: tuple[str, ...]) -> Any:
    from fengqiao.schema import load_schema

    return load_schema().with_enums({"reception_quotas": ranks})


# -- a fixture both rules get right ------------------------------------------------------------


def test_both_rules_agree_on_whole_months() -> None:
    # no roster, a monthly quota, March is one whole month: 李镇长 5 distinct days of
    # 接访 (met), 赵书记 4 (not met). Old rule: 5 × 1 month touched = 5 → the same 1/2.
    receptions = (rec("李镇长", "党政主要领导", "接访", 1, 5, 12, 19, 26)
                  + rec("赵书记", "党政主要领导", "接访", 1, 5, 12, 12, 19))
    got = compliance({"receptions": receptions})
    assert got["whole"] == (1, 2) and got["basis"] == "records"


# -- windows ----------------------------------------------------------------------------------


def day(text: str) -> int:
    return int(np.datetime64(text, "D").astype(np.int64))


def test_full_windows_of_a_span() -> None:
    first = np.array([day("2024-03-01"), day("2024-03-04"), day("2024-03-06")])
    last = np.array([day("2024-03-31"), day("2024-03-10"), day("2024-03-12")])
    a, b = full_windows(first, last, "week")
    # 03-01..31: weeks of 03-04 to 03-25 (4); 03-04..10: one; 03-06..12: none
    assert (b - a + 1).tolist() == [4, 1, 0]
    assert window_ids(np.array([day("2024-03-04"), day("2024-03-10")]), "week").tolist() == [a[1]] * 2
    a, b = full_windows(np.array([day("2024-01-01"), day("2024-01-02")]),
                        np.array([day("2024-02-29"), day("2024-03-30")]), "month")
    # Jan 1..Feb 29: January and February; Jan 2..Mar 30: February only
    assert (b - a + 1).tolist() == [2, 1]
    a, b = full_windows(np.array([day("2024-03-07")]), np.array([day("2024-03-08")]), "day")
    assert (b - a + 1).tolist() == [2]


def test_a_leader_who_left_is_judged_only_while_in_post() -> None:
    # 钱科长 left on Friday 03-15: the only full week in post is 03-04..10 (03-11..17
    # ends after he left), and he went down on 03-05 → met. 孙科长 took over on
    # Monday 03-18: weeks 03-18..24 and 25..31, a 下访 in the first only → not met.
    roster = [{"leader": "钱科长", "rank": "科级领导", "start_date": "2019-01-01",
               "end_date": "2024-03-15"},
              {"leader": "孙科长", "rank": "科级领导", "start_date": "2024-03-18"},
              # left before March: not in post, not judged
              {"leader": "周科长", "rank": "科级领导", "end_date": "2024-02-29"}]
    receptions = rec("钱科长", "科级领导", "下访", 5) + rec("孙科长", "科级领导", "下访", 19)
    got = compliance({"receptions": receptions, "leaders": roster})
    assert got["ranks"]["科级领导"] == (1, 2)


def test_a_leader_with_no_full_window_is_not_judged() -> None:
    # arrived 03-20: no whole calendar month in post in March → not judged, 0/0 → "—"
    roster = [{"leader": "李镇长", "rank": "党政主要领导", "start_date": "2024-03-20"}]
    got = compliance({"receptions": [], "leaders": roster})
    assert got["ranks"]["党政主要领导"] == (0, 0) and got["whole"] == (0, 0)
    # in post from 03-01: judged, and with no reception it fails
    roster[0]["start_date"] = "2024-03-01"
    assert compliance({"receptions": [], "leaders": roster})["whole"] == (0, 1)


def test_a_quota_list_needs_every_quota(tmp_path: Path) -> None:
    cfg = config(tmp_path, "reception_quotas:\n  科级领导:\n"
                           "    - {per: week, min_days: 1, modes: [下访]}\n"
                           "    - {per: month, min_days: 2, modes: [接访]}\n")
    weekly = rec("钱科长", "科级领导", "下访", 5, 12, 19, 26)
    # every week met, but only one 接访 day in the month (2 needed) → not met
    got = compliance({"receptions": weekly + rec("钱科长", "科级领导", "接访", 7)}, cfg)
    assert got["ranks"]["科级领导"] == (0, 1)
    got = compliance({"receptions": weekly + rec("钱科长", "科级领导", "接访", 7, 8)}, cfg)
    assert got["ranks"]["科级领导"] == (1, 1)


# -- the basis in metrics.json and on the site --------------------------------------------


def test_metrics_json_says_which_basis_it_used() -> None:
    receptions = rec("李镇长", "党政主要领导", "接访", 4, 6, 12, 19, 26)
    roster = [{"leader": "李镇长", "rank": "党政主要领导"}, {"leader": "钱科长", "rank": "科级领导"}]
    assert compliance({"receptions": receptions})["basis"] == "records"
    assert compliance({"receptions": receptions, "leaders": roster})["basis"] == "roster"
    # no 领导接访 tab: the figure is null, and so is its basis
    assert compliance({})["basis"] is None and compliance({})["whole"] is None
    # a county roll-up of one town of each kind: mixed; counts summed (1/1 + 1/2)
    parts = [compute_metrics(ledger({"disputes": DISPUTES, **t}, town=n), MARCH, config=DEFAULT)
             for n, t in (("甲镇", {"receptions": receptions}),
                          ("乙镇", {"receptions": receptions, "leaders": roster}))]
    county = combine(parts, name="某县")
    assert county["reception_basis"] == "mixed"
    assert county["metrics"]["reception_compliance"]["numerator"] == 2
    assert county["metrics"]["reception_compliance"]["denominator"] == 3
    assert validate_contract(county) == []


def test_the_statistics_page_says_the_basis_in_words(tmp_path: Path) -> None:
    data = site_data()
    bases = {"2024-02": "roster", "2024-03": "records"}  # 2024-Q1: no 领导接访 tab
    for c in data.periods:
        c["reception_basis"] = bases.get(c["period"]["label"])
    render_docs(data, fixture_config(tmp_path), tmp_path / "docs", ChartMaker(tmp_path / "c"))

    def page(label: str) -> str:
        return (tmp_path / "docs" / "stats" / f"{label}.md").read_text(encoding="utf-8")

    assert f"领导接访达标率：{BASIS_WORDS['roster']}。" in page("2024-02")
    assert BASIS_WORDS["roster"] == "分母是统计期内在岗的领导名册上的领导"
    assert f"领导接访达标率：{BASIS_WORDS['records']}。" in page("2024-03")
    assert "领导接访达标率：" not in page("2024-Q1")


def test_the_procedures_page_states_the_catalogue_rule_and_the_configured_quotas(
        tmp_path: Path) -> None:
    cfg = config(tmp_path, "reception_quotas:\n  村居干部: {per: day, min_days: 1, modes: [走访]}\n")
    page = render_site_page(SITE_PAGES / "procedures" / "receptions.md", cfg)
    metric = METRICS["reception_compliance"]
    assert f"{metric.title} = {metric.definition()}。" in page
    assert metric.note in page
    assert "| 村居干部 | 每天至少 1 天有走访 |" in page
    assert "| 党政主要领导 | 每月至少 5 天有接访或约访 |" in page
    assert not metric.interim  # the figure follows DOMAIN 4.1


# -- validation of the roster -------------------------------------------------------------------


def workbook(**sheets: list[list[Any]]) -> RawWorkbook:
    base = {"纠纷台账": [["编号", "受理日期", "星级"], ["D1", "2024-03-01", 1]]}
    tables = {name: RawTable(name, pd.DataFrame(rows, dtype=object), 1)
              for name, rows in (base | sheets).items()}
    return RawWorkbook(SourceInfo("xlsx", "测试.xlsx", "/nonexistent/测试.xlsx"), tables)


ROSTER_HEAD = ["领导", "职务类别", "到岗日期", "离岗日期"]


def roster_findings(*rows: list[Any]) -> list[Any]:
    ledger_ = validate_workbook(workbook(领导名册=[ROSTER_HEAD, *rows]))
    return [f for f in ledger_.findings if f.sheet == "领导名册"]


def test_reversed_roster_dates_are_a_finding_at_the_cell() -> None:
    found = roster_findings(["钱科长", "科级领导", "2024-05-01", "2024-05-02"],
                            ["孙科长", "科级领导", "2024-05-01", "2024-03-01"])
    assert [f.key() for f in found] == [("领导名册", "D3", "left-before-arrived")]
    assert found[0].message == (
        "领导名册!D3：离岗日期 2024-03-01 早于到岗日期 2024-05-01，这段任职按仍在岗统计。"
        "请核对两个日期：离岗日期是最后在岗的那一天，不能早于到岗日期；仍在岗的不填离岗日期。")
    # the same day in and out is one day in post, not an error
    assert roster_findings(["孙科长", "科级领导", "2024-05-01", "2024-05-01"]) == []


def test_a_reversed_end_date_keeps_the_leader_in_post() -> None:
    book = workbook(领导名册=[ROSTER_HEAD, ["孙科长", "科级领导", "2024-03-01", "2024-02-01"]],
                    领导接访=[["日期", "领导", "职务类别", "方式"]])
    ledger_ = validate_workbook(book)
    assert ledger_.tables["leaders"]["end_date"].isna().all()
    contract = compute_metrics(ledger_, MARCH, config=DEFAULT)
    # judged for March with no reception: 0/1 (dropping the row would have hidden him)
    assert contract["breakdowns"]["reception_rank"]["科级领导"]["reception_compliance"][
        "denominator"] == 1


def test_overlapping_roster_periods_are_a_finding_on_the_later_row() -> None:
    found = roster_findings(["钱科长", "科级领导", "2024-07-01", None],
                            ["钱科长", "科级领导", "2020-01-01", "2024-07-01"],
                            ["孙科长", "科级领导", "2020-01-01", "2024-07-01"])
    # by 到岗日期 the row of 2024-07-01 (sheet row 2) comes second and starts on
    # the last day of row 3's time in post
    assert [f.key() for f in found] == [("领导名册", "A2", "overlapping-posts")]
    assert found[0].message == (
        "领导名册!A2：领导“钱科长”在第 3 行还有一段任职，两段的在岗时间重叠。"
        "同一段任职只留一行；换岗的每段一行，前一段要填离岗日期，并且早于后一段的到岗日期。")


def test_consecutive_roster_periods_are_fine() -> None:
    assert roster_findings(["钱科长", "科级领导", "2020-01-01", "2024-06-30"],
                           ["钱科长", "党政主要领导", "2024-07-01", None],
                           ["孙科长", "科级领导", "2020-01-01", "2024-07-01"]) == []


def test_a_blank_end_before_a_later_row_overlaps() -> None:
    # still "in post" (no 离岗日期) when the second row starts: the second row is named
    found = roster_findings(["钱科长", "科级领导", "2020-01-01", None],
                            ["钱科长", "科级领导", "2024-07-01", None])
    assert [f.key() for f in found] == [("领导名册", "A3", "overlapping-posts")]


# -- config -------------------------------------------------------------------------------------


def test_one_mapping_and_a_list_both_load(tmp_path: Path) -> None:
    cfg = config(tmp_path, "reception_quotas:\n  村两委: {per: month, min_days: 1}\n"
                           "  县处级领导:\n    - {per: month, min_days: 1, modes: [接访]}\n"
                           "    - {per: week, min_days: 1, modes: [下访, 下访]}\n")
    # a default rank rewritten as one mapping keeps the defaults' modes
    assert cfg.reception_quotas["村两委"] == (Quota("month", 1, ("走访", "下访")),)
    assert cfg.reception_quotas["县处级领导"] == (Quota("month", 1, ("接访",)),
                                              Quota("week", 1, ("下访",)))
    assert tuple(schema_for(cfg)["leaders"].field("rank").enum or ()) == (
        "党政主要领导", "科级领导", "村两委", "县处级领导")


@pytest.mark.parametrize(("text", "message"), [
    ("  村居干部: {per: day, min_days: 2}",
     "reception_quotas.村居干部.min_days（per: day）要求每天至少 2 天，超过了一个周期最少的 1 天。"),
    ("  村居干部: {per: week, min_days: 1, modes: [接待]}",
     "reception_quotas.村居干部.modes[1] 不是接访方式。"),
    ("  村居干部: []", "reception_quotas.村居干部 没有写任何定额。"),
    ("  村居干部:\n    - {per: week, min_days: 8}",
     "reception_quotas.村居干部[1].min_days（per: week）要求每周至少 8 天，超过了一个周期最少的 7 天。"),
])
def test_a_bad_quota_is_named_at_its_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(FengqiaoError) as err:
        config(tmp_path, f"reception_quotas:\n{text}\n")
    assert err.value.message == f"配置文件 {tmp_path / 'fengqiao.yml'} 里的 {message}"


# -- the demo ------------------------------------------------------------------------------------


def test_the_demo_roster_has_a_leaver_and_a_leader_who_never_received() -> None:
    from fengqiao.demo import generate_town

    town = generate_town()
    roster, receptions = town["leaders"], town["receptions"]
    received = set(receptions["领导"])
    assert set(roster["领导"]) - received == {"陈建华"}  # took over on 2024-07-01
    left = roster[roster["离岗日期"].notna()]
    assert left["领导"].tolist() == ["谢雅琴"] and str(left["离岗日期"].iloc[0]) == "2024-06-28"
    after = pd.to_datetime(receptions["日期"].astype(str)) > pd.Timestamp("2024-06-28")
    assert not (after & (receptions["领导"] == "谢雅琴")).any()
    assert received <= set(roster["领导"])
