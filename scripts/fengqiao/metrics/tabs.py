"""Figures from the optional tabs: visits, key persons, receptions, needs.

Each function returns ``None`` when the tab, or a column the figure needs, is
absent: the figure is then published as null ("—"), never as 0, because a
town that keeps no visit log has not visited zero households.

Otherwise each returns a :class:`Counts`: the town's numerator/denominator
plus the same pair per village and, where it applies, per grid, computed with
``groupby`` so the parts add up to the whole.

Rules the DOMAIN table leaves to us (also in the JSON Schema descriptions):

* ``visit_coverage``: distinct (网格编号, 户编号) pairs on 走访记录 rows dated
  in the window whose 网格编号 is in the 网格 tab ÷ the sum of 户数 over the
  网格 tab. A household code names a household within its grid, so the town
  and each village are exactly the sum of their grids; a visit with no or an
  unknown 网格编号 cannot be placed in a grid and counts nowhere.
* ``key_person_followup_rate``: see :func:`key_person_followup` (the gap
  rule of DOMAIN.md 4.1). Denominator: the persons on the 重点人员 list in the
  window. Only counts are published, by grid, village and 类别.
* ``reception_compliance``: see :mod:`.receptions` (leaders judged window by
  window, on the 领导名册 when there is one).
* ``needs_closure_rate``: needs with 提出日期 in the window whose 状态 is a
  closed value and whose 办结日期 (not earlier than 提出日期) is on or before
  the as-of date ÷ needs raised in the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import Config
from ..ledger import Ledger
from ..schema import load_schema
from .calendar import day_numbers
from .shapes import Window

Pair = tuple[int, int]


@dataclass
class Counts:
    whole: Pair
    village: dict[str, Pair] = field(default_factory=dict)
    grid: dict[str, Pair] = field(default_factory=dict)
    #: per 类别 of 重点人员 (key persons only)
    category: dict[str, Pair] = field(default_factory=dict)


def _usable(ledger: Ledger, tab: str, columns: tuple[str, ...]) -> pd.DataFrame | None:
    if not ledger.has(tab):
        return None
    missing = set(ledger.missing_columns.get(tab, ()))
    frame = ledger.tables[tab]
    if missing & set(columns) or any(c not in frame.columns for c in columns):
        return None
    return frame


def _pairs(num: pd.Series, den: pd.Series) -> dict[str, Pair]:
    both = pd.concat([num.rename("n"), den.rename("d")], axis=1).fillna(0)
    return {str(k): (int(r.n), int(r.d)) for k, r in both.iterrows()}


def _grid_villages(ledger: Ledger) -> pd.Series:
    """grid id → village, from the 网格 tab (empty when the tab is absent)."""
    grids = _usable(ledger, "grids", ("grid_id", "village"))
    if grids is None:
        return pd.Series(dtype="string")
    g = grids.dropna(subset=["grid_id"]).drop_duplicates("grid_id")
    return pd.Series(g["village"].to_numpy(), index=g["grid_id"].to_numpy(), dtype="string")


def _in_window(column: pd.Series, start: int, end: int) -> np.ndarray:
    days, ok = day_numbers(column)
    return ok & (days >= start) & (days <= end)


def visit_coverage(ledger: Ledger, w: Window) -> Counts | None:
    visits = _usable(ledger, "visits", ("date", "grid_id", "household"))
    grids = _usable(ledger, "grids", ("grid_id", "village", "households"))
    if visits is None or grids is None:
        return None
    g = grids.dropna(subset=["grid_id"]).drop_duplicates("grid_id")
    households = g["households"].fillna(0).astype("int64")
    grid_ids = g["grid_id"].to_numpy(dtype=object)
    den_grid = pd.Series(households.to_numpy(), index=grid_ids)
    den_village = households.groupby(g["village"].to_numpy()).sum()
    # Distinct (grid, household) pairs from integer codes: the visit log is
    # the longest tab (hundreds of thousands of rows a year), and a
    # groupby-nunique on its text columns costs seconds. A household code
    # only names a household within its grid ("001" in every grid is a
    # different household each time), so a pair is the unit counted, and a
    # visit that cannot be placed in a grid of the 网格 tab counts nowhere.
    grid_codes, grid_names = pd.factorize(visits["grid_id"], use_na_sentinel=True)
    known = pd.Index(grid_ids).get_indexer(np.asarray(grid_names, dtype=object))
    grid_pos = np.where(grid_codes >= 0, np.append(known, -1)[grid_codes], -1)  # −1: not in 网格
    house, _ = pd.factorize(visits["household"], use_na_sentinel=True)
    keep = _in_window(visits["date"], w.start, w.end) & (house >= 0) & (grid_pos >= 0)
    house, grid_pos = house[keep].astype(np.int64), grid_pos[keep].astype(np.int64)
    n_house = int(house.max()) + 1 if len(house) else 1
    pair_grid = np.unique(grid_pos * n_house + house) // n_house  # one entry per pair
    per_grid = np.bincount(pair_grid, minlength=len(grid_ids))
    village_codes, villages = pd.factorize(g["village"], use_na_sentinel=True)
    village_of = np.asarray(village_codes, dtype=np.int64)  # −1: grid has no village
    has_village = village_of >= 0
    per_village = np.bincount(village_of[has_village], weights=per_grid[has_village],
                              minlength=len(villages)).astype(np.int64)
    return Counts(
        whole=(int(per_grid.sum()), int(households.sum())),
        village=_pairs(pd.Series(per_village, index=np.asarray(villages, dtype=object)),
                       den_village),
        grid=_pairs(pd.Series(per_grid, index=grid_ids), den_grid),
    )


def key_person_followup(ledger: Ledger, w: Window, config: Config) -> Counts | None:
    """Key persons meeting the gap rule of DOMAIN.md 4.1, by grid, village and 类别.

    A person is on the list in the window unless their 列入日期 is after its
    last day e' = min(period end, as-of); their watch starts at the later of
    the window's first day s and the 列入日期. A visit qualifies when it is
    dated in [start, e'] and its 方式 is one ``config.key_person_methods``
    accepts for the person's 类别 (a 类别 not listed accepts any 方式, blank
    included; a listed one never accepts a blank 方式).

    The gap between qualifying visits on days a < b is b − a days. The two
    ends are measured as if there had been a visit on the day before the
    start and on the day after e': the first gap is first − (start − 1), the
    last is (e' + 1) − last, and with no qualifying visit the one gap is
    (e' + 1) − (start − 1). The person meets the rule when no gap exceeds
    ``key_person_intervals[随访频次]`` (a blank or unknown 随访频次: the
    shortest interval configured). Put the other way: no run of ``interval``
    days in a row inside the window passes without a qualifying visit. The
    end rule gives visits just outside the window the benefit of the doubt,
    so the figure only ever reports a gap that the window itself proves, and
    a 每季度 person (92 days) never visited in a 92-day quarter fails.

    ``None`` when a tab or needed column is missing, including 方式 while the
    config restricts some 类别 to certain 方式 (the rule cannot be judged).
    """
    persons = _usable(ledger, "key_persons", ("person_id", "frequency"))
    visits = _usable(ledger, "key_person_visits", ("person_id", "date"))
    methods = config.key_person_methods
    if persons is None or visits is None:
        return None
    if methods and _usable(ledger, "key_person_visits", ("method",)) is None:
        return None
    persons = persons.dropna(subset=["person_id"]).drop_duplicates("person_id")
    n = len(persons)
    start, on_list = _watch_start(ledger, persons, w)
    interval = _intervals(persons, config)

    # qualifying visits as (person position, day number)
    who = pd.Index(persons["person_id"].to_numpy(dtype=object)).get_indexer(
        visits["person_id"].to_numpy(dtype=object))
    day, dated = day_numbers(visits["date"])
    ok = dated & (who >= 0)
    if methods:
        ok &= _method_accepted(persons, visits, who, methods)
    who, day = who[ok], day[ok]
    inside = (day >= start[who]) & (day <= w.end)
    kv = pd.DataFrame({"who": who[inside], "day": day[inside]}).sort_values(["who", "day"])
    kv["gap"] = kv.groupby("who")["day"].diff()
    per = kv.groupby("who").agg(first=("day", "min"), last=("day", "max"), inner=("gap", "max"))
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    inner = np.zeros(n)
    at = per.index.to_numpy(dtype=np.int64)
    first[at] = per["first"].to_numpy(dtype=float)
    last[at] = per["last"].to_numpy(dtype=float)
    inner[at] = per["inner"].fillna(0).to_numpy(dtype=float)
    visited = ~np.isnan(first)
    before, after = start - 1, w.end + 1
    worst = np.where(visited,
                     np.fmax(np.fmax(first - before, inner), after - last),
                     after - before)
    met_mask = on_list & (worst <= interval)
    met = pd.Series(met_mask.astype(np.int64), index=persons.index)
    one = pd.Series(on_list.astype(np.int64), index=persons.index)
    grid = persons["grid_id"] if "grid_id" in persons.columns else pd.Series(pd.NA, index=persons.index)
    out = Counts(whole=(int(met.sum()), int(one.sum())))
    out.grid = _per_unit(met, one, grid.astype("string"), on_list)
    out.village = _per_unit(met, one, grid.map(_grid_villages(ledger)), on_list)
    if "category" in persons.columns:
        out.category = _per_unit(met, one, persons["category"].astype("string"), on_list)
    return out


def _per_unit(met: pd.Series, one: pd.Series, unit: pd.Series, on_list: np.ndarray) -> dict[str, Pair]:
    """(met, on the list) per unit, over the persons on the list with a unit."""
    keep = unit.notna().to_numpy() & on_list
    return _pairs(met[keep].groupby(unit[keep]).sum(), one[keep].groupby(unit[keep]).sum())


def _watch_start(ledger: Ledger, persons: pd.DataFrame, w: Window) -> tuple[np.ndarray, np.ndarray]:
    """(first watched day, on the list in the window) per person: the later of
    the window's start and a valid 列入日期; a person listed after the
    window's last day is not on the list."""
    n = len(persons)
    start = np.full(n, w.start, dtype=np.int64)
    if _usable(ledger, "key_persons", ("listed_date",)) is None:
        return start, np.ones(n, dtype=bool)
    listed, known = day_numbers(persons["listed_date"])
    start = np.where(known & (listed > w.start), listed, start)
    return start, ~(known & (listed > w.end))


def _intervals(persons: pd.DataFrame, config: Config) -> np.ndarray:
    """Days allowed per person; a blank or unknown 随访频次 gets the
    shortest interval configured (none configured: no limit)."""
    intervals = config.key_person_intervals
    interval = persons["frequency"].map(intervals).astype("Float64")
    if intervals:
        interval = interval.fillna(min(intervals.values()))
    return interval.to_numpy(dtype=float, na_value=np.inf)


def _method_accepted(persons: pd.DataFrame, visits: pd.DataFrame, who: np.ndarray,
                     methods: dict[str, list[str]]) -> np.ndarray:
    """Per visit row: its 方式 is one the config accepts for its person's 类别
    (rows of unknown persons are already dropped, so ``who`` < 0 is moot)."""
    category = pd.Series(persons["category"].to_numpy(dtype=object), dtype="string")
    cat = category.reindex(np.where(who >= 0, who, len(category))).reset_index(drop=True)
    method = visits["method"].astype("string").reset_index(drop=True)
    restricted = cat.isin(list(methods)).to_numpy(dtype=bool)
    accepted = {f"{c}\x1f{m}" for c, ms in methods.items() for m in ms}
    pair = (cat + "\x1f" + method).isin(list(accepted)).fillna(False).to_numpy(dtype=bool)
    return ~restricted | pair


def needs_closure(ledger: Ledger, w: Window) -> Counts | None:
    needs = _usable(ledger, "needs", ("raised_date", "status", "closed_date"))
    if needs is None:
        return None
    raised, r_ok = day_numbers(needs["raised_date"])
    closed_d, c_ok = day_numbers(needs["closed_date"])
    closed_vals = list(load_schema()["needs"].field("status").closed_values)
    in_w = r_ok & (raised >= w.start) & (raised <= w.end)
    done = in_w & c_ok & needs["status"].isin(closed_vals).to_numpy(dtype=bool) \
        & (closed_d >= raised) & (closed_d <= w.as_of)
    num = pd.Series(done.astype(np.int64), index=needs.index)
    den = pd.Series(in_w.astype(np.int64), index=needs.index)
    out = Counts(whole=(int(num.sum()), int(den.sum())))
    if "village" in needs.columns:
        village = needs["village"].astype("string")
        keep = village.notna().to_numpy() & in_w
        out.village = _pairs(num[keep].groupby(village[keep]).sum(),
                             den[keep].groupby(village[keep]).sum())
    return out
