"""Every figure explained once (the 指标解释 page, from the metric catalogue)
and shown everywhere: each statistics row names its numerator and denominator
and links to an entry that exists; the statistics xlsx carries the page's
columns."""

from __future__ import annotations

import io
import re
from pathlib import Path

import openpyxl
import pytest

from fengqiao import catalogue
from fengqiao.catalogue import METRICS
from fengqiao.charts import ChartMaker
from fengqiao.render import fmt
from fengqiao.render.town import STAT_COLUMNS, render_docs, statistics_workbook
from fengqiao.sitebuild import build_from_data
from site_fixture import fixture_config, site_data

CJK = re.compile(r"[\u4e00-\u9fff]")
ANCHOR = re.compile(r"^### (.+) \{ #(\w+) \}$", re.M)


# -- the catalogue carries the sentences --------------------------------------------


@pytest.mark.parametrize("metric_id", list(METRICS))
def test_every_figure_has_its_sentence_and_short_names(metric_id: str) -> None:
    m = METRICS[metric_id]
    assert CJK.search(m.meaning) and not m.meaning.endswith("。")
    assert CJK.search(m.numerator_label)
    # a ratio names both parts; anything else has no denominator to name
    assert bool(m.denominator_label) == bool(m.denominator)
    assert "config." not in fmt.plain_words(m.numerator, {}) + fmt.plain_words(m.denominator, {})


def test_the_notes_read_as_the_issue_asks() -> None:
    assert METRICS["closure_rate"].short_note() == "已办结 ÷ 受理"
    assert METRICS["on_time_rate"].short_note() == "按期办结 ÷ 办结"
    assert METRICS["closure_rate"].counted_note(9, 12) == "已办结 9 ÷ 受理 12"
    # a days figure never becomes a fraction of days × cases over cases
    assert METRICS["disposition_days"].counted_note(1472, 75) == "本期天数 × 期末在办 ÷ 办结"
    assert METRICS["received"].counted_note(None, None) == "本期受理的纠纷"


def test_every_figure_is_in_one_section() -> None:
    listed = [m for _, ids in catalogue.GROUPS for m in ids]
    assert len(listed) == len(set(listed))
    assert set(listed) == set(METRICS)


def test_settings_are_named_by_their_values() -> None:
    text = METRICS["backlog_start"].numerator
    assert "config.backlog_days" in text
    assert "超过 90 天" in fmt.plain_words(text, {"backlog_days": 90})
    assert "超过积案标准的天数" in fmt.plain_words(text, {"backlog_days": None})
    on_time = fmt.plain_words(METRICS["on_time_rate"].numerator, {"day_count": "working"})
    assert "（按工作日计，节假日不算）" in on_time


# -- the generated pages ----------------------------------------------------------------


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("definitions")
    out = root / "docs"
    render_docs(site_data(), fixture_config(root), out, ChartMaker(root / "charts"))
    return out


def _anchors(docs: Path) -> dict[str, str]:
    text = (docs / "stats" / "definitions.md").read_text(encoding="utf-8")
    return {anchor: title for title, anchor in ANCHOR.findall(text)}


def test_the_page_explains_every_figure_once(docs: Path) -> None:
    text = (docs / "stats" / "definitions.md").read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: 指标解释\n---")
    anchors = ANCHOR.findall(text)
    assert [a for _, a in anchors] == [m for _, ids in catalogue.GROUPS for m in ids]
    assert {a: t for t, a in anchors} == {m.id: m.title for m in METRICS.values()}
    assert "config." not in text
    entry = text.split("{ #closure_rate }")[1].split("###")[0]
    assert METRICS["closure_rate"].meaning in entry
    assert f"- **分子**：{METRICS['closure_rate'].numerator}（简称“已办结”）" in entry
    assert f"- **分母**：{METRICS['closure_rate'].denominator}（简称“受理”）" in entry
    assert "- **单位**：百分比；**目标**：不低于 90%" in entry
    days = text.split("{ #disposition_days }")[1].split("###")[0]
    assert "- **单位**：天（这是天数，不是比例）" in days


def test_every_statistics_row_links_to_an_entry(docs: Path) -> None:
    anchors = _anchors(docs)
    page = (docs / "stats" / "2024-Q1.md").read_text(encoding="utf-8")
    table = page.split("## 主要指标")[1].split("\n\n")[1].splitlines()[2:]
    shown = fmt.metric_rows(site_data().periods[2]["metrics"], {})
    assert len(table) == len(shown)
    for line, row in zip(table, shown, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        link = re.fullmatch(r"\[(.+)\]\(definitions\.md#(\w+)\)", cells[0])
        assert link, line
        assert anchors[link.group(2)] == link.group(1) == METRICS[row["id"]].title
        # the numerator and denominator named, with their counts for a rate
        assert cells[1] == row["counted"]
        assert METRICS[row["id"]].short_note().split(" ÷ ")[0] in cells[1]
    # every figure a statistics page shows has its entry
    assert {r["id"] for r in shown} <= set(anchors)


def test_home_page_rows_link_and_name_their_counts(docs: Path) -> None:
    anchors = _anchors(docs)
    home = (docs / "index.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(stats/definitions\.md#(\w+)\)", home)
    assert links and set(links) <= set(anchors)
    # 2024-03: 9 of 12 received are closed (the fixture's March)
    assert "| [办结率](stats/definitions.md#closure_rate) | 已办结 9 ÷ 受理 12 | 75% |" in home


def test_statistics_index_and_about_page_link_the_page(docs: Path) -> None:
    assert "[指标解释](definitions.md)" in (docs / "stats" / "index.md").read_text("utf-8")
    assert "[指标解释](stats/definitions.md)" in (docs / "about.md").read_text("utf-8")


def test_days_figures_show_days_never_a_fraction(docs: Path) -> None:
    page = (docs / "stats" / "2024-Q1.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if "#disposition_days)" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    # the fixture: 150 (days × open cases) over 25 closed, 20 the quarter before
    assert cells[1:3] == ["本期天数 × 期末在办 ÷ 办结", "6 天"]
    assert cells[5:7] == ["7.5 天（-1.5 天）", "—"]
    assert "150" not in row


def test_the_comparison_columns_say_what_they_compare(docs: Path) -> None:
    page = (docs / "stats" / "2024-Q1.md").read_text(encoding="utf-8")
    row = next(line for line in page.splitlines() if "#closure_rate)" in line)
    assert row.endswith("| 80% | 90% | 未达标 | 79.2%（+0.8 个百分点） | — |")
    assert ("上期是2023年10月1日至2023年12月19日；上年同期是2023年1月1日至2023年3月20日"
            "（台账在那时还没有登记完整，无法比较）。") in page


# -- the built site: links resolve in HTML -------------------------------------------


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("built")
    build_from_data(site_data(), fixture_config(root), out=root / "public")
    return root / "public"


def test_html_links_reach_existing_anchors(built: Path) -> None:
    definitions = (built / "stats" / "definitions.html").read_text(encoding="utf-8")
    ids = set(re.findall(r'<h3 id="(\w+)"', definitions))
    assert ids == set(METRICS)
    for page, prefix in ((built / "stats" / "2024-Q1.html", ""),
                         (built / "index.html", "stats/")):
        html = page.read_text(encoding="utf-8")
        targets = re.findall(rf'href="{prefix}definitions\.html#(\w+)"', html)
        assert targets and set(targets) <= ids, page
    about = (built / "about.html").read_text(encoding="utf-8")
    assert 'href="stats/definitions.html"' in about


# -- the statistics xlsx ---------------------------------------------------------------


def test_statistics_xlsx_carries_the_pages_columns() -> None:
    contract = site_data().periods[2]
    data = statistics_workbook(contract)
    assert data == statistics_workbook(contract)  # byte-stable
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["主要指标", "五个底数清", "分布", "按村(社区)", "按纠纷类型", "按来源"]
    main = book["主要指标"]
    assert [c.value for c in main[1]] == list(STAT_COLUMNS.values())
    rows = {r[0]: r for r in main.iter_rows(min_row=2, values_only=True)}
    # targets as the file publishes them (the fixture's name none for 办结率)
    assert rows["办结率"] == ("办结率", "已办结 ÷ 受理", 24, 30, "80%", "—", "—",
                           "79.2%", "↑0.8 个百分点", "—", "—")
    assert rows["首次调解成功率"][5:7] == ("85%", "未达标")
    assert rows["预计结案天数"][2:5] == (None, None, "6 天")
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    village = book["按村(社区)"]
    header = [c.value for c in village[1]]
    col = header.index("办结率") + 1
    cell = village.cell(row=2, column=col)
    assert cell.number_format == "0.0%" and cell.value == round(22 / 27, 6)  # 东村: 22 of 27
