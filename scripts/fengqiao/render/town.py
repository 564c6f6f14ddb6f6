"""The town site's pages and download files, as Markdown and bytes in a docs folder.

:func:`render_docs` writes every page of a town site from :class:`SiteData`
(already public: no sensitive field) and returns the navigation;
:func:`write_downloads` writes the files the 数据下载 page links to
(metrics.json and the statistics xlsx per period, the four lists as CSV
and xlsx, the template).
The hand-written pages under ``site/`` are rendered here too, and
re-rendered alone while ``fengqiao serve`` runs. Nothing here knows the
site engine: the publish stage turns the folder into a site.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ..charts import ChartMaker
from ..config import Config
from ..errors import CATALOGUE, FengqiaoError, Finding
from ..metrics import dumps
from ..metrics.lists import LIST_TITLES, PROBLEM_COLUMNS, SOLUTION_COLUMNS
from ..metrics.receptions import BASIS_WORDS
from ..privacy import scrub
from ..publish.files import csv_bytes, workbook_sheets_bytes, xlsx_bytes
from ..resources import DEFAULT_PAGES
from ..schema import TAB_ORDER, load_schema
from ..template import guide_rows
from ..townschema import schema_for
from . import fmt, printing, render_generated, render_site_page
from .word import TREND_MONTHS, ReportInput, build_report, report_charts

#: the hand-written pages that come with fengqiao (jinja2 templates over the
#: config); a town folder may keep its own copy (``site.pages``)
SITE_PAGES = DEFAULT_PAGES
#: nav of the hand-written pages (file under site/ → title)
PROCEDURES = (
    ("procedures/index.md", "概述"),
    ("procedures/intake.md", "受理登记"),
    ("procedures/star-grading.md", "星级评定与办理时限"),
    ("procedures/three-levels.md", "三级调处"),
    ("procedures/five-steps.md", "五步工作法"),
    ("procedures/supervision.md", "督办与销号"),
    ("procedures/followup.md", "回访与满意度"),
    ("procedures/key-persons.md", "重点人员服务管理"),
    ("procedures/receptions.md", "领导接访下访"),
    ("procedures/grid-visits.md", "网格走访"),
)

#: downloadable tables: name → title (also the xlsx sheet name)
TABLES = {
    "problems": "问题清单",
    "solutions": "解决清单",
    "responsibilities": "责任清单",
    "needs": "需求清单",
    "followup_todo": "回访待办",
}

KIND_WORDS = {"month": "本月", "quarter": "本季度", "year": "本年"}


def pages_dir(config: Config) -> Path:
    """The folder of hand-written pages this town publishes: its own copy
    when the config names one (``fengqiao init`` makes it), else the pages
    that come with fengqiao. A named folder that is missing stops the build,
    rather than silently publishing the default pages instead."""
    if not config.site.pages:
        return SITE_PAGES
    folder = config.resolve(config.site.pages)
    if not folder.is_dir():
        raise FengqiaoError(f"找不到页面文件夹 {folder}（配置里的 site.pages）。",
                            hint="请检查 fengqiao.yml 的 site: pages: 一项；删去这一项则使用 fengqiao 自带的页面。")
    return folder


def procedures_nav(pages: Path) -> list[dict[str, str]]:
    """The 工作规程 menu: the known pages in their usual order, then any page
    a town added under procedures/, titled by its file name; a page the town
    removed from its copy leaves the menu instead of becoming a broken link."""
    known = dict(PROCEDURES)
    nav = [{title: rel} for rel, title in PROCEDURES if (pages / rel).is_file()]
    for path in sorted((pages / "procedures").glob("*.md")):
        rel = path.relative_to(pages).as_posix()
        if rel not in known:
            nav.append({path.stem: rel})
    return nav


@dataclass
class SiteData:
    """Everything the pages are made of, already public (no sensitive field)."""

    town: str
    as_of: date
    #: the metrics contract "source" block (kind, name, sha256, read_at, stale_since)
    source: dict[str, Any]
    #: metrics contract dicts, months oldest first, then quarters, then years
    periods: list[dict[str, Any]]
    #: kind → label of the period containing ``as_of`` ("month" → "2024-03")
    current: dict[str, str]
    findings: list[Finding] = field(default_factory=list)
    #: sheet title → rows left out of every figure
    excluded: dict[str, int] = field(default_factory=dict)
    #: "problems", "solutions", "responsibilities", "needs" → public frames
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: label of the period the solution list covers
    solutions_period: str | None = None
    #: the blank template workbook, when it could be generated
    template: bytes | None = None


def period_url(label: str, root: str = "") -> str:
    """The statistics page of a period, relative to ``root``."""
    return f"{root}stats/{label}.md"


def quality_context(data: SiteData) -> dict[str, Any]:
    """Findings by sheet and code; cell references and messages only for
    fields that are not sensitive (a sensitive tab shows its title only)."""
    schema = load_schema()
    sensitive_tabs = {t.name for t in schema if t.sensitive}
    per_sheet: dict[str, list[dict[str, str]]] = {}
    counts: dict[tuple[str, str], int] = {}
    for f in data.findings:
        hidden = f.field is not None and (f.tab in sensitive_tabs or (
            f.tab in schema.tabs and f.field in schema[f.tab].field_names
            and schema[f.tab].is_sensitive(f.field)))
        counts[(f.sheet, f.code)] = counts.get((f.sheet, f.code), 0) + 1
        entry = CATALOGUE.get(f.code)
        title = entry.title if entry else f.code
        per_sheet.setdefault(f.sheet, []).append({
            "cell": f.sheet if hidden else f.cell,
            "title": title,
            "message": (f"{title}（敏感字段，具体位置请在台账中查看）{entry.hint if entry else ''}"
                        if hidden else scrub(f.message)),
        })
    summary = []
    for (sheet, code), n in sorted(counts.items()):
        entry = CATALOGUE.get(code)
        summary.append({"sheet": sheet, "code": code, "count": n,
                        "title": entry.title if entry else code,
                        "severity": "错误" if entry is None or entry.severity == "error" else "提醒"})
    limit = 300
    details = [{"sheet": s, "rows": rows[:limit], "count": len(rows), "truncated": len(rows) > limit}
               for s, rows in per_sheet.items()]
    return {
        "errors": sum(1 for f in data.findings if f.severity == "error"),
        "warnings": sum(1 for f in data.findings if f.severity == "warning"),
        "summary": summary,
        "details": details,
        "excluded": [{"sheet": s, "count": n} for s, n in data.excluded.items()],
    }


def guide_context(config: Config | None = None) -> dict[str, Any]:
    """The fill-in guide reads the same rows as the template's 填表说明 tab
    (:func:`fengqiao.template.guide_rows`), so the two cannot disagree; with
    a config, its allowed values are the town's (the configured ranks)."""
    schema = schema_for(config)
    rows = guide_rows(schema)
    tabs = []
    for name in TAB_ORDER:
        tab = schema[name]
        tabs.append({
            "title": tab.title, "description": tab.description, "required": tab.required,
            "sensitive": tab.sensitive,
            "fields": [{"title": r["title"], "description": r["description"],
                        "type": r["type"], "required": r["required"],
                        "sensitive": r["sensitive"],
                        "enum": "、".join(str(v) for v in r["allowed"]),
                        "aliases": "、".join(r["aliases"])}
                       for r in rows if r["tab"] == name],
        })
    codes = [{"code": c.code, "title": c.title,
              "hint": c.hint.format(column="相应的列名", detail="见上面各表“可选的值”一栏"),
              "severity": "错误" if c.severity == "error" else "提醒"} for c in CATALOGUE.values()]
    return {"tabs": tabs, "codes": codes}


def table_titles(name: str) -> dict[str, str]:
    """Column titles: the schema's for ledger tabs, the lists' own otherwise."""
    if name in ("responsibilities", "needs"):
        tab = load_schema()[name]
        return {f.name: f.title for f in tab.fields}
    return dict(LIST_TITLES)


#: the filters each long list offers in the page: column → control label
#: (``assets/fengqiao.js`` builds the controls; without JavaScript the
#: whole list shows, and print always shows it whole)
LIST_FILTERS: dict[str, dict[str, str]] = {
    "problems": {"days_left": "状态", "village": "村"},
    "solutions": {"status": "办理结果", "village": "村"},
    "needs": {"status": "状态", "village": "村"},
    "followup_todo": {"status": "办理结果", "village": "村"},
    "supervision": {"village": "村", "responsible_unit": "责任单位"},
}
#: 需求清单 on the page: 状态 and 办结日期 among the first columns, the long
#: 需求内容 last (the download keeps the ledger's own column order)
NEEDS_PAGE_COLUMNS = ("id", "village", "category", "status", "closed_date", "raised_date", "unit",
                      "party_member", "source", "content")


def problem_table(frame: pd.DataFrame, config: Config) -> tuple[str, int, int]:
    """问题清单 as an HTML table: key columns first (the list's own order),
    one 剩余/逾期 column ("剩 3 天" / "逾期 12 天"), overdue and near rows
    coloured, and a 状态 filter that groups the rows by that column."""
    titles = table_titles("problems")
    shown = frame.copy()
    left = pd.to_numeric(shown.get("days_left", pd.Series(pd.NA, index=shown.index)),
                         errors="coerce")
    overdue = (left < 0).fillna(False).astype(bool)
    near = ((left >= 0) & (left <= config.deadlines.warn_days)).fillna(False).astype(bool)
    row_class = pd.Series("", index=shown.index, dtype="string")
    row_class[near] = "fq-near"
    row_class[overdue] = "fq-overdue"
    # a reader wants "逾期 3 天", not "-3"
    status = pd.Series("", index=shown.index, dtype="string")
    left_text = left.astype("Int64").astype("string")
    status[overdue] = "逾期 " + (-left[overdue]).astype("Int64").astype("string") + " 天"
    status[~overdue & left.notna()] = "剩 " + left_text[~overdue & left.notna()] + " 天"
    shown["days_left"] = status.where(status != "", pd.NA)
    group = pd.Series("无期限", index=shown.index, dtype="string")
    group[left.notna()] = "未到期"
    group[near] = f"{config.deadlines.warn_days} 天内到期"
    group[overdue] = "已逾期"
    columns = {c: titles.get(c, c) for c in PROBLEM_COLUMNS}
    columns["days_left"] = "剩余/逾期"
    html = fmt.html_table(shown, columns, row_class=row_class, table_class="fq-table fq-problems",
                          empty="截至统计日没有未办结的事项。", filters=LIST_FILTERS["problems"],
                          groups={"days_left": group}, scroll=True)
    return html, int(overdue.sum()), int(near.sum())


def list_table(frame: pd.DataFrame, name: str, *, empty: str,
               order: tuple[str, ...] | None = None) -> str:
    """A long list as a filterable HTML table in its own scrolling box,
    columns in ``order`` (default: the frame's own)."""
    titles = table_titles(name)
    columns = {c: titles.get(c, c) for c in (order or tuple(frame.columns))}
    return fmt.html_table(frame, columns, table_class="fq-table fq-list", empty=empty,
                          filters=LIST_FILTERS.get(name), scroll=True)


def definition_settings(config: Config) -> dict[str, Any]:
    """The settings the 指标解释 page states in figures (as a contract's
    ``config`` block names them)."""
    return {"day_count": config.deadlines.day_count, "backlog_days": config.backlog_days,
            "group_threshold": config.group_threshold}


def render_docs(data: SiteData, config: Config, docs: Path, charts: Any) -> list[Any]:
    """Write every page into ``docs``; returns the MkDocs nav."""
    def write(rel: str, text: str) -> None:
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        # every printed sheet says whose figures, which page, as of when
        path.write_text(printing.stamp(text, data.town, data.as_of), encoding="utf-8")

    by_label = {c["period"]["label"]: c for c in data.periods}
    months = [c for c in data.periods if c["period"]["kind"] == "month"]
    targets = dict(config.targets)
    base = {"town": data.town, "config": config, "as_of": data.as_of.isoformat(),
            "day_unit": "个工作日" if config.deadlines.day_count == "working" else "天"}

    # statistics pages
    nav_stats: dict[str, list[Any]] = {"month": [], "quarter": [], "year": []}
    for c in data.periods:
        p = c["period"]
        title = fmt.period_title(p)
        chart_list = []
        bd = c.get("breakdowns") or {}
        for key, what in (("village", "村(社区)"), ("dispute_type", "纠纷类型")):
            groups = bd.get(key) or {}
            if groups:
                names = sorted(groups)
                chart_list.append(charts.bar(
                    f"{p['label']}-{key}-received", f"{title}各{what}受理数", names,
                    [groups[n].get("received") for n in names]))
        sections = []
        for key, what in (("village", "村(社区)"), ("dispute_type", "纠纷类型"), ("source", "来源")):
            if bd.get(key):
                sections.append({"title": what, "groups": fmt.breakdown_groups(bd[key], what)})
        excluded_total = sum(int(v.get("count", 0)) for v in (c.get("excluded_rows") or {}).values()
                             if isinstance(v, Mapping))
        write(f"stats/{p['label']}.md", render_generated("stats.md.j2", base | loop_context(c) | {
            "period": p, "period_title": title,
            "rows": fmt.metric_rows(c["metrics"], targets, c.get("comparisons")),
            "earlier": fmt.earlier_periods(c.get("comparisons")),
            "level_mix": c["metrics"].get("level_mix") or {}, "charts": chart_list,
            "breakdowns": sections, "excluded_total": excluded_total,
            "key_persons": fmt.key_person_sections(bd),
            "as_of": c["as_of"], "partial": c["as_of"] < p["end"],
            "reception_basis": BASIS_WORDS.get(c.get("reception_basis") or ""),
        }))
        nav_stats[p["kind"]].append({title: f"stats/{p['label']}.md"})

    labels = [fmt.period_title(m["period"]) for m in months]
    trend_charts = []
    if months:
        trend_charts.append(charts.line(
            "trend-counts", "每月受理数与办结数", labels,
            {"受理数": [m["metrics"].get("received") for m in months],
             "办结数": [m["metrics"].get("closed") for m in months]}))
        for rate_id in ("closure_rate", "on_time_rate", "first_try_rate"):
            trend_charts.append(charts.line(
                f"trend-{rate_id}", f"每月{fmt.title(rate_id)}", labels,
                {fmt.title(rate_id): [(m["metrics"].get(rate_id) or {}).get("value")
                                      for m in months]},
                percent=True, target=targets.get(rate_id)))
        trend_charts.extend(transfer_charts(charts, months))
    write("stats/trend.md", render_generated("trend.md.j2", base | {
        "charts": trend_charts,
        "months": [{"title": t, "url": f"{m['period']['label']}.md", "metrics": m["metrics"]}
                   for t, m in zip(labels, months, strict=True)],
    }))
    groups = [{"title": t, "entries": [{"title": fmt.period_title(c["period"]),
                                      "url": f"{c['period']['label']}.md"}
                                     for c in reversed(data.periods) if c["period"]["kind"] == k]}
              for k, t in (("month", "月度"), ("quarter", "季度"), ("year", "年度"))]
    write("stats/index.md", render_generated("stats_index.md.j2", {"groups": groups}))
    write("stats/definitions.md", render_generated("definitions.md.j2", {
        "groups": fmt.definition_groups(targets, definition_settings(config)),
        "ledger_start": config.ledger_start, "county": False}))

    # home page
    quality = quality_context(data)
    current = []
    for kind in ("month", "quarter", "year"):
        label = data.current.get(kind)
        if label is None or label not in by_label:
            continue
        c = by_label[label]
        rows = [r for r in fmt.metric_rows(c["metrics"], targets) if r["id"] in fmt.KEY_FIGURES]
        rows.sort(key=lambda r: fmt.KEY_FIGURES.index(r["id"]))
        current.append({"kind_word": KIND_WORDS[kind], "title": fmt.period_title(c["period"]),
                        "rows": rows, "url": period_url(label)})
    spark = charts.sparkline("home-received", "近几个月受理数", labels,
                             [m["metrics"].get("received") for m in months]) if months else None
    write("index.md", render_generated("index.md.j2", base | {
        "current": current, "spark": spark, "source": data.source,
        "quality": quality | {"excluded_total": sum(data.excluded.values())},
    }))

    # lists
    problems = data.tables.get("problems", pd.DataFrame())
    problem_html, n_overdue, n_near = problem_table(problems, config)
    write("lists/problems.md", render_generated("list_problems.md.j2", base | {
        "table": problem_html, "total": len(problems), "overdue": n_overdue, "near": n_near,
        "warn_days": config.deadlines.warn_days}))
    solutions = data.tables.get("solutions", pd.DataFrame())
    sol_title = fmt.period_title(by_label[data.solutions_period]["period"]) \
        if data.solutions_period in by_label else "本期"
    write("lists/solutions.md", render_generated("list_solutions.md.j2", base | {
        "table": list_table(solutions, "solutions", order=SOLUTION_COLUMNS,
                            empty="本期没有办结的事项。"),
        "total": len(solutions), "period_title": sol_title}))
    duties = data.tables.get("responsibilities")
    write("lists/responsibilities.md", render_generated("list_responsibilities.md.j2", base | {
        "table": "" if duties is None else fmt.frame_table(duties, table_titles("responsibilities"))}))
    needs = data.tables.get("needs")
    write("lists/needs.md", render_generated("list_needs.md.j2", base | {
        "table": "" if needs is None else list_table(needs, "needs", order=NEEDS_PAGE_COLUMNS,
                                                      empty="需求清单是空的。")}))
    write("lists/index.md", render_generated("lists_index.md.j2", base | {
        "open_total": len(problems), "overdue_total": n_overdue, "solved_total": len(solutions),
        "period_title": sol_title}))

    # the supervision loop: 督办, 月度考核, 回访待办
    write_loop_pages(data, base, by_label, months, write)

    # quality, guide, downloads
    write("quality.md", render_generated("quality.md.j2", base | quality | {
        "source_name": data.source.get("name") or "", "read_at": data.source.get("read_at")}))
    template_url = "downloads/template.xlsx" if data.template is not None else ""
    write("guide.md", render_generated("guide.md.j2", guide_context(config) | {
        "template_url": template_url}))
    latest = data.current.get("month")
    write("downloads.md", render_generated("downloads.md.j2", {
        "latest_title": fmt.period_title(by_label[latest]["period"]) if latest in by_label else "—",
        "periods": [{"label": c["period"]["label"], "title": fmt.period_title(c["period"])}
                    for c in data.periods],
        "tables": [{"name": n, "title": t} for n, t in TABLES.items() if n in data.tables],
        "template_url": template_url}))

    # hand-written pages
    pages = pages_dir(config)
    for path in sorted(pages.rglob("*.md")):
        rel = path.relative_to(pages).as_posix()
        write(rel, render_site_page(path, config))

    return [
        {"首页": "index.md"},
        {"工作规程": procedures_nav(pages)},
        {"四张清单": [{"概述": "lists/index.md"}, {"责任清单": "lists/responsibilities.md"},
                  {"需求清单": "lists/needs.md"}, {"问题清单": "lists/problems.md"},
                  {"解决清单": "lists/solutions.md"}]},
        {"督办考核": [{"督办清单": "supervision.md"}, {"月度考核": "assessment.md"},
                  {"回访待办": "lists/followup.md"}]},
        {"统计": [{"概述": "stats/index.md"}, {"指标解释": "stats/definitions.md"},
                {"趋势": "stats/trend.md"},
                {"月度": nav_stats["month"][::-1]}, {"季度": nav_stats["quarter"][::-1]},
                {"年度": nav_stats["year"][::-1]}]},
        {"填表说明": "guide.md"},
        {"数据质量": "quality.md"},
        {"数据下载": "downloads.md"},
        {"关于本站": "about.md"},
    ]


#: mixes shown on a statistics page: figure id → (heading, first column)
MIXES = (("status_mix", "办结方式"), ("star_mix", "星级"), ("key_persons_by_category", "类别"))
#: the most 回访待办 rows one page lists (the ledger has them all)
FOLLOWUP_ROWS = 500


def loop_context(contract: Mapping[str, Any]) -> dict[str, Any]:
    """The supervision-loop parts of a statistics page (DOMAIN.md 4.2): the
    five baselines, 三传 and the mixes; empty for a file older than 1.2."""
    m = contract["metrics"]
    mixes = []
    for key, first in MIXES:
        table = fmt.mix_table(m.get(key), first, "人数" if key == "key_persons_by_category" else "件数",
                              fmt.STAR_WORDS if key == "star_mix" else None)
        if table:
            mixes.append({"title": fmt.title(key), "table": table})
    force = fmt.force_table(m.get("force_mix"))
    if force:
        mixes.append({"title": fmt.title("force_mix"), "table": force})
    transfers = None
    if "passed_up" in m:
        transfers = {"up": m.get("passed_up"), "down": m.get("passed_down"),
                     "across": m.get("passed_across"),
                     "kept": fmt.pct_counts(m.get("village_kept_rate"))}
    return {"baselines": fmt.baseline_rows(contract), "transfers": transfers, "mixes": mixes}


def transfer_charts(charts: Any, months: list[dict[str, Any]]) -> list[Any]:
    """三传 month by month (up, down, across), over the months whose town
    keeps a 流转记录 tab; none when it keeps none."""
    moved = [m for m in months if isinstance(m["metrics"].get("passed_up"), int)]
    if not moved:
        return []
    return [charts.line("trend-transfers", "每月三传（上传、下传、专传）",
                        [fmt.period_title(m["period"]) for m in moved],
                        {fmt.title(k): [m["metrics"].get(k) for m in moved]
                         for k in ("passed_up", "passed_down", "passed_across")})]


def write_loop_pages(data: SiteData, base: dict[str, Any], by_label: Mapping[str, Any],
                     months: list[dict[str, Any]], write: Any) -> None:
    """督办 (the overdue cases with their chases, and a table by unit), 月度考核
    (by unit and by leader, the latest two months) and 回访待办."""
    latest = by_label.get(data.current.get("month") or "")
    current = latest or (months[-1] if months else None)
    rows = list(current["overdue"]) if current else []
    metrics = current["metrics"] if current else {}
    units = (current.get("breakdowns") or {}).get("unit") or {} if current else {}
    write("supervision.md", render_generated("supervision.md.j2", base | {
        "overdue_total": len(rows),
        "chased_known": metrics.get("supervised") is not None,
        "supervised": metrics.get("supervised"),
        "explained_rate": metrics.get("overdue_explained_rate"),
        "table": fmt.html_table(fmt.supervision_frame(rows), fmt.SUPERVISION_PAGE_COLUMNS,
                                table_class="fq-table fq-list", scroll=True,
                                filters=LIST_FILTERS["supervision"],
                                empty="截至统计日没有逾期未办结的纠纷。"),
        "by_unit": fmt.accountability_table(
            {u: b for u, b in units.items() if b.get("overdue_open") or b.get("supervised")},
            "责任单位", [c for c in fmt.ACCOUNTABILITY_COLUMNS
                      if c[0] in ("overdue_open", "supervised", "overdue_explained_rate")]),
    }))
    assessed = []
    for c in months[::-1][:2]:
        bd = c.get("breakdowns") or {}
        if "unit" not in bd:
            continue
        assessed.append({"title": fmt.period_title(c["period"]), "as_of": c["as_of"],
                         "partial": c["as_of"] < c["period"]["end"],
                         "by_unit": fmt.accountability_table(bd.get("unit") or {}, "责任单位"),
                         "by_leader": fmt.accountability_table(bd.get("leader") or {}, "包案领导")})
    write("assessment.md", render_generated("assessment.md.j2", base | {"months": assessed}))
    todo = data.tables.get("followup_todo", pd.DataFrame())
    write("lists/followup.md", render_generated("list_followup.md.j2", base | {
        "total": len(todo), "shown": min(len(todo), FOLLOWUP_ROWS),
        "truncated": len(todo) > FOLLOWUP_ROWS,
        "table": list_table(todo.head(FOLLOWUP_ROWS), "followup_todo",
                            empty="没有等待回访的纠纷。")}))


#: the main table of a statistics page, as its xlsx sheet has it: row key → header
STAT_COLUMNS = {"title": "指标", "note": "口径", "numerator": "分子", "denominator": "分母",
                "value": "数值", "target": "目标", "status": "是否达标",
                "previous": "上期", "previous_change": "环比",
                "year_ago": "上年同期", "year_ago_change": "同比"}
#: the breakdown sheets of the statistics xlsx: breakdown key → sheet name
BREAKDOWN_SHEETS = (("village", "按村(社区)"), ("dispute_type", "按纠纷类型"), ("source", "按来源"))


def _whole_numbers(cells: pd.Series) -> pd.Series:
    """Counts shown as text on the page ("21", "—") as whole numbers, blank
    where there is none, so a spreadsheet can add them up."""
    return pd.to_numeric(cells.where(cells != fmt.DASH), errors="coerce").astype("Int64")


def statistics_workbook(contract: Mapping[str, Any]) -> bytes:
    """A statistics page's tables as one xlsx, one sheet per table: the main
    figures with the page's columns (note, 上期/环比, 上年同期/同比; the
    numerator and denominator as numbers in cells of their own, so they can
    be added up; a change as "↑0.8 个百分点" where the page says "+0.8 个百分点"),
    the five baselines, the mixes and the breakdowns; rates in the
    breakdowns are stored exactly and shown as percentages."""
    rows = fmt.metric_rows(contract["metrics"], contract.get("targets") or {},
                           contract.get("comparisons"))
    main = pd.DataFrame([{k: r[k] for k in STAT_COLUMNS} for r in rows], columns=list(STAT_COLUMNS))
    for key in ("numerator", "denominator"):
        main[key] = _whole_numbers(main[key])
    for key in ("previous_change", "year_ago_change"):
        # a leading + or − would make a spreadsheet take the cell for a
        # formula (and the formula guard would show a stray '): arrows instead
        main[key] = main[key].str.replace(r"^\+", "↑", regex=True) \
            .str.replace(r"^-", "↓", regex=True)
    sheets: list[tuple[str, pd.DataFrame, tuple[str, ...]]] = [
        ("主要指标", main.rename(columns=STAT_COLUMNS), ())]
    baselines = fmt.baseline_rows(contract)
    if baselines:
        sheets.append(("五个底数清", pd.DataFrame(
            {"底数": [b["title"] for b in baselines], "情况": [b["text"] for b in baselines]}), ()))
    mixes = []
    for key in fmt.catalogue.ids(kind="mix"):
        mix = contract["metrics"].get(key)
        if isinstance(mix, Mapping):
            for part, count in mix.items():
                n = count.get("closed") if isinstance(count, Mapping) else count
                label = fmt.STAR_WORDS.get(part, part) if key == "star_mix" else part
                mixes.append({"分布": fmt.title(key), "分项": label, "数量": n})
    if mixes:
        sheets.append(("分布", pd.DataFrame(mixes).astype({"数量": "Int64"}), ()))
    bd = contract.get("breakdowns") or {}
    for key, name in BREAKDOWN_SHEETS:
        groups = bd.get(key) or {}
        if not groups:
            continue
        cols = fmt.breakdown_columns(groups)
        frame = pd.DataFrame({name[1:]: sorted(groups)})
        for c in cols:
            values = [groups[u].get(c) for u in sorted(groups)]
            if c in fmt.RATES or c in fmt.DAYS:
                frame[fmt.title(c)] = pd.array(
                    [v.get("value") if isinstance(v, Mapping) else v for v in values], dtype="Float64")
            else:
                frame[fmt.title(c)] = pd.array(
                    [v.get("count") if isinstance(v, Mapping) else v for v in values], dtype="Int64")
        percent = tuple(fmt.title(c) for c in cols if c in fmt.RATES)
        sheets.append((name, frame, percent))
    return workbook_sheets_bytes(sheets)


#: each period's written report, beside its metrics.json
REPORT_FILE = "report.docx"


def period_report(contract: Mapping[str, Any], data: SiteData,
                  maker: ChartMaker | None = None) -> bytes:
    """The written report of one period (render/word.py). The periods the
    site calls current (this month, quarter and year) carry the two charts,
    drawn from the months the site already computed; earlier periods carry
    the tables only, which keeps the build from drawing dozens of charts
    nobody opens."""
    drawn: Sequence[tuple[str, bytes]] = ()
    if contract["period"]["label"] in data.current.values():
        months = [c for c in data.periods if c["period"]["kind"] == "month"]
        drawn = report_charts(months[-TREND_MONTHS:], contract, maker)
    return build_report(ReportInput.from_contract(contract, drawn))


def write_downloads(data: SiteData, docs: Path, maker: ChartMaker | None = None) -> None:
    """The files behind the 数据下载 page, at stable URLs: each period's
    metrics.json (and latest/), index.json, the lists as CSV and xlsx, and the
    blank template; every table file is byte-stable (:mod:`fengqiao.publish.files`).
    ``maker`` keeps the reports' charts between builds."""
    root = docs / "downloads"
    index = []
    for c in data.periods:
        label = c["period"]["label"]
        path = root / label / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dumps(c), encoding="utf-8")
        (path.parent / "statistics.xlsx").write_bytes(statistics_workbook(c))
        (path.parent / REPORT_FILE).write_bytes(period_report(c, data, maker))
        index.append({"label": label, "kind": c["period"]["kind"],
                      "path": f"downloads/{label}/metrics.json"})
    latest = data.current.get("month")
    by_label = {c["period"]["label"]: c for c in data.periods}
    if latest in by_label:
        (root / "latest").mkdir(parents=True, exist_ok=True)
        (root / "latest" / "metrics.json").write_text(dumps(by_label[latest]),
                                                      encoding="utf-8")
    (root / "index.json").write_text(json.dumps(
        {"town": data.town, "as_of": data.as_of.isoformat(), "latest": latest, "periods": index},
        ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    tables = root / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    for name, title in TABLES.items():
        frame = data.tables.get(name)
        if frame is None:
            continue
        titles = table_titles(name)
        (tables / f"{name}.csv").write_bytes(csv_bytes(frame, titles))
        (tables / f"{name}.xlsx").write_bytes(xlsx_bytes(frame, titles, title))
    if data.template is not None:
        (root / "template.xlsx").write_bytes(data.template)


def rerender_site_pages(config: Config, docs: Path) -> list[str]:
    """Re-render only the hand-written pages into an existing build folder
    (``fengqiao serve`` calls this when someone edits site/)."""
    changed = []
    pages = pages_dir(config)
    for path in sorted(pages.rglob("*.md")):
        rel = path.relative_to(pages).as_posix()
        text = render_site_page(path, config)
        target = docs / rel
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def site_fingerprint(config: Config) -> str:
    """Changes whenever a hand-written page changes (for the serve loop)."""
    h = hashlib.sha256()
    for path in sorted(pages_dir(config).rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path}:{st.st_mtime_ns}:{st.st_size}".encode())
    return h.hexdigest()



__all__ = ["FOLLOWUP_ROWS", "KIND_WORDS", "LIST_FILTERS", "MIXES", "NEEDS_PAGE_COLUMNS", "PROCEDURES", "SITE_PAGES", "TABLES", "SiteData", "guide_context",
           "pages_dir", "period_url", "problem_table", "procedures_nav", "quality_context", "render_docs", "rerender_site_pages",
           "list_table", "site_fingerprint", "table_titles", "loop_context", "transfer_charts", "write_downloads",
           "write_loop_pages"]
