"""The computed lists of 四张清单, plus the supervision list (督办清单).

问题清单 and 解决清单 are views of the ledgers, never typed twice (DOMAIN.md
section 3): the problem list is what is still open at the report date, the
solution list what was closed in the period. None of them carries a sensitive
field (当事人, 简要情况, 备注, 需求内容), so the site can publish them as they are.
Column ids are English; ``LIST_TITLES`` gives the Chinese headers.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from ..config import Config
from ..ledger import Ledger
from ..schema import load_schema
from .calendar import day_number, day_numbers, deadline_dates, elapsed, to_dates
from .disputes import Prepared, open_at, prepare
from .periods import Period
from .shapes import Window

KIND_DISPUTE = "纠纷"
KIND_NEED = "需求"

LIST_TITLES: dict[str, str] = {
    "kind": "类别",
    "id": "编号",
    "village": "村(社区)",
    "grid_id": "网格编号",
    "category": "事项类型",
    "dispute_type": "纠纷类型",
    "star": "星级",
    "level": "调处层级",
    "status": "办理结果",
    "received_date": "受理/提出日期",
    "closed_date": "办结日期",
    "deadline": "办结期限",
    "days_open": "已受理天数",
    "days_left": "剩余天数",
    "days_overdue": "逾期天数",
    "days_taken": "办理天数",
    "responsible_unit": "责任单位",
    "lead_official": "包案领导",
    "days_since_closed": "办结后天数",
}

#: key columns first (issue 14): what a reader looks for before scrolling
#: sideways is the case, where, what, how urgent and who answers for it
PROBLEM_COLUMNS = ("id", "village", "category", "star", "days_left", "responsible_unit",
                   "lead_official", "kind", "received_date", "deadline")
SOLUTION_COLUMNS = ("id", "village", "category", "status", "closed_date", "days_taken", "level",
                    "received_date", "kind")
#: 回访待办: closed cases still waiting for their revisit (DOMAIN.md 4.2)
FOLLOWUP_COLUMNS = ("id", "village", "dispute_type", "level", "status", "closed_date",
                    "days_since_closed", "responsible_unit", "lead_official")
SUPERVISION_COLUMNS = ("id", "village", "grid_id", "dispute_type", "star", "received_date",
                       "deadline", "days_open", "days_left", "days_overdue", "responsible_unit",
                       "lead_official")

_TYPES = {"kind": "string", "id": "string", "village": "string", "grid_id": "string",
          "category": "string", "dispute_type": "string", "star": "Int64", "level": "string",
          "status": "string", "received_date": "datetime64[ns]", "closed_date": "datetime64[ns]",
          "deadline": "datetime64[ns]", "days_open": "Int64", "days_left": "Int64",
          "days_overdue": "Int64", "days_taken": "Int64", "responsible_unit": "string",
          "lead_official": "string", "days_since_closed": "Int64"}


def _typed(data: dict[str, object], columns: tuple[str, ...], n: int) -> pd.DataFrame:
    out = {}
    for c in columns:
        value = data.get(c)
        if value is None:
            value = [pd.NA] * n if _TYPES[c] != "datetime64[ns]" else [pd.NaT] * n
        out[c] = pd.Series(np.asarray(value, dtype=object) if not isinstance(value, pd.Series)
                           else value.to_numpy(dtype=object), dtype=_TYPES[c])
    return pd.DataFrame(out, columns=list(columns))


def _open_disputes(p: Prepared, as_of: int, config: Config) -> tuple[np.ndarray, dict[str, object]]:
    idx = np.flatnonzero(open_at(p, as_of))
    rd = p.received[idx]
    allowed = p.allowed[idx]
    used = elapsed(rd, np.full(len(idx), as_of), config, p.ids(idx))
    deadline = deadline_dates(rd, allowed, config, p.ids(idx))
    f = p.frame.iloc[idx]
    return idx, {
        "id": f["id"], "village": f["village"], "grid_id": f["grid_id"],
        "dispute_type": f["dispute_type"], "category": f["dispute_type"], "star": f["star"],
        "received_date": to_dates(rd), "deadline": to_dates(deadline),
        "days_open": as_of - rd, "days_left": allowed - used,
        "responsible_unit": f["responsible_unit"], "lead_official": f["lead_official"],
    }


def _needs(ledger: Ledger) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray] | None:
    if not ledger.has("needs"):
        return None
    needs = ledger.tables["needs"]
    raised, r_ok = day_numbers(needs["raised_date"])
    closed_d, c_ok = day_numbers(needs["closed_date"])
    closed_vals = list(load_schema()["needs"].field("status").closed_values)
    is_closed = r_ok & c_ok & needs["status"].isin(closed_vals).to_numpy(dtype=bool) & (closed_d >= raised)
    return needs, raised, np.where(r_ok, raised, np.iinfo(np.int64).max), \
        np.where(is_closed, closed_d, np.iinfo(np.int64).max)


def problem_list(ledger: Ledger, as_of: date, config: Config) -> pd.DataFrame:
    """问题清单: disputes and needs still open at ``as_of``; days left is
    negative once a dispute is overdue (needs have no configured deadline).
    Latest received first; the 督办 list keeps the most overdue first."""
    d = day_number(as_of)
    frames = []
    if ledger.has("disputes"):
        p = prepare(ledger.tables["disputes"], config)
        idx, data = _open_disputes(p, d, config)
        data["kind"] = [KIND_DISPUTE] * len(idx)
        frames.append(_typed(data, PROBLEM_COLUMNS, len(idx)))
    got = _needs(ledger)
    if got is not None:
        needs, _, raised, closed_d = got
        mask = (raised <= d) & (closed_d > d)
        f = needs[mask]
        n = len(f)
        frames.append(_typed({
            "kind": [KIND_NEED] * n, "id": f["id"], "village": f["village"],
            "category": f["category"], "received_date": to_dates(raised[mask]),
            "responsible_unit": f["unit"],
        }, PROBLEM_COLUMNS, n))
    if not frames:
        return _typed({}, PROBLEM_COLUMNS, 0)
    return newest_first(pd.concat(frames, ignore_index=True), "received_date")


def newest_first(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The order of every long list (issue 14): latest ``column`` first, a
    row without that date last, ties by 编号; the page and the downloads
    share it, so a printed page and a spreadsheet read the same way."""
    keys = [column, "id"] if "id" in frame.columns and column != "id" else [column]
    return frame.sort_values(keys, ascending=[False, True][:len(keys)], na_position="last",
                             kind="mergesort").reset_index(drop=True)


def solution_list(ledger: Ledger, period: Period, as_of: date, config: Config) -> pd.DataFrame:
    """解决清单: disputes and needs closed in the period (up to ``as_of``):
    how each ended and how many calendar days it took; latest closure first."""
    w = Window.of(period, as_of)
    frames = []
    if ledger.has("disputes"):
        p = prepare(ledger.tables["disputes"], config)
        mask = p.valid & p.is_closed & (p.closed_day >= w.start) & (p.closed_day <= w.end)
        f = p.frame[mask]
        frames.append(_typed({
            "kind": [KIND_DISPUTE] * len(f), "id": f["id"], "village": f["village"],
            "category": f["dispute_type"], "level": f["level"], "status": f["status"],
            "received_date": to_dates(p.received[mask]), "closed_date": to_dates(p.closed_day[mask]),
            "days_taken": p.closed_day[mask] - p.received[mask],
        }, SOLUTION_COLUMNS, len(f)))
    got = _needs(ledger)
    if got is not None:
        needs, _, raised, closed_d = got
        mask = (closed_d >= w.start) & (closed_d <= w.end)
        f = needs[mask]
        frames.append(_typed({
            "kind": [KIND_NEED] * len(f), "id": f["id"], "village": f["village"],
            "category": f["category"], "status": f["status"],
            "received_date": to_dates(raised[mask]), "closed_date": to_dates(closed_d[mask]),
            "days_taken": closed_d[mask] - raised[mask],
        }, SOLUTION_COLUMNS, len(f)))
    if not frames:
        return _typed({}, SOLUTION_COLUMNS, 0)
    return newest_first(pd.concat(frames, ignore_index=True), "closed_date")


def supervision_list(ledger: Ledger, as_of: date, config: Config, *,
                     near_days: int | None = None) -> pd.DataFrame:
    """督办清单: open disputes past their deadline or within ``near_days``
    (default ``deadlines.warn_days``) of it, most overdue first."""
    near = config.deadlines.warn_days if near_days is None else near_days
    if not ledger.has("disputes"):
        return _typed({}, SUPERVISION_COLUMNS, 0)
    p = prepare(ledger.tables["disputes"], config)
    idx, data = _open_disputes(p, day_number(as_of), config)
    left = np.asarray(data["days_left"], dtype=np.int64)
    data["days_overdue"] = np.maximum(0, -left)
    table = _typed(data, SUPERVISION_COLUMNS, len(idx))
    table = table[left <= near]
    return table.sort_values(["days_left", "received_date", "id"],
                             kind="mergesort").reset_index(drop=True)


def followup_todo(ledger: Ledger, as_of: date, config: Config) -> pd.DataFrame:
    """回访待办: cases closed by ``as_of`` with no valid 回访日期 (one on or
    after the closure and on or before ``as_of``, DOMAIN.md 4.1), oldest
    closure first. A revisit dated after ``as_of`` has not happened yet,
    so its case is still on the list."""
    if not ledger.has("disputes"):
        return _typed({}, FOLLOWUP_COLUMNS, 0)
    p = prepare(ledger.tables["disputes"], config)
    d = day_number(as_of)
    fd, fd_ok = day_numbers(p.frame["followup_date"])
    done = p.is_closed & (p.closed_day <= d)
    revisited = fd_ok & (fd >= p.closed_day) & (fd <= d)
    mask = p.valid & done & ~revisited
    f = p.frame[mask]
    table = _typed({
        "id": f["id"], "village": f["village"], "dispute_type": f["dispute_type"],
        "level": f["level"], "status": f["status"], "closed_date": to_dates(p.closed_day[mask]),
        "days_since_closed": d - p.closed_day[mask],
        "responsible_unit": f["responsible_unit"], "lead_official": f["lead_official"],
    }, FOLLOWUP_COLUMNS, len(f))
    return table.sort_values(["closed_date", "id"], kind="mergesort").reset_index(drop=True)


__all__ = ["FOLLOWUP_COLUMNS", "LIST_TITLES", "followup_todo", "newest_first", "problem_list",
           "solution_list", "supervision_list"]
