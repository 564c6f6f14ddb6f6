"""Charts for the site: the only module that imports matplotlib.

Charts are SVG with glyphs drawn as paths, so a page shows Chinese labels on a
computer without any CJK font and the files never reference a web font.
Output is deterministic (no date, fixed hash salt) and each file name carries
a hash of what was drawn, so an unchanged rebuild reuses the file it drew
last time instead of paying for matplotlib again.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .errors import FengqiaoError  # noqa: E402
from .publish.atomic import shared_mode, write_atomic  # noqa: E402

#: bump when the drawing code changes, so cached files are redrawn
STYLE_VERSION = "2"

#: preferred CJK fonts, first found wins
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
)

#: one palette for every chart: met target / missed / neutral series
COLOURS = {
    "primary": "#1f5fa8",
    "secondary": "#e07b1f",
    "good": "#2e8b57",
    "bad": "#c0392b",
    "grid": "#d9d9d9",
    "text": "#333333",
}
SERIES = ("#1f5fa8", "#e07b1f", "#2e8b57", "#8e44ad", "#c0392b", "#7f8c8d")


def _first_cjk_font() -> str | None:
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _rescan_system_fonts() -> None:
    """Add fonts installed since matplotlib cached its font list, and save
    the list again. matplotlib builds that cache once and never looks at the
    system again, so a user who installs fonts-noto-cjk as our message says
    would otherwise keep getting the same message."""
    manager = font_manager.fontManager
    known = {f.fname for f in manager.ttflist}
    for path in font_manager.findSystemFonts():
        if path not in known:
            with contextlib.suppress(Exception):  # a broken font file is skipped, as matplotlib does
                manager.addfont(path)
    cache = Path(matplotlib.get_cachedir()) / f"fontlist-v{font_manager.FontManager.__version__}.json"
    with contextlib.suppress(OSError):  # an unwritable cache only costs the next run a rescan
        font_manager.json_dump(manager, cache)


@cache
def find_cjk_font() -> str:
    """The family name of an installed font that can draw Chinese (the
    system is rescanned once when the cached font list has none)."""
    found = _first_cjk_font()
    if found is None:
        _rescan_system_fonts()
        found = _first_cjk_font()
    if found is not None:
        return found
    raise FengqiaoError(
        "找不到可以显示中文的字体，无法绘制统计图。",
        hint="请安装中文字体：Debian/Ubuntu 执行 sudo apt-get install fonts-noto-cjk，"
        "Windows 系统自带微软雅黑即可。",
    )


@dataclass(frozen=True)
class Chart:
    #: file name inside the charts folder (contains the data hash)
    filename: str
    #: text alternative for the image, shown to screen readers and when it fails to load
    alt: str
    title: str


def _rc() -> dict[str, Any]:
    return {
        "font.family": [find_cjk_font()],
        "font.size": 9,
        "axes.unicode_minus": False,
        "svg.hashsalt": "fengqiao",
        "svg.fonttype": "path",
        "axes.edgecolor": COLOURS["grid"],
        "axes.labelcolor": COLOURS["text"],
        "xtick.color": COLOURS["text"],
        "ytick.color": COLOURS["text"],
    }


_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>\s*", re.DOTALL)


def _to_svg(fig: Figure) -> bytes:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight",
                metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    # The DOCTYPE only points at the W3C DTD; browsers never need it, and a
    # published file should not name outside hosts without a reason.
    return _DOCTYPE.sub("", buf.getvalue()).encode("utf-8")


def _slug(name: str) -> str:
    return re.sub(r"[^0-9A-Za-z_-]+", "-", name).strip("-") or "chart"


class ChartMaker:
    """Draws into ``folder``; a chart whose inputs hash to an existing file is
    not drawn again. ``drawn`` / ``reused`` count both for the build report."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.drawn = 0
        self.reused = 0
        self.used: set[str] = set()

    def _path(self, name: str, spec: dict[str, Any], suffix: str = ".svg") -> tuple[Path, bool]:
        payload = json.dumps({"v": STYLE_VERSION, "font": find_cjk_font(), **spec},
                             sort_keys=True, ensure_ascii=False, default=str)
        digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()[:12]
        filename = f"{_slug(name)}-{digest}{suffix}"
        self.used.add(filename)
        path = self.folder / filename
        return path, path.exists()

    def _save(self, path: Path, fig: Figure) -> None:
        write_atomic(path, _to_svg(fig), mode=shared_mode())
        self.drawn += 1

    def _png(self, name: str, spec: dict[str, Any], draw: Callable[[], bytes]) -> bytes:
        """A PNG for the Word reports, kept beside the SVGs: the reports of
        the current month, quarter and year share one trend chart, and a
        rebuild of unchanged figures draws none."""
        path, cached = self._path(name, spec, ".png")
        if cached:
            self.reused += 1
            return path.read_bytes()
        data = draw()
        write_atomic(path, data, mode=shared_mode())
        self.drawn += 1
        return data

    def prune(self) -> int:
        """Delete chart files no page or report of this build uses."""
        removed = 0
        for path in [*self.folder.glob("*.svg"), *self.folder.glob("*.png")]:
            if path.name not in self.used:
                path.unlink()
                removed += 1
        return removed

    def copy_used(self, target: Path) -> None:
        """The pages' charts into the site (the PNGs live inside the reports)."""
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(n for n in self.used if n.endswith(".svg")):
            shutil.copyfile(self.folder / name, target / name)

    def line_png(self, name: str, title: str, labels: Sequence[str],
                 series: dict[str, Sequence[float | None]], *, percent: bool = False) -> bytes:
        """:func:`line_png`, drawn once for equal inputs."""
        spec = {"kind": "line-png", "title": title, "labels": list(labels),
                "series": {k: list(v) for k, v in series.items()}, "percent": percent}
        return self._png(name, spec, lambda: line_png(title, labels, series, percent=percent))

    def bar_png(self, name: str, title: str, categories: Sequence[str],
                values: Sequence[float | None], *, percent: bool = False) -> bytes:
        """:func:`bar_png`, drawn once for equal inputs."""
        spec = {"kind": "bar-png", "title": title, "categories": list(categories),
                "values": list(values), "percent": percent}
        return self._png(name, spec, lambda: bar_png(title, categories, values, percent=percent))

    # -- chart kinds ------------------------------------------------------------
    def line(self, name: str, title: str, labels: Sequence[str],
             series: dict[str, Sequence[float | None]], *, percent: bool = False,
             target: float | None = None) -> Chart:
        """A trend over periods; gaps (None) stay gaps, never zeros."""
        spec = {"kind": "line", "title": title, "labels": list(labels),
                "series": {k: list(v) for k, v in series.items()},
                "percent": percent, "target": target}
        path, cached = self._path(name, spec)
        if cached:
            self.reused += 1
        else:
            with matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
                self._save(path, line_figure(title, labels, series, percent=percent,
                                             target=target))
        alt = f"{title}：" + "；".join(
            f"{sname} " + "、".join(
                f"{lab} {_fmt(v, percent)}" for lab, v in zip(labels, values, strict=False))
            for sname, values in series.items())
        return Chart(path.name, alt, title)

    def bar(self, name: str, title: str, categories: Sequence[str],
            values: Sequence[float | None], *, percent: bool = False,
            target: float | None = None) -> Chart:
        """Horizontal bars, largest first, so long village names stay readable."""
        categories, values = sorted_bars(categories, values)
        spec = {"kind": "bar", "title": title, "categories": list(categories),
                "values": list(values), "percent": percent, "target": target}
        path, cached = self._path(name, spec)
        if cached:
            self.reused += 1
        else:
            with matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
                self._save(path, bar_figure(title, categories, values, percent=percent,
                                            target=target))
        alt = f"{title}：" + "、".join(
            f"{c} {_fmt(v, percent)}" for c, v in zip(categories, values, strict=False))
        return Chart(path.name, alt, title)

    def sparkline(self, name: str, title: str, labels: Sequence[str],
                  values: Sequence[float | None]) -> Chart:
        """A small trend line for the home page, without axes."""
        spec = {"kind": "spark", "title": title, "labels": list(labels), "values": list(values)}
        path, cached = self._path(name, spec)
        if cached:
            self.reused += 1
        else:
            with matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
                fig = Figure(figsize=(3.2, 0.8))
                ax = fig.add_subplot()
                ys = [float("nan") if v is None else float(v) for v in values]
                ax.plot(range(len(ys)), ys, color=COLOURS["primary"], linewidth=1.5)
                ax.fill_between(range(len(ys)), ys, color=COLOURS["primary"], alpha=0.12)
                ax.set_axis_off()
                self._save(path, fig)
        alt = f"{title}：" + "、".join(
            f"{lab} {_fmt(v, False)}" for lab, v in zip(labels, values, strict=False))
        return Chart(path.name, alt, title)


def sorted_bars(categories: Sequence[str], values: Sequence[float | None]
                ) -> tuple[list[str], list[float | None]]:
    """Largest value first, unknown (None) last, ties in their given order."""
    order = sorted(range(len(categories)),
                   key=lambda i: (values[i] is None, -(values[i] or 0.0), i))
    return [categories[i] for i in order], [values[i] for i in order]


def _scale(value: float | None, percent: bool) -> float:
    return float("nan") if value is None else float(value) * (100 if percent else 1)


def _value_label(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.1f}%"
    return f"{value:g}"


def line_figure(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
                *, percent: bool = False, target: float | None = None) -> Figure:
    """A trend: counts on whole-number ticks from a zero baseline, rates in
    percent from zero, each point labelled with its value when few enough
    to read."""
    fig = Figure(figsize=(6.4, 2.8))
    ax = fig.add_subplot()
    x = list(range(len(labels)))
    for i, (sname, values) in enumerate(series.items()):
        ys = [_scale(v, percent) for v in values]
        colour = SERIES[i % len(SERIES)]
        ax.plot(x, ys, marker="o", markersize=3, linewidth=1.6, color=colour, label=sname)
        if len(x) <= 13:
            for xi, (y, v) in enumerate(zip(ys, values, strict=False)):
                if v is not None:
                    ax.annotate(_value_label(v, percent), (xi, y), textcoords="offset points",
                                xytext=(0, 4), ha="center", fontsize=7, color=colour)
    if target is not None:
        ax.axhline(target * (100 if percent else 1), color=COLOURS["bad"],
                   linestyle="--", linewidth=1, label="目标")
    ax.set_xticks(x, list(labels), rotation=45, ha="right")
    ax.set_title(title, color=COLOURS["text"])
    ax.grid(axis="y", color=COLOURS["grid"], linewidth=0.6)
    top = max((_scale(v, percent) for vs in series.values() for v in vs if v is not None),
              default=0.0)
    if percent:
        # rates from zero; a clearance rate above 100% still fits
        ax.set_ylim(0, max(105.0, top * 1.12))
        ax.set_ylabel("%")
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(0, max(1.0, top * 1.18))
    ax.legend(loc="best", frameon=False, fontsize=8)
    return fig


def bar_figure(title: str, categories: Sequence[str], values: Sequence[float | None], *,
               percent: bool = False, target: float | None = None) -> Figure:
    """Horizontal bars in the order given, each labelled with its value
    (unknown shown as —, never drawn as zero length and called zero)."""
    height = max(1.6, 0.28 * len(categories) + 0.8)
    fig = Figure(figsize=(6.4, height))
    ax = fig.add_subplot()
    ys = list(range(len(categories)))[::-1]
    vals = [0.0 if v is None else _scale(v, percent) for v in values]
    colours = [COLOURS["primary"]] * len(vals)
    if target is not None:
        colours = [COLOURS["good"] if v is not None and v >= target else COLOURS["bad"]
                   for v in values]
    bars = ax.barh(ys, vals, color=colours, height=0.6)
    ax.bar_label(bars, labels=[_value_label(v, percent) for v in values], padding=2,
                 fontsize=7, color=COLOURS["text"])
    ax.set_yticks(ys, list(categories))
    if target is not None:
        ax.axvline(target * (100 if percent else 1), color=COLOURS["text"],
                   linestyle="--", linewidth=1)
    if percent:
        ax.set_xlim(0, max(112.0, max(vals, default=0.0) * 1.15))
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(0, max(1.0, max(vals, default=0.0) * 1.15))
    ax.set_title(title, color=COLOURS["text"])
    ax.grid(axis="x", color=COLOURS["grid"], linewidth=0.6)
    return fig


def figure_png(fig: Figure) -> bytes:
    """A figure as PNG bytes for documents that cannot take SVG (Word)."""
    with matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=150, bbox_inches="tight",
                    metadata={"Software": None})
        return buf.getvalue()


def line_png(title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]],
             *, percent: bool = False) -> bytes:
    with matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
        return figure_png(line_figure(title, labels, series, percent=percent))


def bar_png(title: str, categories: Sequence[str], values: Sequence[float | None], *,
            percent: bool = False) -> bytes:
    categories, values = sorted_bars(categories, values)
    with matplotlib.rc_context(_rc()):  # type: ignore[arg-type]
        return figure_png(bar_figure(title, categories, values, percent=percent))


def _fmt(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    if percent:
        return f"{value * 100:.1f}%"
    return f"{value:g}"
