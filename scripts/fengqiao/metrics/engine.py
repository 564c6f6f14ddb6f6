"""``compute_metrics``: a validated ledger and a period in, the metrics.json dict out.

A pure function of its inputs (kedro-style node): no clock is read except
through the injected ``today``, so the same ledger, period and config always
give byte-identical JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from importlib import metadata
from typing import Any

from ..config import Config
from ..errors import FengqiaoError
from ..ledger import Ledger
from ..sources.base import SourceInfo
from . import breakdowns, comparisons, disputes, receptions, supervision, tabs
from .calendar import from_day_number
from .contract import DEFINITIONS_VERSION, SCHEMA_VERSION, TOWN
from .periods import Period
from .shapes import Window, rate, without_previous


def generator() -> str:
    try:
        version = metadata.version("fengqiao")
    except metadata.PackageNotFoundError:  # pragma: no cover - editable install always has it
        version = "0.0.0"
    return f"fengqiao {version}"


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def source_block(info: SourceInfo) -> dict[str, Any]:
    return {"kind": info.kind, "name": info.name, "sha256": info.sha256,
            "read_at": _iso(info.read_at), "stale_since": _iso(info.stale_since)}


def config_block(config: Config) -> dict[str, Any]:
    d = config.deadlines
    return {"deadlines": {"1": d.star_1, "2": d.star_2, "3": d.star_3},
            "day_count": d.day_count, "backlog_days": config.backlog_days,
            "group_threshold": config.group_threshold}


def excluded_block(ledger: Ledger) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for tab in sorted(set(ledger.tables) | set(ledger.excluded)):
        frame = ledger.excluded.get(tab)
        rows: list[dict[str, Any]] = []
        if frame is not None and len(frame):
            ordered = frame.sort_values("_row", kind="mergesort")
            rows = [{"row": int(r), "codes": [c for c in str(codes).split(",") if c]}
                    for r, codes in zip(ordered["_row"], ordered["codes"], strict=True)]
        out[tab] = {"count": len(rows), "rows": rows}
    return out


def resolve_as_of(period: Period, as_of: date | None, today: date | None) -> date:
    day = as_of or period.default_as_of(today)
    if day < period.start:
        raise FengqiaoError(
            f"统计截止日期 {day.isoformat()} 早于统计期 {period.label} 的开始日期 {period.start.isoformat()}。",
            hint="请用 --as-of 指定统计期开始之后的日期，或换一个已经开始的统计期。",
        )
    return day


@dataclass
class _Figures:
    """One window's whole-town figures and what the breakdowns and the
    overdue list of the same window are built from."""

    prepared: disputes.Prepared
    ind: disputes.Indicators
    metrics: dict[str, Any]
    dist: dict[str, int]
    optional: dict[str, tabs.Counts | None]
    reception: receptions.ReceptionCounts | None
    loop: supervision.Loop


def _figures(ledger: Ledger, base: disputes.Prepared, w: Window, config: Config) -> _Figures:
    prepared = base.relevant(w)
    ind, closed = disputes.indicators(prepared, w, config)
    dist = disputes.days_to_close_distribution(prepared, closed)
    metrics = disputes.whole_figures(ind, dist, w.days)

    optional: dict[str, tabs.Counts | None] = {
        "visit_coverage": tabs.visit_coverage(ledger, w),
        "key_person_followup_rate": tabs.key_person_followup(ledger, w, config),
        "needs_closure_rate": tabs.needs_closure(ledger, w),
    }
    for metric, counts in optional.items():
        metrics[metric] = None if counts is None else rate(*counts.whole)
    reception = receptions.reception_compliance(ledger, w, config)
    metrics["reception_compliance"] = None if reception is None else rate(*reception.whole)
    loop = supervision.compute(ledger, prepared, ind, w, config)
    metrics.update(loop.metrics)
    return _Figures(prepared, ind, metrics, dist, optional, reception, loop)


def _known_from(base: disputes.Prepared, config: Config) -> date | None:
    """The first day the ledger is taken to hold every dispute (None: empty)."""
    first = base.received[base.valid]
    return comparisons.known_from(config.ledger_start,
                                  from_day_number(int(first.min())) if len(first) else None)


def _comparisons(ledger: Ledger, base: disputes.Prepared, period: Period, day: date,
                 config: Config, cache: comparisons.FigureCache,
                 start: date | None) -> dict[str, Any]:
    """The previous period and the same period a year earlier (环比, 同比),
    from the same ledger; a window the cache holds is not computed again."""
    out: dict[str, Any] = {}
    for kind, (earlier, earlier_as_of) in comparisons.earlier_windows(period, day).items():
        found = None
        if comparisons.is_known(earlier, start):
            ew = Window.of(earlier, earlier_as_of)
            found = cache.get(ew)
            if found is None:
                f = _figures(ledger, base, ew, config)
                cache.put(ew, f.metrics, _window_distributions(f))
                cache.extra += 1
                found = cache.get(ew)
        figures, distributions = found if found is not None else (None, None)
        out[kind] = comparisons.entry(earlier, earlier_as_of, figures, distributions)
    return out


def _window_distributions(f: _Figures) -> dict[str, Any]:
    return comparisons.window_distributions(f.dist, f.loop.assign_days)


def compute_metrics(ledger: Ledger, period: Period, *, as_of: date | None = None,
                    config: Config, today: date | None = None,
                    cache: comparisons.FigureCache | None = None) -> dict[str, Any]:
    """The metrics.json contract (version 1) for one town and one period.
    ``cache`` (one per ledger and config) lets a build that computes many
    periods reuse a window it already has for another period's 环比/同比."""
    day = resolve_as_of(period, as_of, today)
    if not ledger.has("disputes"):
        raise FengqiaoError("台账里没有纠纷台账，无法计算统计指标。",
                            hint="纠纷台账是必须有的工作表，请检查工作表名称。")
    if cache is None:
        cache = comparisons.FigureCache(ledger, config)
    elif not cache.serves(ledger, config):
        raise ValueError("a FigureCache serves the one ledger and config it was made for")
    w = Window.of(period, day)
    base = disputes.prepare(ledger.tables["disputes"], config)
    f = _figures(ledger, base, w, config)
    cache.put(w, f.metrics, _window_distributions(f))
    prepared, ind, metrics, loop, reception = f.prepared, f.ind, f.metrics, f.loop, f.reception
    distributions: dict[str, Any] = {"days_to_close": f.dist}
    if loop.assign_days is not None:
        distributions["assign_days"] = loop.assign_days
    table = breakdowns.build(prepared, ind, w.days, f.optional,
                             None if reception is None else reception.ranks,
                             list(config.reception_quotas))
    table.update(loop.accountability)
    overdue = disputes.overdue_rows(prepared, ind, w, config)
    supervision.annotate_overdue(overdue, prepared, loop.chases)
    start = _known_from(base, config)
    earlier = _comparisons(ledger, base, period, day, config, cache, start)
    year_ago, _ = comparisons.earlier_windows(period, day)["year_ago"]
    if not comparisons.is_known(year_ago, start):
        # the year-earlier counts (同比) would be 0 for "not recorded yet"
        metrics, table = without_previous(metrics), without_previous(table)

    return {
        "schema_version": SCHEMA_VERSION,
        "definitions_version": DEFINITIONS_VERSION,
        "generator": generator(),
        "town": ledger.town,
        "level": TOWN,  # a roll-up says 县, 市 or 省 (contract 1.3)
        "period": period.as_dict(),
        "as_of": day.isoformat(),
        "source": source_block(ledger.source),
        "config": config_block(config),
        "targets": dict(config.targets),
        "metrics": metrics,
        # who reception_compliance judged: the 领导名册, or leaders with records
        "reception_basis": None if reception is None else reception.basis,
        "distributions": distributions,
        "breakdowns": table,
        # the counts of 五个底数清 that are not figures of their own (DOMAIN.md 4.2)
        "baselines": loop.baselines,
        "overdue": overdue,
        "excluded_rows": excluded_block(ledger),
        # the previous period and the same period a year earlier (contract 1.4)
        "comparisons": earlier,
    }
