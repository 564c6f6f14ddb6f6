"""Collection, reporting status, roll-up and ranking against real files and
a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fengqiao.county import collect, collect_town, load_county_config, read_log
from fengqiao.county.collect import check_contract, parse_now
from fengqiao.county.config import CountyConfig, FetchSettings, TownSource, county_config
from fengqiao.county.report import (
    INVALID,
    LATE,
    MISSING,
    NO_DATA,
    ON_TIME,
    RANKED,
    REPORTED,
    SMALL,
    build_report,
    ranking_table,
    status_table,
)
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import parse_period, validate_contract
from fengqiao.outdir import MARKER
from test_county_data import serve, tamper, town_contract, write_site

Q1 = parse_period("2024-Q1")
BEFORE_DUE = datetime(2024, 4, 8, 9, 0, tzinfo=UTC)  # due 2024-04-10 23:59:59 +08:00
AFTER_DUE = datetime(2024, 4, 15, 9, 0, tzinfo=UTC)


def county(tmp_path: Path, towns: list[TownSource], **kw: object) -> CountyConfig:
    return county_config("示范县", collection_dir=tmp_path / "collection", towns=towns,
                         fetch=FetchSettings(timeout=2, retries=2, backoff=0, concurrency=4), **kw)


def copies(cfg: CountyConfig) -> dict[str, str]:
    return {p.relative_to(cfg.collection_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(cfg.collection_dir.rglob("*.json")) if p.name != MARKER}


def test_config_file_and_errors(tmp_path: Path) -> None:
    (tmp_path / "county.yml").write_text(
        "county: 示范县\ncollection_dir: got\ndue_days: {quarter: 7}\n"
        "towns:\n  - {name: 东湖镇, url: 'http://127.0.0.1:9/'}\n  - {name: 西山镇, path: xishan}\n",
        encoding="utf-8")
    cfg = load_county_config(tmp_path / "county.yml")
    assert cfg.collection_dir == tmp_path / "got"
    assert [(t.name, t.kind) for t in cfg.towns] == [("东湖镇", "url"), ("西山镇", "path")]
    assert cfg.towns[1].location == str(tmp_path / "xishan")
    assert cfg.due_days["quarter"] == 7 and cfg.due_days["month"] == 5
    assert cfg.due_at(Q1).isoformat() == "2024-04-07T15:59:59+00:00"

    (tmp_path / "bad.yml").write_text(
        "county: 示范县\ntowns:\n  - {name: 东湖镇, url: 'ftp://x', path: y}\n", encoding="utf-8")
    with pytest.raises(FengqiaoError) as exc:
        load_county_config(tmp_path / "bad.yml")
    assert str(exc.value) == f"县级配置文件 {tmp_path / 'bad.yml'} 里的 towns[1]（东湖镇）必须且只能填写 url、path、workbook 中的一项。"
    (tmp_path / "bad2.yml").write_text("county: 示范县\nfetch: {retries: -1}\n", encoding="utf-8")
    with pytest.raises(FengqiaoError, match=r"fetch\.retries 应是不小于 0 的整数，实际写的是 -1"):
        load_county_config(tmp_path / "bad2.yml")


def test_example_config_loads(project_root: Path) -> None:
    cfg = load_county_config(project_root / "examples" / "county.yml")
    assert len(cfg.towns) == 3
    assert {t.kind for t in cfg.towns} == {"url", "path", "workbook"}


def test_collect_statuses_rollup_and_no_overwrite(tmp_path: Path) -> None:
    east = town_contract(11, "东湖镇", "2024-Q1")
    west = town_contract(22, "西山镇", "2024-Q1")
    south = town_contract(33, "南岭镇", "2024-Q1")
    write_site(tmp_path / "east_site", east)
    write_site(tmp_path / "west_share", west)
    write_site(tmp_path / "south_share", south)
    with serve(tmp_path / "east_site") as server:
        cfg = county(tmp_path, [
            TownSource("东湖镇", "url", server.url),
            TownSource("西山镇", "path", str(tmp_path / "west_share")),
            TownSource("南岭镇", "path", str(tmp_path / "south_share")),
            TownSource("北坡镇", "path", str(tmp_path / "nowhere")),
        ])
        # first round before the due date: 南岭镇 publishes a tampered file
        write_site(tmp_path / "south_share", tamper(south))
        first = collect(cfg, [Q1], now=BEFORE_DUE)
        assert [r.status for r in first] == ["valid", "valid", "invalid", "failed"]
        assert "metrics/closure_rate：比率值 0.999 与 分子" in first[2].reason
        assert first[3].reason == f"找不到文件夹 {tmp_path / 'nowhere'}，请确认共享文件夹已连接。"
        earlier = copies(cfg)
        assert len(earlier) == 3

        # second round after the due date: 南岭镇 fixed its file (late);
        # 西山镇 now publishes a tampered file, so its last good copy is used
        write_site(tmp_path / "south_share", south)
        write_site(tmp_path / "west_share", tamper(west))
        collect(cfg, [Q1], now=AFTER_DUE)
        later = copies(cfg)
        assert {k: later[k] for k in earlier} == earlier  # nothing overwritten
        assert len(later) == 5  # 东湖镇 unchanged: same bytes stored once
        assert len(read_log(cfg.collection_dir, "2024-Q1")) == 8

    report = build_report(cfg, Q1)
    status = {s.town: s for s in report.statuses}
    assert {t: s.status for t, s in status.items()} == {
        "东湖镇": ON_TIME, "西山镇": ON_TIME, "南岭镇": LATE, "北坡镇": MISSING}
    assert status["西山镇"].last_good
    assert status["西山镇"].reason.startswith("最近一次收到的文件无效：metrics/closure_rate：比率值 0.999")
    assert status["西山镇"].reason.endswith("统计改用 2024-04-08 17:00 收到的上一份有效文件。")
    assert status["南岭镇"].first_valid_at == AFTER_DUE
    assert report.counts == {ON_TIME: 2, LATE: 1, REPORTED: 0, INVALID: 0, MISSING: 1}
    assert report.completeness == {"numerator": 3, "denominator": 4, "value": 0.75}
    assert report.timeliness == {"numerator": 2, "denominator": 4, "value": 0.5}

    c = report.contract
    assert c is not None and validate_contract(c) == []
    assert c["town"] == "示范县"
    assert c["towns"] == sorted(["东湖镇", "西山镇", "南岭镇"])
    assert c["missing_towns"] == ["北坡镇"]
    parts = [east, west, south]
    for key in ("received", "closed", "resolved", "pending_end", "overdue_open"):
        assert c["metrics"][key] == sum(p["metrics"][key] for p in parts)
    for rid in ("closure_rate", "on_time_rate", "first_try_rate", "local_rate", "satisfaction_rate"):
        r = c["metrics"][rid]
        assert r["numerator"] == sum(p["metrics"][rid]["numerator"] for p in parts)
        assert r["denominator"] == sum(p["metrics"][rid]["denominator"] for p in parts)
        assert r["value"] == round(r["numerator"] / r["denominator"], 6)
    assert len(report.supervision) == sum(len(p["overdue"]) for p in parts)
    days = report.supervision["days_overdue"].tolist()
    assert days == sorted(days, reverse=True)

    table = status_table(report)
    assert table["status"].tolist() == [ON_TIME, ON_TIME, LATE, MISSING]
    assert table.loc[3, "reason"] == f"找不到文件夹 {tmp_path / 'nowhere'}，请确认共享文件夹已连接。"


def test_only_invalid_copies_is_data_invalid(tmp_path: Path) -> None:
    south = town_contract(33, "南岭镇", "2024-Q1")
    write_site(tmp_path / "s", tamper(south))
    cfg = county(tmp_path, [TownSource("南岭镇", "path", str(tmp_path / "s"))])
    collect(cfg, [Q1], now=BEFORE_DUE)
    report = build_report(cfg, Q1)
    assert report.statuses[0].status == INVALID
    assert report.statuses[0].reason.startswith("收到的文件无效：metrics/closure_rate：比率值 0.999")
    assert report.contract is None
    assert report.completeness == {"numerator": 0, "denominator": 1, "value": 0.0}


def test_wrong_period_and_wrong_town_are_reported(tmp_path: Path) -> None:
    q2 = town_contract(5, "东湖镇", "2024-Q2")
    assert check_contract(q2, Q1, "东湖镇") == [
        "文件的统计期是 2024-Q2（2024-04-01 至 2024-06-30），要求的是 2024-Q1（2024-01-01 至 2024-03-31）。"]
    q1 = town_contract(5, "东湖镇", "2024-Q1")
    assert check_contract(q1, Q1, "西山镇") == ["文件里的乡镇名称是“东湖镇”，县里登记的是“西山镇”。"]
    assert check_contract({**q1, "schema_version": "2.0"}, Q1, "东湖镇") == [
        "文件的格式版本是 2.0，县里只能读取 1.x 版本。"]
    # a file put in the 2024-Q1 folder that is really 2024-Q2
    (tmp_path / "site" / "downloads" / "2024-Q1").mkdir(parents=True)
    (tmp_path / "site" / "downloads" / "2024-Q1" / "metrics.json").write_text(json.dumps(q2), "utf-8")
    cfg = county(tmp_path, [TownSource("东湖镇", "path", str(tmp_path / "site"))])
    receipt = collect_town(cfg, cfg.towns[0], Q1, now=BEFORE_DUE)
    assert receipt.status == "invalid"
    assert receipt.reason.startswith("文件的统计期是 2024-Q2")


def test_http_failures_are_bounded(tmp_path: Path) -> None:
    with serve(status=503) as server:
        cfg = county(tmp_path, [TownSource("东湖镇", "url", server.url)])
        receipt = collect_town(cfg, cfg.towns[0], Q1, now=BEFORE_DUE)
        assert len(server.hits) == 3  # 1 try + 2 retries
        assert server.hits == ["/downloads/2024-Q1/metrics.json"] * 3
    assert receipt.status == "failed"
    assert receipt.reason == f"{server.url}/downloads/2024-Q1/metrics.json 返回 HTTP 503，共尝试 3 次仍未成功。"
    with serve(status=404) as server:
        cfg = county(tmp_path, [TownSource("东湖镇", "url", server.url)])
        receipt = collect_town(cfg, cfg.towns[0], Q1, now=BEFORE_DUE)
        assert len(server.hits) == 1  # "not published" is not retried
    assert receipt.reason == (f"网站上没有这一期的 metrics.json（{server.url}/downloads/2024-Q1/metrics.json "
                              "返回 404），可能还没有发布。")
    # nobody listening: connection refused, still bounded and still a receipt
    cfg = county(tmp_path, [TownSource("东湖镇", "url", server.url)])
    receipt = collect_town(cfg, cfg.towns[0], Q1, now=BEFORE_DUE)
    assert receipt.reason == f"无法连接 {server.url}/downloads/2024-Q1/metrics.json，共尝试 3 次仍未成功。"


def test_ranking_guard_small_denominators() -> None:
    from fengqiao.county.report import TownStatus

    def town(name: str, num: int, den: int) -> TownStatus:
        value = None if den == 0 else round(num / den, 6)
        return TownStatus(town=name, status=ON_TIME, due_at=BEFORE_DUE, contract={
            "metrics": {"closure_rate": {"numerator": num, "denominator": den, "value": value}}})

    towns = [town("甲镇", 2, 2), town("乙镇", 190, 200), town("丙镇", 150, 200), town("丁镇", 0, 0)]
    table = ranking_table(towns, "closure_rate", min_denominator=10)
    assert table[["town", "group"]].values.tolist() == [
        ["乙镇", RANKED], ["丙镇", RANKED], ["甲镇", SMALL], ["丁镇", NO_DATA]]
    assert table["rank"].tolist()[:2] == [1, 2]
    # even without the cut-off, the Wilson lower bound keeps 2/2 below 190/200
    table = ranking_table(towns, "closure_rate", min_denominator=0)
    assert table["town"].tolist()[:3] == ["乙镇", "丙镇", "甲镇"]
    assert round(float(table.loc[0, "wilson_lower"]), 4) == 0.9104
    assert round(float(table.loc[2, "wilson_lower"]), 4) == 0.3424


def test_parse_now_uses_county_time(tmp_path: Path) -> None:
    cfg = county(tmp_path, [])
    assert parse_now("2024-04-10 23:00", cfg) == datetime(2024, 4, 10, 15, 0, tzinfo=UTC)
    assert parse_now("2024-04-10T01:00:00+00:00", cfg) == datetime(2024, 4, 10, 1, 0, tzinfo=UTC)
    with pytest.raises(FengqiaoError, match="无法识别时间“昨天”"):
        parse_now("昨天", cfg)
