"""The county commands end to end: collect over HTTP and from folders, build
the county site, read what it publishes, and open it in a real browser."""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.metrics import validate_contract
from fengqiao.outdir import MARKER
from loopback import LoopbackServer
from test_county_data import serve, tamper, town_contract, write_site

RATES = ("closure_rate", "on_time_rate", "first_try_rate", "local_rate", "satisfaction_rate")


def _text(html_file: Path) -> str:
    import html
    import re

    raw = html_file.read_text(encoding="utf-8")
    body = re.search(r"<article.*?</article>", raw, re.S)
    assert body is not None
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body.group(0))))


def _copies(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*.json")) if p.name != MARKER}


@pytest.fixture(scope="module")
def county_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Five towns: 东湖镇 over HTTP (on time), 西山镇 from a folder (on time,
    then a tampered file: its last good copy is used), 南岭镇 (first valid copy
    after the due date: late), 北坡镇 (nothing: missing), 中和镇 (only a
    tampered file: invalid). 2023-Q4 is collected too, for the trends."""
    root = tmp_path_factory.mktemp("county")
    good = {name: {p: town_contract(seed + i, name, p) for i, p in enumerate(("2023-Q4", "2024-Q1"))}
            for seed, name in ((11, "东湖镇"), (22, "西山镇"), (33, "南岭镇"), (44, "中和镇"))}
    for name in ("东湖镇", "西山镇", "南岭镇", "中和镇"):
        write_site(root / name, good[name]["2023-Q4"])
    write_site(root / "东湖镇", good["东湖镇"]["2024-Q1"])
    write_site(root / "西山镇", good["西山镇"]["2024-Q1"])
    write_site(root / "中和镇", tamper(good["中和镇"]["2024-Q1"]))
    runner = CliRunner()
    with serve(root / "东湖镇") as server:
        (root / "county.yml").write_text(f"""\
county: 示范县
collection_dir: collection
fetch: {{timeout: 5, retries: 1, backoff: 0}}
towns:
  - {{name: 东湖镇, url: "{server.url}/"}}
  - {{name: 西山镇, path: 西山镇}}
  - {{name: 南岭镇, path: 南岭镇}}
  - {{name: 北坡镇, path: 北坡镇}}
  - {{name: 中和镇, path: 中和镇}}
""", encoding="utf-8")
        cfg = str(root / "county.yml")
        old = runner.invoke(cli, ["county", "collect", "--config", cfg, "--period", "2023-Q4",
                                  "--now", "2024-01-05T10:00"])
        first = runner.invoke(cli, ["county", "collect", "--config", cfg, "--period", "2024-Q1",
                                    "--now", "2024-04-08T10:00"])
        earlier = _copies(root / "collection")
        write_site(root / "南岭镇", good["南岭镇"]["2024-Q1"])
        write_site(root / "西山镇", tamper(good["西山镇"]["2024-Q1"]))
        second = runner.invoke(cli, ["county", "collect", "--config", cfg, "--period", "2024-Q1",
                                     "--now", "2024-04-20T10:00"])
    build = runner.invoke(cli, ["county", "build", "--config", cfg, "--period", "2024-Q1",
                                "--out", str(root / "site")])
    yield {"root": root, "site": root / "site", "good": good, "runs": (old, first, second),
           "build": build, "earlier": earlier}


def test_collect_runs_report_each_town(county_site: dict[str, Any]) -> None:
    old, first, second = county_site["runs"]
    assert old.exit_code == 1  # 北坡镇 has nothing
    assert first.exit_code == 1
    lines = first.output.splitlines()
    assert lines[0].startswith("2024-Q1 东湖镇：有效（存档 2024-Q1/东湖镇/20240408T020000Z-")
    assert lines[2].startswith("2024-Q1 南岭镇：未收到 —— 文件夹里没有这一期的指标文件 ")
    assert lines[3] == (f"2024-Q1 北坡镇：未收到 —— 找不到文件夹 {county_site['root'] / '北坡镇'}，"
                        "请确认共享文件夹已连接。")
    assert lines[4].startswith("2024-Q1 中和镇：无效（存档 2024-Q1/中和镇/20240408T020000Z-")
    assert "metrics/closure_rate：比率值 0.999 与 分子" in lines[4]
    assert lines[5] == (f"共收取 5 份，有效 2 份，有问题 3 份。存档位置：{county_site['root'] / 'collection'}")
    # nothing collected earlier was replaced by the second run
    now = _copies(county_site["root"] / "collection")
    assert {k: now[k] for k in county_site["earlier"]} == county_site["earlier"]
    assert len(now) == len(county_site["earlier"]) + 2  # 南岭镇 good, 西山镇 tampered


def test_build_output_and_rollup(county_site: dict[str, Any]) -> None:
    build = county_site["build"]
    assert build.exit_code == 0, build.output
    assert build.output.splitlines()[:2] == [
        f"已生成示范县 2024-Q1 县级网站：{county_site['site']}",
        "应报 5 个乡镇：按时 2，迟报 1，未报 1，数据无效 1。",
    ]
    site = county_site["site"]
    county = json.loads((site / "downloads" / "2024-Q1" / "metrics.json").read_text("utf-8"))
    assert validate_contract(county) == []
    assert county["town"] == "示范县"
    assert county["towns"] == sorted(["东湖镇", "西山镇", "南岭镇"])
    assert county["missing_towns"] == ["中和镇", "北坡镇"]
    assert (site / "downloads" / "latest" / "metrics.json").read_bytes() == \
        (site / "downloads" / "2024-Q1" / "metrics.json").read_bytes()
    parts = [county_site["good"][n]["2024-Q1"] for n in ("东湖镇", "西山镇", "南岭镇")]
    for key in ("received", "closed", "resolved", "pending_start", "pending_end", "overdue_open"):
        assert county["metrics"][key] == sum(p["metrics"][key] for p in parts), key
    for rid in RATES:
        r = county["metrics"][rid]
        assert r["numerator"] == sum(p["metrics"][rid]["numerator"] for p in parts)
        assert r["denominator"] == sum(p["metrics"][rid]["denominator"] for p in parts)
        assert r["value"] == round(r["numerator"] / r["denominator"], 6)
    assert len(county["overdue"]) == sum(len(p["overdue"]) for p in parts)

    index = _text(site / "index.html")
    assert "应报乡镇 5 个：按时报送 2 个，迟报 1 个，未报 1 个，数据无效 1 个。" in index
    assert "报送完整率（已报 ÷ 应报） 3 5 60% 报送及时率（按时 ÷ 应报） 2 5 40%" in index
    # each figure named, with its note, beside the earlier figures the towns sent
    assert f"受理数 本期受理的纠纷 {county['metrics']['received']} — — " in index
    assert county["comparisons"]["previous"]["period"]["label"] == "2023-Q4"
    previous = county["comparisons"]["previous"]["metrics"]["received"]
    assert previous == sum(p["comparisons"]["previous"]["metrics"]["received"] for p in parts)
    assert "北坡镇、中和镇 本期没有可用的统计文件" in index


def test_the_county_report_has_a_row_per_reporting_town(county_site: dict[str, Any]) -> None:
    from docx import Document

    site = county_site["site"]
    county = json.loads((site / "downloads" / "2024-Q1" / "metrics.json").read_text("utf-8"))
    doc = Document(str(site / "downloads" / "2024-Q1" / "report.docx"))
    assert doc.paragraphs[0].text == "示范县2024年第一季度矛盾纠纷排查化解工作情况"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert f"全县共受理矛盾纠纷 {county['metrics']['received']} 件" in text
    by_town = [[c.text for c in row.cells] for row in doc.tables[2].rows]
    assert by_town[0][0] == "镇（街道）"
    assert [(r[0], r[1]) for r in by_town[1:]] == [
        (name, str(county["breakdowns"]["by_town"][name]["received"])) for name in county["towns"]]
    assert "report.docx" in _text(site / "downloads.html")


def test_reporting_page_names_every_problem(county_site: dict[str, Any]) -> None:
    page = _text(county_site["site"] / "reporting.html")
    root = county_site["root"]
    assert "截止到 2024-04-10 23:59 （县里的时间）" in page
    assert "应报 5 个：按时 2 个，迟报 1 个，未报 1 个，数据无效 1 个。" in page
    assert (f"北坡镇：未报 找不到文件夹 {root / '北坡镇'}，请确认共享文件夹已连接。") in page
    assert "中和镇：数据无效 收到的文件无效：metrics/closure_rate：比率值 0.999 与 分子" in page
    assert "西山镇：按时 最近一次收到的文件无效：metrics/closure_rate：比率值 0.999" in page
    assert "统计改用 2024-04-08 10:00 收到的上一份有效文件。" in page
    assert "南岭镇 迟报 2024-04-10 23:59 2024-04-20 10:00 2024-04-20 10:00" in page
    # the history across collected periods
    assert "2023年第四季度 4 0 1 0 80% 80%" in page


def test_downloads_are_safe_tables(county_site: dict[str, Any]) -> None:
    folder = county_site["site"] / "downloads" / "2024-Q1"
    raw = (folder / "reporting.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["乡镇"], r["报送情况"]) for r in rows] == [
        ("东湖镇", "按时"), ("西山镇", "按时"), ("南岭镇", "迟报"), ("北坡镇", "未报"), ("中和镇", "数据无效")]
    assert rows[1]["使用上一份有效文件"] == "是"
    ranking = list(csv.DictReader(io.StringIO((folder / "ranking.csv").read_text("utf-8-sig"))))
    # every town is in every ranking: the three with figures, then the one
    # that did not report and the one whose file is invalid, by name
    assert len(ranking) == 5 * 5
    closure = [(r["分组"], r["乡镇"], r["分子"]) for r in ranking if r["指标"] == "办结率"]
    assert closure[3:] == [("数据无效", "中和镇", ""), ("未报", "北坡镇", "")]
    assert {r["指标"] for r in ranking} == {"办结率", "按期办结率", "首次调解成功率", "矛盾不上交率", "满意率"}
    supervision = list(csv.DictReader(io.StringIO((folder / "supervision.csv").read_text("utf-8-sig"))))
    days = [int(r["逾期天数"]) for r in supervision]
    assert days == sorted(days, reverse=True) and len(days) > 0
    from openpyxl import load_workbook

    wb = load_workbook(folder / "reporting.xlsx")
    assert wb.sheetnames == ["报送情况"]
    assert wb["报送情况"]["B6"].value == "数据无效"
    # rates are stored exactly and shown as percentages, with the table set up to read
    rank = load_workbook(folder / "ranking.xlsx")["排名"]
    header = [c.value for c in rank[1]]
    rate = rank.cell(row=2, column=header.index("比率") + 1)
    assert isinstance(rate.value, float) and rate.number_format == "0.0%"
    assert rank.freeze_panes == "A2" and rank.auto_filter.ref.startswith("A1:")
    compare = _text(county_site["site"] / "compare.html")
    assert "未报" in compare and "北坡镇" in compare and "<NA>" not in compare
    assert "nan" not in compare
    assert "下列折线覆盖已收取的各期（2023年第四季度、2024年第一季度）" in compare


def test_quick_build_from_folders_and_a_workbook(tmp_path: Path) -> None:
    from fengqiao.demo import generate_town, write_workbook

    write_site(tmp_path / "east", town_contract(11, "东湖镇", "2024-Q1"))
    write_workbook(generate_town(5, town="南岭镇", scale=0.3, defects=False), tmp_path / "南岭镇.xlsx")
    result = CliRunner().invoke(cli, [
        "county", "build", str(tmp_path / "east"), str(tmp_path / "南岭镇.xlsx"),
        "--period", "2024-Q1", "--out", str(tmp_path / "out"), "--name", "试点县",
        "--now", "2024-04-02T08:00"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "应报 2 个乡镇：已报 2（不判断时限），按时 0，迟报 0，未报 0，数据无效 0。"
    county = json.loads((tmp_path / "out" / "downloads" / "2024-Q1" / "metrics.json").read_text("utf-8"))
    assert county["town"] == "试点县" and county["towns"] == ["东湖镇", "南岭镇"]
    assert validate_contract(county) == []
    south = county["breakdowns"]["by_town"]["南岭镇"]
    east = county["breakdowns"]["by_town"]["东湖镇"]
    assert county["metrics"]["received"] == south["received"] + east["received"]
    assert (tmp_path / "out-collection" / "2024-Q1" / "log.jsonl").exists()
    # no deadline was given, so timeliness is not judged: "—", never 0%
    reporting = (tmp_path / "out" / "reporting.html").read_text("utf-8")
    assert "已报 2 个（命令行直接汇总，不判断是否按时）" in reporting


def test_cli_input_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "county.yml").write_text("county: 示范县\nfetch: {timeout: 0}\n", encoding="utf-8")
    result = runner.invoke(cli, ["county", "collect", "--config", str(tmp_path / "county.yml"),
                                 "--period", "2024-Q1"])
    assert result.exit_code == 2
    assert result.output == (f"错误：县级配置文件 {tmp_path / 'county.yml'} 里的 fetch.timeout "
                             "应是大于 0 的数字，实际写的是 0。例如 timeout: 10。\n")
    result = runner.invoke(cli, ["county", "build", str(tmp_path / "nope"), "--period", "2024-Q1"])
    assert result.exit_code == 2
    assert result.output.startswith(f"错误：找不到“{tmp_path / 'nope'}”。")
    result = runner.invoke(cli, ["county", "build", "--config", str(tmp_path / "county.yml"),
                                 "--period", "2024-13"])
    assert result.exit_code == 2
    assert result.output.startswith("错误：无法识别统计期“2024-13”：月份 13 不在 1 到 12 之间。")


@pytest.mark.browser
def test_county_site_in_browser(county_site: dict[str, Any], project_root: Path,
                                chromium: Any) -> None:
    site = county_site["site"]
    county = json.loads((site / "downloads" / "2024-Q1" / "metrics.json").read_text("utf-8"))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(site), **kw)

        def log_message(self, *a: Any) -> None:
            pass

    httpd = LoopbackServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    shots = project_root / "test-output" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    requests: list[str] = []
    errors: list[str] = []
    try:
        page = chromium.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/index.html")
        page.wait_for_load_state("networkidle")
        article = page.locator("article").inner_text()
        assert "示范县 2024年第一季度汇总" in article
        assert "应报乡镇 5 个：按时报送 2 个，迟报 1 个，未报 1 个，数据无效 1 个。" in article
        row = page.locator("article table").nth(1).locator("tr", has_text="办结率").first
        r = county["metrics"]["closure_rate"]
        cells = row.locator("td").all_inner_texts()
        assert cells[:2] == ["办结率", f"已办结 {r['numerator']} ÷ 受理 {r['denominator']}"]
        # the figure's name leads to its entry on the county's 指标解释 page
        row.locator("a", has_text="办结率").click()
        page.wait_for_load_state("networkidle")
        assert page.url.endswith("/definitions.html#closure_rate")
        assert page.locator("#closure_rate").inner_text() == "办结率"
        page.goto(f"{base}/index.html")
        page.screenshot(path=str(shots / "county-overview.png"), full_page=True)
        page.goto(f"{base}/reporting.html")
        page.wait_for_load_state("networkidle")
        text = page.locator("article").inner_text()
        assert "北坡镇：未报" in text and "中和镇：数据无效" in text
        assert "比率值 0.999" in text
        page.screenshot(path=str(shots / "county-reporting.png"), full_page=True)
        page.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert requests and all(u.startswith(base + "/") for u in requests), \
        [u for u in requests if not u.startswith(base)]
    assert errors == []
