"""Figures from the optional tabs: visits, key persons, receptions, needs.

Each function returns ``None`` when the tab, or a column the figure needs, is
absent: the figure is then published as null ("—"), never as 0, because a
town that keeps no visit log has not visited zero households.

Otherwise each returns a :class:`Counts`: the town's numerator/denominator
plus the same pair per village and, where it applies, per grid, computed with
``groupby`` so the parts add up to the whole.

Rules the DOMAIN table leaves to us (also in the JSON Schema descriptions):

* ``visit_coverage``: distinct 户编号 on 走访记录 rows dated in the window whose
  网格编号 is in the 网格 tab ÷ the sum of 户数 over the 网格 tab. Per village
  and per grid through the 网格 tab.
* ``key_person_followup_rate``: a key person is followed up enough when the
  number of distinct days with a 重点人员随访 record in the window is at least
  ``max(1, floor(window days ÷ interval))``, where ``interval`` is
  ``key_person_intervals[随访频次]`` from the config; a blank or unknown
  随访频次 is held to the strictest configured interval. Denominator: every
  person in 重点人员. Only counts are published.
* ``reception_compliance``: the leaders are the distinct (领导, 职务类别) pairs
  with a configured quota that have a record dated in the 365 days up to the
  window's end; a leader meets the quota when their distinct reception days in
  the window reach ``min_days × (number of calendar months, or Monday–Sunday
  weeks, the window touches, whole or partial, or of its days)`` as the
  quota's ``per`` says (month, week or day).
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
from .calendar import day_numbers, from_day_number
from .periods import months_touched, weeks_touched
from .shapes import Window

Pair = tuple[int, int]


@dataclass
class Counts:
    whole: Pair
    village: dict[str, Pair] = field(default_factory=dict)
    grid: dict[str, Pair] = field(default_factory=dict)


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
    den_grid = pd.Series(households.to_numpy(), index=g["grid_id"].to_numpy())
    den_village = households.groupby(g["village"].to_numpy()).sum()
    # Distinct households per grid and per village from integer codes: the
    # visit log is the longest tab (hundreds of thousands of rows a year),
    # and a groupby-nunique on its text columns costs seconds.
    grid_codes, grid_names = pd.factorize(visits["grid_id"], use_na_sentinel=True)
    known = pd.Index(g["grid_id"].to_numpy()).get_indexer(np.asarray(grid_names, dtype=object))
    grid_pos = np.where(grid_codes >= 0, np.append(known, -1)[grid_codes], -1)  # −1: not in 网格
    house, _ = pd.factorize(visits["household"], use_na_sentinel=True)
    keep = _in_window(visits["date"], w.start, w.end) & (house >= 0) & (grid_pos >= 0)
    house, grid_pos = house[keep].astype(np.int64), grid_pos[keep].astype(np.int64)
    n_house = int(house.max()) + 1 if len(house) else 1
    village_codes, villages = pd.factorize(g["village"], use_na_sentinel=True)
    village_pos = np.asarray(village_codes, dtype=np.int64)[grid_pos]  # −1: grid has no village
    grid_ids = g["grid_id"].to_numpy(dtype=object)
    num_grid = _distinct_per_unit(grid_pos, house, n_house, grid_ids, visits["grid_id"].dtype)
    has_village = village_pos >= 0
    num_village = _distinct_per_unit(village_pos[has_village], house[has_village], n_house,
                                     np.asarray(villages, dtype=object), g["village"].dtype)
    return Counts(
        whole=(len(np.unique(house)), int(households.sum())),
        village=_pairs(num_village, den_village),
        grid=_pairs(num_grid, den_grid),
    )


def _distinct_per_unit(unit: np.ndarray, item: np.ndarray, n_items: int, labels: np.ndarray,
                       dtype: object) -> pd.Series:
    """Distinct ``item`` codes per ``unit`` code, as the Series a
    ``groupby(unit)[item].nunique()`` gives: only units that occur, sorted
    by label."""
    pairs = np.unique(unit * n_items + item)
    counts = np.bincount(pairs // n_items, minlength=len(labels))
    seen = np.flatnonzero(counts)
    out = pd.Series(counts[seen], index=pd.Index(labels[seen], dtype=dtype))
    return out.sort_index()


def key_person_followup(ledger: Ledger, w: Window, config: Config) -> Counts | None:
    persons = _usable(ledger, "key_persons", ("person_id", "frequency"))
    visits = _usable(ledger, "key_person_visits", ("person_id", "date"))
    if persons is None or visits is None:
        return None
    persons = persons.dropna(subset=["person_id"]).drop_duplicates("person_id")
    intervals = config.key_person_intervals
    strictest = min(intervals.values()) if intervals else None
    interval = persons["frequency"].map(intervals).astype("Float64")
    if strictest is not None:
        interval = interval.fillna(strictest)
    days = w.days
    required = np.maximum(1, np.floor(days / interval.to_numpy(dtype=float, na_value=np.inf)))
    kv = visits[_in_window(visits["date"], w.start, w.end) & visits["person_id"].notna().to_numpy()]
    seen = kv.drop_duplicates(["person_id", "date"]).groupby("person_id").size()
    done = persons["person_id"].map(seen).fillna(0).to_numpy(dtype=float)
    met = pd.Series((done >= required).astype(np.int64), index=persons.index)
    one = pd.Series(1, index=persons.index, dtype=np.int64)
    grid = persons["grid_id"] if "grid_id" in persons.columns else pd.Series(pd.NA, index=persons.index)
    village = grid.map(_grid_villages(ledger))
    grid_key = grid.astype("string")
    out = Counts(whole=(int(met.sum()), len(persons)))
    has_grid = grid_key.notna().to_numpy()
    out.grid = _pairs(met[has_grid].groupby(grid_key[has_grid]).sum(),
                      one[has_grid].groupby(grid_key[has_grid]).sum())
    has_village = village.notna().to_numpy()
    out.village = _pairs(met[has_village].groupby(village[has_village]).sum(),
                         one[has_village].groupby(village[has_village]).sum())
    return out


def reception_compliance(ledger: Ledger, w: Window, config: Config) -> dict[str, Pair] | None:
    """Per 职务类别 with a configured quota: (leaders meeting it, leaders)."""
    rec = _usable(ledger, "receptions", ("date", "leader", "rank"))
    if rec is None:
        return None
    quotas = config.reception_quotas
    rec = rec[rec["leader"].notna() & rec["rank"].isin(list(quotas))]
    active = rec[_in_window(rec["date"], w.end - 364, w.end)]
    leaders = active[["leader", "rank"]].drop_duplicates()
    in_w = rec[_in_window(rec["date"], w.start, w.end)]
    days = (in_w.drop_duplicates(["leader", "rank", "date"]).groupby(["leader", "rank"]).size()
            .rename("done").reset_index())
    start, end = from_day_number(w.start), from_day_number(w.end)
    units = {"month": months_touched(start, end), "week": weeks_touched(start, end),
             "day": (end - start).days + 1}
    lead = leaders.merge(days, on=["leader", "rank"], how="left")
    required = lead["rank"].map({r: q.min_days * units[q.per] for r, q in quotas.items()})
    met = (lead["done"].fillna(0).to_numpy(dtype=np.int64)
           >= required.to_numpy(dtype=np.int64)).astype(np.int64)
    frame = pd.DataFrame({"rank": lead["rank"].to_numpy(), "met": met})
    frame = pd.DataFrame({"rank": leaders["rank"].to_numpy(), "met": met})
    got = frame.groupby("rank")["met"].agg(["sum", "size"])
    return {r: (int(got.loc[r, "sum"]), int(got.loc[r, "size"])) if r in got.index else (0, 0)
            for r in quotas}


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
