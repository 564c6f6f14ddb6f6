from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

import fengqiao
from fengqiao import outdir
from fengqiao.cli import cli
from fengqiao.errors import FengqiaoError
from fengqiao.publish import engine
from fengqiao.sitebuild import build_from_data, published_periods
from site_fixture import fixture_config, site_data

MATERIAL = Path(fengqiao.__file__).resolve().parents[2] / ".venv/lib/python3.11/site-packages/material/templates"

#: URL prefixes allowed in published files, each for a reason:
ALLOWED_ANYWHERE = (
    "http://www.w3.org/2000/svg",  # SVG namespace (inline icons, charts): an identifier, never fetched
    "http://www.w3.org/1999/xlink",  # xlink namespace in SVG charts: an identifier
    "http://www.sitemaps.org/schemas/sitemap/0.9",  # sitemap.xml namespace: an identifier
)
#: Hosts named inside the theme's own JavaScript/CSS, which we ship byte for byte as
#: installed (checked below), and which a page of ours never makes the browser load:
VENDORED_HOSTS = {
    "unpkg.com",  # ResizeObserver polyfill (only if the browser lacks it) and mermaid (only for mermaid diagrams; we emit none)
    "api.github.com", "github.com",  # repository facts, only when repo_url is set (it is not)
    "clipboardjs.com", "fontawesome.com", "lunrjs.com", "tartarus.org", "bit.ly",  # licence comments and console-warning links
    "${e}",  # the template of the repo_url host lookup above
}
#: Hosts the fixture ledger types into cells ("[点我](http://evil.example)"): they reach
#: pages, search index and downloads as plain text only (checked: never in href/src).
DATA_TEXT_HOSTS = {"evil.example", "x"}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    config = fixture_config(root)
    build_from_data(site_data(), config, out=root / "public", zip_path=root / "public.zip")
    return root


def _urls(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>)\\&]+", text)


def test_no_file_references_an_outside_host(built: Path) -> None:
    site = built / "public"
    offenders = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        if path.suffix in (".xlsx", ".zip"):
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        rel = path.relative_to(site).as_posix()
        vendored = rel.startswith("assets/javascripts/") or rel.startswith("assets/stylesheets/")
        if vendored and not rel.endswith("iframe-worker-shim.js"):
            original = MATERIAL / rel
            assert original.read_bytes() == path.read_bytes(), f"{rel} differs from the theme"
        for url in _urls(text):
            if url.startswith(ALLOWED_ANYWHERE):
                continue
            host = url.split("/")[2]
            if vendored and host in VENDORED_HOSTS:
                continue
            if host in DATA_TEXT_HOSTS:
                continue
            offenders.append((rel, url))
        if path.suffix == ".html":
            refs = re.findall(r'(?:src|href|action|srcset|poster|data)\s*=\s*["\']?(https?:[^"\' >]+)',
                              text)
            offenders += [(rel, u) for u in refs if not u.startswith(ALLOWED_ANYWHERE)]
    assert offenders == []
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "unpkg.com" not in index and 'src="assets/javascripts/iframe-worker-shim.js"' in index
    assert not list(site.rglob("*.map"))


def test_the_scan_would_catch_a_cdn_link(tmp_path: Path) -> None:
    """The failing case: an outside link in a page is reported by the same rule."""
    text = '<script src="https://unpkg.com/iframe-worker/shim"></script>'
    found = [u for u in _urls(text) if not u.startswith(ALLOWED_ANYWHERE)]
    assert found == ["https://unpkg.com/iframe-worker/shim"]


def test_two_builds_from_the_same_inputs_are_identical(built: Path, tmp_path: Path) -> None:
    config = fixture_config(tmp_path)
    build_from_data(site_data(), config, out=tmp_path / "public")

    def hashes(site: Path) -> dict[str, str]:
        return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in site.rglob("*") if p.is_file()}

    a, b = hashes(built / "public"), hashes(tmp_path / "public")
    assert a.keys() == b.keys()
    # No exceptions needed: sitemap dates follow SOURCE_DATE_EPOCH (the read time),
    # charts carry no date, xlsx files have fixed zip and document times.
    assert [k for k in a if a[k] != b[k]] == []


def test_downloads_at_stable_urls(built: Path) -> None:
    dl = built / "public" / "downloads"
    q1 = json.loads((dl / "2024-Q1" / "metrics.json").read_text(encoding="utf-8"))
    assert q1["period"]["label"] == "2024-Q1" and q1["metrics"]["received"] == 30
    latest = json.loads((dl / "latest" / "metrics.json").read_text(encoding="utf-8"))
    assert latest["period"]["label"] == "2024-03"
    index = json.loads((dl / "index.json").read_text(encoding="utf-8"))
    assert [p["label"] for p in index["periods"]] == ["2024-02", "2024-03", "2024-Q1", "2024"]
    assert (dl / "template.xlsx").read_bytes() == b"PK-template"


def test_csv_has_bom_titles_and_no_formulas(built: Path) -> None:
    raw = (built / "public" / "downloads" / "tables" / "responsibilities.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert text.splitlines()[0] == "事项类别,责任单位,责任领导,职务,办公电话,备注"
    assert "\"'=HYPERLINK(\"\"http://x\"\")\"" in text


def test_xlsx_tables_open_and_hold_only_public_columns(built: Path) -> None:
    data = (built / "public" / "downloads" / "tables" / "needs.xlsx").read_bytes()
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    header = [c.value for c in ws[1]]
    assert header == ["编号", "提出日期", "来源", "村(社区)", "需求内容", "类别", "接单单位",
                      "领单党员", "状态", "办结日期"]


def test_zip_holds_the_site(built: Path) -> None:
    with zipfile.ZipFile(built / "public.zip") as zf:
        names = zf.namelist()
    assert "public/index.html" in names and "public/search/search_index.js" in names
    assert names == sorted(names)


def test_failed_engine_run_keeps_the_previous_site(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    config = fixture_config(tmp_path)
    out = tmp_path / "public"
    out.mkdir()
    (out / "index.html").write_text("旧网站", encoding="utf-8")
    outdir.write_marker(out, "town-site")  # an earlier build of ours
    bad = tmp_path / "mkdocs.yml"
    bad.write_text("site_name: x\ntheme:\n  name: no-such-theme\n", encoding="utf-8")
    monkeypatch.setattr(engine, "MKDOCS_BASE", bad)
    with pytest.raises(FengqiaoError) as info:
        build_from_data(site_data(), config, out=out)
    assert "网站引擎 MkDocs 生成失败，原来的网站保持不变" in str(info.value)
    assert (out / "index.html").read_text(encoding="utf-8") == "旧网站"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fengqiao.yml", "mkdocs.yml", "public",
                                                          "public.fengqiao-tmp"]


def test_published_periods() -> None:
    from datetime import date

    labels = [p.label for p in published_periods(date(2024, 3, 20), 4)]
    assert labels == ["2023-12", "2024-01", "2024-02", "2024-03", "2023-Q4", "2024-Q1",
                      "2023", "2024"]


def test_cli_build_missing_source_is_a_clean_error(tmp_path: Path) -> None:
    config = tmp_path / "fengqiao.yml"
    config.write_text("town: 枫溪镇\nsource: 没有这个文件.xlsx\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--out",
                                      str(tmp_path / "public")])
    assert result.exit_code == 2
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("错误：找不到数据源") and "没有这个文件.xlsx" in last
    assert not (tmp_path / "public").exists()


def test_cli_build_demo_town(tmp_path: Path) -> None:
    """The whole pipeline on the demo town, through the command."""
    from fengqiao import demo

    demo.write_workbook(demo.generate_town(), tmp_path / "town.xlsx")
    config = tmp_path / "fengqiao.yml"
    config.write_text("town: 枫溪镇\nsource: town.xlsx\nreport_date: 2024-12-15\n"
                      "site:\n  months: 3\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["build", "--config", str(config), "--out",
                                      str(tmp_path / "public")])
    assert result.exit_code == 0, result.output
    assert "网站已生成" in result.output
    site = tmp_path / "public"
    for page in ("index.html", "stats/2024-12.html", "stats/2024-Q4.html", "stats/2024.html",
                 "lists/problems.html", "procedures/star-grading.html", "quality.html"):
        assert (site / page).exists(), page
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "本月（2024年12月）" in home
    # the demo plants personal data in sensitive fields: none of it reaches the site
    for path in site.rglob("*.html"):
        assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", path.read_text(encoding="utf-8")), path


def test_every_xlsx_download_opens_well(built: Path) -> None:
    """Each table download: header frozen, a filter over the data, fitted
    widths (no column left at Excel's default), dates formatted as dates."""
    import openpyxl

    downloads = built / "public" / "downloads"
    tables = sorted((downloads / "tables").glob("*.xlsx"))
    statistics = sorted(downloads.glob("*/statistics.xlsx"))
    # one statistics workbook per period the fixture's site shows
    shown = {p.stem for p in (built / "public" / "stats").glob("20*.html")}
    assert len(tables) >= 3 and {p.parent.name for p in statistics} == shown != set()
    for path in tables + statistics:
        percent_cells = 0
        for ws in openpyxl.load_workbook(path).worksheets:
            assert ws.freeze_panes == "A2", (path, ws.title)
            assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), (path, ws.title)
            for i in range(1, ws.max_column + 1):
                letter = openpyxl.utils.get_column_letter(i)
                assert ws.column_dimensions[letter].width >= 6, (path, ws.title, letter)
            for row in ws.iter_rows(min_row=2):
                for cell in row:
                    if cell.is_date:
                        assert cell.number_format == "yyyy-mm-dd", (path, cell.coordinate)
                    if isinstance(cell.value, float) and 0 <= cell.value <= 1:
                        # a rate is stored exactly and shown as a percentage
                        assert cell.number_format.endswith("%"), (path, ws.title, cell.coordinate)
                        percent_cells += 1
        if path in statistics:
            assert percent_cells > 0, path
