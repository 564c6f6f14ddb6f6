"""Pages printed on A4 by a real Chromium: every column header and the last
row of a list and of a quarter's statistics are on paper, and every sheet
says whose figures, which page and as of when, with its page number."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from fengqiao.render.printing import css_string, page_title, running_head, stamp
from fengqiao.sitebuild import build_from_data
from site_fixture import fixture_config, site_data


def test_the_running_head_is_escaped_and_follows_the_front_matter() -> None:
    page = "---\ntitle: x\n---\n\n# 2024年第一季度统计\n\n正文\n"
    out = stamp(page, '东"湖</style>镇', date(2024, 3, 20))
    assert out.startswith("---\ntitle: x\n---\n\n<style>@page { @top-left { content: ")
    assert "</style>镇" not in out and '东"' not in out
    assert css_string('a"b\\c<d\ne') == "a\\22 b\\5c c\\3c d\\a e"
    assert page_title(page) == "2024年第一季度统计"
    # the town is not said twice when the title already names it
    assert running_head("枫溪镇", "枫溪镇 2024年第一季度统计", date(2024, 3, 20)) == \
        "枫溪镇 2024年第一季度统计　数据截至2024年3月20日"
    assert running_head("枫溪镇", "问题清单", date(2024, 3, 20)) == \
        "枫溪镇　问题清单　数据截至2024年3月20日"
    assert stamp("# 无前言\n", "镇", date(2024, 1, 1)).startswith("<style>@page")


pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("print-site")
    build_from_data(site_data(), fixture_config(root), out=root / "public")
    return root / "public"


@pytest.fixture(scope="module")
def page(chromium: object) -> Iterator[object]:
    context = chromium.new_context()  # type: ignore[attr-defined]
    yield context.new_page()
    context.close()


def _pdf_text(pdf: Path, first: int | None = None) -> str:
    args = ["pdftotext", "-layout"]
    if first is not None:
        args += ["-f", str(first), "-l", str(first)]
    return subprocess.run([*args, str(pdf), "-"], capture_output=True, text=True,
                          check=True, timeout=60).stdout


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True, timeout=60).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))  # type: ignore[union-attr]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")
@pytest.mark.parametrize("name", ["lists/problems.html", "stats/2024-Q1.html"])
def test_a_printed_page_holds_every_column_and_the_last_row(page: object, site: Path,
                                                            tmp_path: Path, name: str) -> None:
    page.goto((site / name).as_uri())  # type: ignore[attr-defined]
    tables = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "article table", "ts => ts.map(t => ({head: [...t.querySelectorAll('th')].map("
        "h => h.innerText.trim()), last: [...t.querySelectorAll('tbody tr:last-child td')]"
        ".map(d => d.innerText.trim())}))")
    assert tables
    pdf = tmp_path / "page.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True)  # type: ignore[attr-defined]
    flat = re.sub(r"\s+", "", _pdf_text(pdf))
    for table in tables:
        for header in table["head"]:
            assert re.sub(r"\s+", "", header) in flat, (name, header)
        for cell in table["last"]:
            assert re.sub(r"\s+", "", cell) in flat, (name, cell)
    pages = _pages(pdf)
    for n in range(1, pages + 1):
        text = _pdf_text(pdf, n)
        assert "数据截至2024年3月20日" in re.sub(r"\s+", "", text), (name, n)
        assert re.sub(r"\s+", "", f"第 {n} 页，共 {pages} 页") in re.sub(r"\s+", "", text)
    # the page is A4 landscape: 842 x 595 points
    size = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          timeout=60).stdout
    assert "841.92 x 594.96 pts (A4)" in size


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs pdftotext (poppler-utils)")
@pytest.mark.parametrize("name", ["stats/2024-Q1.html", "index.html"])
def test_no_sheet_ends_with_a_heading(page: object, site: Path, tmp_path: Path, name: str) -> None:
    """On paper a heading stays with what it heads: Chromium's print layout
    applies ``break-after: avoid`` to the headings, and no printed sheet's
    last line of text is a heading (a province's 各乡镇一览 was left alone at
    the foot of a sheet, its table on the next)."""
    page.goto((site / name).as_uri())  # type: ignore[attr-defined]
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    breaks = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "article h2, article h3", "hs => hs.map(h => [h.innerText.trim(), getComputedStyle(h).breakAfter])")
    assert breaks and all(b == "avoid" for _, b in breaks), breaks
    pdf = tmp_path / "page.pdf"
    page.pdf(path=str(pdf), prefer_css_page_size=True)  # type: ignore[attr-defined]
    page.emulate_media(media="screen")  # type: ignore[attr-defined]
    headings = {re.sub(r"\s+", "", text) for text, _ in breaks}
    for n in range(1, _pages(pdf) + 1):
        lines = [re.sub(r"\s+", "", line) for line in _pdf_text(pdf, n).splitlines()]
        body = [line for line in lines if line and not line.startswith("第") and "页，共" not in line]
        assert body[-1] not in headings, (name, n, body[-1])
