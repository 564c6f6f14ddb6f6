from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd
import pytest

from fengqiao.charts import ChartMaker
from fengqiao.errors import FengqiaoError
from fengqiao.render import fmt, render_site_page
from fengqiao.render.town import SITE_PAGES, render_docs
from site_fixture import fixture_config, site_data

GOLDEN = Path(__file__).parent / "golden"
GOLDEN_PAGES = ("index.md", "stats/2024-Q1.md", "lists/problems.md", "lists/responsibilities.md",
                "quality.md", "supervision.md", "assessment.md", "lists/followup.md")


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    config = fixture_config(tmp_path)
    out = tmp_path / "docs"
    render_docs(site_data(), config, out, ChartMaker(tmp_path / "charts"))
    return out


# --- hand-written pages read the config --------------------------------------------


def test_star_page_follows_the_config(tmp_path: Path) -> None:
    page = SITE_PAGES / "procedures" / "star-grading.md"
    default = render_site_page(page, fixture_config(tmp_path))
    assert "| 二星 | 涉及多个部门、需要联合调处的复杂纠纷 | 镇综治中心组织相关部门联合办理 | 15天（自然日） |" in default
    changed = render_site_page(page, fixture_config(tmp_path, star_2=10))
    assert "| 10天（自然日） |" in changed and "15天（自然日）" not in changed


def test_no_hand_written_page_types_a_configured_number() -> None:
    """Deadlines, targets and quotas appear only as placeholders in site/."""
    for path in SITE_PAGES.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        for typed in ("15 天", "15天", "60天", "85%", "90%", "95%", "90 天"):
            assert typed not in text, f"{path.name} types {typed!r}; use the config"


def test_every_hand_written_page_renders_with_targets_and_quotas(tmp_path: Path) -> None:
    config = fixture_config(tmp_path)
    texts = {p.name: render_site_page(p, config) for p in SITE_PAGES.rglob("*.md")}
    assert "目标不低于 85%（首次调解成功率）" in texts["three-levels.md"]
    # each rank's quota with the 方式 that count (defaults.yml)
    assert "| 党政主要领导 | 每月至少 5 天有接访或约访 |" in texts["receptions.md"]
    assert "| 每半月 | 15 天 |" in texts["key-persons.md"]
    assert "受理超过 90 天仍未办结的积案" in texts["supervision.md"]
    assert "{{" not in "".join(texts.values())


def test_template_typo_names_the_page(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text("期限 {{ config.deadlines.star_9 }} 天\n", encoding="utf-8")
    with pytest.raises(FengqiaoError) as info:
        render_site_page(page, fixture_config(tmp_path))
    assert str(page) in str(info.value) and "star_9" in str(info.value)


# --- formatting ------------------------------------------------------------------------


def test_rates_show_dash_when_denominator_is_zero() -> None:
    assert fmt.pct({"numerator": 0, "denominator": 0, "value": None}) == "—"
    assert fmt.pct(0.0) == "0%"
    assert fmt.pct(0.857143) == "85.7%"
    assert fmt.pct(1.0) == "100%"
    assert fmt.change({"count": 3, "previous": 0, "change": None}) == "3（上年同期 0，—）"
    assert fmt.change({"count": 2, "previous": 4, "change": -0.5}) == "2（上年同期 4，-50%）"
    # the ledger does not reach back a year: not known, never "0"
    assert fmt.change({"count": 2, "previous": None, "change": None}) == "2（上年同期 —）"


def test_metric_rows_compare_with_targets() -> None:
    q1 = site_data().periods[2]
    rows = {r["id"]: r for r in fmt.metric_rows(q1["metrics"],
                                                {"first_try_rate": 0.85, "on_time_rate": 0.88,
                                                 "key_person_followup_rate": 1.0},
                                                q1["comparisons"])}
    assert rows["first_try_rate"] == {"id": "first_try_rate", "title": "首次调解成功率",
                                      "numerator": "21", "denominator": "25", "value": "84%",
                                      "target": "85%", "status": "未达标",
                                      "note": "首次调解成功 ÷ 办结",
                                      "counted": "首次调解成功 21 ÷ 办结 25",
                                      # the fixture's 2023-Q4 stretch: 16 of 20
                                      "previous": "80%", "previous_change": "+4 个百分点",
                                      "year_ago": "—", "year_ago_change": "—"}
    assert rows["on_time_rate"]["status"] == "达标"
    assert rows["online_rate"]["value"] == "—"
    assert rows["key_person_followup_rate"]["status"] == "缺少数据表"
    assert rows["visit_coverage"]["value"] == "80%"


def test_cn_datetime_is_china_time() -> None:
    assert fmt.cn_datetime("2024-03-20T01:30:00+00:00") == "2024年3月20日 09:30"


# --- generated pages ----------------------------------------------------------------------


def test_problem_list_highlights_overdue_rows(docs: Path) -> None:
    text = (docs / "lists" / "problems.md").read_text(encoding="utf-8")
    # key columns first; 剩余/逾期 is one column, filtered by its 状态
    assert re.findall(r"<th[^>]*>([^<]+)</th>", text) == [
        "编号", "村(社区)", "事项类型", "星级", "剩余/逾期", "责任单位", "包案领导", "类别",
        "受理/提出日期", "办结期限"]
    assert '<th data-fq-filter="村">村(社区)</th>' in text
    assert '<th data-fq-filter="状态">剩余/逾期</th>' in text
    assert ('<tr class="fq-overdue"><td>DZ-001</td><td>东村</td><td>土地林草</td><td>2</td>'
            '<td data-fq="已逾期">逾期 14 天</td><td>自然资源所</td><td>王副镇长</td>') in text
    # DZ-002 has 1 day left, within warn_days (2): near
    assert '<tr class="fq-near"><td>DZ-002</td>' in text and '<td data-fq="2 天内到期">剩 1 天</td>' in text
    assert '<td data-fq="未到期">剩 41 天</td>' in text and '<td data-fq="无期限">—</td>' in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "共 **4** 项，其中已超过办理期限的 **1** 项" in text
    # in its own scrolling box (sticky header), and the page gives the table the width
    assert '<div class="fq-scroll">\n<table class="fq-table fq-problems">' in text
    assert text.startswith("---\ntitle: 问题清单\nhide:\n  - toc\n---\n")


@pytest.mark.parametrize(("page", "heads", "filters"), [
    ("lists/solutions.md", ["编号", "村(社区)", "事项类型", "办理结果", "办结日期"], ["村", "办理结果"]),
    ("lists/needs.md", ["编号", "村(社区)", "类别", "状态", "办结日期"], ["村", "状态"]),
    ("lists/followup.md", ["编号", "村(社区)", "纠纷类型", "调处层级", "办理结果"], ["村", "办理结果"]),
    ("supervision.md", ["编号", "村(社区)", "纠纷类型", "星级", "逾期天数", "责任单位", "包案领导",
                        "督办情况"], ["村", "责任单位"]),
])
def test_long_lists_lead_with_their_key_columns_and_mark_their_filters(
        docs: Path, page: str, heads: list[str], filters: list[str]) -> None:
    text = (docs / page).read_text(encoding="utf-8")
    table = text[text.index('<div class="fq-scroll">'):text.index("</table>")]
    assert re.findall(r"<th[^>]*>([^<]+)</th>", table)[:len(heads)] == heads
    assert re.findall(r'<th data-fq-filter="([^"]+)">', table) == filters


def test_the_supervision_page_merges_the_chases_into_one_column(docs: Path) -> None:
    text = (docs / "supervision.md").read_text(encoding="utf-8")
    assert "<td>2 次，最近 2024-03-15 书面督办</td>" in text and "<td>未督办</td>" in text
    assert "<th>督办次数</th>" not in text and "<th>督办方式</th>" not in text


def test_chase_words_say_unknown_when_no_chases_are_kept() -> None:
    words = fmt.chase_words(pd.Series([None, 0, 2, 1], dtype=object),
                            pd.Series([None, None, "2024-03-15", None], dtype=object),
                            pd.Series([None, None, "书面督办", None], dtype=object))
    # no 督办记录 tab: unknown, not "未督办"; one chase without a date: its count only
    assert words.astype(object).where(words.notna(), None).tolist() == [
        None, "未督办", "2 次，最近 2024-03-15 书面督办", "1 次"]


def test_filter_marks_and_group_values_are_escaped() -> None:
    frame = pd.DataFrame({"village": pd.Series(['东"村<', "西村"], dtype="string")})
    html_text = fmt.html_table(frame, {"village": "村"}, filters={"village": '村"'},
                               groups={"village": pd.Series(['a"b', None])}, scroll=True)
    assert '<th data-fq-filter="村&quot;">村</th>' in html_text
    assert '<td data-fq="a&quot;b">东&quot;村&lt;</td>' in html_text and '<td data-fq="">西村</td>' in html_text
    # without marks the table is as before: no attribute, no box
    plain = fmt.html_table(frame, {"village": "村"})
    assert "data-fq" not in plain and "fq-scroll" not in plain


#: a village breakdown as a 1.x contract carries it: every dispute figure
VILLAGE_FIGURES = ("received", "closed", "resolved", "pending_start", "pending_end", "overdue_open",
                   "backlog_start", "backlog_cleared", "clearance_rate", "closure_rate",
                   "resolution_rate", "on_time_rate", "first_try_rate", "local_rate",
                   "grid_discovery_rate", "repeat_rate", "online_rate", "followup_rate",
                   "satisfaction_rate", "visit_coverage", "key_person_followup_rate",
                   "needs_closure_rate", "disposition_days")


def _village(received: int) -> dict[str, object]:
    body: dict[str, object] = {k: received for k in VILLAGE_FIGURES}
    for k in VILLAGE_FIGURES:
        if k in fmt.RATES or k in fmt.DAYS:
            body[k] = {"numerator": 1, "denominator": 2, "value": 0.5}
    body["level_mix"] = {"村级": 1}
    body["received_yoy"] = {"count": 1, "previous": 1, "change": 0.0}
    return body


def test_the_per_village_table_is_split_into_readable_groups() -> None:
    groups = fmt.breakdown_groups({"东村": _village(3), "西村": _village(2)}, "村(社区)")
    heads = [re.findall(r"[^|]+", g["table"].splitlines()[0].strip(" |")) for g in groups]
    heads = [[h.strip() for h in row] for row in heads]
    assert [g["title"] for g in groups] == [
        "受理与办结", "受理与办结（续）", "期限、积案与督办", "调解与层级",
        "来源、信访与群体性纠纷", "回访与反馈", "网格走访、重点人员、领导接访和群众需求"]
    # 23 figures in one table before; now every table has 村 first and at most 8 columns
    assert all(row[0] == "村(社区)" and len(row) <= 8 for row in heads)
    assert heads[0] == ["村(社区)", "受理数", "办结数", "化解数", "期初在办", "期末在办"]
    assert heads[1] == ["村(社区)", "结收比", "办结率", "化解率"]
    assert sorted(h for row in heads for h in row[1:]) == sorted(fmt.title(k) for k in VILLAGE_FIGURES)
    assert "| 西村 | 50% | 50% | 50% |" in groups[1]["table"]


def test_a_group_wider_than_a_table_is_cut_into_even_parts() -> None:
    counts = [k for k in fmt.COUNTS if k != "level_mix"][:9]
    assert len(counts) == 9
    # nine counts do not fit one table of 7 figures: two tables of 5 and 4
    assert [len(p) for p in fmt.table_parts(counts)] == [5, 4]
    assert [len(p) for p in fmt.table_parts(counts[:7])] == [7]


def test_tables_escape_cell_text(docs: Path) -> None:
    text = (docs / "lists" / "responsibilities.md").read_text(encoding="utf-8")
    assert "](http" not in text and "`code`" not in text and "*重要*" not in text
    assert "&#124;" in text  # the "|" in a leader's name stays inside its cell


def test_quality_page_hides_sensitive_cells_and_numbers(docs: Path) -> None:
    text = (docs / "quality.md").read_text(encoding="utf-8")
    assert "纠纷台账!B12" in text
    assert "纠纷台账!G13" not in text  # 当事人 is sensitive: no cell reference
    assert "13812345678" not in text and "[已隐去]" in text.replace("&#91;", "[").replace("&#93;", "]")


def test_generated_pages_match_golden(docs: Path, request: pytest.FixtureRequest) -> None:
    update = request.config.getoption("--update-golden")
    for rel in GOLDEN_PAGES:
        actual = (docs / rel).read_text(encoding="utf-8")
        golden = GOLDEN / rel.replace("/", "__")
        if update:
            golden.write_text(actual, encoding="utf-8")
            continue
        assert golden.exists(), f"no golden file {golden.name}: run pytest --update-golden"
        assert actual == golden.read_text(encoding="utf-8"), f"{rel} differs from {golden.name}"


def test_chart_images_carry_alt_text(docs: Path) -> None:
    text = (docs / "stats" / "2024-Q1.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[([^\]]+)\]\(\.\./charts/([^)]+\.svg)\)", text)
    assert [html.unescape(alt).split("：")[0] for alt, _ in images] == ["2024年第一季度各村(社区)受理数",
                                                       "2024年第一季度各纠纷类型受理数"]
    for _, name in images:
        assert (docs.parent / "charts" / name).exists()


def test_the_followup_list_is_a_download_with_every_row(tmp_path: Path) -> None:
    """回访待办 shows at most 500 rows on its page; the CSV and the xlsx the
    page links to hold every row, with the page's Chinese column titles."""
    import csv
    import io

    import openpyxl

    from fengqiao.render.town import write_downloads

    data = site_data()
    write_downloads(data, tmp_path)
    tables = tmp_path / "downloads" / "tables"
    rows = list(csv.reader(io.StringIO((tables / "followup_todo.csv").read_text("utf-8-sig"))))
    assert rows[0][:3] == ["编号", "村(社区)", "纠纷类型"]
    assert [r[0] for r in rows[1:]] == ["DZ-000", "DZ-007"]
    book = openpyxl.load_workbook(tables / "followup_todo.xlsx")
    sheet = book.worksheets[0]
    ids = [c.value for c in sheet["A"] if c.value not in (None, "编号")]
    assert ids[-2:] == ["DZ-000", "DZ-007"]
