"""A roll-up of roll-ups: towns → counties → a city (→ a province) give the
figures of a flat roll-up of the same towns, exactly, and completeness counts
the towns underneath.

The must-show of issue 16 is ``test_nine_towns_as_three_counties_and_a_city``:
nine town sites are collected by three county sites (built by the real CLI),
the three county sites by a city (``level: 市``), and the city's published
metrics.json is compared, leaf by leaf, with ``combine`` over the nine towns.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.county import load_county_config
from fengqiao.county.collect import check_contract, collect
from fengqiao.county.config import FetchSettings, TownSource, county_config
from fengqiao.county.report import (
    LATE,
    MISSING,
    ON_TIME,
    REPORTED,
    UNKNOWN,
    build_report,
    town_figures,
)
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import compute_metrics, parse_period, validate_contract
from fengqiao.metrics.contract import SUMMARY_OVERDUE, units_are_towns, units_word
from fengqiao.metrics.periods import Period
from fengqiao.metrics.rollup import (
    PREFIXED_BREAKDOWNS,
    SUMMED_BREAKDOWNS,
    chained,
    combine,
    reporting,
)
from fengqiao.render.county import write_docs
from metrics_helpers import ledger
from test_county_data import serve, town_ledger, write_site
from test_rollup import SOURCES, STATUSES, TYPES, build_tables

CONFIG = load_config()
Q1 = parse_period("2024-Q1")
Q4 = parse_period("2023-Q4")
#: the city: three counties of three towns; 南三镇 publishes nothing for 2023-Q4
COUNTIES = {"东县": ["东一镇", "东二镇", "东三镇"],
            "西县": ["西一镇", "西二镇", "西三镇"],
            "南县": ["南一镇", "南二镇", "南三镇"]}
SILENT = ("南县", "南三镇", "2023-Q4")


def _cases(seed: int, n: int = 45) -> list[dict[str, Any]]:
    """Seeded cases in test_rollup's shape, received between 2023-07 and 2024-11."""
    rng = random.Random(seed)
    return [{"village": rng.randrange(3), "grid": rng.randrange(3),
             "received": rng.randrange(200, 680),
             "took": rng.choice([None, rng.randrange(-2, 90)]),
             "status": rng.choice(STATUSES), "star": rng.randint(1, 3),
             "source": rng.choice(SOURCES), "type": rng.choice(TYPES),
             "level": rng.choice([None, "村级", "镇级", "县级"]),
             "first": rng.choice([None, True, False]), "followup": rng.random() < 0.7,
             "satisfaction": rng.choice([None, "满意", "基本满意", "不满意"]),
             "repeat": rng.random() < 0.1, "persons": rng.choice([None, *range(1, 9)])}
            for _ in range(n)]


def town_file(seed: int, name: str, period: Period) -> dict[str, Any]:
    """A town's metrics.json from the real engine. Even seeds keep every
    optional tab (grids, visits, key persons, needs; receptions when the seed
    is a multiple of 4), odd seeds only 纠纷台账, so figures some towns lack
    (``missing_figures``) must travel up the levels too."""
    if seed % 2:
        source = town_ledger(seed, name)
    else:
        source = ledger(build_tables(_cases(seed), None, seed % 4 == 0), town=name)
    contract = compute_metrics(source, period, config=CONFIG, as_of=period.end)
    assert validate_contract(contract) == []
    return contract


def _all_towns() -> list[tuple[str, str]]:
    return [(county, town) for county, towns in COUNTIES.items() for town in towns]


def _strip(table: dict[str, Any]) -> dict[str, Any]:
    """Keys below a city ("县/镇/村") as a flat roll-up names them ("镇/村")."""
    out = {key.split("/", 1)[1]: body for key, body in table.items()}
    assert len(out) == len(table)  # town names are unique: nothing merged
    return out


def _leaves(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every leaf of a figures dict with its path, numerators and
    denominators of each rate included."""
    if isinstance(node, dict):
        for key in sorted(node):
            yield from _leaves(node[key], f"{path}/{key}")
    else:
        yield path, node


def assert_same_figures(nested: dict[str, Any], flat: dict[str, Any], depth: int = 1) -> None:
    """``nested`` (towns ``depth`` levels down) has exactly the figures of
    ``flat`` (the same towns rolled up at once): every count, every rate's
    numerator, denominator and value, the distributions, the summed
    breakdowns; the per-town tables once the middle levels are taken off."""

    def strip(table: dict[str, Any]) -> dict[str, Any]:
        for _ in range(depth):
            table = _strip(table)
        return table

    got, want = list(_leaves(nested["metrics"])), list(_leaves(flat["metrics"]))
    assert [p for p, _ in got] == [p for p, _ in want]
    expected = dict(want)
    assert [(p, v, expected[p]) for p, v in got if v != expected[p]] == []
    assert sum(p.endswith("/denominator") for p, _ in got) >= 20  # not a vacuous walk
    assert nested["distributions"] == flat["distributions"]
    for key in SUMMED_BREAKDOWNS:
        assert nested["breakdowns"][key] == flat["breakdowns"][key], key
    for key in (*PREFIXED_BREAKDOWNS, "by_town"):
        if key in nested["breakdowns"]:
            assert strip(nested["breakdowns"][key]) == flat["breakdowns"][key], key
        else:  # a city's or province's summary (contract 1.5) leaves out what is inside towns
            assert (key, nested["detail"], nested["level"]) in ((key, "summary", "市"),
                                                                (key, "summary", "省"))
    assert nested.get("baselines") == flat.get("baselines")
    assert nested.get("comparisons") == flat.get("comparisons")  # 环比/同比 add up too
    assert {k: sorted(t.rsplit("/", 1)[-1] for t in v) for k, v in nested["missing_figures"].items()} \
        == {k: sorted(v) for k, v in flat["missing_figures"].items()}
    got_cases = sorted((r["town"].rsplit("/", 1)[-1], r["id"]) for r in nested["overdue"])
    want_cases = sorted((r["town"], r["id"]) for r in flat["overdue"])
    if len(want_cases) <= SUMMARY_OVERDUE or nested.get("detail") != "summary":
        assert got_cases == want_cases
    else:  # the longest-overdue cases; which of those tied at the cut is a matter of names
        assert set(got_cases) <= set(want_cases) and len(got_cases) == SUMMARY_OVERDUE
        assert [r["days_overdue"] for r in nested["overdue"]] \
            == [r["days_overdue"] for r in flat["overdue"]][:SUMMARY_OVERDUE]
    assert {t: v["count"] for t, v in nested["excluded_rows"].items()} \
        == {t: v["count"] for t, v in flat["excluded_rows"].items()}
    for key in ("as_of", "period", "reception_basis", "config", "definitions_version"):
        assert nested[key] == flat[key], key


# -- the must-show: nine town sites, three county sites, one city site ------------------


def _collect_and_build(runner: CliRunner, config: Path, out: Path) -> Any:
    for label, now in (("2023-Q4", "2024-01-05T10:00"), ("2024-Q1", "2024-04-08T10:00")):
        runner.invoke(cli, ["rollup", "collect", "--config", str(config), "--period", label,
                            "--now", now])
    return runner.invoke(cli, ["rollup", "build", "--config", str(config), "--period", "2024-Q1",
                               "--out", str(out)])


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("city")
    files: dict[str, dict[str, dict[str, Any]]] = {"2023-Q4": {}, "2024-Q1": {}}
    for seed, (county, town) in enumerate(_all_towns(), start=2):
        for period in (Q4, Q1):
            contract = town_file(seed, town, period)
            files[period.label][town] = contract
            if (county, town, period.label) != SILENT:
                write_site(root / "towns" / town, contract)
    runner = CliRunner()
    builds = {}
    for county, towns in COUNTIES.items():
        lines = "".join(f"  - {{name: {t}, path: towns/{t}}}\n" for t in towns)
        (root / f"{county}.yml").write_text(
            f"county: {county}\ncollection_dir: {county}-collection\ntowns:\n{lines}", "utf-8")
        builds[county] = _collect_and_build(runner, root / f"{county}.yml", root / f"{county}-site")
    lines = "".join(f"  - {{name: {c}, path: {c}-site}}\n" for c in COUNTIES)
    (root / "city.yml").write_text(
        f"county: 示范市\nlevel: 市\ncollection_dir: city-collection\ntowns:\n{lines}", "utf-8")
    builds["示范市"] = _collect_and_build(runner, root / "city.yml", root / "city-site")
    return {"root": root, "files": files, "builds": builds}


def _published(site: Path, label: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((site / "downloads" / label / "metrics.json").read_text("utf-8"))
    return data


def test_nine_towns_as_three_counties_and_a_city(city: dict[str, Any]) -> None:
    root = city["root"]
    for name, build in city["builds"].items():
        assert build.exit_code == 0, (name, build.output)
    published = _published(root / "city-site", "2024-Q1")
    assert validate_contract(published) == []
    towns = list(city["files"]["2024-Q1"].values())
    flat = combine(towns, name="示范市", towns=[t for _, t in _all_towns()])
    assert_same_figures(published, flat)
    # the contract of levels: the city, its direct units, every town underneath
    assert (published["town"], published["level"]) == ("示范市", "市")
    assert published["units"] == [
        {"name": c, "level": "县", "status": ON_TIME, "towns": 3, "missing_towns": 0}
        for c in sorted(COUNTIES)]
    assert published["towns"] == sorted(f"{c}/{t}" for c, t in _all_towns())
    assert published["missing_towns"] == [] and published["unknown_units"] == []
    assert set(published["town_status"].values()) == {ON_TIME}
    assert published["breakdowns"]["by_unit"]["东县"] == \
        _published(root / "东县-site", "2024-Q1")["metrics"]
    # a city publishes a summary (contract 1.5): villages stay on the county's file
    assert published["detail"] == "summary" and "village" not in published["breakdowns"]
    assert sorted(published["breakdowns"]["by_town"])[0].count("/") == 1  # 县/镇
    county = _published(root / "东县-site", "2024-Q1")
    assert county["detail"] == "full" and sorted(county["breakdowns"]["village"])[0].count("/") == 1
    assert {r["unit"] for r in published["overdue"]} <= set(COUNTIES)
    # completeness and timeliness count the nine towns
    report = build_report(load_county_config(root / "city.yml"), Q1)
    assert report.completeness == {"numerator": 9, "denominator": 9, "value": 1.0}
    assert report.timeliness == {"numerator": 9, "denominator": 9, "value": 1.0}
    assert report.unit_completeness == {"numerator": 3, "denominator": 3, "value": 1.0}
    assert city["builds"]["示范市"].output.splitlines()[:3] == [
        f"已生成示范市 2024-Q1 市级网站：{root / 'city-site'}",
        "应报 3 个县（市、区）：按时 3，迟报 0，未报 0，数据无效 0。",
        "下属乡镇应报 9 个：按时 9，迟报 0，未报 0，数据无效 0。",
    ]


def test_a_town_missing_in_one_county_shows_at_the_city_as_8_of_9(city: dict[str, Any]) -> None:
    """南三镇 published nothing for 2023-Q4: 南县 reported 2 of 3 towns, and
    the city counts 8 reported of 9 expected. Its county site published the
    2023-Q4 file because the site shows that period in its trends."""
    root = city["root"]
    county = _published(root / "南县-site", "2023-Q4")
    assert (county["towns"], county["missing_towns"]) == (["南一镇", "南二镇"], ["南三镇"])
    published = _published(root / "city-site", "2023-Q4")
    assert validate_contract(published) == []
    assert published["missing_towns"] == ["南县/南三镇"]
    assert published["town_status"]["南县/南三镇"] == MISSING
    assert [u for u in published["units"] if u["name"] == "南县"] == [
        {"name": "南县", "level": "县", "status": ON_TIME, "towns": 2, "missing_towns": 1}]
    present = [c for t, c in city["files"]["2023-Q4"].items() if t != "南三镇"]
    flat = combine(present, name="示范市", towns=[t for _, t in _all_towns()])
    assert flat["missing_towns"] == ["南三镇"]
    assert_same_figures(published, flat)

    report = build_report(load_county_config(root / "city.yml"), Q4)
    assert report.completeness == {"numerator": 8, "denominator": 9, "value": 0.888889}
    assert report.timeliness == {"numerator": 8, "denominator": 9, "value": 0.888889}
    assert report.unit_completeness == {"numerator": 3, "denominator": 3, "value": 1.0}
    assert report.town_counts[MISSING] == 1


def test_the_city_site_shows_units_and_towns(city: dict[str, Any]) -> None:
    from test_county_site import _text

    site = city["root"] / "city-site"
    index = _text(site / "index.html")
    assert "示范市 2024年第一季度汇总" in index
    assert "应报县（市、区） 3 个：按时报送 3 个" in index
    assert "下属乡镇应报 9 个：按时 9 个" in index
    assert "乡镇报送完整率（已报 ÷ 应报） 9 9 100%" in index
    assert "全市主要指标" in index and "全县" not in index
    reporting_page = _text(site / "reporting.html")
    assert "下属乡镇已报 下属乡镇应报" in reporting_page
    assert "南县/南三镇 按时" in reporting_page
    unit = _text(site / "towns" / "town-03.html")  # 南县, third in county.yml
    assert "下属乡镇" in unit and "南三镇 按时" in unit
    # the city publishes its own file where a province would look for it
    assert (site / "downloads" / "latest" / "metrics.json").read_bytes() == \
        (site / "downloads" / "2024-Q1" / "metrics.json").read_bytes()
    downloads = _text(site / "downloads.html")
    assert "全市统计文件 metrics.json" in downloads
    assert "本网站趋势图用到的其他各期也各有一份： 2023-Q4" in downloads
    supervision = _text(site / "supervision.html")
    assert "全市督办清单" in supervision and "东县/东一镇" in supervision


def test_a_county_that_sent_nothing_shows_towns_unknown_on_the_city_pages(
        city: dict[str, Any], tmp_path: Path) -> None:
    """A fourth county, 北县, sent nothing: the nine towns reported, but how
    many should have is unknown, and the pages say so instead of 9/9."""
    root = city["root"]
    cfg = load_county_config(root / "city.yml")
    cfg = dataclasses.replace(cfg, towns=(*cfg.towns, TownSource("北县", "path", str(root / "北县-site"))))
    report = build_report(cfg, Q1)
    assert report.completeness == {"numerator": 9, "denominator": None, "value": None}
    assert report.timeliness == UNKNOWN
    assert report.unit_completeness == {"numerator": 3, "denominator": 4, "value": 0.75}
    assert report.contract is not None and report.contract["unknown_units"] == ["北县"]
    assert validate_contract(report.contract) == []
    write_docs(cfg, [report], tmp_path / "docs", tmp_path / "charts")
    page = (tmp_path / "docs" / "reporting.md").read_text("utf-8")
    assert "| 乡镇报送完整率（已报 ÷ 应报） | 9 | — | — |" in page
    assert "下属乡镇应报 **—** 个（北县 没有可用的统计文件，下面有几个乡镇不详）" in page
    assert "| 北县 | 未报 | 0 | — |" in page


def test_a_city_collects_two_county_sites_over_http(city: dict[str, Any], tmp_path: Path) -> None:
    """The county sites served by the threaded loopback server, collected by
    URL exactly as town sites are."""
    root = city["root"]
    with serve(root) as server:
        cfg = county_config("示范市", collection_dir=tmp_path / "collection", level="市",
                            fetch=FetchSettings(timeout=5, retries=1, backoff=0, concurrency=2),
                            towns=[TownSource(c, "url", f"{server.url}/{c}-site/")
                                   for c in ("东县", "西县")])
        receipts = collect(cfg, [Q1])
        assert sorted(unquote(h) for h in server.hits) == [
            f"/{c}-site/downloads/2024-Q1/metrics.json" for c in ("东县", "西县")]
    assert [(r.town, r.status) for r in receipts] == [("东县", "valid"), ("西县", "valid")]
    report = build_report(cfg, Q1)
    assert report.contract is not None and validate_contract(report.contract) == []
    towns = [city["files"]["2024-Q1"][t] for c in ("东县", "西县") for t in COUNTIES[c]]
    assert_same_figures(report.contract, combine(towns, name="示范市"))
    assert report.completeness == {"numerator": 6, "denominator": 6, "value": 1.0}


def test_a_unit_at_or_above_the_level_is_refused(city: dict[str, Any], tmp_path: Path) -> None:
    county_file = _published(city["root"] / "东县-site", "2024-Q1")
    assert check_contract(county_file, Q1, "东县", "县") == [
        "这是县级的统计文件，不低于本级（县），不能作为下级汇总。县级汇总的下级只能是乡镇。"]
    assert check_contract(county_file, Q1, "东县", "市") == []
    with pytest.raises(FengqiaoError) as err:
        combine([county_file], name="示范县")
    assert str(err.value) == ("东县 的统计文件是县级，不低于本级（县），不能作为下级汇总。"
                              "市级汇总在 county.yml 里写 level: 市，省级写 level: 省；县级汇总的下级只能是乡镇。")
    # a county.yml that forgets level: 市 gets the reason on its collect line
    (tmp_path / "county.yml").write_text(
        f"county: 示范市\ncollection_dir: got\ntowns:\n  - {{name: 东县, path: {city['root'] / '东县-site'}}}\n",
        "utf-8")
    result = CliRunner().invoke(cli, ["county", "collect", "--config", str(tmp_path / "county.yml"),
                                      "--period", "2024-Q1"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0].endswith(
        "—— 这是县级的统计文件，不低于本级（县），不能作为下级汇总。县级汇总的下级只能是乡镇。")
    # and a quick build from the command line says which level to give
    result = CliRunner().invoke(cli, [
        "rollup", "build", str(city["root"] / "东县-site"), str(city["root"] / "西县-site"),
        "--period", "2024-Q1", "--level", "市", "--name", "示范市", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2] == "下属乡镇应报 6 个：已报 6（不判断时限），按时 0，迟报 0，未报 0，数据无效 0。"


def test_units_are_named_by_their_own_level() -> None:
    assert units_word("县") == "乡镇"
    assert units_word("省") == "市（州、盟）"  # nothing collected yet: the level below
    assert units_word("省", ["镇", "镇", None]) == "乡镇"  # a province collecting towns
    assert units_word("市", ["县", "镇"]) == "下级单位"  # a town directly under a city
    assert units_word("省", ["市"], {"市": "市（州）", "县": "县", "镇": "镇"}) == "市（州）"


def test_whether_the_units_are_the_towns() -> None:
    assert units_are_towns("县")  # nothing collected yet: a county's units are towns
    assert not units_are_towns("市") and not units_are_towns("省")
    assert units_are_towns("省", ["镇", "镇", None])  # a province collecting towns
    assert not units_are_towns("省", ["市", "市"])
    assert not units_are_towns("市", ["县", "镇"])  # a town directly under a city, beside counties


def test_a_province_of_towns_calls_them_towns(city: dict[str, Any], tmp_path: Path) -> None:
    """A province platform that collects its towns directly: the units are
    乡镇 on its pages and in its messages, not 市（州、盟）."""
    from test_county_site import _text

    towns = [str(city["root"] / "towns" / t) for t in ("东一镇", "西一镇")]
    result = CliRunner().invoke(cli, [
        "rollup", "build", *towns, "--period", "2024-Q1", "--level", "省", "--name", "示范省",
        "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "应报 2 个乡镇：已报 2（不判断时限），按时 0，迟报 0，未报 0，数据无效 0。"
    # the units are the towns: no second count of "the towns underneath"
    assert not any(line.startswith("下属乡镇") for line in lines)
    index = _text(tmp_path / "out" / "index.html")
    assert "应报乡镇 2 个" in index and "市（州、盟）" not in index
    assert "下属乡镇" not in index and "乡镇报送完整率" not in index
    assert index.count("报送完整率（已报 ÷ 应报） 2 2 100%") == 1
    units = _text(tmp_path / "out" / "towns" / "index.html")
    assert "各乡镇" in units and "下属乡镇" not in units
    reporting = _text(tmp_path / "out" / "reporting.html")
    assert "下属乡镇" not in reporting and "报送完整率（已报 ÷ 应报） 2 2 100%" in reporting


def test_level_in_county_yml(tmp_path: Path) -> None:
    (tmp_path / "county.yml").write_text("county: 示范市\nlevel: 区\n", "utf-8")
    with pytest.raises(FengqiaoError) as err:
        load_county_config(tmp_path / "county.yml")
    assert str(err.value) == f"县级配置文件 {tmp_path / 'county.yml'} 里的 level 只能是 县 或 市 或 省，实际写的是“区”。"
    (tmp_path / "county.yml").write_text("county: 示范市\nlevel: 市\n", "utf-8")
    cfg = load_county_config(tmp_path / "county.yml")
    assert (cfg.level, cfg.unit_word, cfg.area) == ("市", "县（市、区）", "全市")
    assert load_county_config(tmp_path / "county.yml").level == "市"


# -- the rules of counting, by hand -------------------------------------------------------


def _county(name: str, status: dict[str, str], unknown: tuple[str, ...] = ()) -> dict[str, Any]:
    """Just the keys :func:`reporting` reads from a county's file."""
    return {"town": name, "level": "县", "source": {"kind": "rollup"}, "town_status": status,
            "unknown_units": list(unknown)}


def test_statuses_chain_through_the_levels() -> None:
    assert chained(ON_TIME, ON_TIME) == ON_TIME
    assert chained(LATE, ON_TIME) == LATE and chained(ON_TIME, LATE) == LATE
    assert chained(REPORTED, ON_TIME) == REPORTED and chained(LATE, REPORTED) == LATE
    assert chained(ON_TIME, MISSING) == MISSING


def test_a_county_of_3_of_4_towns_counts_3_of_4_at_the_city() -> None:
    east = _county("东县", {"甲镇": ON_TIME, "乙镇": LATE, "丙镇": ON_TIME, "丁镇": MISSING})
    west = _county("西县", {"戊镇": ON_TIME})
    rep = reporting([("东县", ON_TIME, east), ("西县", LATE, west), ("城中镇", ON_TIME,
                                                                   {"town": "城中镇"})], "市")
    assert rep.town_status == {"东县/甲镇": ON_TIME, "东县/乙镇": LATE, "东县/丙镇": ON_TIME,
                               "东县/丁镇": MISSING, "西县/戊镇": LATE, "城中镇": ON_TIME}
    assert [(u["name"], u["level"], u["towns"], u["missing_towns"]) for u in rep.units] == [
        ("东县", "县", 3, 1), ("城中镇", "镇", 1, 0), ("西县", "县", 1, 0)]
    counts, completeness, timeliness = town_figures(rep, judge_timeliness=True)
    assert completeness == {"numerator": 5, "denominator": 6, "value": 0.833333}
    assert timeliness == {"numerator": 3, "denominator": 6, "value": 0.5}
    assert (counts[ON_TIME], counts[LATE], counts[MISSING]) == (3, 2, 1)


def test_a_unit_that_sent_nothing_leaves_its_towns_unknown_not_zero() -> None:
    """Above a county a silent unit's towns cannot be counted: the towns'
    denominator is "—" and the unit is named, at this level and above."""
    east = _county("东县", {"甲镇": ON_TIME, "乙镇": ON_TIME})
    rep = reporting([("东县", ON_TIME, east), ("北县", MISSING, None)], "市")
    assert rep.unknown_units == ["北县"] and rep.towns_expected is None
    assert rep.units[1] == {"name": "北县", "level": None, "status": MISSING, "towns": 0,
                            "missing_towns": None}  # units sorted by name: 东 before 北
    _, completeness, timeliness = town_figures(rep, judge_timeliness=True)
    assert completeness == {**UNKNOWN, "numerator": 2}
    assert timeliness == UNKNOWN
    # the province sees it through the city, by its path
    city = {"town": "示范市", "level": "市", "source": {"kind": "rollup"},
            "town_status": rep.town_status, "unknown_units": rep.unknown_units}
    up = reporting([("示范市", ON_TIME, city)], "省")
    assert up.unknown_units == ["示范市/北县"]
    assert up.units[0]["missing_towns"] is None and up.units[0]["towns"] == 2
    # in a county, a silent unit is a town: one missing town, counted
    rep = reporting([("甲镇", ON_TIME, {"town": "甲镇"}), ("乙镇", MISSING, None)], "县")
    assert rep.towns_expected == 2 and rep.missing_towns == ["乙镇"]


def test_a_county_file_from_before_levels_is_read_as_a_county() -> None:
    """A 1.2 county file has no level, units or town_status: it is a 县, its
    towns counted, their timeliness unknown (已报)."""
    old = {"town": "东县", "source": {"kind": "rollup"}, "towns": ["甲镇"], "missing_towns": ["乙镇"]}
    rep = reporting([("东县", ON_TIME, old)], "市")
    assert rep.town_status == {"东县/甲镇": REPORTED, "东县/乙镇": MISSING}
    _, completeness, timeliness = town_figures(rep, judge_timeliness=True)
    assert completeness == {"numerator": 1, "denominator": 2, "value": 0.5}
    assert timeliness == UNKNOWN


def test_two_counties_may_each_have_a_chengguan_town() -> None:
    """A flat roll-up cannot hold two towns of one name; through their
    counties both stay, each under its own path."""
    a = town_file(3, "城关镇", Q1)
    b = town_file(4, "城关镇", Q1)
    with pytest.raises(FengqiaoError, match="汇总时有重复的镇：城关镇"):
        combine([a, b], name="示范市")
    city = combine([combine([a], name="东县"), combine([b], name="西县")], name="示范市", level="市")
    assert city["towns"] == ["东县/城关镇", "西县/城关镇"]
    assert city["metrics"]["received"] == a["metrics"]["received"] + b["metrics"]["received"]
    assert validate_contract(city) == []


def test_the_checker_knows_the_level_keys() -> None:
    a, b = town_file(2, "甲镇", Q1), town_file(3, "乙镇", Q1)
    county = combine([a, b], name="东县", towns=["甲镇", "乙镇", "丙镇"])
    assert validate_contract(county) == []
    assert validate_contract({**a, "level": "县"}) == ["level：乡镇自己的文件层级应是镇，写的是县。"]
    assert validate_contract({**county, "level": "镇"}) == ["level：汇总文件的层级不能是镇。"]
    bad_unit = [{**county["units"][0], "level": "市"}, *county["units"][1:]]
    assert validate_contract({**county, "units": bad_unit}) == ["units：丙镇 的层级是市，不低于本级（县）。"]
    assert validate_contract({**county, "towns": ["甲镇"]}) == [
        "units：各单位计入的乡镇数之和 2 与 towns 的 1 个不符。",
        "town_status：列出的乡镇与 towns 和 missing_towns 不一致。"]
    assert validate_contract({**county, "town_status": {**county["town_status"], "丙镇": "迟到"}}) \
        == ["town_status/丙镇：'迟到' is not one of ['按时', '迟报', '已报', '数据无效', '未报']"]


# -- any partition into units gives the flat roll-up -------------------------------------

#: a pool of towns, some with every optional tab, some with 纠纷台账 only
POOL = [town_file(seed, f"镇{seed:02d}", Q1) for seed in range(2, 10)]


@settings(max_examples=40)  # each example rolls up 8 towns three times
@given(st.lists(st.integers(0, 3), min_size=len(POOL), max_size=len(POOL)),
       st.lists(st.integers(0, 1), min_size=4, max_size=4))
def test_any_partition_rolls_up_to_the_flat_roll_up(county_of: list[int], city_of: list[int]) -> None:
    """Towns dealt into up to 4 counties, counties into up to 2 cities, then
    one province: each level has exactly the figures of the flat roll-up."""
    flat = combine(POOL, name="省")
    counties = {}
    for c in sorted(set(county_of)):
        towns = [t for t, k in zip(POOL, county_of, strict=True) if k == c]
        counties[c] = combine(towns, name=f"县{c}")
    city = combine(list(counties.values()), name="市", level="市")
    assert_same_figures(city, flat, depth=1)
    assert len(city["towns"]) == len(POOL)
    cities = [combine([counties[c] for c in counties if city_of[c] == k], name=f"市{k}", level="市")
              for k in sorted({city_of[c] for c in counties})]
    province = combine(cities, name="省", level="省")
    assert_same_figures(province, flat, depth=2)
    assert sorted(t.rsplit("/", 1)[-1] for t in province["towns"]) == sorted(flat["towns"])


def _figure_links(page: Path) -> list[str]:
    """The metric ids a unit page's figures table links to."""
    import re

    return re.findall(r'href="\.\./definitions\.html#([a-z_]+)"', page.read_text("utf-8"))


def test_unit_pages_are_light_above_a_county(city: dict[str, Any]) -> None:
    """A city's unit page lists the key figures only (hundreds of unit pages
    were most of the engine's time); a county's lists every figure."""
    from fengqiao.catalogue import KEY_FIGURES

    root = city["root"]
    city_page = root / "city-site" / "towns" / "town-01.html"
    county_page = root / "东县-site" / "towns" / "town-01.html"
    assert _figure_links(city_page) == list(KEY_FIGURES)
    assert "这里只列主要指标" in city_page.read_text("utf-8")
    county_links = _figure_links(county_page)
    assert set(KEY_FIGURES) < set(county_links) and len(county_links) > 2 * len(KEY_FIGURES)
    assert "这里只列主要指标" not in county_page.read_text("utf-8")


@pytest.mark.parametrize(("units_are_towns", "where"), [(True, "各乡镇网站"), (False, "各县网站")])
def test_a_summary_supervision_list_points_to_the_full_lists(units_are_towns: bool, where: str) -> None:
    """Above a county the list is the 100 longest-overdue cases; the rest are
    on the sites of the units below: the towns' own when the units are towns
    (a province collecting towns directly may have no county sites)."""
    from fengqiao.render import render_generated

    page = render_generated("county/supervision.md.j2", {
        "area": "全省", "period_title": "2024年第四季度", "count": 1177, "listed": 100,
        "summary": True, "unit_word": "乡镇", "units_are_towns": units_are_towns, "table": "",
        "by_town": "", "accountability": "", "by_unit": ""})
    assert f"这里只列逾期最久的 100 件；每件纠纷由所在县督办，全部逾期纠纷和督办情况见{where}的督办清单" in page
