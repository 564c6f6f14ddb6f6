"""Roll-up: several metrics files (towns) into one (the county).

Only integers are ever added: counts, numerators, denominators and the
days-to-close distribution. Every rate value, year-on-year change and the
median are then recomputed from those sums with the same functions the engine
uses, so combining the parts of a split ledger reproduces the whole exactly —
no rate is ever averaged.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..catalogue import OPTIONAL
from ..errors import FengqiaoError
from .contract import dumps
from .engine import generator
from .shapes import add_figures, median_from_distribution

#: figures a town may lack (an optional tab): listed per town in ``missing_figures``
OPTIONAL_IDS = OPTIONAL
#: units named within a town (a village, a grid, a leader): keyed "镇名/单位"
PREFIXED_BREAKDOWNS = ("village", "grid", "leader")
#: units that mean the same in every town (a type, a rank, a kind of
#: responsible unit such as 司法所): added across towns
SUMMED_BREAKDOWNS = ("dispute_type", "source", "reception_rank", "key_person_category", "unit")


def _merge_units(tables: list[dict[str, Any]]) -> dict[str, Any]:
    keys = sorted({k for t in tables for k in t})
    return {k: add_figures([t.get(k) for t in tables]) for k in keys}


def _lacks(part: dict[str, Any], metric: str) -> bool:
    """The town could not compute the figure (a tab or column missing). A
    median is also null when there was nothing to take it of: its
    distribution, present, tells the two apart."""
    if metric == "assign_days_median":
        return "assign_days" not in part["distributions"]
    return part["metrics"].get(metric) is None


def _distributions(parts: list[dict[str, Any]], days_to_close: dict[str, Any],
                   metrics: dict[str, Any]) -> dict[str, Any]:
    """The summed distributions; the 交办 median recomputed from its own
    (the towns without a 交办日期 column add nothing)."""
    out: dict[str, Any] = {"days_to_close": days_to_close}
    assign = [p["distributions"]["assign_days"] for p in parts if "assign_days" in p["distributions"]]
    if assign:
        out["assign_days"] = _merge_units(assign)
        metrics["assign_days_median"] = median_from_distribution(out["assign_days"])
    return out


def _same(values: list[Any]) -> bool:
    return all(v == values[0] for v in values[1:])


def combine(parts: list[dict[str, Any]], *, name: str, towns: list[str] | None = None,
            targets: dict[str, float] | None = None) -> dict[str, Any]:
    """One contract dict for ``name`` from the towns' contract dicts.

    ``towns`` is the list of towns expected to report; those without a part
    are listed in ``missing_towns``. Parts must share the period and the
    definitions version (figures made under different definitions do not add).
    """
    if not parts:
        raise FengqiaoError(f"没有可汇总的镇级统计文件，无法生成{name}的汇总。")
    names = [str(p["town"]) for p in parts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FengqiaoError(f"汇总时有重复的镇：{'、'.join(dupes)}。",
                            hint="每个镇只能提供一份统计文件，请去掉重复的那份。")
    periods = [p["period"] for p in parts]
    if not _same(periods):
        labels = "、".join(f"{n}（{p['label']}）" for n, p in zip(names, periods, strict=True))
        raise FengqiaoError(f"各镇的统计期不一致，无法汇总：{labels}。",
                            hint="请让各镇发布同一统计期的指标文件。")
    versions = [p["definitions_version"] for p in parts]
    if not _same(versions):
        detail = "、".join(f"{n}（{v}）" for n, v in zip(names, versions, strict=True))
        raise FengqiaoError(f"各镇的指标口径版本不一致，无法汇总：{detail}。",
                            hint="请各镇升级到同一版本的 fengqiao 后重新发布。")
    order = sorted(range(len(parts)), key=lambda i: names[i])
    parts = [parts[i] for i in order]
    names = [names[i] for i in order]

    metrics = add_figures([p["metrics"] for p in parts])
    dist = _merge_units([p["distributions"]["days_to_close"] for p in parts])
    metrics["median_days"] = median_from_distribution(dist)
    distributions = _distributions(parts, dist, metrics)
    missing_figures: dict[str, list[str]] = {}
    for metric in OPTIONAL_IDS:
        lacking = [n for n, p in zip(names, parts, strict=True) if _lacks(p, metric)]
        if lacking:
            missing_figures[metric] = lacking

    breakdowns: dict[str, Any] = {}
    for key in PREFIXED_BREAKDOWNS:
        merged: dict[str, Any] = {}
        for n, p in zip(names, parts, strict=True):
            for unit, body in p["breakdowns"].get(key, {}).items():
                merged[f"{n}/{unit}"] = body
        breakdowns[key] = merged  # .get: a file older than 1.2 has no leader
    for key in SUMMED_BREAKDOWNS:
        # .get: a 1.0 file has no key_person_category, a 1.1 file no unit
        breakdowns[key] = _merge_units([p["breakdowns"].get(key, {}) for p in parts])
    breakdowns["by_town"] = {n: p["metrics"] for n, p in zip(names, parts, strict=True)}

    overdue = [{**row, "town": row.get("town", n)}
               for n, p in zip(names, parts, strict=True) for row in p["overdue"]]
    overdue.sort(key=lambda r: (-r["days_overdue"], r["town"], r["received_date"], r["id"]))

    excluded: dict[str, Any] = {}
    for tab in sorted({t for p in parts for t in p["excluded_rows"]}):
        rows = [{**row, "town": row.get("town", n)}
                for n, p in zip(names, parts, strict=True)
                for row in p["excluded_rows"].get(tab, {}).get("rows", [])]
        excluded[tab] = {"count": sum(p["excluded_rows"].get(tab, {}).get("count", 0) for p in parts),
                         "rows": rows}

    bases = {p.get("reception_basis") for p in parts} - {None}
    basis = None if not bases else bases.pop() if len(bases) == 1 else "mixed"
    configs = [p["config"] for p in parts]
    config = {k: configs[0].get(k) if _same([c.get(k) for c in configs]) else None
              for k in ("deadlines", "day_count", "backlog_days", "group_threshold")
              if k != "group_threshold" or any(k in c for c in configs)}  # 1.2 added it
    if targets is None:
        all_targets = [p["targets"] for p in parts]
        targets = dict(all_targets[0]) if _same(all_targets) else {}
    digest = hashlib.sha256("".join(dumps(p) for p in parts).encode("utf-8")).hexdigest()
    return {
        "schema_version": parts[0]["schema_version"],
        "definitions_version": versions[0],
        "generator": generator(),
        "town": name,
        "towns": names,
        "missing_towns": sorted(set(towns or ()) - set(names)),
        "missing_figures": missing_figures,
        "period": periods[0],
        "as_of": min(p["as_of"] for p in parts),
        "source": {"kind": "rollup", "name": name, "sha256": digest, "read_at": None,
                   "stale_since": None},
        "config": config,
        "targets": dict(targets),
        "metrics": metrics,
        "reception_basis": basis,
        "distributions": distributions,
        "breakdowns": breakdowns,
        "overdue": overdue,
        "excluded_rows": excluded,
        **({"baselines": add_figures([p.get("baselines") for p in parts])}
           if any("baselines" in p for p in parts) else {}),
    }
