"""The written report (python-docx): its tables equal the figures, it holds
no personal data, the same figures give the same bytes, and it never
replaces someone else's document."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from docx import Document

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.demo import generate_town, planted_personal_data, write_workbook
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import parse_period
from fengqiao.render import fmt
from fengqiao.render.word import OVERDUE_ROWS, change_words, report_title
from fengqiao.sources import open_source
from fengqiao.townreport import report_input, write_report
from fengqiao.validate import validate_workbook
from metrics_helpers import dispute, ledger

Q4 = parse_period("2024-Q4")
TODAY = date(2025, 1, 15)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[str]]:
    folder = tmp_path_factory.mktemp("report")
    tables = generate_town(7, scale=0.5, personal_data=True)
    path = folder / "台账.xlsx"
    write_workbook(tables, path)
    config = load_config()
    ledger = validate_workbook(open_source(path, config=config), config=config)
    return ledger, planted_personal_data(tables)


@pytest.fixture(scope="module")
def written(demo: tuple[Any, list[str]], tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Any, Path]:
    ledger, _ = demo
    data = report_input(ledger, Q4, load_config(), today=TODAY)
    out = tmp_path_factory.mktemp("out") / "报告.docx"
    write_report(data, out)
    return data, out


def _tables(path: Path) -> list[list[list[str]]]:
    return [[[c.text for c in row.cells] for row in t.rows] for t in Document(str(path)).tables]


def test_change_words_by_hand() -> None:
    assert change_words(12, 8) == "增加 4 件（+50.0%）"
    assert change_words(6, 8) == "减少 2 件（-25.0%）"
    assert change_words(5, 5) == "持平"
    assert change_words(3, 0) == "增加 3 件"          # no percentage of nothing
    assert change_words(None, 4) == "—" and change_words(4, None) == "—"
    assert change_words(0.9, 0.85, rate=True) == "上升 5.0 个百分点"
    assert change_words(0.8, 0.85, rate=True) == "下降 5.0 个百分点"
    assert change_words(0.85, 0.85, rate=True) == "持平"


def test_the_command_compares_as_the_contract_does(tmp_path: Path) -> None:
    """The ledger starts on 2023-03-05 (A), inside March 2023: the report of
    March 2024 shows 上年同期 "—" as the site does, not March 2023's 2 cases
    (A, B) as if the ledger were complete; February 2024 (环比) it knows."""
    rows = [dispute("A", "2023-03-05", closed="2023-03-08", status="已化解"),
            dispute("B", "2023-03-20"),
            dispute("C", "2024-02-10", closed="2024-02-12", status="已化解"),
            dispute("D", "2024-03-01"), dispute("E", "2024-03-15")]
    config = load_config()
    data = report_input(ledger({"disputes": rows}), parse_period("2024-03"), config,
                        today=date(2024, 3, 31), with_charts=False)
    assert data.current["comparisons"]["year_ago"]["metrics"]["received"] is None
    out = write_report(data, tmp_path / "报告.docx")
    received = {row[0]: row for row in _tables(out)[1][1:]}[fmt.title("received")]
    assert received[1:4] == ["2", "1", "—"]
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "共受理矛盾纠纷 2 件，同比—，环比增加 1 件（+100.0%）" in text


def test_tables_equal_the_figures(written: tuple[Any, Path]) -> None:
    data, path = written
    c, prev, ago = data.current, data.previous, data.year_ago
    doc = Document(str(path))
    assert doc.paragraphs[0].text == report_title(c) == "本镇2024年第四季度矛盾纠纷排查化解工作情况"
    assert doc.core_properties.author == "fengqiao"
    tables = _tables(path)
    baselines, figures, villages = tables[0], tables[1], tables[2]
    assert baselines[0] == ["底数", "情况"] and len(baselines) == 6
    assert baselines[1][1].startswith(f"受理 {c['metrics']['received']} 件，化解 {c['metrics']['resolved']} 件")
    assert figures[0] == ["指标", "本期", "上期", "上年同期", "目标", "是否达标"]
    by_title = {row[0]: row for row in figures[1:]}
    received = by_title[fmt.title("received")]
    assert received[1:4] == [str(c["metrics"]["received"]), str(prev["metrics"]["received"]),
                             str(ago["metrics"]["received"])]
    closure = c["metrics"]["closure_rate"]
    row = by_title[fmt.title("closure_rate")]
    assert row[1] == f"{fmt.pct(closure)}（{closure['numerator']}/{closure['denominator']}）"
    assert row[4] == "90%" and row[5] == ("达标" if closure["value"] >= 0.9 else "未达标")
    # 受理数同比 would repeat the 受理数 row's year-ago column
    assert fmt.title("received_yoy") not in by_title and fmt.title("clearance_rate") in by_title
    names = sorted(c["breakdowns"]["village"])
    assert [r[0] for r in villages[1:]] == names
    first = c["breakdowns"]["village"][names[0]]
    assert villages[1][1:3] == [str(first["received"]), str(first["closed"])]
    # the narrative states the received count and its year-on-year change
    text = "\n".join(p.text for p in doc.paragraphs)
    assert f"全镇共受理矛盾纠纷 {c['metrics']['received']} 件，同比{change_words(c['metrics']['received'], ago['metrics']['received'])}" in text
    # the overdue cases, most overdue first, capped
    overdue = tables[3]
    assert overdue[0][:2] == ["编号", "村（社区）"]
    expected = sorted(c["overdue"], key=lambda o: (-o["days_overdue"], o["id"]))[:OVERDUE_ROWS]
    assert [r[0] for r in overdue[1:]] == [o["id"] for o in expected]
    assert [r[4] for r in overdue[1:]] == [str(o["days_overdue"]) for o in expected]
    # two charts as pictures
    assert len(doc.inline_shapes) == 2


def test_no_personal_data_in_the_report(demo: tuple[Any, list[str]],
                                        written: tuple[Any, Path]) -> None:
    _, planted = demo
    _, path = written
    assert planted
    with zipfile.ZipFile(path) as zf:
        xml = "".join(zf.read(n).decode("utf-8", "replace") for n in zf.namelist()
                      if n.endswith(".xml"))
    leaked = [s for s in planted if s in xml]
    assert leaked == []


def test_same_figures_same_bytes_and_only_our_file_is_replaced(
        written: tuple[Any, Path], tmp_path: Path) -> None:
    data, path = written
    again = tmp_path / "again.docx"
    write_report(data, again)
    assert again.read_bytes() == path.read_bytes()
    write_report(data, again)  # our own report is replaced
    mine = tmp_path / "我的总结.docx"
    mine.write_bytes(b"my own words")
    with pytest.raises(FengqiaoError, match="不是 fengqiao 生成的报告"):
        write_report(data, mine)
    assert mine.read_bytes() == b"my own words"
    with pytest.raises(FengqiaoError, match=r"\.docx 结尾"):
        write_report(data, tmp_path / "r.pdf")


def test_the_command_writes_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "台账.xlsx"
    write_workbook(generate_town(7, scale=0.3, defects=False), source)
    (tmp_path / "fengqiao.yml").write_text(
        "town: 枫溪镇\nsource: 台账.xlsx\nreport_date: 2024-12-31\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["report", "--period", "2024-12"], prog_name="fengqiao")
    assert result.exit_code == 0, result.output
    out = tmp_path / "枫溪镇2024年12月矛盾纠纷排查化解工作情况.docx"
    assert f"已生成报告：{out.name}" in result.output
    assert Document(str(out)).paragraphs[0].text == "枫溪镇2024年12月矛盾纠纷排查化解工作情况"


def test_libreoffice_opens_and_converts_it(written: tuple[Any, Path], tmp_path: Path) -> None:
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office is None:
        pytest.skip("LibreOffice is not installed (Debian: libreoffice-writer-nogui)")
    _, path = written
    proc = subprocess.run([office, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo",
                           "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
                          capture_output=True, text=True, timeout=180)
    pdf = tmp_path / (path.stem + ".pdf")
    assert pdf.exists(), proc.stderr
    assert pdf.read_bytes()[:5] == b"%PDF-"
    text_tool = shutil.which("pdftotext")
    if text_tool is not None:
        text = subprocess.run([text_tool, str(pdf), "-"], capture_output=True, text=True,
                              timeout=60).stdout
        flat = "".join(text.split())  # the title may wrap
        assert "矛盾纠纷排查化解工作情况" in flat and "五个底数" in flat


def test_a_county_report_has_a_table_by_town(tmp_path: Path) -> None:
    from fengqiao.metrics import compute_metrics
    from fengqiao.metrics.rollup import combine
    from fengqiao.render.word import ReportInput, build_report
    from metrics_helpers import dispute, ledger

    march = parse_period("2024-03")
    # 镇A: 2 received, 1 closed; 镇B: 1 received, 1 closed; A2 is still open
    # half a year later, past every deadline
    a = compute_metrics(ledger({"disputes": [
        dispute("A1", "2024-03-01", closed="2024-03-03", status="已化解"),
        dispute("A2", "2024-03-02")]}, town="镇A"), march, as_of=date(2024, 9, 30), config=load_config())
    b = compute_metrics(ledger({"disputes": [
        dispute("B1", "2024-03-05", closed="2024-03-15", status="已化解")]}, town="镇B"),
        march, as_of=date(2024, 9, 30), config=load_config())
    county = combine([a, b], name="示范县", towns=["镇A", "镇B"])
    out = tmp_path / "县报告.docx"
    out.write_bytes(build_report(ReportInput(county, None, None)))
    doc = Document(str(out))
    assert doc.paragraphs[0].text == "示范县2024年3月矛盾纠纷排查化解工作情况"
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "四、各镇（街道）情况" in text and "全县共受理矛盾纠纷 3 件" in text
    by_town = _tables(out)[2]
    assert by_town[0][:3] == ["镇（街道）", "受理", "办结"]
    assert [row[:3] for row in by_town[1:]] == [["镇A", "2", "1"], ["镇B", "1", "1"]]
    assert by_town[1][3] == "50%（1/2）"
    overdue = [t for t in _tables(out) if t[0][0] == "镇（街道）" and t[0][1] == "编号"]
    assert len(overdue) == 1 and [row[:2] for row in overdue[0][1:]] == [["镇A", "A2"]]


def test_the_site_publishes_every_periods_report(tmp_path: Path) -> None:
    from fengqiao.render.town import REPORT_FILE, write_downloads
    from site_fixture import site_data

    data = site_data()
    write_downloads(data, tmp_path)
    current = set(data.current.values())
    assert current  # the fixture has a current month, quarter and year
    for c in data.periods:
        path = tmp_path / "downloads" / c["period"]["label"] / REPORT_FILE
        doc = Document(str(path))
        assert doc.paragraphs[0].text == report_title(c)
        figures = {row[0]: row for row in _tables(path)[1][1:]}
        received = c["metrics"]["received"]
        assert figures["受理数"][1] == str(received)
        # the earlier figures come from the file's own comparisons block
        before = (c.get("comparisons") or {}).get("previous") or {}
        shown = (before.get("metrics") or {}).get("received")
        assert figures["受理数"][2] == ("—" if shown is None else str(shown))
        pictures = len(doc.inline_shapes)
        assert pictures == (2 if c["period"]["label"] in current and c["breakdowns"].get("village")
                            else 1 if c["period"]["label"] in current else 0)


def test_a_summary_report_counts_every_overdue_case_not_just_the_listed(tmp_path: Path) -> None:
    """A province's file lists only its longest-overdue cases; the report's
    sentence gives the figure (metrics.overdue_open), as its 总体情况 does."""
    from fengqiao.render.word import ReportInput, build_report

    contract = _summary_contract(listed=100, overdue_open=1177)
    out = tmp_path / "省报告.docx"
    out.write_bytes(build_report(ReportInput(contract, None, None)))
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert f"逾期未办结 1177 件，下表列出逾期最久的 {OVERDUE_ROWS} 件。" in text
    assert "逾期未办结 100 件" not in text
    # a town's own file: every case is listed, so the two agree
    town = _summary_contract(listed=2, overdue_open=2)
    out.write_bytes(build_report(ReportInput(town, None, None)))
    text = "\n".join(p.text for p in Document(str(out)).paragraphs)
    assert "逾期未办结 2 件。" in text


def _summary_contract(listed: int, overdue_open: int) -> dict[str, Any]:
    """A county's roll-up of two towns, then cut as a summary would be:
    ``listed`` overdue cases kept of ``overdue_open``."""
    from fengqiao.metrics import compute_metrics
    from fengqiao.metrics.rollup import combine

    march = parse_period("2024-03")
    parts = [compute_metrics(ledger({"disputes": [dispute(f"{t}1", "2024-03-02")]}, town=t), march,
                             as_of=date(2024, 9, 30), config=load_config()) for t in ("镇A", "镇B")]
    contract = combine(parts, name="示范县", towns=["镇A", "镇B"])
    one = contract["overdue"][0]
    contract["overdue"] = [{**one, "id": f"X{i}"} for i in range(listed)]
    contract["metrics"]["overdue_open"] = overdue_open
    return contract
