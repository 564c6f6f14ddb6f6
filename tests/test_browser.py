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
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
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
    assert "首次调解成功率\t80%\t85%\t未达标" in body
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
