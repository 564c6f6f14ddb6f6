from __future__ import annotations

import html
import re
from pathlib import Path

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


def test_metric_rows_compare_with_targets() -> None:
    rows = {r["id"]: r for r in fmt.metric_rows(site_data().periods[2]["metrics"],
                                                {"first_try_rate": 0.85, "on_time_rate": 0.88,
                                                 "key_person_followup_rate": 1.0})}
    assert rows["first_try_rate"] == {"id": "first_try_rate", "title": "首次调解成功率",
                                      "numerator": "21", "denominator": "25", "value": "84%",
                                      "target": "85%", "status": "未达标"}
    assert rows["on_time_rate"]["status"] == "达标"
    assert rows["online_rate"]["value"] == "—"
    assert rows["key_person_followup_rate"]["status"] == "缺少数据表"
    assert rows["visit_coverage"]["value"] == "80%"


def test_cn_datetime_is_china_time() -> None:
    assert fmt.cn_datetime("2024-03-20T01:30:00+00:00") == "2024年3月20日 09:30"


# --- generated pages ----------------------------------------------------------------------


def test_problem_list_highlights_overdue_rows(docs: Path) -> None:
    text = (docs / "lists" / "problems.md").read_text(encoding="utf-8")
    assert '<tr class="fq-overdue"><td>纠纷</td><td>DZ-001</td>' in text
    assert '<tr class="fq-near"><td>纠纷</td><td>DZ-002</td>' in text
    assert "<td>逾期 14 天</td>" in text and "<td>剩余 41 天</td>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "<script>" not in text
    assert "共 **4** 项，其中已超过办理期限的 **1** 项" in text


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
