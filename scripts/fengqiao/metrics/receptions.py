"""``reception_compliance``: leaders judged window by window (DOMAIN.md 4.1).

Who is judged (the denominator), per 职务类别 with a configured quota:

* **roster basis** (a 领导名册 tab with its 领导 and 职务类别 columns): every
  roster row whose time in post, [到岗日期, 离岗日期] (a blank date is open),
  overlaps the window. A leader with no reception at all is judged like any
  other and fails: that is the point of the roster. Receptions are matched
  to the roster by 领导 alone (the roster's 职务类别 decides the quota).
* **records basis** (no roster): every (领导, 职务类别) pair with a reception
  dated in the window, in post for the whole window.

How: each quota of the rank (``reception_quotas``) has windows of one
``per``: a calendar day, a Monday–Sunday week or a calendar month. A window
is *full* when it lies wholly inside the figure's window ``[period.start,
min(period.end, as_of)]`` and wholly inside one time in post of the leader;
only full windows are judged, so a leader who arrived on the 10th is not
failed for the days of that month before they came, and a running month is
not failed for days that have not happened yet. In a full window the leader
needs at least ``min_days`` distinct days with a reception whose 方式 is one
the quota names (a blank or unreadable 方式 counts only for a quota that
accepts all four). A leader complies when every full window of every quota
of their rank is met. A leader with no full window at all in the period
cannot be judged and is left out of both counts. A rank with no configured
quota is not judged (validation already flags a 职务类别 outside the config).

Everything is column-wise: window ids are integer arithmetic on day numbers,
and the per-window counts are one ``groupby``; the only loop is over the
config's quotas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..config import Config, Quota, reception_modes
from ..ledger import Ledger
from .calendar import day_numbers
from .shapes import Window

Pair = tuple[int, int]
Basis = Literal["roster", "records"]

#: metrics.json ``reception_basis`` values, with the words the site uses
BASIS_WORDS: dict[str, str] = {
    "roster": "分母是统计期内在岗的领导名册上的领导",
    "records": "台账里没有领导名册，分母是统计期内有接访记录的领导",
}

__all__ = ["BASIS_WORDS", "Basis", "ReceptionCounts", "full_windows", "reception_compliance",
           "window_ids"]


@dataclass(frozen=True)
class ReceptionCounts:
    """Per 职务类别 with a quota: (leaders who comply, leaders judged)."""

    ranks: dict[str, Pair]
    basis: Basis

    @property
    def whole(self) -> Pair:
        return (sum(n for n, _ in self.ranks.values()), sum(d for _, d in self.ranks.values()))


# -- windows as integer ids ---------------------------------------------------------


def _month_start(month: np.ndarray) -> np.ndarray:
    """Day number of the first day of month id ``month`` (months since 1970-01)."""
    return month.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def window_ids(days: np.ndarray, per: str) -> np.ndarray:
    """The window each day number falls in: the day itself, the Monday–Sunday
    week (day 4 = 1970-01-05 was a Monday) or the calendar month."""
    days = np.asarray(days, dtype=np.int64)
    if per == "day":
        return days
    if per == "week":
        return (days + 3) // 7
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def full_windows(first: np.ndarray, last: np.ndarray, per: str) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) ids of the windows lying wholly inside each span of day
    numbers [first, last]; first > last when there is none."""
    first = np.asarray(first, dtype=np.int64)
    last = np.asarray(last, dtype=np.int64)
    if per == "day":
        return first, last
    if per == "week":
        # week k runs from day 7k − 3 (Monday) to 7k + 3 (Sunday)
        return -((-(first + 3)) // 7), (last - 3) // 7
    a, b = window_ids(first, "month"), window_ids(last, "month")
    a = np.where(first == _month_start(a), a, a + 1)
    b = np.where(last + 1 == _month_start(b + 1), b, b - 1)
    return a, b


# -- who is judged ------------------------------------------------------------------------


def _spans_from_roster(roster: pd.DataFrame, w: Window) -> pd.DataFrame:
    """One row per roster row in post during the window: key, rank, and
    the in-post part of the window as day numbers."""
    known = roster["leader"].notna().to_numpy() & roster["rank"].notna().to_numpy()
    start, s_ok = day_numbers(roster["start_date"]) if "start_date" in roster.columns else (
        np.zeros(len(roster), dtype=np.int64), np.zeros(len(roster), dtype=bool))
    end, e_ok = day_numbers(roster["end_date"]) if "end_date" in roster.columns else (
        np.zeros(len(roster), dtype=np.int64), np.zeros(len(roster), dtype=bool))
    first = np.where(s_ok, np.maximum(start, w.start), w.start)
    last = np.where(e_ok, np.minimum(end, w.end), w.end)
    keep = known & (first <= last)
    return pd.DataFrame({
        "key": roster["leader"].to_numpy(dtype=object)[keep],
        "leader": roster["leader"].to_numpy(dtype=object)[keep],
        "rank": roster["rank"].to_numpy(dtype=object)[keep],
        "first": first[keep], "last": last[keep],
    })


def _record_key(rec: pd.DataFrame) -> pd.Series:
    """Without a roster a leader is a (领导, 职务类别) pair."""
    return rec["leader"].astype("string") + "\x1f" + rec["rank"].astype("string")


def _spans_from_records(rec: pd.DataFrame, days: np.ndarray, ok: np.ndarray,
                        w: Window) -> pd.DataFrame:
    in_w = ok & (days >= w.start) & (days <= w.end) & rec["leader"].notna().to_numpy() \
        & rec["rank"].notna().to_numpy()
    pairs = rec.loc[in_w, ["leader", "rank"]].drop_duplicates()
    return pd.DataFrame({
        "key": _record_key(pairs).to_numpy(dtype=object),
        "leader": pairs["leader"].to_numpy(dtype=object),
        "rank": pairs["rank"].to_numpy(dtype=object),
        "first": np.full(len(pairs), w.start, dtype=np.int64),
        "last": np.full(len(pairs), w.end, dtype=np.int64),
    })


# -- judging --------------------------------------------------------------------------------


def _met_windows(spans: pd.DataFrame, visits: pd.DataFrame, quota: Quota) -> np.ndarray:
    """Per span row: how many of its full windows have at least
    ``min_days`` distinct reception days (``visits``: key, day, mode)."""
    counted = visits
    if set(quota.modes) != set(reception_modes()):
        counted = visits[visits["mode"].isin(list(quota.modes)).fillna(False).to_numpy(dtype=bool)]
    counted = counted.drop_duplicates(["key", "day"])
    counted = counted.assign(window=window_ids(counted["day"].to_numpy(), quota.per))
    rows = spans[["key", "a", "b"]].assign(row=np.arange(len(spans)))
    joined = rows.merge(counted[["key", "window"]], on="key", how="inner")
    inside = joined[(joined["window"] >= joined["a"]) & (joined["window"] <= joined["b"])]
    per_window = inside.groupby(["row", "window"]).size()
    good = per_window[per_window >= quota.min_days]
    met = good.groupby(level="row").size()
    return met.reindex(np.arange(len(spans)), fill_value=0).to_numpy(dtype=np.int64)


def _judge(spans: pd.DataFrame, visits: pd.DataFrame,
           quotas: dict[str, tuple[Quota, ...]]) -> pd.DataFrame:
    """``spans`` with ``judged`` (some full window) and ``ok`` (every full
    window of every quota met) per row."""
    judged = np.zeros(len(spans), dtype=bool)
    ok = np.ones(len(spans), dtype=bool)
    rank = spans["rank"].to_numpy(dtype=object)
    for name, rank_quotas in quotas.items():
        mine = rank == name
        if not mine.any():
            continue
        part = spans[mine]
        for quota in rank_quotas:
            a, b = full_windows(part["first"].to_numpy(), part["last"].to_numpy(), quota.per)
            windows = np.maximum(b - a + 1, 0)
            met = _met_windows(part.assign(a=a, b=b), visits, quota)
            judged[mine] |= windows > 0
            ok[mine] &= met >= windows
    return spans.assign(judged=judged, ok=ok)


def reception_compliance(ledger: Ledger, w: Window, config: Config) -> ReceptionCounts | None:
    """Per 职务类别 with a configured quota: (leaders who comply, leaders
    judged), on the roster basis when there is a usable 领导名册."""
    if not ledger.has("receptions"):
        return None
    rec = ledger.tables["receptions"]
    missing = set(ledger.missing_columns.get("receptions", ()))
    if missing & {"date", "leader", "rank"}:
        return None
    roster = ledger.tables.get("leaders")
    roster_ok = roster is not None and not (
        set(ledger.missing_columns.get("leaders", ())) & {"leader", "rank"})
    days, ok = day_numbers(rec["date"])
    basis: Basis
    if roster is not None and roster_ok:
        spans, basis = _spans_from_roster(roster, w), "roster"
        keys = rec["leader"].astype("string")
    else:
        spans, basis = _spans_from_records(rec, days, ok, w), "records"
        keys = _record_key(rec)
    quotas = config.reception_quotas
    spans = spans[spans["rank"].isin(list(quotas)).to_numpy(dtype=bool)].reset_index(drop=True)
    mode = rec["mode"] if "mode" in rec.columns else pd.Series(pd.NA, index=rec.index)
    in_w = ok & (days >= w.start) & (days <= w.end) & keys.notna().to_numpy()
    visits = pd.DataFrame({"key": keys.to_numpy(dtype=object)[in_w], "day": days[in_w],
                           "mode": mode.to_numpy(dtype=object)[in_w]})
    judged = _judge(spans, visits, quotas)
    # a (领导, 职务类别) with several roster rows complies when every row does
    unit = judged.groupby(["leader", "rank"], sort=False).agg(
        judged=("judged", "any"), ok=("ok", "all")).reset_index()
    unit = unit[unit["judged"].to_numpy(dtype=bool)]
    got = unit.groupby("rank")["ok"].agg(["sum", "size"])
    ranks = {r: (int(got.loc[r, "sum"]), int(got.loc[r, "size"])) if r in got.index else (0, 0)
             for r in quotas}
    return ReceptionCounts(ranks=ranks, basis=basis)
