"""The county site's pages and download files, from the period reports.

:func:`write_docs` writes into a docs folder everything the county site
shows: the overview, a page per town, the comparison with rankings and
charts, the supervision list, who reported and when, and the downloads
(county metrics.json, rankings, reporting and supervision tables as CSV and
xlsx, byte-stable). Everything comes from the towns' published contract
files, so the county site holds no personal data beyond what towns publish.

A city or province site is the same site one level up: its units are
counties (or cities), named with the level's own word (``unit_word``), each
unit's page lists the towns under it, and the 报送情况 page counts towns as
well as units. Its metrics.json is published for every period it shows, at
the path a town site uses, so the next level collects it like a town's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import catalogue
from ..charts import ChartMaker
from ..county.config import RANKED_RATES, CountyConfig
from ..county.report import (
    INVALID,
    LATE,
    MISSING,
    ON_TIME,
    REPORTED,
    SMALL,
    PeriodReport,
    TownStatus,
    status_table,
    title_of,
    town_table,
)
from ..metrics import dumps
from ..metrics.contract import SUMMARY, SUMMARY_OVERDUE, TOWN, detail_for, level_of
from ..metrics.rollup import town_statuses
from ..privacy import escape_md
from ..publish.files import csv_bytes, xlsx_bytes
from . import fmt, render_generated
from .town import REPORT_FILE
from .word import ReportInput, build_report

#: the figures the overview leads with, as on a town's home page
KEY_FIGURES = catalogue.KEY_FIGURES

STATUS_COLUMNS = {"town": "乡镇", "status": "报送情况", "towns_reported": "下属乡镇已报",
                  "towns_expected": "下属乡镇应报", "due": "截止时间",
                  "first_valid_at": "首次收到有效文件", "latest_at": "最近一次收取",
                  "last_good": "使用上一份有效文件", "reason": "说明"}
RANKING_COLUMNS = {"rank": "名次", "group": "分组", "town": "乡镇", "numerator": "分子",
                   "denominator": "分母", "value_text": "比率", "wilson_text": "置信下限"}
SUPERVISION_COLUMNS = {"town": "乡镇", "id": "编号", "village": "村(社区)", "dispute_type": "纠纷类型",
                       "star": "星级", "received_date": "受理日期", "deadline": "办结期限",
                       "days_open": "已办天数", "days_overdue": "逾期天数",
                       "responsible_unit": "责任单位", "lead_official": "包案领导",
                       "chases": "督办次数", "last_chase_date": "最近督办",
                       "last_chase_mode": "督办方式", "explained": "逾期说明"}
#: each town's supervision figures on the county 督办 page: figure id → header
TOWN_SUPERVISION = (("overdue_open", "逾期在办"), ("supervised", "督办件数"),
                    ("supervision_count", "督办次数"),
                    ("overdue_explained_rate", "逾期说明率（有说明/逾期）"))
#: 群体性纠纷 and petitions year on year, per town
YEAR_ON_YEAR = ("group_cases", "petition_batches", "petition_persons")
#: above this many units a bar per unit is a wall (a 1,000-unit chart is 280
#: inches tall and slow to draw): the chart shows the lowest ones, which the
#: office chases, and the ranking tables beside it still list every unit
BAR_UNITS = 40
#: how many of the lowest units such a chart shows
BAR_LOWEST = 20
#: a trend chart with more lines than this cannot be read: above it, the
#: trend shows the area's own line only (each unit's figures are in the tables)
TREND_UNITS = 12


def _pct_series(values: pd.Series) -> pd.Series:
    return values.map(lambda v: fmt.pct(None if pd.isna(v) else float(v)))


def _ranking_display(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    out["value_text"] = _pct_series(out["value"])
    out["wilson_text"] = _pct_series(out["wilson_lower"])
    out["rank"] = out["rank"].astype("string").fillna("—")
    return out


def _figure_rows(contract: dict[str, Any] | None, targets: dict[str, float]) -> list[dict[str, str]]:
    if contract is None:
        return []
    rows = fmt.metric_rows(contract["metrics"], targets, contract.get("comparisons"))
    order = {k: i for i, k in enumerate(KEY_FIGURES)}
    return sorted((r for r in rows if r["id"] in order), key=lambda r: order[r["id"]])


def _unit_columns(columns: dict[str, str], unit_word: str) -> dict[str, str]:
    """A table's headers with the first column named for the level's units."""
    return {**columns, "town": unit_word}


def _export_frames(report: PeriodReport, unit_word: str) -> dict[str, pd.DataFrame]:
    """The tables offered for download, with Chinese headers."""
    ranking = []
    for metric in RANKED_RATES:
        t = report.rankings[metric]
        ranking.append(pd.DataFrame({
            "指标": title_of(metric), "名次": t["rank"], "分组": t["group"], unit_word: t["town"],
            "分子": t["numerator"], "分母": t["denominator"], "比率": t["value"],
            "置信下限": t["wilson_lower"].round(6),
        }))
    status = status_table(report).rename(columns={**_unit_columns(STATUS_COLUMNS, unit_word),
                                                  "sha256": "文件 SHA-256"})
    supervision = report.supervision.rename(columns={**SUPERVISION_COLUMNS, "grid_id": "网格编号"})
    return {"ranking": pd.concat(ranking, ignore_index=True), "reporting": status,
            "supervision": supervision}


def _write_downloads(reports: list[PeriodReport], folder: Path, unit_word: str) -> list[str]:
    """The roll-up's metrics.json for every period the site shows (the
    trend's earlier periods too), at the path a town site uses, so the next
    level up collects this site as it would a town's; ``latest/`` is the
    main period's. Then xlsx/CSV of the main period's tables, written by the
    town site's own writers (BOM CSV, formula-safe cells, byte-stable xlsx)."""
    report = reports[-1]
    label = report.period.label
    target = folder / label
    target.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for shown in reports:
        if shown.contract is None:
            continue
        text = dumps(shown.contract)
        for sub in (shown.period.label, *(("latest",) if shown is report else ())):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            (folder / sub / "metrics.json").write_text(text, encoding="utf-8")
            written.append(f"{sub}/metrics.json")
    if report.contract is not None:
        # the written report with a table by unit (render/word.py): what the
        # office hands upward, from the same figures as the metrics.json
        (target / REPORT_FILE).write_bytes(build_report(ReportInput.from_contract(report.contract)))
        written.append(f"{label}/{REPORT_FILE}")
    sheets = {"ranking": "排名", "reporting": "报送情况", "supervision": "督办清单"}
    for key, frame in _export_frames(report, unit_word).items():
        (target / f"{key}.csv").write_bytes(csv_bytes(frame, {}))
        (target / f"{key}.xlsx").write_bytes(xlsx_bytes(frame, {}, sheets[key],
                                                        percent=("比率", "置信下限")))
        written += [f"{label}/{key}.csv", f"{label}/{key}.xlsx"]
    return written


def _town_slug(index: int) -> str:
    return f"town-{index + 1:02d}"


def bar_units(units: Sequence[str], values: Sequence[float | None],
              ) -> tuple[list[str], list[float | None], bool]:
    """The units a comparison bar chart shows: all of them up to
    :data:`BAR_UNITS`, else the :data:`BAR_LOWEST` lowest known values (ties
    by name, so the chart is the same every build); the flag says it is a
    selection."""
    if len(units) <= BAR_UNITS:
        return list(units), list(values), False
    known = sorted(((v, u) for u, v in zip(units, values, strict=True) if v is not None),
                   key=lambda p: (p[0], p[1]))[:BAR_LOWEST]
    return [u for _v, u in known], [v for v, _u in known], True


def _charts(reports: list[PeriodReport], folder: Path, targets: dict[str, float],
            config: CountyConfig) -> dict[str, Any]:
    maker = ChartMaker(folder)
    main = reports[-1]
    bars = []
    for metric in RANKED_RATES:
        t = main.rankings[metric]
        if t.empty:
            continue
        units, values, lowest = bar_units(
            t["town"].tolist(), [None if pd.isna(v) else float(v) for v in t["value"]])
        if not units:
            continue
        title = f"各{config.unit_word}{title_of(metric)}"
        if lowest:
            title += f"（最低的 {len(units)} 个）"
        bars.append(maker.bar(f"county-{metric}", title, units, values, percent=True,
                              target=targets.get(metric)))
    trends = []
    if len(reports) > 1:
        labels = [fmt.period_title(r.period.as_dict()) for r in reports]
        towns = [s.town for s in main.statuses] if len(main.statuses) <= TREND_UNITS else []
        by_name = [{x.town: x for x in r.statuses} for r in reports]  # one lookup per unit
        for metric in ("closure_rate", "on_time_rate"):
            series: dict[str, Sequence[float | None]] = {config.area: [
                None if r.contract is None else r.contract["metrics"][metric]["value"] for r in reports]}
            for town in towns:
                vals: list[float | None] = []
                for named in by_name:
                    s = named.get(town)
                    vals.append(None if s is None or s.contract is None
                                else s.contract["metrics"][metric]["value"])
                series[town] = vals
            trends.append(maker.line(f"county-trend-{metric}", f"{title_of(metric)}变化", labels,
                                     series, percent=True, target=targets.get(metric)))
        received: dict[str, Sequence[float | None]] = {config.area: [None if r.contract is None else float(r.contract["metrics"]["received"])
                           for r in reports]}
        trends.append(maker.line("county-trend-received", "受理数变化", labels, received))
    maker.prune()
    return {"bars": bars, "trends": trends}


def _pages(config: CountyConfig, reports: list[PeriodReport], downloads: list[str],
           charts: dict[str, Any]) -> dict[str, str]:
    main = reports[-1]
    period = main.period.as_dict()
    ptitle = fmt.period_title(period)
    slugs = {s.town: _town_slug(i) for i, s in enumerate(main.statuses)}
    rep = main.reporting
    base = {
        "county": config.name, "site_title": config.site_title, "period": period,
        "period_title": ptitle, "counts": main.counts, "expected": len(main.statuses),
        "completeness": main.completeness, "timeliness": main.timeliness,
        "ON_TIME": ON_TIME, "LATE": LATE, "REPORTED": REPORTED, "MISSING": MISSING, "INVALID": INVALID,
        # the level's own words, and the towns underneath (above a county)
        "level": config.level, "unit_word": config.unit_word, "area": config.area,
        "units_are_towns": main.units_are_towns,
        "unit_completeness": main.unit_completeness, "unit_timeliness": main.unit_timeliness,
        "town_counts": main.town_counts,
        "towns_expected": None if rep is None else rep.towns_expected,
        "unknown_units": [] if rep is None else rep.unknown_units,
        # a city's or province's list is the longest-overdue cases only (contract 1.5)
        "summary": detail_for(config.level) == SUMMARY, "summary_rows": SUMMARY_OVERDUE,
        "overdue_total": _overdue_total(main),
    }
    statuses = status_table(main)
    problems = statuses[statuses["reason"] != ""]
    c = main.contract
    pages: dict[str, str] = {}
    units = [{"name": s.town, "status": s.status, "slug": slugs[s.town],
              "received": None if s.contract is None else s.contract["metrics"]["received"],
              "closure": None if s.contract is None else s.contract["metrics"]["closure_rate"],
              "on_time": None if s.contract is None else s.contract["metrics"]["on_time_rate"],
              "overdue": None if s.contract is None else s.contract["metrics"]["overdue_open"]}
             for s in main.statuses]
    pages["index.md"] = render_generated("county/index.md.j2", base | {
        "contract": c, "rows": _figure_rows(c, config.targets),
        "not_counted": [s.town for s in main.statuses if s.contract is None],
        "last_good": [s.town for s in main.statuses if s.last_good],
        "towns": units,
        "supervision_count": _overdue_total(main),
        "baselines": [] if c is None else fmt.baseline_rows(c),
        "yoy": _year_on_year(main, config),
    })
    # the units' own pages stay out of the navigation (every page would carry
    # every unit's link: a 1,000-unit site wrote 1,000 x 1,000 links); this
    # page lists them, one row each
    pages["towns/index.md"] = render_generated("county/units.md.j2", base | {"towns": units})
    overdue_of = _overdue_by_unit(main.supervision)
    for s in main.statuses:
        src = config.town(s.town)
        pages[f"towns/{slugs[s.town]}.md"] = render_generated("county/town.md.j2", base | {
            "town": s.town, "status": s, "reason": s.reason,
            "unit_level": None if s.contract is None else level_of(s.contract),
            "towns_table": _unit_towns(s),
            "rows": _unit_rows(s, config, summary=detail_for(config.level) == SUMMARY),
            "as_of": None if s.contract is None else s.contract.get("as_of"),
            "site_url": src.location if src is not None and src.kind == "url" else None,
            "received_at": s.local(s.used.received) if s.used else "",
            "unit_overdue": None if s.contract is None else s.contract["metrics"]["overdue_open"],
            "unit_listed": len(overdue_of(s)),
            "sha256": s.used.sha256 if s.used else "",
            # a roll-up unit's cases keep their town ("西县/东湖镇" → its own path)
            "overdue": fmt.frame_table(overdue_of(s), {
                k: v for k, v in SUPERVISION_COLUMNS.items()
                if k != "town" or (s.contract is not None and level_of(s.contract) != TOWN)},
                empty=_no_overdue(s, config)),
        })
    rankings = []
    for metric in RANKED_RATES:
        t = _ranking_display(main.rankings[metric])
        rankings.append({"title": title_of(metric), "target": config.targets.get(metric),
                         "id": metric, "note": fmt.note(metric),
                         "table": fmt.frame_table(t, _unit_columns(RANKING_COLUMNS, config.unit_word),
                                                  empty=f"没有可比较的{config.unit_word}。"),
                         "small": t.loc[t["group"] == SMALL, "town"].tolist()})
    pages["compare.md"] = render_generated("county/compare.md.j2", base | {
        "rankings": rankings, "min_denominator": config.min_denominator,
        "bars": charts["bars"], "trends": charts["trends"],
        "trend_labels": [fmt.period_title(r.period.as_dict()) for r in reports],
    })
    pages["supervision.md"] = render_generated("county/supervision.md.j2", base | {
        "count": _overdue_total(main), "listed": len(main.supervision),
        "table": fmt.html_table(_supervision_display(main.supervision), SUPERVISION_COLUMNS,
                                empty="本期各乡镇都没有逾期在办的纠纷。"),
    } | _accountability(main, config.unit_word))
    pages["reporting.md"] = render_generated("county/reporting.md.j2", base | {
        "table": fmt.frame_table(statuses, {k: v for k, v in _unit_columns(
            STATUS_COLUMNS, config.unit_word).items() if k != "reason"}),
        "town_table": fmt.frame_table(town_table(main), {"town": "乡镇", "status": "报送情况"},
                                      empty="没有已知的下属乡镇。"),
        "problems": problems.to_dict(orient="records"),
        "due": main.statuses[0].local(main.statuses[0].due_at) if main.statuses else "",
        "due_days": config.due_days.get(main.period.kind),
        # in towns underneath; where the units are the towns, in units (whose
        # count stays known when one sent nothing)
        "history": [{"title": fmt.period_title(r.period.as_dict()),
                     **({"counts": r.counts, "completeness": r.unit_completeness,
                         "timeliness": r.unit_timeliness} if r.units_are_towns else
                        {"counts": r.town_counts, "completeness": r.completeness,
                         "timeliness": r.timeliness})} for r in reports],
    })
    # the same 指标解释 page as a town's, with the settings the towns share
    pages["definitions.md"] = render_generated("definitions.md.j2", {
        "groups": fmt.definition_groups(config.targets, (c or {}).get("config") or {}),
        "ledger_start": None, "county": True})
    pages["downloads.md"] = render_generated("county/downloads.md.j2", base | {
        "label": main.period.label, "files": downloads, "has_contract": c is not None,
        "other_labels": [r.period.label for r in reports[:-1] if r.contract is not None],
    })
    return pages




def _unit_rows(unit: TownStatus, config: CountyConfig, *, summary: bool) -> list[dict[str, str]]:
    """A unit's figures on its page: all of them in a county (tens of
    towns), the key figures in a city or province, whose hundreds of unit
    pages were three quarters of the site engine's time (each table cell is
    parsed as Markdown); the rest are in the unit's own site and in
    ``by_unit`` of the published metrics.json."""
    if unit.contract is None:
        return []
    if summary:
        return _figure_rows(unit.contract, config.targets)
    return fmt.metric_rows(unit.contract["metrics"], config.targets, unit.contract.get("comparisons"))


def _no_overdue(unit: TownStatus, config: CountyConfig) -> str:
    """What an empty overdue table says: in a summary the unit may well
    have overdue cases, only none among the area's longest-overdue."""
    if detail_for(config.level) == SUMMARY and unit.contract is not None \
            and unit.contract["metrics"]["overdue_open"]:
        return f"{config.area}逾期最久的 {SUMMARY_OVERDUE} 件里没有本{config.unit_word}的纠纷。"
    return "本期没有逾期在办的纠纷。"


def _overdue_total(report: PeriodReport) -> int:
    """Overdue open cases in the whole area: every row of a full list; a
    summary lists only the longest-overdue, so its count is the figure."""
    if report.contract is not None and report.contract.get("detail") == SUMMARY:
        return int(report.contract["metrics"]["overdue_open"])
    return len(report.supervision)


def _overdue_by_unit(table: pd.DataFrame) -> Callable[[TownStatus], pd.DataFrame]:
    """The overdue cases that came through one unit: its own, or (for a
    roll-up unit) those of the towns under it, named "单位/乡镇". The list
    is grouped once, so a page per unit costs its own rows, not a scan of
    every unit's (1,000 units x 30,000 rows was the roll-up's slowest step)."""
    names = table["town"].astype("string")
    nested = names.str.contains("/", regex=False).fillna(False).to_numpy(dtype=bool)
    exact = table.groupby(names, sort=False).indices if len(table) else {}
    heads = names[nested].str.split("/", n=1).str[0]
    under = table[nested].groupby(heads, sort=False).indices if nested.any() else {}
    rows_of_nested = np.flatnonzero(nested)
    empty = table.iloc[0:0]

    def of(unit: TownStatus) -> pd.DataFrame:
        if unit.contract is None or level_of(unit.contract) == TOWN:
            rows = exact.get(unit.town)
            return empty if rows is None else table.iloc[rows]
        rows = under.get(unit.town)
        return empty if rows is None else table.iloc[np.sort(rows_of_nested[rows])]
    return of


def _unit_towns(unit: TownStatus) -> str:
    """The towns under a roll-up unit, each with its status and its main
    figures (not ranked: the unit's own site ranks them); "" for a town."""
    c = unit.contract
    if c is None or level_of(c) == TOWN:
        return ""
    towns = c["breakdowns"].get("by_town") or {}
    lines = ["| 乡镇 | 报送情况 | " + " | ".join(
        fmt.title(k) for k in ("received", "closure_rate", "on_time_rate", "overdue_open")) + " |",
        "|---|---|---|---|---|---|"]
    for name, state in sorted(town_statuses(c).items()):
        m = towns.get(name)
        cells = ([fmt.num(m.get("received")), fmt.pct_counts(m.get("closure_rate")),
                  fmt.pct_counts(m.get("on_time_rate")), fmt.num(m.get("overdue_open"))]
                 if m is not None else [fmt.DASH] * 4)
        lines.append(f"| {escape_md(name)} | {state} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _supervision_display(table: pd.DataFrame) -> pd.DataFrame:
    """The explanation as 有/无 (its text never reaches a contract), "—"
    for a town that keeps no 督办记录."""
    out = table.copy()
    out["explained"] = out["explained"].map({True: "有", False: "无"}).astype("string")
    out["chases"] = pd.array(out["chases"], dtype="Int64")
    return out


def _direct_units(contract: dict[str, Any]) -> dict[str, Any]:
    """Each direct unit's figures (``by_unit``; a file before 1.3 has only
    ``by_town``, which is the same for a county)."""
    b = contract["breakdowns"]
    return dict(b.get("by_unit") or b.get("by_town") or {})


def _accountability(report: PeriodReport, unit_word: str) -> dict[str, str]:
    """Supervision and accountability across units: each unit's figures
    (from its own contract), and responsible units summed across towns where
    they share a name (each town's 司法所 into one row)."""
    c = report.contract
    if c is None:
        return {"by_town": "", "by_unit": "", "accountability": ""}
    towns = _direct_units(c)
    return {
        "by_town": fmt.accountability_table(towns, unit_word, TOWN_SUPERVISION),
        "accountability": fmt.accountability_table(towns, unit_word),
        "by_unit": fmt.accountability_table(c["breakdowns"].get("unit") or {}, "责任单位"),
    }


def _year_on_year(report: PeriodReport, config: CountyConfig) -> str:
    """群体性纠纷 and petitions per unit against the same period a year earlier."""
    c = report.contract
    if c is None:
        return ""
    rows = _direct_units(c)
    rows[config.area] = c["metrics"]
    head = f"| {config.unit_word} | " + " | ".join(fmt.title(k) for k in YEAR_ON_YEAR) + " |"
    lines = [head, "|" + "---|" * (len(YEAR_ON_YEAR) + 1)]
    for town, m in rows.items():
        lines.append(f"| {escape_md(town)} | " + " | ".join(fmt.change(m.get(k)) for k in YEAR_ON_YEAR) + " |")
    return "\n".join(lines) + "\n"


def _nav(unit_word: str) -> list[Any]:
    """The same few entries at any size: the units are one list page, so
    no page's navigation grows with the number of units."""
    return [
        {"概览": "index.md"},
        {f"各{unit_word}": "towns/index.md"},
        {"对比": "compare.md"},
        {"指标解释": "definitions.md"},
        {"督办清单": "supervision.md"},
        {"报送情况": "reporting.md"},
        {"数据下载": "downloads.md"},
    ]


@dataclass(frozen=True)
class CountyDocs:
    """What :func:`write_docs` wrote: page and download paths (relative to
    the docs folder and to ``downloads/``) and the site navigation."""

    pages: list[str]
    downloads: list[str]
    nav: list[Any]


def write_docs(config: CountyConfig, reports: list[PeriodReport], docs: Path,
               chart_dir: Path) -> CountyDocs:
    """Every page and download of the county site for ``reports[-1]`` (the
    earlier reports feed the trends) into ``docs``; charts are drawn into
    ``chart_dir`` (a cache kept between builds) and copied beside the pages."""
    downloads = _write_downloads(reports, docs / "downloads", config.unit_word)
    charts = _charts(reports, chart_dir, config.targets, config)
    (docs / "charts").mkdir(parents=True, exist_ok=True)
    for chart in charts["bars"] + charts["trends"]:
        (docs / "charts" / chart.filename).write_bytes((chart_dir / chart.filename).read_bytes())
    pages = _pages(config, reports, downloads, charts)
    for rel, text in pages.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(text, encoding="utf-8")
    return CountyDocs(pages=sorted(pages), downloads=downloads, nav=_nav(config.unit_word))


__all__ = ["KEY_FIGURES", "RANKING_COLUMNS", "STATUS_COLUMNS", "SUPERVISION_COLUMNS", "CountyDocs",
           "write_docs"]
