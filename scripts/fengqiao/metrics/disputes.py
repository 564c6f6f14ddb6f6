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

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Config
from ..normalize import STRING_DTYPE, arrow_strings
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


@dataclass
class Prepared:
    """The dispute columns the figures need, as numpy arrays."""

    frame: pd.DataFrame
    received: np.ndarray  # day numbers
    valid: np.ndarray  # 受理日期 present (always, for rows that count)
    closed_day: np.ndarray  # day number of 办结日期 where the case is closed, else NA
    is_closed: np.ndarray  # closed at some date
    allowed: np.ndarray  # days allowed by the star
    _factors: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def factor(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(codes, distinct values) of a text column, computed once: every
        comparison and every breakdown then works on small integer codes
        (int32: half the memory of a platform index on a million rows)."""
        if column not in self._factors:
            series = self.frame[column]
            raw = arrow_strings(series) if series.dtype == STRING_DTYPE else None
            if raw is not None:  # hashed in Arrow, no Python string per row
                encoded = pc.dictionary_encode(raw)
                codes = np.asarray(pc.fill_null(encoded.indices, -1)
                                   .to_numpy(zero_copy_only=False), dtype=np.int32)
                uniques = np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object)
                self._factors[column] = (codes, uniques)
            else:
                codes, uniques = pd.factorize(series, use_na_sentinel=True)
                self._factors[column] = (np.asarray(codes, dtype=np.int32),
                                         np.asarray(uniques, dtype=object))
        return self._factors[column]

    def isin(self, column: str, values: tuple[str, ...]) -> np.ndarray:
        codes, uniques = self.factor(column)
        hit = np.append(np.isin(uniques, list(values)), False)  # code -1 (blank) → False
        return hit[codes]

    def ids(self, idx: np.ndarray) -> np.ndarray:
        """编号 of some rows, for error messages and lists (not built for every row)."""
        return self.frame["id"].iloc[idx].astype(object).fillna("").to_numpy(dtype=object)

    def ids_for_calendar(self, idx: np.ndarray, config: Config) -> np.ndarray | None:
        """编号 of some rows for the working-day calendar, which names the case
        when a date falls outside the published years; the calendar-day count
        never looks at them, so for it they are not built (half a million
        Python strings for a year's closed cases)."""
        return self.ids(idx) if config.deadlines.day_count == "working" else None

    def values_at(self, column: str, idx: np.ndarray) -> list[Any]:
        """One column's values at some rows as Python objects (None when
        blank), for the lists; Arrow text is taken without going through
        an object Series."""
        series = self.frame[column]
        raw = arrow_strings(series) if series.dtype == STRING_DTYPE else None
        if raw is not None:
            # to_numpy: several times faster than to_pylist for text
            values: list[Any] = raw.take(pa.array(idx, type=pa.int64())).to_numpy(
                zero_copy_only=False).tolist()
            return values
        return _column(series.iloc[idx])

    def notna(self, column: str) -> np.ndarray:
        return self.factor(column)[0] >= 0

    def relevant(self, w: Window) -> Prepared:
        """Only the rows some figure of this window can count: drops cases
        received after the window (and as-of date) and cases closed before the
        window that were not received in the year-earlier window. Every
        indicator is 0 on the dropped rows, so the figures are unchanged and a
        multi-year ledger is cut down to the period's cases before the heavy
        work."""
        last = max(w.end, w.as_of)
        in_prev = (self.received >= w.prev_start) & (self.received <= w.prev_end)
        keep = self.valid & (self.received <= last) \
            & ~(self.is_closed & (self.closed_day < w.start) & ~in_prev)
        if keep.all():
            return self
        idx = np.flatnonzero(keep)
        # no figure reads a sensitive column (当事人, 简要情况, 备注), and they
        # hold most of a ledger's text: the window's copy leaves them behind
        sensitive = {f.name for f in load_schema()["disputes"].fields if f.sensitive}
        columns = [c for c in self.frame.columns if c not in sensitive]
        return Prepared(
            frame=self.frame[columns].iloc[idx], received=self.received[idx],
            valid=self.valid[idx],
            closed_day=self.closed_day[idx], is_closed=self.is_closed[idx],
            allowed=self.allowed[idx],
            _factors={k: (c[idx], u) for k, (c, u) in self._factors.items()},
        )


def prepare(frame: pd.DataFrame, config: Config) -> Prepared:
    rd, rd_ok = day_numbers(frame["received_date"])
    cd, cd_ok = day_numbers(frame["closed_date"])
    stars = frame["star"].to_numpy(dtype="int64", na_value=0)
    p = Prepared(
        frame=frame,
        received=rd,
        valid=rd_ok & (stars >= 1) & (stars <= 3),
        closed_day=cd,
        is_closed=np.zeros(len(frame), dtype=bool),
        allowed=deadline_days(stars, config),
    )
    p.is_closed = rd_ok & cd_ok & p.isin("status", closed_values()) & (cd >= rd)
    p.closed_day = np.where(p.is_closed, cd, 0)
    return p


def closed_by(p: Prepared, day: int) -> np.ndarray:
    return p.is_closed & (p.closed_day <= day)


def open_at(p: Prepared, day: int) -> np.ndarray:
    return p.valid & (p.received <= day) & ~closed_by(p, day)


Indicators = dict[str, np.ndarray]


def indicators(p: Prepared, w: Window, config: Config) -> tuple[Indicators, np.ndarray]:
    """The indicator frame (one row per case) and the mask of cases closed in the window."""
    f = p.frame
    n = len(f)
    rd, v = p.received, p.valid
    received = v & (rd >= w.start) & (rd <= w.end)
    closed = v & p.is_closed & (p.closed_day >= w.start) & (p.closed_day <= w.end)
    status_resolved = p.isin("status", (RESOLVED,))
    before_start = v & (rd < w.start)
    pending_start = before_start & ~closed_by(p, w.start - 1)
    pending_end = v & (rd <= w.end) & ~closed_by(p, w.end)
    backlog_start = pending_start & ((w.start - rd) > config.backlog_days)

    open_d = open_at(p, w.as_of)
    overdue = np.zeros(n, dtype=bool)
    if open_d.any():
        idx = np.flatnonzero(open_d)
        age = elapsed(rd[idx], np.full(len(idx), w.as_of), config,
                      p.ids_for_calendar(idx, config))
        overdue[idx] = age > p.allowed[idx]

    on_time = np.zeros(n, dtype=bool)
    if closed.any():
        idx = np.flatnonzero(closed)
        taken = elapsed(rd[idx], p.closed_day[idx], config, p.ids_for_calendar(idx, config))
        on_time[idx] = taken <= p.allowed[idx]

    petition = received & p.isin("source", (SOURCE_PETITION,))
    persons = f["persons_involved"].to_numpy(dtype="int64", na_value=1)
    prev_received = v & (rd >= w.prev_start) & (rd <= w.prev_end)
    prev_petition = prev_received & p.isin("source", (SOURCE_PETITION,))

    # a revisit counts when it is dated on or after the closure and on or
    # before the as-of date: one dated later has not happened yet at d, so a
    # past period gives the same figure whenever it is re-run (DOMAIN 4.1);
    # a rating counts only next to a revisit that counts
    fd, fd_ok = day_numbers(f["followup_date"])
    followup = closed & fd_ok & (fd >= p.closed_day) & (fd <= w.as_of)

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
        "local": closed & p.isin("level", LOCAL_LEVELS),
        "grid_found": received & p.isin("source", (SOURCE_GRID,)),
        "repeat": received & p.notna("repeat_of"),
        "online": received & p.isin("source", (SOURCE_ONLINE,)),
        "followup": followup,
        "satisfied": followup & p.isin("satisfaction", SATISFIED),
        "satisfaction_known": followup & p.notna("satisfaction"),
        "petition_batches": petition,
        "petition_persons": np.where(petition, persons, 0),
        "prev_received": prev_received,
        "prev_petition_batches": prev_petition,
        "prev_petition_persons": np.where(prev_petition, persons, 0),
    }
    for lv in LEVELS:
        cols[f"level_{lv}"] = closed & p.isin("level", (lv,))
    cols[f"level_{LEVEL_UNKNOWN}"] = closed & ~p.isin("level", LEVELS)
    return {k: cols[k] for k in COUNT_COLUMNS}, closed


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


def whole_figures(ind: Indicators, dist: dict[str, int], window_days: int) -> dict[str, Any]:
    sums = {k: int(np.count_nonzero(v)) if v.dtype == bool else int(v.sum()) for k, v in ind.items()}
    out = figures(sums, window_days)
    out["median_days"] = median_from_distribution(dist)
    return out


def _column(values: pd.Series | np.ndarray) -> list[Any]:
    series = pd.Series(values).astype(object)
    return series.where(series.notna(), None).tolist()


def overdue_rows(p: Prepared, ind: Indicators, w: Window, config: Config) -> list[dict[str, Any]]:
    """The supervision list at the as-of date, most overdue first; only
    public fields (no 当事人, 简要情况, 备注)."""
    mask = ind["overdue_open"]
    if not mask.any():
        return []
    idx = np.flatnonzero(mask)
    rd = p.received[idx]
    allowed = p.allowed[idx]
    ids = p.ids(idx)
    age = elapsed(rd, np.full(len(idx), w.as_of), config, ids)
    deadline = deadline_dates(rd, allowed, config, ids)
    over = age - allowed
    order = np.lexsort((ids, rd, -over))  # most overdue, then oldest, then id
    idx, rd, over, deadline = idx[order], rd[order], over[order], deadline[order]
    # only the listed columns, only at the listed rows
    columns = {
        "id": p.values_at("id", idx),
        "village": p.values_at("village", idx),
        "grid_id": p.values_at("grid_id", idx),
        "dispute_type": p.values_at("dispute_type", idx),
        "star": p.frame["star"].iloc[idx].to_numpy(dtype="int64").tolist(),
        "received_date": rd.astype("datetime64[D]").astype(str).tolist(),
        "deadline": deadline.astype("datetime64[D]").astype(str).tolist(),
        "days_open": (w.as_of - rd).tolist(),
        "days_overdue": over.tolist(),
        "responsible_unit": p.values_at("responsible_unit", idx),
        "lead_official": p.values_at("lead_official", idx),
    }
    keys = list(columns)
    return [dict(zip(keys, row, strict=True)) for row in zip(*columns.values(), strict=True)]
