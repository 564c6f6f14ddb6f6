"""Breakdowns: the same figures per village, grid, dispute type and source.

Each breakdown is the indicator frame of :mod:`.disputes` summed per group,
so every unit carries the counts next to its rates and the units of one
breakdown add up to the town (a case with no village/grid/type/source is
kept under an explicit "not filled" key rather than dropped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..catalogue import DISPUTE_BREAKDOWNS, carried_by
from .disputes import Indicators, Prepared, figures
from .shapes import add_figures, rate
from .tabs import Counts, Pair

UNFILLED = "（未填）"
NO_GRID = "（无网格）"

#: optional-tab figures carried by each breakdown (the catalogue says which)
OPTIONAL_BY_BREAKDOWN = {name: carried_by(name) for name in DISPUTE_BREAKDOWNS}

DISPUTE_KEYS = {"village": "village", "grid": "grid_id", "dispute_type": "dispute_type",
                "source": "source"}

#: key persons per 类别 (counts only): a breakdown of the optional figures alone
KEY_PERSON_CATEGORY = "key_person_category"


@dataclass
class _Patterns:
    """The indicator columns, summarised once for every breakdown.

    A case's 0/1 indicators form a bit pattern, and a ledger holds few
    distinct patterns (a few hundred for a million cases). Each case gets its
    pattern's id; a breakdown then counts cases per (unit, pattern) with one
    ``bincount`` and multiplies those counts by the patterns' bits, instead
    of one weighted ``bincount`` per indicator and breakdown. Integer-valued
    indicators (persons) are summed per unit directly."""

    ids: np.ndarray  # pattern id of each case
    bits: np.ndarray  # (patterns, flags) 0/1
    flags: list[str]  # the 0/1 indicators, in ``bits`` column order
    others: dict[str, np.ndarray]  # indicators that are not 0/1
    nonzero: np.ndarray  # the case counts in some figure


#: more flags than fit one 64-bit pattern key fall back to per-column sums
_MAX_FLAGS = 64


def _patterns(ind: Indicators) -> _Patterns | None:
    flags = [k for k, v in ind.items() if v.dtype == bool]
    if not flags or len(flags) > _MAX_FLAGS:
        return None
    n = len(ind[flags[0]])
    packed = np.packbits(np.column_stack([ind[k] for k in flags]), axis=1)
    keys = np.zeros((n, 8), dtype=np.uint8)
    keys[:, :packed.shape[1]] = packed
    codes, uniques = pd.factorize(keys.view(np.uint64).ravel())
    bits = np.unpackbits(np.ascontiguousarray(uniques, dtype=np.uint64).view(np.uint8)
                         .reshape(-1, 8)[:, :packed.shape[1]], axis=1, count=len(flags))
    others = {k: v for k, v in ind.items() if v.dtype != bool}
    nonzero = keys.view(np.uint64).ravel() != 0
    for v in others.values():
        nonzero |= v != 0
    return _Patterns(ids=np.asarray(codes, dtype=np.intp), bits=bits.astype(np.int64),
                     flags=flags, others=others, nonzero=nonzero)


def _sums(ind: Indicators, pats: _Patterns | None, slot: np.ndarray,
          size: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-unit sums of every indicator, and which units some figure counts."""
    npat = 0 if pats is None else len(pats.bits)
    if pats is None or size * npat > 4 * len(slot) + 1_000_000:
        # no patterns, or too many to tabulate: one bincount per indicator
        nonzero = np.zeros(len(slot), dtype=bool)
        for v in ind.values():
            nonzero |= v != 0
        present = np.bincount(slot[nonzero], minlength=size) > 0
        return ({k: np.bincount(slot, weights=v, minlength=size).astype(np.int64)
                 for k, v in ind.items()}, present)
    counts = np.bincount(slot * npat + pats.ids, minlength=size * npat).reshape(size, npat)
    table = counts @ pats.bits  # (units, flags)
    sums = {k: table[:, j] for j, k in enumerate(pats.flags)}
    for k, v in pats.others.items():
        sums[k] = np.bincount(slot, weights=v, minlength=size).astype(np.int64)
    present = np.bincount(slot[pats.nonzero], minlength=size) > 0
    return {k: sums[k] for k in ind}, present


def _grouped(p: Prepared, ind: Indicators, column: str, missing: str,
             window_days: int, pats: _Patterns | None = None) -> dict[str, dict[str, Any]]:
    codes, uniques = p.factor(column)
    labels = [str(u) for u in uniques] + [missing]
    slot = np.where(codes < 0, len(uniques), codes)
    size = len(labels)
    # a unit is listed when some figure counts one of its cases
    sums, present = _sums(ind, pats, slot, size)
    out: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(present):
        body = figures({k: int(v[i]) for k, v in sums.items()}, window_days)
        label = labels[i]
        out[label] = body if label not in out else _sum_units(out[label], body)
    return dict(sorted(out.items()))


def _sum_units(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:  # pragma: no cover
    merged: dict[str, Any] = add_figures([a, b])
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
    pats = _patterns(ind)
    for name, column in DISPUTE_KEYS.items():
        missing = NO_GRID if name == "grid" else UNFILLED
        units = _grouped(p, ind, column, missing, window_days, pats)
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
    out[KEY_PERSON_CATEGORY] = _by_category(optional)
    return out


def _by_category(optional: dict[str, Counts | None]) -> dict[str, dict[str, Any]]:
    """类别 → the figures the catalogue carries by category; the categories
    that occur on the list (none when the tab is missing)."""
    units: dict[str, dict[str, Any]] = {}
    for metric in carried_by(KEY_PERSON_CATEGORY):
        counts = optional.get(metric)
        if counts is not None:
            for unit, (n, d) in counts.category.items():
                units.setdefault(unit, {})[metric] = rate(n, d)
    return dict(sorted(units.items()))
