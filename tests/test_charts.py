from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from fengqiao import charts
from fengqiao.charts import ChartMaker, find_cjk_font
from fengqiao.errors import FengqiaoError


def test_cjk_font_found() -> None:
    assert find_cjk_font() == "Noto Sans CJK SC"


def test_missing_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    find_cjk_font.cache_clear()
    monkeypatch.setattr(charts, "CJK_FONTS", ("没有这个字体",))
    try:
        with pytest.raises(FengqiaoError) as info:
            find_cjk_font()
        assert "找不到可以显示中文的字体" in str(info.value)
        assert "fonts-noto-cjk" in str(info.value)
    finally:
        monkeypatch.undo()
        find_cjk_font.cache_clear()
    assert find_cjk_font() == "Noto Sans CJK SC"


def test_chinese_labels_draw_without_missing_glyph_warnings(tmp_path: Path) -> None:
    maker = ChartMaker(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph … missing from font" would fail here
        chart = maker.bar("v", "各村受理数", ["东村", "西岭社区", "嘎查村"], [3, 5, None])
        maker.line("t", "每月办结率", ["2024年1月", "2024年2月"], {"办结率": [0.5, None]},
                   percent=True, target=0.9)
    assert chart.alt == "各村受理数：西岭社区 5、东村 3、嘎查村 —"
    assert (tmp_path / chart.filename).stat().st_size > 1000


def test_missing_glyph_warning_does_fire_with_a_latin_font(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The check above is meaningful: without a CJK font matplotlib warns."""
    find_cjk_font.cache_clear()
    monkeypatch.setattr(charts, "CJK_FONTS", ("DejaVu Sans",))
    try:
        with pytest.warns(UserWarning, match="missing from font"):
            ChartMaker(tmp_path).bar("v", "各村", ["东村"], [1])
    finally:
        monkeypatch.undo()
        find_cjk_font.cache_clear()


def test_output_is_deterministic_and_has_no_outside_references(tmp_path: Path) -> None:
    a = ChartMaker(tmp_path / "a").sparkline("s", "受理数", ["1月", "2月", "3月"], [1, 4, 2])
    b = ChartMaker(tmp_path / "b").sparkline("s", "受理数", ["1月", "2月", "3月"], [1, 4, 2])
    data_a = (tmp_path / "a" / a.filename).read_bytes()
    assert data_a == (tmp_path / "b" / b.filename).read_bytes()
    text = data_a.decode()
    assert "<dc:date>" not in text and "DOCTYPE" not in text and "matplotlib.org" not in text


def test_unchanged_chart_is_reused_changed_one_redrawn(tmp_path: Path) -> None:
    first = ChartMaker(tmp_path)
    c1 = first.bar("v", "各村受理数", ["东村"], [3])
    assert (first.drawn, first.reused) == (1, 0)
    path = tmp_path / c1.filename
    mtime = path.stat().st_mtime_ns

    again = ChartMaker(tmp_path)
    c2 = again.bar("v", "各村受理数", ["东村"], [3])
    assert c2.filename == c1.filename
    assert (again.drawn, again.reused) == (1 - 1, 1)
    assert path.stat().st_mtime_ns == mtime

    changed = ChartMaker(tmp_path)
    c3 = changed.bar("v", "各村受理数", ["东村"], [4])
    assert c3.filename != c1.filename
    assert (changed.drawn, changed.reused) == (1, 0)
    assert changed.prune() == 1  # the old file is no longer used
    assert not path.exists()


def test_a_report_png_is_drawn_once_and_kept_out_of_the_site(tmp_path: Path) -> None:
    """The reports' PNGs: equal inputs give the stored bytes without drawing,
    other inputs a new file; the site's charts folder gets only the SVGs,
    and pruning drops a PNG no report used."""
    months, series = ["10月", "11月", "12月"], {"受理": [3, 5, 2], "办结": [2, 4, 2]}
    first = ChartMaker(tmp_path / "cache")
    png = first.line_png("report-trend", "近3个月受理与办结（件）", months, series)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert png == charts.line_png("近3个月受理与办结（件）", months, series)
    assert first.line_png("report-trend", "近3个月受理与办结（件）", months, series) == png
    assert (first.drawn, first.reused) == (1, 1)

    again = ChartMaker(tmp_path / "cache")
    assert again.line_png("report-trend", "近3个月受理与办结（件）", months, series) == png
    bars = again.bar_png("report-villages", "各村（社区）办结率", ["东村（4件）", "西村（2件）"],
                         [0.5, 1.0], percent=True)
    assert bars == charts.bar_png("各村（社区）办结率", ["东村（4件）", "西村（2件）"],
                                  [0.5, 1.0], percent=True)
    assert (again.drawn, again.reused) == (1, 1)
    svg = again.sparkline("s", "受理数", months, [3, 5, 2])
    again.copy_used(tmp_path / "site")
    assert sorted(p.name for p in (tmp_path / "site").iterdir()) == [svg.filename]

    later = ChartMaker(tmp_path / "cache")
    later.bar_png("report-villages", "各村（社区）办结率", ["东村（4件）", "西村（2件）"],
                  [0.5, 1.0], percent=True)
    assert later.prune() == 2  # the trend PNG and the sparkline: this build used neither
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".png"]


STALE_CACHE_SCRIPT = r"""
import json, sys
from pathlib import Path
import matplotlib
from matplotlib import font_manager
cache = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
if sys.argv[1] == "make-stale":
    # the font list as it was before fonts-noto-cjk was installed
    data = json.loads(cache.read_text())
    data["ttflist"] = [f for f in data["ttflist"] if "CJK" not in f["name"]]
    cache.write_text(json.dumps(data))
    sys.exit(0)
before = {f.name for f in font_manager.fontManager.ttflist}
assert "Noto Sans CJK SC" not in before, "the cache should be stale"
from fengqiao.charts import find_cjk_font
print(find_cjk_font())
print(any("CJK" in f["name"] for f in json.loads(cache.read_text())["ttflist"]))
"""


def test_a_stale_font_cache_is_rescanned_once(tmp_path: Path) -> None:
    # matplotlib caches the font list on first use and never looks again: a
    # CJK font installed afterwards was invisible until this rescan
    import subprocess
    import sys

    env = {**os.environ, "MPLCONFIGDIR": str(tmp_path / "mpl")}
    run = [sys.executable, "-c", STALE_CACHE_SCRIPT]
    subprocess.run([*run, "make-stale"], env=env, check=True, capture_output=True)
    done = subprocess.run([*run, "find"], env=env, check=True, capture_output=True, text=True)
    assert done.stdout.splitlines() == ["Noto Sans CJK SC", "True"]  # found, and the cache repaired


def test_bars_are_sorted_largest_first_with_unknown_last() -> None:
    from fengqiao.charts import sorted_bars

    assert sorted_bars(["甲", "乙", "丙", "丁"], [0.5, None, 0.9, 0.5]) == (
        ["丙", "甲", "丁", "乙"], [0.9, 0.5, 0.5, None])


def test_count_axes_use_whole_numbers_from_zero_and_bars_carry_values() -> None:
    from fengqiao.charts import bar_figure, line_figure

    fig = line_figure("受理数", ["1月", "2月", "3月"], {"受理": [3, 1, 2]})
    ax = fig.axes[0]
    assert ax.get_ylim()[0] == 0
    assert all(float(t).is_integer() for t in ax.get_yticks())
    assert [t.get_text() for t in ax.texts] == ["3", "1", "2"]
    rates = line_figure("办结率", ["1月", "2月"], {"办结率": [0.5, 1.25]}, percent=True)
    assert rates.axes[0].get_ylim()[0] == 0 and rates.axes[0].get_ylim()[1] >= 125
    bars = bar_figure("各村办结率", ["东村", "西村"], [0.75, None], percent=True)
    labels = [t.get_text() for t in bars.axes[0].texts]
    assert labels == ["75.0%", "—"]


def test_png_for_documents_is_a_real_png() -> None:
    from fengqiao.charts import bar_png

    data = bar_png("各村受理数", ["东村", "西村"], [3, 5])
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2_000
