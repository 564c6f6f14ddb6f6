"""The supervision loop (DOMAIN.md 4.2): chases, transfers, feedback, accountability.

Every figure here is, like the dispute figures of :mod:`.disputes`, a sum of
a per-case indicator column (a 0/1 mask or a small integer) over the rows
that count, so the accountability views by 责任单位 and by 包案领导 are the
same columns summed per group: their parts always add up to the town, and a
roll-up only adds integers.

The optional tabs (督办记录 ``supervisions``, 流转记录 ``transfers``) and the
optional columns of 纠纷台账 (交办日期, 初始层级, 反馈日期, 调解力量) are read
through the Ledger like every other tab: a figure whose tab or column is
missing is ``None`` (published null, shown "—"), never 0.

Rules the DOMAIN table leaves to us (the catalogue states them in Chinese):

* A 督办记录 belongs to the case its 纠纷编号 names among the cases this
  period can count (:meth:`.disputes.Prepared.relevant`); a record naming no
  such case still counts in ``supervision_count`` (a row dated in the
  period) but in no case-based figure. A chase dated after a case's closure
  before the period began is therefore not counted.
* ``village_kept_rate``: the first level is 初始层级, or 调处层级 when it is
  blank; a case was kept in the village when both are 村级 and, when there
  is a 流转记录 tab, no 上传 of it is dated on or before the as-of date. With
  neither the 初始层级 column nor the tab the figure is null: from the final
  level alone every village case would look kept.
* The 逾期说明 text is never read beyond "filled or not": only that boolean
  leaves this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..ledger import Ledger
from ..schema import load_schema
from .calendar import day_numbers
from .disputes import Indicators, Prepared, closed_values, open_at
from .shapes import Window, change, median_from_distribution, rate

VILLAGE = "村级"
UP, DOWN, ACROSS = "上传", "下传", "专传"
DIRECTIONS = {"passed_up": UP, "passed_down": DOWN, "passed_across": ACROSS}
UNFILLED = "未填"
#: 五个底数清 (3): the dispute types counted one by one
BASELINE_TYPES = ("婚姻家庭", "邻里", "土地林草")
STARS = ("1", "2", "3")
#: 调解力量 (DOMAIN.md 5): always listed in force_mix, in this order, so a
#: force that closed nothing shows 0 rather than disappearing
FORCES = ("村调委会", "专职调解员", "老干部", "乡贤能人", "律师法律顾问",
          "行业性专业性调解组织", "部门联调", "其他")

#: the accountability views: breakdown key → dispute column
ACCOUNTABILITY_KEYS = {"unit": "responsible_unit", "leader": "lead_official"}
#: the label of a case whose unit or leader is blank
NOT_FILLED = "（未填）"


def usable_column(ledger: Ledger, tab: str, column: str, frame: pd.DataFrame | None = None) -> bool:
    """The column exists on the sheet (an absent column is all-NA in the
    ledger and listed in ``missing_columns``: not the same as blank cells)."""
    if frame is None:
        if not ledger.has(tab):
            return False
        frame = ledger.tables[tab]
    return column in frame.columns and column not in ledger.missing_columns.get(tab, ())


def _tab(ledger: Ledger, tab: str, columns: tuple[str, ...]) -> pd.DataFrame | None:
    if not ledger.has(tab) or not all(usable_column(ledger, tab, c) for c in columns):
        return None
    return ledger.tables[tab]


@dataclass
class Chases:
    """Per case (aligned with the prepared rows): the 督办记录 that belong to it."""

    in_window: np.ndarray  # some record dated in the window
    count_to_d: np.ndarray  # records dated on or before the as-of date
    last_day: np.ndarray  # day number of the latest of those (valid where count_to_d > 0)
    last_mode: np.ndarray  # its 方式 (object; None when blank)
    #: some record dated ≤ d carries a 逾期说明; None when the column is missing
    explained: np.ndarray | None
    rows_in_window: int  # every record dated in the window, tied to a case or not


def _case_positions(p: Prepared, ids: pd.Series) -> np.ndarray:
    """Position of each record's case among the prepared rows (−1: none)."""
    index = pd.Index(p.frame["id"].astype(object).to_numpy())
    return np.asarray(index.get_indexer(ids.astype(object).to_numpy()), dtype=np.int64)


def chases(ledger: Ledger, p: Prepared, w: Window) -> Chases | None:
    sup = _tab(ledger, "supervisions", ("dispute_id", "date"))
    if sup is None:
        return None
    n = len(p.frame)
    day, dated = day_numbers(sup["date"])
    who = _case_positions(p, sup["dispute_id"])
    in_w = dated & (day >= w.start) & (day <= w.end)
    tied = who >= 0
    in_window = np.zeros(n, dtype=bool)
    in_window[who[in_w & tied]] = True
    to_d = dated & tied & (day <= w.as_of)
    count = np.bincount(who[to_d], minlength=n).astype(np.int64)
    last_day = np.full(n, -1, dtype=np.int64)
    last_mode = np.full(n, None, dtype=object)
    if to_d.any():
        rows = sup["_row"].to_numpy(dtype=np.int64) if "_row" in sup.columns \
            else np.arange(len(sup), dtype=np.int64)
        sel = np.flatnonzero(to_d)
        # the latest record of each case: sort by (case, day, sheet row), keep the last
        order = sel[np.lexsort((rows[sel], day[sel], who[sel]))]
        last = order[np.r_[who[order][1:] != who[order][:-1], True]]
        last_day[who[last]] = day[last]
        if usable_column(ledger, "supervisions", "mode"):
            modes = sup["mode"].astype(object).to_numpy()[last]
            last_mode[who[last]] = [None if pd.isna(m) else str(m) for m in modes]
    explained: np.ndarray | None = None
    if usable_column(ledger, "supervisions", "explanation"):
        # only whether the cell is filled: the text itself never leaves here
        filled = sup["explanation"].astype("string").str.strip().fillna("").ne("").to_numpy(dtype=bool)
        explained = np.zeros(n, dtype=bool)
        explained[who[to_d & filled]] = True
    return Chases(in_window=in_window, count_to_d=count, last_day=last_day, last_mode=last_mode,
                  explained=explained, rows_in_window=int(in_w.sum()))


@dataclass
class Transfers:
    counts: dict[str, int]  # passed_up / passed_down / passed_across in the window
    up_to_d: np.ndarray  # per case: some 上传 dated on or before the as-of date


def transfers(ledger: Ledger, p: Prepared, w: Window) -> Transfers | None:
    tr = _tab(ledger, "transfers", ("date", "direction"))
    if tr is None:
        return None
    day, dated = day_numbers(tr["date"])
    direction = tr["direction"].astype("string")
    in_w = dated & (day >= w.start) & (day <= w.end)
    counts = {metric: int((in_w & direction.eq(word).fillna(False).to_numpy(dtype=bool)).sum())
              for metric, word in DIRECTIONS.items()}
    up_to_d = np.zeros(len(p.frame), dtype=bool)
    if usable_column(ledger, "transfers", "dispute_id"):
        who = _case_positions(p, tr["dispute_id"])
        up = dated & (day <= w.as_of) & (who >= 0) & direction.eq(UP).fillna(False).to_numpy(dtype=bool)
        up_to_d[who[up]] = True
    return Transfers(counts=counts, up_to_d=up_to_d)


@dataclass
class Loop:
    """The supervision loop of one ledger and window."""

    metrics: dict[str, Any]
    #: days from 受理 to 交办 → cases (None: no 交办日期 column)
    assign_days: dict[str, int] | None
    #: "unit" / "leader" → unit → figures
    accountability: dict[str, dict[str, dict[str, Any]]]
    #: the counts of 五个底数清 that are not figures of their own
    baselines: dict[str, Any]
    chases: Chases | None = None


def _mask(p: Prepared, column: str, values: tuple[str, ...]) -> np.ndarray:
    return p.isin(column, values)


def _assign_days(ledger: Ledger, p: Prepared, received: np.ndarray) -> dict[str, int] | None:
    if not usable_column(ledger, "disputes", "assigned_date", p.frame):
        return None
    ad, ok = day_numbers(p.frame["assigned_date"])
    use = received & ok & (ad >= p.received)
    values, counts = np.unique((ad - p.received)[use], return_counts=True)
    return {str(int(k)): int(c) for k, c in zip(values, counts, strict=True)}


def _feedback(ledger: Ledger, p: Prepared, closed: np.ndarray, w: Window) -> np.ndarray | None:
    if not usable_column(ledger, "disputes", "feedback_date", p.frame):
        return None
    fd, ok = day_numbers(p.frame["feedback_date"])
    return closed & ok & (fd >= p.received) & (fd <= w.as_of)


def _village_kept(ledger: Ledger, p: Prepared, closed: np.ndarray,
                  moved: Transfers | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(kept in the village, first level 村级) per case, or None when
    neither 初始层级 nor 流转记录 can tell where a case began."""
    has_initial = usable_column(ledger, "disputes", "initial_level", p.frame)
    if not has_initial and moved is None:
        return None
    final_village = _mask(p, "level", (VILLAGE,))
    if has_initial:
        initial = p.notna("initial_level")
        first_village = np.where(initial, _mask(p, "initial_level", (VILLAGE,)), final_village)
    else:
        first_village = final_village
    first_village = closed & first_village
    kept = first_village & final_village
    if moved is not None:
        kept &= ~moved.up_to_d
    return kept, first_village


def _force_mix(ledger: Ledger, p: Prepared, closed: np.ndarray, first_try: np.ndarray) -> dict[str, Any] | None:
    if not usable_column(ledger, "disputes", "mediation_force", p.frame):
        return None
    codes, uniques = p.factor("mediation_force")
    forces = [str(u) for u in uniques]
    declared = list(dict.fromkeys([*FORCES, *_enum("disputes", "mediation_force")]))
    labels = list(dict.fromkeys([*declared, *sorted(forces)]))
    slot_of = {name: i for i, name in enumerate(labels)}
    remap = np.array([slot_of[f] for f in forces] + [len(labels)], dtype=np.int64)
    slot = remap[np.where(codes < 0, len(forces), codes)]
    size = len(labels) + 1
    n_closed = np.bincount(slot[closed], minlength=size)
    n_first = np.bincount(slot[closed & first_try], minlength=size)
    out = {name: {"closed": int(n_closed[i]), "first_try_rate": rate(n_first[i], n_closed[i])}
           for i, name in enumerate(labels) if name in declared or n_closed[i]}
    if n_closed[-1]:
        out[UNFILLED] = {"closed": int(n_closed[-1]),
                         "first_try_rate": rate(n_first[-1], n_closed[-1])}
    return out


def _enum(tab: str, column: str) -> list[str]:
    schema = load_schema()
    if tab not in schema.tabs or column not in schema[tab].field_names:
        return []
    return [str(v) for v in (schema[tab].field(column).enum or [])]


def _key_persons(ledger: Ledger, w: Window) -> dict[str, int] | None:
    persons = _tab(ledger, "key_persons", ("person_id",))
    if persons is None:
        return None
    persons = persons.dropna(subset=["person_id"]).drop_duplicates("person_id")
    on_list = np.ones(len(persons), dtype=bool)
    if usable_column(ledger, "key_persons", "listed_date"):
        listed, known = day_numbers(persons["listed_date"])
        on_list = ~(known & (listed > w.end))
    if usable_column(ledger, "key_persons", "category"):
        category = persons["category"].astype("string").fillna(UNFILLED)
    else:
        category = pd.Series(UNFILLED, index=persons.index, dtype="string")
    counts = category[on_list].value_counts()
    return {str(k): int(v) for k, v in sorted(counts.items())}


def _households(ledger: Ledger) -> int | None:
    grids = _tab(ledger, "grids", ("grid_id", "households"))
    if grids is None:
        return None
    g = grids.dropna(subset=["grid_id"]).drop_duplicates("grid_id")
    return int(g["households"].fillna(0).astype("int64").sum())


def _mix(masks: dict[str, np.ndarray]) -> dict[str, int]:
    return {k: _n(v) for k, v in masks.items()}


def _n(mask: np.ndarray) -> int:
    return int(np.count_nonzero(mask))


def compute(ledger: Ledger, p: Prepared, ind: Indicators, w: Window, config: Config) -> Loop:
    """The figures of DOMAIN.md 4.2 for one window, from the prepared cases
    and their indicator columns (:func:`.disputes.indicators`)."""
    received, closed = ind["received"], ind["closed"]
    first_try = ind["first_try"]
    chased = chases(ledger, p, w)
    moved = transfers(ledger, p, w)
    metrics: dict[str, Any] = {
        "supervised": None if chased is None else _n(chased.in_window),
        "supervision_count": None if chased is None else chased.rows_in_window,
    }
    explained = None if chased is None or chased.explained is None \
        else ind["overdue_open"] & chased.explained
    metrics["overdue_explained_rate"] = None if explained is None else rate(
        _n(explained), _n(ind["overdue_open"]))
    assign = _assign_days(ledger, p, received)
    metrics["assign_days_median"] = None if assign is None else median_from_distribution(assign)
    feedback = _feedback(ledger, p, closed, w)
    metrics["feedback_rate"] = None if feedback is None else rate(
        _n(feedback), _n(closed))
    kept = _village_kept(ledger, p, closed, moved)
    metrics["village_kept_rate"] = None if kept is None else rate(
        _n(kept[0]), _n(kept[1]))
    for metric in DIRECTIONS:
        metrics[metric] = None if moved is None else moved.counts[metric]

    persons = p.frame["persons_involved"].to_numpy(dtype="int64", na_value=1)
    group = persons >= config.group_threshold
    prev_received = ind["prev_received"]
    metrics["group_cases"] = change(_n(received & group),
                                    _n(prev_received & group))
    metrics["status_mix"] = _mix({s: closed & _mask(p, "status", (s,)) for s in closed_values()})
    stars = p.frame["star"].to_numpy(dtype="int64", na_value=0)
    metrics["star_mix"] = _mix({s: received & (stars == int(s)) for s in STARS})
    metrics["force_mix"] = _force_mix(ledger, p, closed, first_try)
    metrics["key_persons_by_category"] = _key_persons(ledger, w)

    open_d = open_at(p, w.as_of)
    baselines: dict[str, Any] = {
        "open": _n(open_d),
        "star_3_open": _n(open_d & (stars == 3)),
        "types": {t: {"received": _n(received & _mask(p, "dispute_type", (t,))),
                      "open": _n(open_d & _mask(p, "dispute_type", (t,)))}
                  for t in BASELINE_TYPES},
        "households": _households(ledger),
    }
    columns: dict[str, np.ndarray | None] = {
        "received": received, "closed": closed, "on_time": ind["on_time"],
        "overdue_open": ind["overdue_open"], "satisfied": ind["satisfied"],
        "satisfaction_known": ind["satisfaction_known"],
        "supervised": None if chased is None else chased.in_window,
        "overdue_explained": explained,
    }
    accountability = {name: _by(p, column, columns)
                      for name, column in ACCOUNTABILITY_KEYS.items()}
    return Loop(metrics=metrics, assign_days=assign, accountability=accountability,
                baselines=baselines, chases=chased)


def accountability_figures(c: dict[str, int | None]) -> dict[str, Any]:
    """One unit's (or the town's) accountability figures from summed counts;
    the denominators are published with every rate."""
    def count(key: str) -> int:
        return int(c.get(key) or 0)

    return {
        "received": count("received"),
        "closed": count("closed"),
        "on_time_rate": rate(count("on_time"), count("closed")),
        "overdue_open": count("overdue_open"),
        "satisfaction_rate": rate(count("satisfied"), count("satisfaction_known")),
        "supervised": None if c.get("supervised") is None else count("supervised"),
        "overdue_explained_rate": None if c.get("overdue_explained") is None
        else rate(count("overdue_explained"), count("overdue_open")),
    }


def _by(p: Prepared, column: str, columns: dict[str, np.ndarray | None]) -> dict[str, dict[str, Any]]:
    """Per unit of ``column`` (blank: NOT_FILLED): the accountability figures;
    a unit is listed when one of its cases is counted somewhere."""
    if column in p.frame.columns:
        codes, uniques = p.factor(column)
        labels = [str(u) for u in uniques]
    else:
        codes, labels = np.full(len(p.frame), -1, dtype=np.intp), []
    labels = [*labels, NOT_FILLED]
    slot = np.where(codes < 0, len(labels) - 1, codes)
    size = len(labels)
    sums = {k: None if v is None else np.bincount(slot, weights=v, minlength=size).astype(np.int64)
            for k, v in columns.items()}
    present = np.zeros(size, dtype=bool)
    for v in sums.values():
        if v is not None:
            present |= v > 0
    out: dict[str, dict[str, Any]] = {}
    for i in np.flatnonzero(present):
        body = accountability_figures({k: None if v is None else int(v[i]) for k, v in sums.items()})
        label = labels[i]
        out[label] = body
    return dict(sorted(out.items()))


def annotate_overdue(rows: list[dict[str, Any]], p: Prepared, chased: Chases | None) -> None:
    """Add to each row of the supervision list its chases up to the as-of
    date: how many, the last one's date and 方式, and whether a 逾期说明
    exists (a boolean; the text is never published). All null when the
    town keeps no 督办记录."""
    if not rows:
        return
    if chased is None:
        for row in rows:
            row.update(chases=None, last_chase_date=None, last_chase_mode=None, explained=None)
        return
    at = _case_positions(p, pd.Series([row["id"] for row in rows], dtype=object))
    count = chased.count_to_d[at]
    last = chased.last_day[at]
    dates = np.where(count > 0, last, 0).astype("datetime64[D]").astype(str)
    modes = chased.last_mode[at]
    explained = None if chased.explained is None else chased.explained[at]
    for k, row in enumerate(rows):  # one dict per listed case: the list is the output
        n = int(count[k])
        row["chases"] = n
        row["last_chase_date"] = str(dates[k]) if n else None
        row["last_chase_mode"] = modes[k] if n else None
        row["explained"] = None if explained is None else bool(explained[k])
