"""Ledger → static site: the town build, wired from its stages.

``collect`` reads the source (falling back to the last snapshot when a
Google spreadsheet cannot be reached), validates it and computes the metrics
of every published period into :class:`SiteData`. ``build_from_data`` has
:mod:`fengqiao.render.town` write the pages, charts and downloads into a
build folder and :mod:`fengqiao.publish` run the site engine into a staging
folder and swap it into place, so a failed build leaves the previous site
exactly as it was. ``serve_site`` is the preview loop. Nothing else lives
here: each step has its own module.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from . import clock, outdir
from .charts import ChartMaker
from .config import Config
from .errors import FengqiaoError
from .privacy import publishable_frame
from .publish import engine
from .publish.stage import publish_site
from .render.town import (
    SiteData,
    render_docs,
    rerender_site_pages,
    site_fingerprint,
    write_downloads,
)
from .schema import load_schema
from .template import template_bytes

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


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
    """Where the ledger is, decided as every command decides it
    (:func:`fengqiao.sources.resolve_spec`)."""
    from .sources import resolve_spec

    return resolve_spec(source, config)


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
    from .metrics.comparisons import FigureCache
    from .metrics.lists import followup_todo, newest_first, problem_list, solution_list
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
    report_date = clock.today(config, fallback=today)
    periods = published_periods(report_date, config.site.months)
    progress(f"计算 {len(periods)} 个统计期的指标")
    # one cache for every period: a month's 环比 is the month computed just before it
    cache = FigureCache(ledger, config)
    contracts = [compute_metrics(ledger, p, as_of=min(p.end, report_date), config=config,
                                 cache=cache)
                 for p in periods]
    current = {p.kind: p.label for p in periods if p.contains(report_date)}
    quarter = next(p for p in periods if p.kind == "quarter" and p.contains(report_date))
    schema = load_schema()
    tables: dict[str, pd.DataFrame] = {
        "problems": problem_list(ledger, report_date, config),
        "solutions": solution_list(ledger, quarter, report_date, config),
        "followup_todo": followup_todo(ledger, report_date, config),
    }
    for tab in ("responsibilities", "needs"):
        if ledger.has(tab):
            tables[tab] = publishable_frame(ledger.tables[tab], schema[tab])
    if "needs" in tables:  # a long list: latest first, like 问题清单 and 解决清单
        tables["needs"] = newest_first(tables["needs"], "raised_date")
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
        template=template_bytes(config=config),
    )


def _site_name(config: Config) -> str:
    """The site's title, led by the town's name (once)."""
    title = config.site.title
    return title if title.startswith(config.town) else f"{config.town}{title}"


def _epoch(source: Mapping[str, Any], as_of: date) -> int:
    """Sitemap dates follow the data (the read time), not the clock."""
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
                    sources: Sequence[Path] = (),
                    engine_log: engine.EngineLog | None = None) -> BuildResult:
    """Pages, charts, downloads and the engine run, from already-public data.
    ``sources`` are the local ledger paths the output must not touch;
    ``engine_log`` gets the engine's own log (``--verbose``)."""
    timings = timings if timings is not None else {}
    out = Path(out).resolve()
    build_dir = claim_outputs(out, build_dir, zip_path, sources)
    outdir.make_own(build_dir, "work")
    docs = build_dir / engine.DOCS_DIR
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)

    t0 = time.perf_counter()
    progress("生成页面和统计图")
    charts = ChartMaker(build_dir / "chart-cache")
    nav = render_docs(data, config, docs, charts)
    charts.copy_used(docs / "charts")
    timings["render"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    engine.copy_assets(docs)
    progress("写入下载文件")
    write_downloads(data, docs, charts)
    charts.prune()  # after the reports, whose charts live in the same cache
    engine_file = engine.write_config(build_dir, site_name=_site_name(config), nav=nav,
                                      command="fengqiao build")
    timings["downloads"] = time.perf_counter() - t0

    progress("运行网站引擎 MkDocs")
    publish_site(engine_file, out, "town-site", source_epoch=_epoch(data.source, data.as_of),
                 # again just before replacing anything: a file may have been added meanwhile
                 reclaim=lambda: claim_outputs(out, build_dir, zip_path, sources),
                 zip_path=zip_path, progress=progress, timings=timings,
                 engine_log=engine_log)
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
               build_dir: Path | None = None, today: date | None = None,
               engine_log: engine.EngineLog | None = None) -> BuildResult:
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
                             progress=progress, timings=timings, sources=sources,
                             engine_log=engine_log)
    keep_snapshots(config, data, out, progress)
    if config.annotate_sheet and isinstance(target, str):
        _mark_sheet(config, target, data, progress)
    timings["total"] = time.perf_counter() - start
    return result


def _mark_sheet(config: Config, spec: str, data: SiteData, progress: Progress) -> None:
    """``annotate_sheet: true``: the scheduled build puts its findings into
    the Google Sheet too. The site is already published, so a failure here
    is told and never undoes it."""
    from .sheet_marks import mark_ledger_sheet
    from .sources.spec import gsheets_id

    if gsheets_id(spec) is None:
        return
    try:
        progress(mark_ledger_sheet(spec, data.findings, config,
                                   name=str(data.source.get("name") or ""),
                                   stale=bool(data.source.get("stale_since"))))
    except FengqiaoError as exc:
        progress(f"提醒：{exc}")


def keep_snapshots(config: Config, data: SiteData, out: Path, progress: Progress = _quiet) -> int:
    """After a successful publish: record in the snapshot manifest which
    snapshot every period now published in ``out`` was computed from (so
    retention never removes it), then apply the retention policy. Returns
    how many snapshot files were removed."""
    from .sources.retention import publish_and_prune

    sha = data.source.get("sha256")
    directory = config.resolve(config.snapshots_dir)
    if not isinstance(sha, str) or not directory.is_dir():
        return 0
    policy = config.snapshots
    plan = publish_and_prune(directory, out=out, sha256=sha, at=clock.now(),
                             periods=[c["period"]["label"] for c in data.periods],
                             keep_days=policy.keep_days, keep_monthly=policy.keep_monthly)
    if plan.removed_files:
        progress(f"按保留期限删除了 {len(plan.removed_files)} 个旧快照（已记入快照清单）")
    return len(plan.removed_files)


__all__ = ["BuildResult", "SiteData", "build_from_data", "build_site", "claim_outputs", "collect",
           "keep_snapshots", "published_periods", "serve_site", "source_target"]


def serve_site(config: Config, *, out: Path, port: int = 8000, rebuild: bool = True,
               progress: Progress = lambda _msg: None,
               announce: Callable[[str], None] = lambda _url: None,
               poll_seconds: float = 1.0, stop: Callable[[], bool] = lambda: False,
               engine_log: engine.EngineLog | None = None) -> None:
    """Preview with live reload while someone edits ``site/``.

    The engine serves the build folder and reloads the browser when a page
    there changes; we only re-render the hand-written pages whose sources
    changed, so an edit shows in about a second without re-reading the
    ledger. ``stop`` lets a test end the loop; a person ends it with Ctrl+C.
    The engine's own log goes to ``engine_log`` (``--verbose``) and to a file
    in the build folder; an engine that stops by itself is an error.
    """
    build_dir = outdir.work_dir(Path(out).resolve())
    if rebuild:
        build_site(config, out=out, progress=progress, engine_log=engine_log)
    outdir.claim(build_dir, "work", replacing=False, option="--dir")
    proc = engine.serve(build_dir, port, log=engine_log)
    announce(f"http://127.0.0.1:{port}/")
    seen = site_fingerprint(config)
    try:
        while proc.poll() is None and not stop():
            time.sleep(poll_seconds)
            now = site_fingerprint(config)
            if now == seen:
                continue
            seen = now
            try:
                changed = rerender_site_pages(config, build_dir / engine.DOCS_DIR)
            except FengqiaoError as exc:
                progress(f"错误：{exc}")
                continue
            if changed:
                progress("已更新：" + "、".join(changed))
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
    if proc.returncode and not stop():  # it stopped by itself: say why, in the engine's words
        raise FengqiaoError(f"预览用的网站引擎 MkDocs 意外退出（端口 {port} 可能已被占用）：\n"
                            f"{proc.log_tail()}",
                            hint="\n可以用 --port 换一个端口再试。")
