"""Roll-up: several metrics files (towns, or roll-ups of towns) into one.

Only integers are ever added: counts, numerators, denominators and the
days-to-close distribution. Every rate value, year-on-year change and the
median are then recomputed from those sums with the same functions the engine
uses, so combining the parts of a split ledger reproduces the whole exactly —
no rate is ever averaged.

A part may itself be a roll-up (a county under a city, a city under a
province), so town → county → city → province is one step repeated. Since
sums are associative, rolling up the counties gives every count, numerator
and denominator a flat roll-up of their towns gives. What a roll-up names
below it is named by its path from the roll-up ("某县/某镇", "某县/某镇/某村"),
so nothing is merged by accident when two counties each have a 城关镇, and
completeness counts the towns underneath (:func:`reporting`), not only the
direct units.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalogue import OPTIONAL
from ..errors import FengqiaoError
from . import comparisons
from .contract import (
    FULL,
    SCHEMA_VERSION,
    SUMMARY,
    SUMMARY_OMITS,
    SUMMARY_OVERDUE,
    TOWN,
    detail_for,
    is_below,
    level_of,
    overdue_order,
)
from .engine import generator
from .shapes import add_figures, median_from_distribution

#: a unit's reporting status for a period (DHIS2-style; county/report.py
#: decides which applies from the collection log)
ON_TIME = "按时"
LATE = "迟报"
REPORTED = "已报"  # valid, with no deadline to judge it against (quick builds)
INVALID = "数据无效"
MISSING = "未报"
STATUSES = (ON_TIME, LATE, REPORTED, INVALID, MISSING)
#: the statuses whose file is counted in the roll-up
COUNTED = (ON_TIME, LATE, REPORTED)
#: a roll-up's level when none is given: a county of towns
DEFAULT_LEVEL = "县"

#: figures a town may lack (an optional tab): listed per town in ``missing_figures``
OPTIONAL_IDS = OPTIONAL
#: units named within a town (a village, a grid, a leader): keyed "镇名/单位"
PREFIXED_BREAKDOWNS = ("village", "grid", "leader")
#: units that mean the same in every town (a type, a rank, a kind of
#: responsible unit such as 司法所): added across towns
SUMMED_BREAKDOWNS = ("dispute_type", "source", "reception_rank", "key_person_category", "unit")


def summarised(part: dict[str, Any]) -> dict[str, Any]:
    """What a summary roll-up (a city's, a province's) keeps of one unit's
    file: everything but the breakdowns named inside a town, the overdue
    cases past the :data:`SUMMARY_OVERDUE` longest, and the excluded rows
    themselves (their counts stay). Applied to each file as it is loaded, so
    a 1,000-unit build holds 1,000 small files, not 1,000 whole ones; the
    longest-overdue cases of the whole area are always among the units'
    own longest. The result is a shallow copy: ``part`` is left as it was."""
    if all(k not in part["breakdowns"] for k in SUMMARY_OMITS) \
            and len(part["overdue"]) <= SUMMARY_OVERDUE \
            and not any(t.get("rows") for t in part["excluded_rows"].values()):
        return part
    return {
        **part,
        "breakdowns": {k: v for k, v in part["breakdowns"].items() if k not in SUMMARY_OMITS},
        "overdue": sorted(part["overdue"], key=overdue_order)[:SUMMARY_OVERDUE],
        "excluded_rows": {tab: {**body, "rows": []} for tab, body in part["excluded_rows"].items()},
    }


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


def below(unit: str, name: str) -> str:
    """The path of ``name`` (a town, village …) seen from one level up,
    through ``unit``."""
    return f"{unit}/{name}"


def chained(upper: str, lower: str) -> str:
    """A town's status seen through one more level: its figures arrived on
    time only if every level passed them on time; late if any level was
    late; 已报 (not judged) if some level judged no deadline."""
    if lower not in COUNTED:
        return lower
    if LATE in (upper, lower):
        return LATE
    if REPORTED in (upper, lower):
        return REPORTED
    return ON_TIME


def town_statuses(part: Mapping[str, Any]) -> dict[str, str]:
    """A roll-up's towns and their statuses; a county file from before 1.3
    says only which towns it counted, so their timeliness is unknown (已报)."""
    known = part.get("town_status")
    if isinstance(known, dict):
        return dict(known)
    return {**{t: MISSING for t in part.get("missing_towns") or ()},
            **{t: REPORTED for t in part.get("towns") or ()}}


@dataclass(frozen=True)
class Reporting:
    """Who reported, counted in towns underneath: the contract's ``units``,
    ``town_status`` and ``unknown_units``."""

    units: list[dict[str, Any]]
    town_status: dict[str, str]
    #: units below that sent nothing usable and whose towns nobody can count
    unknown_units: list[str]

    @property
    def towns(self) -> list[str]:
        return sorted(t for t, s in self.town_status.items() if s in COUNTED)

    @property
    def missing_towns(self) -> list[str]:
        return sorted(t for t, s in self.town_status.items() if s not in COUNTED)

    @property
    def towns_expected(self) -> int | None:
        """Towns that should have reported; None while a unit's towns are unknown."""
        return None if self.unknown_units else len(self.town_status)


def reporting(units: Sequence[tuple[str, str, Mapping[str, Any] | None]], level: str) -> Reporting:
    """``units`` are the expected direct units as (name, status, file or
    None). A unit without a usable file is a town when the roll-up is a
    county (nothing else lies below a 县), so it counts as one missing town;
    above a county its level and towns are unknown: it is listed in
    ``unknown_units`` rather than counted as some guessed number of towns
    (its last file may be from another period, when its towns differed)."""
    only_towns = not is_below("县", level)  # a county: its units are towns
    out: list[dict[str, Any]] = []
    status: dict[str, str] = {}
    unknown: list[str] = []
    for name, state, part in sorted(units, key=lambda u: u[0]):
        if part is None:
            if only_towns:
                status[name] = state
            else:
                unknown.append(name)
            out.append({"name": name, "level": TOWN if only_towns else None, "status": state,
                        "towns": 0, "missing_towns": 1 if only_towns else None})
            continue
        lvl = level_of(dict(part))
        if lvl == TOWN:
            status[name] = state
            out.append({"name": name, "level": lvl, "status": state, "towns": 1,
                        "missing_towns": 0})
            continue
        inner = town_statuses(part)
        status.update({below(name, t): chained(state, s) for t, s in inner.items()})
        deeper = [below(name, u) for u in part.get("unknown_units") or ()]
        unknown += deeper
        counted = sum(1 for s in inner.values() if s in COUNTED)
        out.append({"name": name, "level": lvl, "status": state, "towns": counted,
                    "missing_towns": None if deeper else len(inner) - counted})
    return Reporting(units=out, town_status=status, unknown_units=sorted(unknown))


def _check_units(names: list[str], parts: list[dict[str, Any]], level: str) -> None:
    """Each unit's name can stand in a path, and its file lies below ``level``."""
    for n, p in zip(names, parts, strict=True):
        if "/" in n:
            raise FengqiaoError(f"单位名称“{n}”里有“/”，汇总时无法区分上下级。",
                                hint="请把名称里的“/”去掉或换成别的字符后重新发布。")
        lvl = level_of(p)
        if not is_below(lvl, level):
            raise FengqiaoError(f"{n} 的统计文件是{lvl}级，不低于本级（{level}），不能作为下级汇总。",
                                hint="市级汇总在 county.yml 里写 level: 市，省级写 level: 省；"
                                     "县级汇总的下级只能是乡镇。")


def _missing_figures(names: list[str], parts: list[dict[str, Any]],
                     towns_of: list[bool]) -> dict[str, list[str]]:
    """Figure id → the towns (paths below) that lacked it: a town part that
    lacks it itself, a roll-up part's own list passed up."""
    out: dict[str, list[str]] = {}
    for metric in OPTIONAL_IDS:
        lacking = []
        for n, p, town in zip(names, parts, towns_of, strict=True):
            if town:
                lacking += [n] if _lacks(p, metric) else []
            else:
                lacking += [below(n, x) for x in (p.get("missing_figures") or {}).get(metric, ())]
        if lacking:
            out[metric] = lacking
    return out


def _row_town(row: Mapping[str, Any], unit: str, town: bool) -> str:
    """The town an overdue or excluded row belongs to, seen from this level."""
    return unit if town or not row.get("town") else below(unit, str(row["town"]))


def _breakdowns(names: list[str], parts: list[dict[str, Any]], towns_of: list[bool],
                detail: str) -> dict[str, Any]:
    """Units inside towns keyed by path (a full file only), units that mean
    the same everywhere summed, and each town's and each direct unit's figures."""
    breakdowns: dict[str, Any] = {}
    for key in PREFIXED_BREAKDOWNS if detail == FULL else ():
        merged: dict[str, Any] = {}
        for n, p in zip(names, parts, strict=True):
            for unit, body in p["breakdowns"].get(key, {}).items():
                merged[f"{n}/{unit}"] = body
        breakdowns[key] = merged  # .get: a file older than 1.2 has no leader
    for key in SUMMED_BREAKDOWNS:
        # .get: a 1.0 file has no key_person_category, a 1.1 file no unit
        breakdowns[key] = _merge_units([p["breakdowns"].get(key, {}) for p in parts])
    breakdowns["by_town"] = {}
    for n, p, town in zip(names, parts, towns_of, strict=True):
        breakdowns["by_town"].update(
            {n: p["metrics"]} if town else
            {below(n, t): m for t, m in (p["breakdowns"].get("by_town") or {}).items()})
    breakdowns["by_unit"] = {n: p["metrics"] for n, p in zip(names, parts, strict=True)}
    return breakdowns


def _overdue(names: list[str], parts: list[dict[str, Any]], towns_of: list[bool],
             detail: str) -> list[dict[str, Any]]:
    """Every unit's overdue cases named by town path, longest overdue first;
    a summary keeps the first :data:`SUMMARY_OVERDUE`."""
    overdue = [{**row, "town": _row_town(row, n, t), "unit": n}
               for n, p, t in zip(names, parts, towns_of, strict=True) for row in p["overdue"]]
    overdue.sort(key=overdue_order)
    return overdue[:SUMMARY_OVERDUE] if detail == SUMMARY else overdue


def _excluded(names: list[str], parts: list[dict[str, Any]], towns_of: list[bool]) -> dict[str, Any]:
    """Rows left out of the figures, per tab: counts summed, rows named by town."""
    excluded: dict[str, Any] = {}
    for tab in sorted({t for p in parts for t in p["excluded_rows"]}):
        rows = [{**row, "town": _row_town(row, n, t)}
                for n, p, t in zip(names, parts, towns_of, strict=True)
                for row in p["excluded_rows"].get(tab, {}).get("rows", [])]
        excluded[tab] = {"count": sum(p["excluded_rows"].get(tab, {}).get("count", 0) for p in parts),
                         "rows": rows}
    return excluded


def parts_digest(parts: Iterable[Mapping[str, Any]]) -> str:
    """The roll-up's ``source.sha256``: its parts' content, in order.

    Each part is hashed as compact JSON with sorted keys, so the digest
    depends on what the parts say and not on how their files were laid out;
    one part at a time, since 1,000 parts joined were 200 MB of text at once
    (the roll-up's peak), and through the C encoder, which the indented
    contract text is not (3 s of a 1,000-unit build went on it)."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(json.dumps(part, ensure_ascii=False, sort_keys=True,
                                 separators=(",", ":")).encode("utf-8"))
    return hasher.hexdigest()


def combine(parts: list[dict[str, Any]], *, name: str, towns: list[str] | None = None,
            targets: dict[str, float] | None = None, level: str = DEFAULT_LEVEL,
            status: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One contract dict of ``level`` for ``name`` from its direct units'
    contract dicts (towns' files, or roll-ups of a lower level).

    ``towns`` is the list of direct units expected to report (the towns, for
    a county); those without a part are counted as missing. ``status`` gives
    each unit's reporting status (default: 已报 for a part, 未报 without).
    Parts must share the period and the definitions version (figures made
    under different definitions do not add). Above a county the result is
    a summary (contract 1.5, :func:`summarised`); a part already summarised
    gives the same figures, since only what a summary drops is dropped.
    """
    if not parts:
        raise FengqiaoError(f"没有可汇总的下级统计文件，无法生成{name}的汇总。")
    names = [str(p["town"]) for p in parts]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FengqiaoError(f"汇总时有重复的镇：{'、'.join(dupes)}。",
                            hint="每个镇只能提供一份统计文件，请去掉重复的那份。")
    _check_units(names, parts, level)
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
    detail = detail_for(level)
    order = sorted(range(len(parts)), key=lambda i: names[i])
    parts = [parts[i] for i in order]
    if detail == SUMMARY:
        parts = [summarised(p) for p in parts]
    names = [names[i] for i in order]
    towns_of = [level_of(p) == TOWN for p in parts]  # else a roll-up: names below are paths
    given = dict(status or {})
    expected: list[tuple[str, str, Mapping[str, Any] | None]] = [
        (n, given.get(n, REPORTED), p) for n, p in zip(names, parts, strict=True)]
    expected += [(u, given.get(u, MISSING), None) for u in dict.fromkeys(towns or ())
                 if u not in names]
    report = reporting(expected, level)

    metrics = add_figures([p["metrics"] for p in parts])
    dist = _merge_units([p["distributions"]["days_to_close"] for p in parts])
    metrics["median_days"] = median_from_distribution(dist)
    distributions = _distributions(parts, dist, metrics)
    missing_figures = _missing_figures(names, parts, towns_of)

    breakdowns = _breakdowns(names, parts, towns_of, detail)
    overdue = _overdue(names, parts, towns_of, detail)
    excluded = _excluded(names, parts, towns_of)

    bases = {p.get("reception_basis") for p in parts} - {None}
    basis = None if not bases else bases.pop() if len(bases) == 1 else "mixed"
    configs = [p["config"] for p in parts]
    config = {k: configs[0].get(k) if _same([c.get(k) for c in configs]) else None
              for k in ("deadlines", "day_count", "backlog_days", "group_threshold")
              if k != "group_threshold" or any(k in c for c in configs)}  # 1.2 added it
    if targets is None:
        all_targets = [p["targets"] for p in parts]
        targets = dict(all_targets[0]) if _same(all_targets) else {}
    digest = parts_digest(parts)
    return {
        "schema_version": SCHEMA_VERSION,  # the roll-up's own shape (level, units …)
        "definitions_version": versions[0],
        "generator": generator(),
        "town": name,
        "level": level,
        "detail": detail,
        "units": report.units,
        "towns": report.towns,
        "missing_towns": report.missing_towns,
        "unknown_units": report.unknown_units,
        "town_status": report.town_status,
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
        # 环比 and 同比 added like the figures (absent when a part predates 1.4)
        **comparisons.combine(parts),
    }
