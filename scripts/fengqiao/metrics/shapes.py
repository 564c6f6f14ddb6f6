"""The small value shapes every figure in metrics.json uses.

Kept in one place so the engine, the roll-up and the contract checks build
and recompute rates identically: a roll-up is byte-identical to a direct
computation only if both round the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from .periods import Period, shift_year

RATE_DIGITS = 6

#: the keys of a rate and of a year-on-year change, as every metrics.json holds them
RATE_KEYS = frozenset({"numerator", "denominator", "value"})
CHANGE_KEYS = frozenset({"count", "previous", "change"})


def ratio(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else round(numerator / denominator, RATE_DIGITS)


def rate(numerator: int, denominator: int) -> dict[str, Any]:
    return {"numerator": int(numerator), "denominator": int(denominator),
            "value": ratio(int(numerator), int(denominator))}


def change(count: int, previous: int | None) -> dict[str, Any]:
    """A year-on-year figure. ``previous`` is None when the year-earlier
    stretch lies before the ledger's start (contract 1.6): the ledger cannot
    tell "no dispute then" from "not recorded yet", so it is unknown, not 0."""
    c = int(count)
    p = None if previous is None else int(previous)
    return {"count": c, "previous": p,
            "change": None if not p else round((c - p) / p, RATE_DIGITS)}


def without_previous(node: Any) -> Any:
    """``node`` with the year-earlier count of every year-on-year figure in it
    unknown (null, and so its change), at any depth: for a period whose
    year-earlier stretch the ledger does not cover."""
    if isinstance(node, dict):
        if frozenset(node) == CHANGE_KEYS:
            return change(node["count"], None)
        return {k: without_previous(v) for k, v in node.items()}
    if isinstance(node, list):
        return [without_previous(v) for v in node]
    return node


def median_from_distribution(dist: dict[str, int]) -> float | None:
    """Median of a multiset given as value → count (average of the two
    middle values for an even total), so a roll-up recomputes it exactly."""
    items = sorted((int(k), int(v)) for k, v in dist.items() if int(v) > 0)
    total = sum(v for _, v in items)
    if total == 0:
        return None
    lo_rank, hi_rank = (total - 1) // 2, total // 2
    lo = hi = None
    seen = 0
    for value, count in items:
        if lo is None and seen + count > lo_rank:
            lo = value
        if seen + count > hi_rank:
            hi = value
            break
        seen += count
    assert lo is not None and hi is not None
    return round((lo + hi) / 2, RATE_DIGITS)


@dataclass(frozen=True)
class Window:
    """What the figures of one period actually look at, as day numbers.

    ``start``..``end`` is the period clipped at the as-of date (a running
    month counts what has happened so far); ``as_of`` is the date open/closed
    states are judged at; ``prev_*`` is the same window a year earlier.
    """

    start: int
    end: int
    as_of: int
    prev_start: int
    prev_end: int

    @property
    def days(self) -> int:
        return self.end - self.start + 1

    @classmethod
    def of(cls, period: Period, as_of: date) -> Window:
        from .calendar import day_number

        end = min(period.end, as_of)
        return cls(
            start=day_number(period.start),
            end=day_number(end),
            as_of=day_number(as_of),
            prev_start=day_number(shift_year(period.start, -1)),
            prev_end=day_number(shift_year(end, -1)),
        )

    def end_date(self) -> date:
        from .calendar import from_day_number

        return from_day_number(self.end)

    def start_date(self) -> date:
        from .calendar import from_day_number

        return from_day_number(self.start)


def add_figures(values: list[Any]) -> Any:
    """Add figures of one shape (the engine's breakdowns and the roll-up both
    use this): integers are summed, rates and changes are recomputed from
    the summed counts, mappings are added key by key. ``None`` parts are
    skipped and all-``None`` stays ``None``; a float (a median) comes back
    ``None`` because only its distribution can be added."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, bool):
        return first
    if isinstance(first, int):
        return sum(int(v) for v in present)
    if isinstance(first, float):
        return None
    if isinstance(first, dict):
        keys = frozenset(first)
        if keys == RATE_KEYS:
            return rate(sum(v["numerator"] for v in present), sum(v["denominator"] for v in present))
        if keys == CHANGE_KEYS:
            # unknown for the whole as soon as one part does not know it
            known = all(v["previous"] is not None for v in present)
            return change(sum(v["count"] for v in present),
                          sum(v["previous"] for v in present) if known else None)
        union = sorted({k for v in present for k in v})
        return {k: add_figures([v.get(k) for v in present]) for k in union}
    return first
