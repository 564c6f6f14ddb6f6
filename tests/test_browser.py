"""The built site in a real headless Chromium, over HTTP and from file://."""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from fengqiao.sitebuild import build_from_data
from loopback import LoopbackServer
from site_fixture import fixture_config, site_data

pytestmark = pytest.mark.browser

SHOTS = Path(__file__).resolve().parents[1] / "test-output" / "screenshots"

sync_api = pytest.importorskip("playwright.sync_api")
if not Path("/usr/bin/chromium").exists():
    pytest.skip("needs /usr/bin/chromium", allow_module_level=True)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("browser-site")
    build_from_data(site_data(), fixture_config(root), out=root / "public")
    return root / "public"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="session")
def http_base(site: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(site))
    server = LoopbackServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def browser(chromium: object) -> object:
    return chromium


class Watched:
    """A page that records every request and console error."""

    def __init__(self, browser: object) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def outside(self) -> list[str]:
        bad = []
        for url in self.requests:
            u = urlparse(url)
            if u.scheme in ("file", "data", "blob", "about"):
                continue
            if u.hostname != "127.0.0.1":
                bad.append(url)
        return bad

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: object) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    assert w.outside() == []
    assert w.errors == []
    w.close()


def _shot(w: Watched, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    w.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _search(w: Watched, word: str) -> list[str]:
    box = w.page.locator("input.md-search__input")
    box.click()
    # wait until the worker has built the index ("键入以开始搜索" replaces "正在初始化…")
    # (a second search finds the index ready and the last results shown)
    w.page.wait_for_function(
        "() => !document.querySelector('.md-search-result__meta').textContent.includes('初始化')",
        timeout=20000)
    box.fill(word)
    box.press("End")  # the theme reads the query on keyup; fill() alone sends none
    # wait for this query's results: their section links carry it (at
    # least its first character) as the highlight parameter
    w.page.wait_for_function(
        "w => [...document.querySelectorAll('.md-search-result__item a')].some("
        "a => decodeURIComponent(a.href).includes('h=' + w.slice(0, 1)))",
        arg=word, timeout=15000)
    return w.page.eval_on_selector_all(".md-search-result__item a",
                                       "els => els.map(e => e.getAttribute('href'))")


def test_home_page_shows_figures(watched: Watched, http_base: str) -> None:
    watched.page.goto(f"{http_base}/index.html")
    body = watched.page.inner_text("article")
    assert "本月（2024年3月）" in body
    assert "首次调解成功率\t首次调解成功 8 ÷ 办结 10\t80%\t85%\t未达标" in body
    assert "数据质量" in body
    _shot(watched, "home")


@pytest.mark.parametrize("mode", ["http", "file"])
def test_chinese_search_finds_the_procedure(watched: Watched, http_base: str, site: Path,
                                            mode: str) -> None:
    url = f"{http_base}/index.html" if mode == "http" else (site / "index.html").as_uri()
    watched.page.goto(url)
    # the words staff type: the first hit is the procedure, not a table
    for word in ("限期", "调解", "二星", "土地"):
        hrefs = _search(watched, word)
        assert hrefs and "procedures/" in hrefs[0], (word, hrefs)
    _shot(watched, f"search-{mode}")


def test_every_chart_image_loads(watched: Watched, http_base: str) -> None:
    for page in ("index.html", "stats/2024-Q1.html", "stats/trend.html"):
        watched.page.goto(f"{http_base}/{page}")
        watched.page.wait_for_load_state("load")
        sizes = watched.page.eval_on_selector_all(
            "article img", "imgs => imgs.map(i => [i.getAttribute('src'), i.naturalWidth])")
        assert sizes and all(w > 0 for _, w in sizes), sizes
    _shot(watched, "stats-2024-Q1")


def test_problem_list_highlights_overdue(watched: Watched, http_base: str) -> None:
    watched.page.goto(f"{http_base}/lists/problems.html")
    rows = watched.page.locator("table.fq-problems tr.fq-overdue")
    assert rows.count() == 1
    assert "DZ-001" in rows.first.inner_text()
    colour = rows.first.locator("td").first.evaluate("td => getComputedStyle(td).backgroundColor")
    assert colour == "rgb(253, 236, 234)"
    # the injected <script> in a cell is shown as text
    assert "<script>alert(1)</script>" in watched.page.inner_text("table.fq-problems")
    _shot(watched, "problems")


def test_procedure_page_from_file(watched: Watched, site: Path) -> None:
    watched.page.goto((site / "procedures" / "star-grading.html").as_uri())
    assert "15天（自然日）" in watched.page.inner_text("article")
    _shot(watched, "star-grading")


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("page", ["supervision", "assessment"])
def test_supervision_and_assessment_pages_read_at_desk_and_phone_width(
        watched: Watched, http_base: str, page: str, width: int) -> None:
    """督办 and 月度考核 at a desktop and a phone width: the tables are there
    with their denominators, and a wide table scrolls inside its own box
    instead of widening the page."""
    watched.page.set_viewport_size({"width": width, "height": 900})
    watched.page.goto(f"{http_base}/{page}.html")
    body = watched.page.inner_text("article")
    if page == "supervision":
        assert "DZ-001" in body and "书面督办" in body and "50%（1/2）" in body
        assert "\t有\t" in body and "\t无\t" in body  # whether explained, never the text
    else:
        assert "按包案领导" in body and "王副镇长" in body and "88.9%（8/9）" in body
        assert "2024年2月" in body
    overflow = watched.page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= width
    _shot(watched, f"{page}-{width}")


# --- tables that fit (issue 14) ----------------------------------------------------

#: every list page: the 四张清单, 回访待办 and 督办
LIST_PAGES = ("lists/problems", "lists/needs", "lists/solutions", "lists/responsibilities",
              "lists/followup", "supervision")

#: per table of the article: its scrolling box and where each header sits in
#: it ("inside" = within the box's scrollable width, "seen" = on screen now)
_HEADERS = """() => [...document.querySelectorAll('article table')].map(t => {
  const own = getComputedStyle(t).overflowX;
  const box = t.closest('.fq-scroll') || (own === 'auto' || own === 'scroll' ? t : null)
    || t.closest('.md-typeset__scrollwrap') || t;
  const b = box.getBoundingClientRect();
  return {left: b.left, right: b.right, scrollLeft: box.scrollLeft,
          heads: [...t.querySelectorAll('thead th')].map(th => {
            const r = th.getBoundingClientRect();
            const edge = b.left + box.clientLeft;  // inside the box's border
            const left = r.left - edge + box.scrollLeft, right = r.right - edge + box.scrollLeft;
            return {text: th.innerText.trim(), inside: left >= -1 && right <= box.scrollWidth + 1,
                    seen: r.left >= b.left - 1 && r.right <= Math.min(b.right, innerWidth) + 1};
          })};
})"""


def _headers(page: object) -> list[dict[str, object]]:
    return page.evaluate(_HEADERS)  # type: ignore[attr-defined,no-any-return]


def _seen(page: object, header: str) -> bool:
    """Whether a column header is on screen with its table scrolled to the start."""
    for table in _headers(page):
        for head in table["heads"]:  # type: ignore[attr-defined]
            if head["text"] == header:
                return bool(head["seen"]) and table["scrollLeft"] == 0
    raise AssertionError(f"no column {header}")


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("name", LIST_PAGES)
def test_every_column_header_is_within_its_table(watched: Watched, http_base: str, name: str,
                                                 width: int) -> None:
    """The page never scrolls sideways; a wide table scrolls inside its own
    box, and every header lies within that box's scrollable width."""
    watched.page.set_viewport_size({"width": width, "height": 900})
    watched.page.goto(f"{http_base}/{name}.html")
    tables = _headers(watched.page)
    assert tables
    assert watched.page.evaluate("() => document.documentElement.scrollWidth") <= width
    for table in tables:
        assert table["left"] >= 0 and table["right"] <= width, (name, table)
        assert all(h["inside"] for h in table["heads"]), (name, table)  # type: ignore[attr-defined]


def test_the_key_columns_of_the_problem_list_show_at_desk_width(watched: Watched,
                                                                 http_base: str) -> None:
    """责任单位 and 包案领导 are on screen at 1366 px without scrolling; on a
    phone the same check fails (the table scrolls there), so it can tell."""
    page = watched.page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{http_base}/lists/problems.html")
    assert _seen(page, "责任单位") and _seen(page, "包案领导") and _seen(page, "剩余/逾期")
    _shot(watched, "problems-1366")
    page.set_viewport_size({"width": 390, "height": 900})
    assert _seen(page, "编号") and not _seen(page, "责任单位")
    _shot(watched, "problems-390")


@pytest.mark.parametrize("width", [1366, 390])
def test_a_sideways_hint_shows_only_when_the_table_is_wider(watched: Watched, http_base: str,
                                                            width: int) -> None:
    watched.page.set_viewport_size({"width": width, "height": 900})
    watched.page.goto(f"{http_base}/lists/problems.html")
    hint = watched.page.locator(".fq-hint").first
    assert hint.text_content() == "← 左右滑动查看更多列 →"
    assert hint.is_visible() is (width == 390)


def test_the_header_row_stays_in_view_while_the_rows_scroll(watched: Watched,
                                                            http_base: str) -> None:
    page = watched.page
    page.set_viewport_size({"width": 390, "height": 240})  # a short box that must scroll
    page.goto(f"{http_base}/lists/problems.html")
    moved = page.evaluate("""() => {
      const box = document.querySelector('.fq-scroll');
      if (box.scrollHeight <= box.clientHeight) return null;
      box.scrollTop = 60;
      const top = box.getBoundingClientRect().top;
      return {head: document.querySelector('.fq-scroll thead th').getBoundingClientRect().top - top,
              row: document.querySelector('.fq-scroll tbody tr').getBoundingClientRect().top - top};
    }""")
    assert moved is not None
    # the first row went up out of the box; the header did not
    assert moved["row"] < 0 and abs(moved["head"]) <= 1, moved


def _shown_ids(page: object) -> list[str]:
    return page.eval_on_selector_all(  # type: ignore[attr-defined,no-any-return]
        "table.fq-problems tbody tr", "rs => rs.filter(r => r.offsetParent !== null)"
        ".map(r => r.cells[0].innerText.trim())")


def _filter(page: object, label: str) -> object:
    return page.locator(".fq-filters label", has_text=f"{label}：").locator("select")  # type: ignore[attr-defined]


def test_the_problem_list_filters_by_village_and_status_from_file(watched: Watched,
                                                                  site: Path) -> None:
    """From file:// (no server, no request): choose a village, only its rows
    show and the count follows; 全部 brings every row back; print shows all."""
    page = watched.page
    page.goto((site / "lists" / "problems.html").as_uri())
    count = page.locator(".fq-filters .fq-count")
    assert count.inner_text() == "显示 4 / 4 条"
    village, status = _filter(page, "村"), _filter(page, "状态")
    assert village.locator("option").all_inner_texts() == ["全部", "东村", "西村"]  # type: ignore[attr-defined]
    assert status.locator("option").all_inner_texts() == [  # type: ignore[attr-defined]
        "全部", "2 天内到期", "未到期", "无期限", "已逾期"]
    village.select_option("西村")  # type: ignore[attr-defined]
    assert _shown_ids(page) == ["DZ-002"] and count.inner_text() == "显示 1 / 4 条"
    status.select_option("已逾期")  # type: ignore[attr-defined]
    assert _shown_ids(page) == [] and count.inner_text() == "显示 0 / 4 条"
    village.select_option("")  # type: ignore[attr-defined]  # 全部
    assert _shown_ids(page) == ["DZ-001"] and count.inner_text() == "显示 1 / 4 条"
    # paper gets the whole list, without the controls
    page.emulate_media(media="print")
    assert _shown_ids(page) == ["DZ-001", "DZ-002", "DZ-003", "XQ-01"]
    assert not page.locator(".fq-filters").is_visible()
    page.emulate_media(media="screen")
    status.select_option("")  # type: ignore[attr-defined]
    assert _shown_ids(page) == ["DZ-001", "DZ-002", "DZ-003", "XQ-01"]
    assert count.inner_text() == "显示 4 / 4 条"


def test_the_filters_work_without_material_and_the_list_shows_without_javascript(
        watched: Watched, browser: object, site: Path) -> None:
    page = watched.page
    # no document$ (a theme without it, or a page the theme did not set up)
    page.add_init_script("Object.defineProperty(window, 'document$', "
                         "{configurable: false, get: () => undefined, set: () => {}})")
    page.goto((site / "supervision.html").as_uri())
    _filter(page, "村").select_option("西村")  # type: ignore[attr-defined]
    assert page.locator(".fq-filters .fq-count").inner_text() == "显示 1 / 2 条"
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    try:
        bare = context.new_page()
        bare.goto((site / "lists" / "problems.html").as_uri())
        assert bare.locator(".fq-filters").count() == 0
        assert _shown_ids(bare) == ["DZ-001", "DZ-002", "DZ-003", "XQ-01"]
    finally:
        context.close()
