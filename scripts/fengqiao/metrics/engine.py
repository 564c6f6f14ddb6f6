"""``compute_metrics``: a validated ledger and a period in, the metrics.json dict out.

A pure function of its inputs (kedro-style node): no clock is read except
through the injected ``today``, so the same ledger, period and config always
give byte-identical JSON.
"""

from __future__ import annotations

from datetime import date, datetime
from importlib import metadata
from typing import Any

from ..config import Config
from ..errors import FengqiaoError
from ..ledger import Ledger
from ..sources.base import SourceInfo
from . import breakdowns, disputes, receptions, supervision, tabs
from .contract import DEFINITIONS_VERSION, SCHEMA_VERSION
from .periods import Period
from .shapes import Window, rate


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


def compute_metrics(ledger: Ledger, period: Period, *, as_of: date | None = None,
                    config: Config, today: date | None = None) -> dict[str, Any]:
    """The metrics.json contract (version 1) for one town and one period."""
    day = resolve_as_of(period, as_of, today)
    if not ledger.has("disputes"):
        raise FengqiaoError("台账里没有纠纷台账，无法计算统计指标。",
                            hint="纠纷台账是必须有的工作表，请检查工作表名称。")
    w = Window.of(period, day)
    prepared = disputes.prepare(ledger.tables["disputes"], config).relevant(w)
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
    distributions: dict[str, Any] = {"days_to_close": dist}
    if loop.assign_days is not None:
        distributions["assign_days"] = loop.assign_days
    table = breakdowns.build(prepared, ind, w.days, optional,
                             None if reception is None else reception.ranks,
                             list(config.reception_quotas))
    table.update(loop.accountability)
    overdue = disputes.overdue_rows(prepared, ind, w, config)
    supervision.annotate_overdue(overdue, prepared, loop.chases)

    return {
        "schema_version": SCHEMA_VERSION,
        "definitions_version": DEFINITIONS_VERSION,
        "generator": generator(),
        "town": ledger.town,
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
    }
