"""Nothing leaks: two towns whose ledgers carry personal data (names,
mobiles, ID numbers in sensitive and in free-text fields) and cell text that
tries HTML, Markdown and spreadsheet-formula injection are built into town
sites, and those sites into a county site. Every published byte is scanned:
pages, search indexes, JSON, CSV, xlsx (XML parts and cell values), SVG
charts, gzip and zip archives. Then the pages are opened in Chromium.
"""

from __future__ import annotations

import csv
import functools
import gzip
import html
import http.server
import io
import re
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote, unquote

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.demo import (
    ID_NUMBER_RE,
    MOBILE_RE,
    generate_town,
    planted_personal_data,
    write_csv_folder,
    write_workbook,
)
from fengqiao.privacy import csv_safe
from fengqiao.sitebuild import build_site
from loopback import LoopbackServer

#: town, seed, source kind: a CSV folder keeps formula text as typed; in an
#: xlsx a cell typed "=HYPERLINK(...)" is a real formula with no cached value
TOWNS = (("枫溪镇", 7, "csv"), ("南岭镇", 8, "xlsx"))
PERIOD = "2024-Q4"

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
LINK = "[点我](javascript:alert(1))"
BOLD = "**粗体**"
PIPES = "甲 | 乙 | 丙"
FORMULAS = ('=HYPERLINK("http://x","点我")', "+1+1", "-2", "@SUM(A1)")
#: 需求内容 of the first needs, in order
NEED_TEXTS = (SCRIPT, IMG, LINK, BOLD, PIPES, *FORMULAS)
UNIT = f"{SCRIPT}司法所"
#: two villages renamed everywhere they occur
VILLAGES = (f'">{IMG}村', f"{LINK}{BOLD}|村")
NOTES = (IMG, FORMULAS[0], FORMULAS[3])


#: the sensitive free text of the supervision loop (逾期说明, 下步措施, 原因):
#: each cell gets a marker and a mobile number, and no output may hold either
LOOP_SENSITIVE = (("supervisions", "逾期说明"), ("supervisions", "下步措施"), ("transfers", "原因"))
LOOP_MARKER = "闭环秘密"


def plant_loop_texts(tables: dict[str, pd.DataFrame]) -> None:
    for tab, column in LOOP_SENSITIVE:
        frame = tables[tab]
        filled = frame[column].notna() & (frame[column].astype(str).str.strip() != "")
        n = int(filled.sum())
        assert n > 3, (tab, column)  # the demo really writes this text
        frame.loc[filled, column] = [f"{LOOP_MARKER}{column}，联系人电话139{7000_0000 + i:08d}"
                                     for i in range(n)]


def plant_injections(tables: dict[str, pd.DataFrame]) -> None:
    plant_loop_texts(tables)
    needs = tables["needs"]
    for i, text in enumerate(NEED_TEXTS):
        needs.loc[needs.index[i], "需求内容"] = text
    resp = tables["responsibilities"]
    old_unit = resp.loc[resp.index[0], "责任单位"]
    for frame, col in ((tables["disputes"], "责任单位"), (resp, "责任单位"),
                       (tables["needs"], "接单单位")):
        frame[col] = frame[col].where(frame[col] != old_unit, UNIT)
    for i, text in enumerate(NOTES):
        resp.loc[resp.index[i], "备注"] = text
    old_villages = list(dict.fromkeys(tables["grids"]["村(社区)"]))[:2]
    for frame in tables.values():
        if "村(社区)" in frame.columns:
            for old, new in zip(old_villages, VILLAGES, strict=True):
                frame["村(社区)"] = frame["村(社区)"].where(frame["村(社区)"] != old, new)


@dataclass
class Built:
    root: Path
    sites: list[Path]
    zips: list[Path]
    county: Path
    planted: list[str]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("privacy")
    planted: set[str] = set()
    sites, zips = [], []
    for name, seed, kind in TOWNS:
        tables = generate_town(seed, town=name, scale=0.3, defects=False, personal_data=True)
        plant_injections(tables)
        planted.update(planted_personal_data(tables))
        folder = root / name
        source = f"{name} 台账" + (".xlsx" if kind == "xlsx" else "")
        if kind == "xlsx":
            write_workbook(tables, folder / source)
        else:
            write_csv_folder(tables, folder / source)
        (folder / "fengqiao.yml").write_text(
            f"town: {name}\nsource: {source}\nreport_date: 2024-12-15\n"
            "site:\n  months: 1\n", encoding="utf-8")
        build_site(load_config(folder / "fengqiao.yml"), out=folder / "public",
                   zip_path=folder / "public.zip")
        sites.append(folder / "public")
        zips.append(folder / "public.zip")
    result = CliRunner().invoke(cli, ["county", "build", *map(str, sites), "--period", PERIOD,
                                      "--out", str(root / "county"), "--name", "示范县",
                                      "--now", "2025-01-05T09:00"])
    assert result.exit_code == 0, result.output
    # the generator really planted what the scan looks for
    kinds = {"name": 0, "mobile": 0, "id": 0}
    for s in planted:
        kinds["mobile" if MOBILE_RE.fullmatch(s) else "id" if ID_NUMBER_RE.fullmatch(s)
              else "name"] += 1
    assert min(kinds.values()) > 20, kinds
    return Built(root, sites, zips, root / "county", sorted(planted))


# --- reading every published byte --------------------------------------------------------

_ZW = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
_UESC = re.compile(r"\\u([0-9a-fA-F]{4})")


def _variants(text: str) -> list[str]:
    """The text as stored and as a reader or browser would decode it (HTML
    entities, %-escapes, JSON \\u escapes, the zero-width spaces the search
    index puts between words)."""
    unescaped = _UESC.sub(lambda m: chr(int(m.group(1), 16)), text)
    return [text, html.unescape(text), unquote(text), unescaped.translate(_ZW),
            html.unescape(unescaped).translate(_ZW)]


def _texts(name: str, data: bytes) -> Iterator[tuple[str, str]]:
    """(where, text) for a file and, recursively, for what it contains."""
    lower = name.lower()
    if lower.endswith((".xlsx", ".zip")):
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                yield from _texts(f"{name}!{member}", zf.read(member))
        if lower.endswith(".xlsx"):
            book = openpyxl.load_workbook(io.BytesIO(data))
            cells = [str(c.value) for ws in book.worksheets for row in ws.iter_rows()
                     for c in row if c.value is not None]
            yield f"{name} (cells)", "\n".join(cells)
    elif lower.endswith(".gz"):
        yield from _texts(name[:-3], gzip.decompress(data))
    else:
        yield name, data.decode("utf-8", errors="replace")


def _published(folder: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            yield from _texts(path.relative_to(folder.parent).as_posix(), path.read_bytes())


def _all_outputs(built: Built) -> Iterator[tuple[str, str]]:
    for site, archive in zip(built.sites, built.zips, strict=True):
        yield from _published(site)
        yield from _texts(archive.name, archive.read_bytes())
    yield from _published(built.county)


@pytest.fixture(scope="module")
def outputs(built: Built) -> list[tuple[str, str]]:
    return list(_all_outputs(built))


def test_every_output_kind_is_scanned(outputs: list[tuple[str, str]]) -> None:
    names = [where for where, _ in outputs]
    for part in ("index.html", "search/search_index.json", "search/search_index.js",
                 "downloads/2024-Q4/metrics.json", "downloads/tables/needs.csv",
                 "downloads/tables/needs.xlsx!xl/worksheets/sheet1.xml",
                 "downloads/tables/needs.xlsx (cells)", "sitemap.xml", ".svg",
                 "public.zip!public/index.html"):
        assert any(part in n for n in names), part
    assert any(n.startswith("county/") and n.endswith(".csv") for n in names)


_DIGEST = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")


def test_no_personal_data_in_any_output(built: Built, outputs: list[tuple[str, str]]) -> None:
    """Every planted string, and any 11-digit mobile or 18-digit ID at all."""
    numbers = {s for s in built.planted if s[:1].isdigit()}
    by_first: dict[str, list[str]] = {}
    for name in sorted(set(built.planted) - numbers, key=len, reverse=True):
        by_first.setdefault(name[0], []).append(re.escape(name[1:]))
    # one alternation per first character keeps the scan linear
    names = re.compile("|".join(f"{re.escape(k)}(?:{'|'.join(v)})" for k, v in by_first.items()))
    digit_runs = re.compile(r"\d{11,}")
    leaks: set[tuple[str, str]] = set()
    for where, text in outputs:
        # a sha256 digest (output markers, county receipts) is not personal data, but 11
        # digits in a row happen in one now and then: a build that differs only in a
        # receipt time would otherwise fail at random
        text = _DIGEST.sub(" ", text)
        for variant in _variants(text):
            for pattern in (names, MOBILE_RE, ID_NUMBER_RE):
                leaks.update((where, m) for m in pattern.findall(variant))
            # a planted number inside a longer run of digits
            leaks.update((where, n) for run in digit_runs.findall(variant)
                         for n in numbers if n in run)
    assert len(outputs) > 150 and len(numbers) > 40 and len(by_first) == 6
    assert sorted(leaks) == []


# --- injection renders as text ------------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []
        self.text: list[str] = []
        self.script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.script = tag == "script"
        for key, value in attrs:
            v = (value or "").strip().lower()
            if key.startswith("on"):
                self.bad.append(f"<{tag} {key}=…>")
            if key in ("href", "src", "action", "formaction", "xlink:href") and \
                    v.replace(" ", "").startswith("javascript:"):
                self.bad.append(f"<{tag} {key}={value}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.bad.append("<img src=x>")

    def handle_endtag(self, tag: str) -> None:
        self.script = False

    def handle_data(self, data: str) -> None:
        if self.script and "alert(" in data:
            self.bad.append(f"<script>{data[:40]}")
        elif not self.script:
            self.text.append(data)


def _html_pages(built: Built) -> list[Path]:
    return [p for folder in (*built.sites, built.county) for p in sorted(folder.rglob("*.html"))]


def test_html_holds_no_live_markup_from_cells(built: Built) -> None:
    offenders = []
    for page in _html_pages(built):
        raw = page.read_text(encoding="utf-8")
        parser = _Tags()
        parser.feed(raw)
        offenders += [(page.name, b) for b in parser.bad]
        assert "<script>alert" not in raw.lower(), page
        assert not re.search(r"<strong>\s*粗体", raw), page
    assert offenders == []
    # the literal characters are there, as text
    parser = _Tags()
    parser.feed((built.sites[0] / "lists" / "needs.html").read_text(encoding="utf-8"))
    text = " ".join(parser.text)
    for literal in NEED_TEXTS:
        assert literal in text, literal


def test_svg_charts_and_alt_text_are_escaped(built: Built) -> None:
    svgs = [p for folder in built.sites for p in folder.rglob("*.svg")]
    assert svgs
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        assert "<script" not in text and "onerror" not in text.replace("onerror=alert(1)&gt;", "")
        assert "javascript:" not in re.sub(r"<!--.*?-->", "", text, flags=re.S)
    # the village chart names the planted villages in its text alternative,
    # inside a properly quoted attribute
    stats = (built.sites[0] / "stats" / f"{PERIOD}.html").read_text(encoding="utf-8")
    alts = re.findall(r'<img[^>]*\balt="([^"]*)"', stats)
    assert any(html.unescape(a).count(VILLAGES[0]) for a in alts), alts[:3]


def test_csv_cells_cannot_start_a_formula(built: Built) -> None:
    risky = re.compile(r"^[=+\-@\t\r]")
    number = re.compile(r"^-\d+(\.\d+)?$")
    files = [p for folder in (*built.sites, built.county) for p in folder.rglob("*.csv")]
    assert len(files) >= 9
    for path in files:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        for row in rows:
            for cell in row:
                # csv_safe's rule: text that a spreadsheet would run is
                # prefixed with '; a real number (-14 days left) stays a number
                assert not risky.match(cell) or number.match(cell), (path.name, cell)
    needs = (built.sites[0] / "downloads" / "tables" / "needs.csv").read_text(encoding="utf-8-sig")
    cells = {c for row in csv.reader(io.StringIO(needs)) for c in row}
    assert {"'" + f for f in FORMULAS} <= cells
    assert not cells & set(FORMULAS)
    # the helper's documented rule, on its own
    out = csv_safe(pd.Series(["=1+1", "-2", "@x", "+3", "\tx", "ok", None], dtype=object))
    assert out.tolist() == ["'=1+1", "'-2", "'@x", "'+3", "'\tx", "ok", None]
    assert csv_safe(pd.Series([-2, 3], dtype="Int64")).tolist() == [-2, 3]


def test_xlsx_downloads_hold_text_not_formulas(built: Built) -> None:
    books = [p for folder in (*built.sites, built.county) for p in folder.rglob("*.xlsx")]
    assert len(books) >= 9
    for path in books:
        with zipfile.ZipFile(path) as zf:
            for member in zf.namelist():
                if member.startswith("xl/worksheets/") and member.endswith(".xml"):
                    assert "<f>" not in zf.read(member).decode("utf-8"), (path, member)
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for c in row:
                    assert c.data_type != "f", (path.name, c.coordinate, c.value)
    wb = openpyxl.load_workbook(built.sites[0] / "downloads" / "tables" / "needs.xlsx")
    values = {c.value for row in wb.active.iter_rows() for c in row}
    assert {"'" + f for f in FORMULAS} <= values




def test_the_supervision_loops_free_text_is_never_published(
        built: Built, outputs: list[tuple[str, str]]) -> None:
    """逾期说明, 下步措施 and 原因 reach no page, file or archive, in town or
    county; the 督办 page says only whether an explanation exists."""
    assert [where for where, text in outputs if LOOP_MARKER in text] == []
    page = (built.sites[0] / "supervision.html").read_text(encoding="utf-8")
    assert "逾期说明" in page and ("<td>有</td>" in page or "<td>无</td>" in page)


def test_the_scan_finds_what_it_looks_for(built: Built) -> None:
    """The failing case: the same scan over the town's own ledger (which is
    not published) does find the planted data."""
    ledger = built.root / TOWNS[0][0] / f"{TOWNS[0][0]} 台账" / "纠纷台账.csv"
    text = ledger.read_text(encoding="utf-8-sig")
    assert MOBILE_RE.search(text) is not None
    assert sum(1 for s in built.planted if s in text) > 20


# --- in the browser ---------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return None


@pytest.mark.browser
def test_injection_shows_as_text_in_chromium(built: Built, chromium: object) -> None:
    town = f"{quote(TOWNS[0][0])}/public"
    pages = {
        f"{town}/lists/needs.html": [*NEED_TEXTS, *VILLAGES],
        f"{town}/lists/responsibilities.html": [UNIT, IMG, FORMULAS[0], FORMULAS[3]],
        f"{town}/lists/problems.html": [UNIT],
        f"{town}/stats/{PERIOD}.html": list(VILLAGES),
        "county/supervision.html": [UNIT],
    }
    httpd = LoopbackServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(built.root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    dialogs: list[str] = []
    outside: list[str] = []
    try:
        page = chromium.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("request", lambda r: None if r.url.startswith((base, "data:", "blob:"))
                else outside.append(r.url))
        for url, literals in pages.items():
            page.goto(f"{base}/{url}")
            page.wait_for_load_state("networkidle")
            article = page.locator("article")
            text = article.inner_text()
            for literal in literals:
                # the browser shows the characters; table cells collapse runs of spaces
                assert literal in text, (url, literal)
            assert article.locator("script").count() == 0, url
            assert article.locator("img[src='x'], [onerror]").count() == 0, url
            assert article.locator("a[href^='javascript']").count() == 0, url
            assert article.locator("strong", has_text="粗体").count() == 0, url
        page.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert dialogs == []
    assert outside == []
