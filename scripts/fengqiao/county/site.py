"""The county site: render the period reports to pages, then publish them
with the same engine and atomic swap as the town site, so a half-built site
is never served.

This module only wires the steps together: the reports come from
:mod:`fengqiao.county.report`, the pages and downloads from
:mod:`fengqiao.render.county`, the engine run and the swap from
:mod:`fengqiao.publish`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path

from .. import outdir
from ..errors import FengqiaoError
from ..metrics import validate_contract
from ..metrics.periods import Period
from ..publish import engine
from ..publish.stage import publish_site
from ..render.county import write_docs
from .collect import local_paths
from .config import CountyConfig, TownSource
from .report import PeriodReport, trend_reports


@dataclass
class CountyBuildResult:
    out: Path
    report: PeriodReport
    #: what the site called the units (the build knows their levels)
    unit_word: str
    pages: list[str] = field(default_factory=list)
    downloads: list[str] = field(default_factory=list)


def _epoch(report: PeriodReport) -> int:
    """Sitemap dates follow the data (the last receipt used), not the clock."""
    used = [s.used.received for s in report.statuses if s.used is not None]
    moment = max(used) if used else datetime.combine(report.period.end, time(0), tzinfo=UTC)
    return int(moment.timestamp())


def claim_site(out: Path, towns: Iterable[TownSource]) -> None:
    """Refuse an output folder (or its working folder) that is not the
    county site's to replace; the command calls this before collecting."""
    sources = local_paths(towns)
    out = Path(out).resolve()
    outdir.claim(out, "county-site", sources=sources)
    outdir.claim(outdir.work_dir(out), "work", sources=sources, replacing=False)


def build_county_site(config: CountyConfig, period: Period, out: Path) -> CountyBuildResult:
    """Build the county site for ``period`` from what has been collected,
    atomically: the old site stays in place until the new one is complete."""
    if not config.towns:
        raise FengqiaoError("县级配置里没有登记任何乡镇（towns 为空），无法生成网站。")
    out = Path(out).resolve()
    claim_site(out, config.towns)
    reports = trend_reports(config, period)
    main = reports[-1]
    # the units are named by what their files say they are
    config = config.with_units(u.get("level") for u in (main.contract or {}).get("units") or ())
    if main.contract is not None:
        problems = validate_contract(main.contract)
        if problems:  # pragma: no cover - a roll-up of valid parts is valid
            raise FengqiaoError("县级汇总文件没有通过格式检查：" + "；".join(problems[:5]))
    work = outdir.make_own(outdir.work_dir(out), "work")
    docs = work / engine.DOCS_DIR
    if docs.exists():
        shutil.rmtree(docs)
    docs.mkdir(parents=True)
    engine.copy_assets(docs)
    written = write_docs(config, reports, docs, work / "charts")
    engine_file = engine.write_config(work, site_name=config.site_title, nav=written.nav,
                                      command="fengqiao rollup build")
    publish_site(engine_file, out, "county-site", source_epoch=_epoch(main),
                 reclaim=lambda: claim_site(out, config.towns))  # a file may have been added
    outdir.write_marker(work, "work")
    return CountyBuildResult(out=out, report=main, unit_word=config.unit_word,
                             pages=written.pages, downloads=written.downloads)
