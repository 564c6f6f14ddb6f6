"""Dispute figures (DOMAIN.md section 4), computed as indicator columns.

Every figure about disputes is a sum of a 0/1 (or small integer) column over
the rows that count: ``received`` is 1 where 受理日期 falls in the window,
``on_time`` is 1 where a case closed in the window met its star's deadline,
and so on. The town total is the column sum and every breakdown is the same
columns summed per group, so a breakdown can never disagree with the total
and a roll-up only ever adds integers.

Closed means 状态 is one of the schema's ``closedValues`` and 办结日期 is a
date no earlier than 受理日期 (the ledger already blanks bad values); closed
*by* a date means 办结日期 on or before it. Because a closure can never
precede its receipt, ``pending_start + received == pending_end + closed``
holds exactly for any ledger and period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..config import Config
from ..schema import load_schema
from .calendar import day_numbers, deadline_dates, deadline_days, elapsed
from .shapes import Window, change, median_from_distribution, rate

LEVELS = ("村级", "镇级", "县级")
LEVEL_UNKNOWN = "未填"
LOCAL_LEVELS = ("村级", "镇级")
SATISFIED = ("满意", "基本满意")
SOURCE_GRID = "网格排查"
SOURCE_ONLINE = "网上舆情"
SOURCE_PETITION = "信访"
RESOLVED = "已化解"

#: indicator columns, in output order
COUNT_COLUMNS = (
    "received", "closed", "resolved", "pending_start", "pending_end", "overdue_open",
    "backlog_start", "backlog_cleared", "closed_of_received", "resolved_of_received",
    "on_time", "first_try", "local", "grid_found", "repeat", "online", "followup",
    "satisfied", "satisfaction_known", "petition_batches", "petition_persons",
    "prev_received", "prev_petition_batches", "prev_petition_persons",
    *(f"level_{lv}" for lv in (*LEVELS, LEVEL_UNKNOWN)),
)


def closed_values() -> tuple[str, ...]:
    return tuple(load_schema()["disputes"].field("status").closed_values)


def _isin(column: pd.Series, values: tuple[str, ...] | list[str]) -> np.ndarray:
    return column.isin(list(values)).to_numpy(dtype=bool)


@dataclass
class Prepared:
    """The dispute columns the figures need, as numpy arrays."""

    frame: pd.DataFrame
    received: np.ndarray  # day numbers
    valid: np.ndarray  # 受理日期 present (always, for rows that count)
    closed_day: np.ndarray  # day number of 办结日期 where the case is closed, else NA
    is_closed: np.ndarray  # closed at some date
    allowed: np.ndarray  # days allowed by the star
    ids: np.ndarray


def prepare(frame: pd.DataFrame, config: Config) -> Prepared:
    rd, rd_ok = day_numbers(frame["received_date"])
    cd, cd_ok = day_numbers(frame["closed_date"])
    is_closed = rd_ok & cd_ok & _isin(frame["status"], closed_values()) & (cd >= rd)
    stars = frame["star"].to_numpy(dtype="int64", na_value=0)
    return Prepared(
        frame=frame,
        received=rd,
        valid=rd_ok & (stars >= 1) & (stars <= 3),
        closed_day=np.where(is_closed, cd, 0),
        is_closed=is_closed,
        allowed=deadline_days(stars, config),
        ids=frame["id"].astype("string").fillna("").to_numpy(dtype=object),
    )


def closed_by(p: Prepared, day: int) -> np.ndarray:
    return p.is_closed & (p.closed_day <= day)


def open_at(p: Prepared, day: int) -> np.ndarray:
    return p.valid & (p.received <= day) & ~closed_by(p, day)


def indicators(p: Prepared, w: Window, config: Config) -> tuple[pd.DataFrame, np.ndarray]:
    """The indicator frame (one row per case) and the mask of cases closed in the window."""
    f = p.frame
    n = len(f)
    rd, v = p.received, p.valid
    received = v & (rd >= w.start) & (rd <= w.end)
    closed = v & p.is_closed & (p.closed_day >= w.start) & (p.closed_day <= w.end)
    status_resolved = _isin(f["status"], (RESOLVED,))
    before_start = v & (rd < w.start)
    pending_start = before_start & ~closed_by(p, w.start - 1)
    pending_end = v & (rd <= w.end) & ~closed_by(p, w.end)
    backlog_start = pending_start & ((w.start - rd) > config.backlog_days)

    open_d = open_at(p, w.as_of)
    overdue = np.zeros(n, dtype=bool)
    if open_d.any():
        idx = np.flatnonzero(open_d)
        age = elapsed(rd[idx], np.full(len(idx), w.as_of), config, p.ids[idx])
        overdue[idx] = age > p.allowed[idx]

    on_time = np.zeros(n, dtype=bool)
    if closed.any():
        idx = np.flatnonzero(closed)
        taken = elapsed(rd[idx], p.closed_day[idx], config, p.ids[idx])
        on_time[idx] = taken <= p.allowed[idx]

    source = f["source"]
    petition = received & _isin(source, (SOURCE_PETITION,))
    persons = f["persons_involved"].to_numpy(dtype="int64", na_value=1)
    prev_received = v & (rd >= w.prev_start) & (rd <= w.prev_end)
    prev_petition = prev_received & _isin(source, (SOURCE_PETITION,))
    level = f["level"]
    sat = f["satisfaction"]

    cols: dict[str, np.ndarray] = {
        "received": received,
        "closed": closed,
        "resolved": closed & status_resolved,
        "pending_start": pending_start,
        "pending_end": pending_end,
        "overdue_open": overdue,
        "backlog_start": backlog_start,
        "backlog_cleared": backlog_start & closed,
        "closed_of_received": received & closed_by(p, w.as_of),
        "resolved_of_received": received & closed_by(p, w.as_of) & status_resolved,
        "on_time": on_time,
        "first_try": closed & f["first_try_success"].to_numpy(dtype=bool, na_value=False),
        "local": closed & _isin(level, LOCAL_LEVELS),
        "grid_found": received & _isin(source, (SOURCE_GRID,)),
        "repeat": received & f["repeat_of"].notna().to_numpy(dtype=bool),
        "online": received & _isin(source, (SOURCE_ONLINE,)),
        "followup": closed & f["followup_date"].notna().to_numpy(dtype=bool),
        "satisfied": closed & _isin(sat, SATISFIED),
        "satisfaction_known": closed & sat.notna().to_numpy(dtype=bool),
        "petition_batches": petition,
        "petition_persons": np.where(petition, persons, 0),
        "prev_received": prev_received,
        "prev_petition_batches": prev_petition,
        "prev_petition_persons": np.where(prev_petition, persons, 0),
    }
    for lv in LEVELS:
        cols[f"level_{lv}"] = closed & _isin(level, (lv,))
    cols[f"level_{LEVEL_UNKNOWN}"] = closed & ~_isin(level, LEVELS)
    frame = pd.DataFrame({k: cols[k].astype(np.int64) for k in COUNT_COLUMNS}, index=f.index)
    return frame, closed


def days_to_close_distribution(p: Prepared, closed: np.ndarray) -> dict[str, int]:
    days = (p.closed_day - p.received)[closed]
    values, counts = np.unique(days, return_counts=True)
    return {str(int(k)): int(c) for k, c in zip(values, counts, strict=True)}


def figures(counts: dict[str, int], window_days: int) -> dict[str, Any]:
    """Dispute metrics (counts and rate objects) from summed indicator columns."""
    c = {k: int(counts.get(k, 0)) for k in COUNT_COLUMNS}
    received, closed = c["received"], c["closed"]
    level_mix = {lv: c[f"level_{lv}"] for lv in LEVELS}
    if c[f"level_{LEVEL_UNKNOWN}"]:
        level_mix[LEVEL_UNKNOWN] = c[f"level_{LEVEL_UNKNOWN}"]
    return {
        "received": received,
        "closed": closed,
        "resolved": c["resolved"],
        "pending_start": c["pending_start"],
        "pending_end": c["pending_end"],
        "overdue_open": c["overdue_open"],
        "backlog_start": c["backlog_start"],
        "backlog_cleared": c["backlog_cleared"],
        "level_mix": level_mix,
        "clearance_rate": rate(closed, received),
        "closure_rate": rate(c["closed_of_received"], received),
        "resolution_rate": rate(c["resolved_of_received"], received),
        "on_time_rate": rate(c["on_time"], closed),
        "first_try_rate": rate(c["first_try"], closed),
        "local_rate": rate(c["local"], closed),
        "grid_discovery_rate": rate(c["grid_found"], received),
        "repeat_rate": rate(c["repeat"], received),
        "online_rate": rate(c["online"], received),
        "followup_rate": rate(c["followup"], closed),
        "satisfaction_rate": rate(c["satisfied"], c["satisfaction_known"]),
        "disposition_days": rate(window_days * c["pending_end"], closed),
        "petition_batches": change(c["petition_batches"], c["prev_petition_batches"]),
        "petition_persons": change(c["petition_persons"], c["prev_petition_persons"]),
        "received_yoy": change(received, c["prev_received"]),
    }


def whole_figures(ind: pd.DataFrame, dist: dict[str, int], window_days: int) -> dict[str, Any]:
    sums = {k: int(v) for k, v in ind.sum(axis=0).items()}
    out = figures(sums, window_days)
    out["median_days"] = median_from_distribution(dist)
    return out


def overdue_rows(p: Prepared, ind: pd.DataFrame, w: Window, config: Config) -> list[dict[str, Any]]:
    """The supervision list at the as-of date, most overdue first; only
    public fields (no 当事人, 简要情况, 备注)."""
    mask = ind["overdue_open"].to_numpy(dtype=bool)
    if not mask.any():
        return []
    idx = np.flatnonzero(mask)
    rd = p.received[idx]
    allowed = p.allowed[idx]
    age = elapsed(rd, np.full(len(idx), w.as_of), config, p.ids[idx])
    deadline = deadline_dates(rd, allowed, config, p.ids[idx])
    f = p.frame.iloc[idx]
    table = pd.DataFrame({
        "id": f["id"].to_numpy(dtype=object),
        "village": f["village"].to_numpy(dtype=object),
        "grid_id": f["grid_id"].to_numpy(dtype=object),
        "dispute_type": f["dispute_type"].to_numpy(dtype=object),
        "star": f["star"].to_numpy(dtype="int64"),
        "received_date": rd.astype("datetime64[D]").astype(str),
        "deadline": deadline.astype("datetime64[D]").astype(str),
        "days_open": (w.as_of - rd).astype(np.int64),
        "days_overdue": (age - allowed).astype(np.int64),
        "responsible_unit": f["responsible_unit"].to_numpy(dtype=object),
        "lead_official": f["lead_official"].to_numpy(dtype=object),
    })
    table = table.sort_values(["days_overdue", "received_date", "id"],
                              ascending=[False, True, True], kind="mergesort")
    records = table.to_dict(orient="records")
    return [{k: _plain(v) for k, v in r.items()} for r in records]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    return value
