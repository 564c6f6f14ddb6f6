"""Ledger → static site, with the site engine as the last, swappable step.

The pipeline: read the source (falling back to the last snapshot when a
Google spreadsheet cannot be reached), validate, compute the metrics of every
published period, draw charts, render every page to Markdown in a build
folder, write the downloads, and only then run MkDocs in a subprocess into a
temporary folder beside ``out``. The finished site replaces the old one with
renames, so a failed build leaves the previous site exactly as it was.
No MkDocs plugin or hook of ours is involved: the engine reads plain Markdown.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import outdir
from .config import PROJECT_ROOT, Config
from .errors import CATALOGUE, FengqiaoError, Finding
from .privacy import csv_safe, publishable_frame, scrub
from .schema import TAB_ORDER, load_schema

Progress = Callable[[str], None]

SITE_PAGES = PROJECT_ROOT / "site"
MKDOCS_BASE = PROJECT_ROOT / "mkdocs.yml"
ASSETS = Path(__file__).resolve().parent / "assets"

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

#: downloadable tables: name → (title, tab whose publishable columns apply or None)
TABLES = {
    "problems": "问题清单",
    "solutions": "解决清单",
    "responsibilities": "责任清单",
    "needs": "需求清单",
}

KIND_WORDS = {"month": "本月", "quarter": "本季度", "year": "本年"}


def _quiet(_: str) -> None:
    return None


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


@dataclass
class BuildResult:
    out: Path
    build_dir: Path
    zip_path: Path | None
    pages: int
    charts_drawn: int
    charts_reused: int
    stale: bool
    errors: int
    warnings: int
    timings: dict[str, float]


# --- periods ------------------------------------------------------------------------


def published_periods(report_date: date, months: int) -> list[Any]:
    """The last ``months`` months up to the report date, then every quarter
    and year they touch (the current ones included)."""
    from .metrics.periods import Period, recent_months

    ms = recent_months(report_date, months)
    quarters: list[Any] = []
    years: list[Any] = []
    for m in ms:
        q = Period.quarter(m.start.year, (m.start.month - 1) // 3 + 1)
        if q not in quarters:
            quarters.append(q)
        y = Period.year(m.start.year)
        if y not in years:
            years.append(y)
    return [*ms, *quarters, *years]


# --- collecting the data -----------------------------------------------------------------


def source_target(config: Config, source: str | None) -> str | Path:
    """Where the ledger is: a remote spec as given, a ``source`` passed in
    (the command line's ``--source``) relative to the current folder, the
    config's ``source:`` relative to the config file's folder."""
    from .sources import is_remote

    spec = source or config.source
    if not spec:
        raise FengqiaoError("没有指定台账来源。",
                            hint="请在 fengqiao.yml 里设置 source，或用 --source 指定台账文件。")
    if is_remote(spec):
        return spec
    return Path(spec).resolve() if source else config.resolve(spec)


def _read(config: Config, source: str | None, progress: Progress) -> Any:
    from .sources.snapshots import read_source

    target = source_target(config, source)
    progress(f"读取台账：{source or config.source}")
    return read_source(target, config=config, snapshot_dir=config.resolve(config.snapshots_dir),
                       fallback=True)


def collect(config: Config, *, source: str | None = None, progress: Progress = _quiet,
            today: date | None = None, timings: dict[str, float] | None = None) -> SiteData:
    """Read, validate and compute: the parts of a build that other stages own."""
    from .metrics import compute_metrics
    from .metrics.lists import problem_list, solution_list
    from .validate import require_figures, validate_workbook

    timings = timings if timings is not None else {}
    t0 = time.perf_counter()
    workbook = _read(config, source, progress)
    timings["read"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress("检查台账")
    ledger = validate_workbook(workbook, config=config)
    require_figures(ledger)  # a site of zeros would look real: stop, keep the old site
    timings["validate"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    report_date = config.report_date or today or date.today()
    periods = published_periods(report_date, config.site.months)
    progress(f"计算 {len(periods)} 个统计期的指标")
    contracts = [compute_metrics(ledger, p, as_of=min(p.end, report_date), config=config)
                 for p in periods]
    current = {p.kind: p.label for p in periods if p.contains(report_date)}
    quarter = next(p for p in periods if p.kind == "quarter" and p.contains(report_date))
    schema = load_schema()
    tables: dict[str, pd.DataFrame] = {
        "problems": problem_list(ledger, report_date, config),
        "solutions": solution_list(ledger, quarter, report_date, config),
    }
    for tab in ("responsibilities", "needs"):
        if ledger.has(tab):
            tables[tab] = publishable_frame(ledger.tables[tab], schema[tab])
    timings["metrics"] = time.perf_counter() - t0

    excluded = {ledger.sheet_names.get(tab, schema[tab].title): ledger.excluded_count(tab)
                for tab in ledger.excluded if ledger.excluded_count(tab)}
    return SiteData(
        town=ledger.town or config.town,
        as_of=report_date,
        source=contracts[-1]["source"],
        periods=contracts,
        current=current,
        findings=list(ledger.findings),
        excluded=excluded,
        tables=tables,
        solutions_period=quarter.label,
        template=_template_bytes(),
    )


def _template_bytes() -> bytes | None:
    """The blank template from the template stage, if it is installed."""
    try:
        from .template import write_template  # type: ignore[attr-defined]
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "template.xlsx"
        write_template(path)
        return path.read_bytes()


# --- rendering -------------------------------------------------------------------------------


def _period_url(label: str, root: str = "") -> str:
    return f"{root}stats/{label}.md"


def _quality_context(data: SiteData) -> dict[str, Any]:
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


def _guide_context() -> dict[str, Any]:
    """The fill-in guide reads the same rows as the template's 填表说明 tab
    (:func:`fengqiao.template.guide_rows`), so the two cannot disagree."""
    from .template import guide_rows

    schema = load_schema()
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


def _table_titles(name: str) -> dict[str, str]:
    """Column titles: the schema's for ledger tabs, the lists' own otherwise."""
    if name in ("responsibilities", "needs"):
        tab = load_schema()[name]
        return {f.name: f.title for f in tab.fields}
    try:
        from .metrics.lists import LIST_TITLES
    except ImportError:
        return {}
    return dict(LIST_TITLES)


def _problem_table(frame: pd.DataFrame, config: Config) -> tuple[str, int, int]:
    from .render import fmt

    titles = _table_titles("problems")
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
    status[~overdue & left.notna()] = "剩余 " + left_text[~overdue & left.notna()] + " 天"
    shown["days_left"] = status.where(status != "", pd.NA)
    columns = {c: titles.get(c, c) for c in shown.columns}
    columns["days_left"] = "剩余/逾期"
    html = fmt.html_table(shown, columns, row_class=row_class, table_class="fq-table fq-problems",
                          empty="截至统计日没有未办结的事项。")
    return html, int(overdue.sum()), int(near.sum())


def render_docs(data: SiteData, config: Config, docs: Path, charts: Any) -> list[Any]:
    """Write every page into ``docs``; returns the MkDocs nav."""
    from .render import fmt, render_generated, render_site_page

    def write(rel: str, text: str) -> None:
        path = docs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

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
                sections.append({"title": what, "table": fmt.breakdown_table(bd[key], what)})
        excluded_total = sum(int(v.get("count", 0)) for v in (c.get("excluded_rows") or {}).values()
                             if isinstance(v, Mapping))
        write(f"stats/{p['label']}.md", render_generated("stats.md.j2", base | {
            "period": p, "period_title": title, "rows": fmt.metric_rows(c["metrics"], targets),
            "level_mix": c["metrics"].get("level_mix") or {}, "charts": chart_list,
            "breakdowns": sections, "excluded_total": excluded_total,
            "as_of": c["as_of"], "partial": c["as_of"] < p["end"],
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

    # home page
    quality = _quality_context(data)
    current = []
    for kind in ("month", "quarter", "year"):
        label = data.current.get(kind)
        if label is None or label not in by_label:
            continue
        c = by_label[label]
        rows = [r for r in fmt.metric_rows(c["metrics"], targets) if r["id"] in fmt.KEY_FIGURES]
        rows.sort(key=lambda r: fmt.KEY_FIGURES.index(r["id"]))
        current.append({"kind_word": KIND_WORDS[kind], "title": fmt.period_title(c["period"]),
                        "rows": rows, "url": _period_url(label)})
    spark = charts.sparkline("home-received", "近几个月受理数", labels,
                             [m["metrics"].get("received") for m in months]) if months else None
    write("index.md", render_generated("index.md.j2", base | {
        "current": current, "spark": spark, "source": data.source,
        "quality": quality | {"excluded_total": sum(data.excluded.values())},
    }))

    # lists
    problems = data.tables.get("problems", pd.DataFrame())
    problem_html, n_overdue, n_near = _problem_table(problems, config)
    write("lists/problems.md", render_generated("list_problems.md.j2", base | {
        "table": problem_html, "total": len(problems), "overdue": n_overdue, "near": n_near,
        "warn_days": config.deadlines.warn_days}))
    solutions = data.tables.get("solutions", pd.DataFrame())
    sol_title = fmt.period_title(by_label[data.solutions_period]["period"]) \
        if data.solutions_period in by_label else "本期"
    write("lists/solutions.md", render_generated("list_solutions.md.j2", base | {
        "table": fmt.frame_table(solutions, _table_titles("solutions"),
                                 empty="本期没有办结的事项。"),
        "total": len(solutions), "period_title": sol_title}))
    for name, template in (("responsibilities", "list_responsibilities.md.j2"),
                           ("needs", "list_needs.md.j2")):
        frame = data.tables.get(name)
        table = "" if frame is None else fmt.frame_table(frame, _table_titles(name))
        write(f"lists/{name}.md", render_generated(template, base | {"table": table}))
    write("lists/index.md", render_generated("lists_index.md.j2", base | {
        "open_total": len(problems), "overdue_total": n_overdue, "solved_total": len(solutions),
        "period_title": sol_title}))

    # quality, guide, downloads
    write("quality.md", render_generated("quality.md.j2", base | quality | {
        "source_name": data.source.get("name") or "", "read_at": data.source.get("read_at")}))
    template_url = "downloads/template.xlsx" if data.template is not None else ""
    write("guide.md", render_generated("guide.md.j2", _guide_context() | {
        "template_url": template_url}))
    latest = data.current.get("month")
    write("downloads.md", render_generated("downloads.md.j2", {
        "latest_title": fmt.period_title(by_label[latest]["period"]) if latest in by_label else "—",
        "periods": [{"label": c["period"]["label"], "title": fmt.period_title(c["period"])}
                    for c in data.periods],
        "tables": [{"name": n, "title": t} for n, t in TABLES.items() if n in data.tables],
        "template_url": template_url}))

    # hand-written pages
    for path in sorted(SITE_PAGES.rglob("*.md")):
        rel = path.relative_to(SITE_PAGES).as_posix()
        write(rel, render_site_page(path, config))

    return [
        {"首页": "index.md"},
        {"工作规程": [{t: p} for p, t in PROCEDURES]},
        {"四张清单": [{"概述": "lists/index.md"}, {"责任清单": "lists/responsibilities.md"},
                  {"需求清单": "lists/needs.md"}, {"问题清单": "lists/problems.md"},
                  {"解决清单": "lists/solutions.md"}]},
        {"统计": [{"概述": "stats/index.md"}, {"趋势": "stats/trend.md"},
                {"月度": nav_stats["month"][::-1]}, {"季度": nav_stats["quarter"][::-1]},
                {"年度": nav_stats["year"][::-1]}]},
        {"填表说明": "guide.md"},
        {"数据质量": "quality.md"},
        {"数据下载": "downloads.md"},
        {"关于本站": "about.md"},
    ]


# --- downloads ----------------------------------------------------------------------------------

FIXED_ZIP_TIME = (2000, 1, 1, 0, 0, 0)


def _metrics_text(contract: dict[str, Any]) -> str:
    try:
        from .metrics import dumps
    except ImportError:
        return json.dumps(contract, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    return dumps(contract)


def _csv_bytes(frame: pd.DataFrame, titles: Mapping[str, str]) -> bytes:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d")
        out[col] = csv_safe(out[col])
    out = out.rename(columns={c: titles.get(c, c) for c in out.columns})
    return out.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def _xlsx_bytes(frame: pd.DataFrame, titles: Mapping[str, str], sheet: str) -> bytes:
    """An xlsx whose bytes depend only on the table (fixed times in the zip
    and in the document properties), so equal data gives an equal file."""
    out = frame.rename(columns={c: titles.get(c, c) for c in frame.columns})
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.date
        elif out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = csv_safe(out[col].astype(object))
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet, index=False)
        props = writer.book.properties
        stamp = datetime(*FIXED_ZIP_TIME)
        props.creator = props.lastModifiedBy = "fengqiao"
        props.created = props.modified = stamp
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            body = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                # openpyxl stamps the save time here whatever the properties say
                body = _CORE_TIMES.sub(rb"\g<1>2000-01-01T00:00:00Z\g<2>", body)
            dst.writestr(info, body)
    return out.getvalue()


_CORE_TIMES = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def write_downloads(data: SiteData, docs: Path) -> None:
    root = docs / "downloads"
    index = []
    for c in data.periods:
        label = c["period"]["label"]
        path = root / label / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_metrics_text(c), encoding="utf-8")
        index.append({"label": label, "kind": c["period"]["kind"],
                      "path": f"downloads/{label}/metrics.json"})
    latest = data.current.get("month")
    by_label = {c["period"]["label"]: c for c in data.periods}
    if latest in by_label:
        (root / "latest").mkdir(parents=True, exist_ok=True)
        (root / "latest" / "metrics.json").write_text(_metrics_text(by_label[latest]),
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
        titles = _table_titles(name)
        (tables / f"{name}.csv").write_bytes(_csv_bytes(frame, titles))
        (tables / f"{name}.xlsx").write_bytes(_xlsx_bytes(frame, titles, title))
    if data.template is not None:
        (root / "template.xlsx").write_bytes(data.template)


# --- the engine ----------------------------------------------------------------------------------


def write_engine_config(config: Config, build_dir: Path, docs: Path, nav: list[Any]) -> Path:
    """build/mkdocs.yml: the repository's mkdocs.yml with the navigation and
    this build's absolute paths filled in."""
    base = yaml.safe_load(MKDOCS_BASE.read_text(encoding="utf-8"))
    base["site_name"] = f"{config.town}{config.site.title}" \
        if not config.site.title.startswith(config.town) else config.site.title
    base["docs_dir"] = str(docs)
    base["site_dir"] = str(build_dir / "site")
    base["nav"] = nav
    dict_file = build_dir / "jieba_user_dict.txt"
    dict_file.write_text(_jieba_words(), encoding="utf-8")
    for plugin in base.get("plugins", []):
        if isinstance(plugin, dict) and "search" in plugin:
            plugin["search"]["jieba_dict_user"] = str(dict_file)
    path = build_dir / "mkdocs.yml"
    path.write_text("# generated by fengqiao build from the repository's mkdocs.yml\n"
                    + yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _jieba_words() -> str:
    """Domain words jieba should keep whole (so 星级评定 is found as typed)."""
    schema = load_schema()
    words = {"星级评定", "三级调处", "五步工作法", "督办", "销号", "回访", "满意度", "重点人员",
             "接访", "下访", "网格员", "包案领导", "责任清单", "需求清单", "问题清单", "解决清单",
             "矛盾纠纷", "首次调解", "按期办结", "积案"}
    for tab in schema:
        words.add(tab.title)
        for f in tab.fields:
            if f.enum:
                words.update(str(v) for v in f.enum if isinstance(v, str) and len(v) > 1)
    return "".join(f"{w} 100000\n" for w in sorted(words))


def run_engine(config_file: Path, site_dir: Path, *, source_epoch: int) -> None:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(source_epoch)  # sitemap dates follow the data, not the clock
    env.setdefault("PYTHONHASHSEED", "0")
    env["NO_MKDOCS_2_WARNING"] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(config_file), "-d", str(site_dir)],
        cwd=config_file.parent, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise FengqiaoError(f"网站引擎 MkDocs 生成失败，原来的网站保持不变。\n{tail}",
                            hint="请根据上面的提示检查 site/ 里的页面或 mkdocs.yml。")


def _drop_source_maps(site_dir: Path) -> None:
    """The theme's .map files only help debugging its JavaScript; they are
    large and full of upstream URLs, so they are not published (the same goes
    for language files the search never loads)."""
    for path in site_dir.rglob("*.map"):
        path.unlink()
    # Stemmers and segmenters for other languages: search runs with lang en
    # over a jieba-segmented index, so the worker never loads any of them.
    shutil.rmtree(site_dir / "assets" / "javascripts" / "lunr", ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours (EPERM), or cannot tell: leave it alone
        return True
    return True


def clean_leftovers(out: Path) -> None:
    """Remove what a build killed halfway left beside ``out``: its
    ``.<out>.new-<pid>-*`` folder, and its ``.<out>.old-<pid>`` folder (put
    back as ``out`` when the kill fell between the two renames). Folders of
    a build that is still running are left alone, and so is a folder named
    like ours that carries no marker of ours and is not empty: the name
    alone does not prove we wrote it."""
    pattern = re.compile(rf"^\.{re.escape(out.name)}\.(new|old)-(\d+)(?:-.*)?$")
    if not out.parent.is_dir():
        return
    for path in sorted(out.parent.iterdir()):
        m = pattern.match(path.name)
        if m is None or path.is_symlink() or not path.is_dir() or _pid_alive(int(m.group(2))):
            continue
        if m.group(1) == "old" and not out.exists():
            path.rename(out)
        elif outdir.is_ours(path) or not any(path.iterdir()):
            shutil.rmtree(path, ignore_errors=True)


def staging_folder(out: Path, kind: str) -> Path:
    """A new, marked ``.<out>.new-<pid>-*`` folder beside ``out`` for the
    engine to build into; the marker is there from the start (MkDocs keeps
    hidden files), so a build killed halfway leaves a folder
    :func:`clean_leftovers` can prove is ours."""
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out)
    folder = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-{os.getpid()}-", dir=out.parent))
    outdir.write_marker(folder, kind, files=())
    return folder


def swap_into_place(new: Path, out: Path) -> None:
    """Replace ``out`` by ``new`` with two renames; the old site is removed
    only after the new one is in place."""
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    if out.exists():
        out.rename(old)
    try:
        new.rename(out)
    except OSError:
        if old.exists():
            old.rename(out)
        raise
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def write_zip(site_dir: Path, zip_path: Path, top: str) -> None:
    """One archive of the site, entries sorted and dated 2000-01-01 so equal
    sites give equal archives."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{zip_path.name}.", suffix=".tmp", dir=zip_path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            files = {p.relative_to(site_dir).as_posix(): p for p in site_dir.rglob("*")
                     if p.is_file()}
            files.pop(outdir.MARKER, None)  # ownership of a local folder, not part of the site
            for rel in sorted(files):
                path = files[rel]
                info = zipfile.ZipInfo(f"{top}/{rel}", date_time=FIXED_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, path.read_bytes())
        tmp.replace(zip_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _epoch(source: Mapping[str, Any], as_of: date) -> int:
    read_at = source.get("read_at")
    if isinstance(read_at, str):
        try:
            moment = datetime.fromisoformat(read_at)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return int(moment.timestamp())
        except ValueError:
            pass
    return int(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC).timestamp())


def claim_outputs(out: Path, build_dir: Path | None, zip_path: Path | None,
                  sources: Sequence[Path] = ()) -> Path:
    """Refuse, before anything is written, an output folder, working folder
    or zip that is not fengqiao's to replace (see :mod:`fengqiao.outdir`);
    returns the working folder."""
    outdir.claim(out, "town-site", sources=sources)
    build_dir = Path(build_dir).resolve() if build_dir else outdir.work_dir(out)
    outdir.claim(build_dir, "work", sources=sources, replacing=False)
    if zip_path is not None:
        outdir.claim_zip(Path(zip_path), out.name)
    return build_dir


def build_from_data(data: SiteData, config: Config, *, out: Path, zip_path: Path | None = None,
                    build_dir: Path | None = None, progress: Progress = _quiet,
                    timings: dict[str, float] | None = None,
                    sources: Sequence[Path] = ()) -> BuildResult:
    """Pages, charts, downloads and the engine run, from already-public data.
    ``sources`` are the local ledger paths the output must not touch."""
    from .charts import ChartMaker

    timings = timings if timings is not None else {}
    out = Path(out).resolve()
    build_dir = claim_outputs(out, build_dir, zip_path, sources)
    outdir.make_own(build_dir, "work")
    docs = build_dir / "docs"
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)

    t0 = time.perf_counter()
    progress("生成页面和统计图")
    charts = ChartMaker(build_dir / "chart-cache")
    nav = render_docs(data, config, docs, charts)
    charts.copy_used(docs / "charts")
    charts.prune()
    timings["render"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    assets = docs / "assets"
    (assets / "javascripts").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ASSETS / "fengqiao.css", assets / "fengqiao.css")
    shutil.copyfile(ASSETS / "iframe-worker-shim.js", assets / "javascripts" / "iframe-worker-shim.js")
    progress("写入下载文件")
    write_downloads(data, docs)
    engine_file = write_engine_config(config, build_dir, docs, nav)
    timings["downloads"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    progress("运行网站引擎 MkDocs")
    tmp_out = staging_folder(out, "town-site")
    try:
        run_engine(engine_file, tmp_out, source_epoch=_epoch(data.source, data.as_of))
        _drop_source_maps(tmp_out)
        outdir.write_marker(tmp_out, "town-site")
        timings["mkdocs"] = time.perf_counter() - t0
        # again just before replacing anything: a file may have been added meanwhile
        claim_outputs(out, build_dir, zip_path, sources)
        if zip_path is not None:
            progress(f"打包：{zip_path}")
            write_zip(tmp_out, Path(zip_path), out.name)
        swap_into_place(tmp_out, out)
    except BaseException:
        shutil.rmtree(tmp_out, ignore_errors=True)
        raise
    outdir.write_marker(build_dir, "work")
    pages = sum(1 for _ in out.rglob("*.html"))
    progress(f"完成：{out}（{pages} 个页面）")
    return BuildResult(
        out=out, build_dir=build_dir, zip_path=Path(zip_path) if zip_path else None, pages=pages,
        charts_drawn=charts.drawn, charts_reused=charts.reused,
        stale=bool(data.source.get("stale_since")),
        errors=sum(1 for f in data.findings if f.severity == "error"),
        warnings=sum(1 for f in data.findings if f.severity == "warning"),
        timings=timings,
    )


def build_site(config: Config, *, source: str | None = None, out: Path,
               zip_path: Path | None = None, progress: Progress = _quiet,
               build_dir: Path | None = None, today: date | None = None) -> BuildResult:
    """The whole build: ``fengqiao build``. The output folders are checked
    before the ledger is read, so a refusal costs nothing."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    target = source_target(config, source)
    sources = [target] if isinstance(target, Path) else []
    out = Path(out).resolve()
    claim_outputs(out, build_dir, zip_path, sources)
    data = collect(config, source=source, progress=progress, today=today, timings=timings)
    result = build_from_data(data, config, out=out, zip_path=zip_path, build_dir=build_dir,
                             progress=progress, timings=timings, sources=sources)
    timings["total"] = time.perf_counter() - start
    return result


def rerender_site_pages(config: Config, docs: Path) -> list[str]:
    """Re-render only the hand-written pages into an existing build folder
    (``fengqiao serve`` calls this when someone edits site/)."""
    from .render import render_site_page

    changed = []
    for path in sorted(SITE_PAGES.rglob("*.md")):
        rel = path.relative_to(SITE_PAGES).as_posix()
        text = render_site_page(path, config)
        target = docs / rel
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            changed.append(rel)
    return changed


def site_fingerprint() -> str:
    """Changes whenever a file under site/ changes (for the serve loop)."""
    h = hashlib.sha256()
    for path in sorted(SITE_PAGES.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path}:{st.st_mtime_ns}:{st.st_size}".encode())
    return h.hexdigest()


__all__ = ["BuildResult", "SiteData", "build_from_data", "build_site", "collect",
           "published_periods"]


def serve_site(config: Config, *, out: Path, port: int = 8000, rebuild: bool = True,
               progress: Progress = lambda _msg: None,
               announce: Callable[[str], None] = lambda _url: None,
               poll_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False) -> None:
    """Preview with live reload while someone edits ``site/``.

    MkDocs serves the build folder and reloads the browser when a page there
    changes; we only re-render the hand-written pages whose sources changed, so
    an edit shows in about a second without re-reading the ledger. ``stop``
    lets a test end the loop; a person ends it with Ctrl+C.
    """
    build_dir = outdir.work_dir(Path(out).resolve())
    if rebuild:
        build_site(config, out=out, progress=progress)
    outdir.claim(build_dir, "work", replacing=False, option="--dir")
    engine_file = build_dir / "mkdocs.yml"
    if not engine_file.exists():
        raise FengqiaoError(f"找不到 {engine_file}，还没有生成过网站。",
                            hint="请先运行 fengqiao build，或去掉 --no-rebuild。")
    env = dict(os.environ)
    env["NO_MKDOCS_2_WARNING"] = "1"
    proc = subprocess.Popen([sys.executable, "-m", "mkdocs", "serve", "-f", str(engine_file),
                             "-a", f"127.0.0.1:{port}", "--livereload"], cwd=build_dir, env=env)
    announce(f"http://127.0.0.1:{port}/")
    seen = site_fingerprint()
    try:
        while proc.poll() is None and not stop():
            time.sleep(poll_seconds)
            now = site_fingerprint()
            if now == seen:
                continue
            seen = now
            try:
                changed = rerender_site_pages(config, build_dir / "docs")
            except FengqiaoError as exc:
                progress(f"错误：{exc}")
                continue
            if changed:
                progress("已更新：" + "、".join(changed))
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
