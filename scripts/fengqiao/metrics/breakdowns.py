"""Breakdowns: the same figures per village, grid, dispute type and source.

Each breakdown is the indicator frame of :mod:`.disputes` summed per group,
so every unit carries the counts next to its rates and the units of one
breakdown add up to the town (a case with no village/grid/type/source is
kept under an explicit "not filled" key rather than dropped).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .disputes import Indicators, Prepared, figures
from .shapes import rate
from .tabs import Counts, Pair

UNFILLED = "（未填）"
NO_GRID = "（无网格）"

#: optional-tab figures carried by each breakdown
OPTIONAL_BY_BREAKDOWN = {
    "village": ("visit_coverage", "key_person_followup_rate", "needs_closure_rate"),
    "grid": ("visit_coverage",),
    "dispute_type": (),
    "source": (),
}

DISPUTE_KEYS = {"village": "village", "grid": "grid_id", "dispute_type": "dispute_type",
                "source": "source"}


def _grouped(p: Prepared, ind: Indicators, column: str, missing: str,
             window_days: int) -> dict[str, dict[str, Any]]:
    codes, uniques = p.factor(column)
    labels = [str(u) for u in uniques] + [missing]
    slot = np.where(codes < 0, len(uniques), codes)
    size = len(labels)
    nonzero = np.zeros(len(slot), dtype=bool)
    for v in ind.values():
        nonzero |= v != 0
    # a unit is listed when some figure counts one of its cases
    present = np.bincount(slot[nonzero], minlength=size) > 0
    sums = {k: np.bincount(slot, weights=v, minlength=size).astype(np.int64)
            for k, v in ind.items()}
    out: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(present):
        body = figures({k: int(v[i]) for k, v in sums.items()}, window_days)
        label = labels[i]
        out[label] = body if label not in out else _sum_units(out[label], body)
    return dict(sorted(out.items()))


def _sum_units(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
    from .rollup import _sum

    merged: dict[str, Any] = _sum([a, b])
    return merged


def _optional_value(counts: Counts | None, level: str, unit: str) -> dict[str, Any] | None:
    if counts is None:
        return None
    table: dict[str, Pair] = getattr(counts, level)
    n, d = table.get(unit, (0, 0))
    return rate(n, d)


def build(p: Prepared, ind: Indicators, window_days: int,
          optional: dict[str, Counts | None],
          reception: dict[str, Pair] | None,
          ranks: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, column in DISPUTE_KEYS.items():
        missing = NO_GRID if name == "grid" else UNFILLED
        units = _grouped(p, ind, column, missing, window_days)
        extra_ids = OPTIONAL_BY_BREAKDOWN[name]
        # units that only the optional tabs know (a village with needs but no disputes)
        for metric in extra_ids:
            counts = optional.get(metric)
            if counts is not None:
                for unit in getattr(counts, name):
                    if unit not in units:
                        units[unit] = figures({}, window_days)
        for unit, body in units.items():
            for metric in extra_ids:
                body[metric] = _optional_value(optional.get(metric), name, unit)
        out[name] = units
    out["reception_rank"] = {
        rank: {"reception_compliance": None if reception is None else rate(*reception.get(rank, (0, 0)))}
        for rank in ranks
    }
    return out
