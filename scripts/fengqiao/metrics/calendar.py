"""Deadline day counting: calendar days or the official Chinese working calendar.

Deadlines (``deadlines.star_N``) are counted from the day after 受理日期. With
``day_count: working`` a day counts when the State Council calendar says it is
a working day: weekends off, public holidays off, make-up working days (调休上班)
on. The calendar comes from the ``chinesecalendar`` package, which only knows
the years the State Council has announced; a date outside them is an error,
never a guess, because a wrong holiday silently moves every deadline.

Everything here works on whole columns. Dates are handled as int64 day
numbers (days since 1970-01-01); the working calendar is one precomputed
cumulative count ``cum[k]`` = working days on or before day ``base + k``, so
"working days in (a, b]" is ``cum[b] - cum[a]`` and "the N-th working day
after a" is a ``searchsorted`` — no Python loop per case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import pandas as pd

from ..config import Config
from ..errors import FengqiaoError

EPOCH = date(1970, 1, 1)
NA_DAY = np.iinfo(np.int64).min


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_day_number(n: int) -> date:
    return date.fromordinal(EPOCH.toordinal() + int(n))


def day_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(int64 day numbers, valid mask) for a datetime column; NA → NA_DAY."""
    values = pd.to_datetime(column).to_numpy(dtype="datetime64[D]")
    valid = ~np.isnat(values)
    return values.view("int64").copy(), valid


@dataclass(frozen=True)
class WorkingCalendar:
    base: int  # day number of cum[0]
    cum: np.ndarray  # cumulative working-day count, one per day
    workdays: np.ndarray  # day numbers of every working day, sorted
    first_year: int
    last_year: int

    @property
    def years(self) -> str:
        return f"{self.first_year}–{self.last_year}"

    def _check(self, days: np.ndarray, ids: np.ndarray | None) -> None:
        lo, hi = self.base, self.base + len(self.cum) - 1
        bad = (days < lo) | (days > hi)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            first = from_day_number(int(days[k]))
            raise FengqiaoError(
                f"{_who(ids, k)}日期 {first.isoformat()} 不在法定工作日历已公布的年份（{self.years} 年）内，"
                "无法按工作日计算期限。",
                hint="请升级 chinesecalendar 以获得新一年的节假日安排，"
                "或在配置中把 deadlines.day_count 改为 calendar（按自然日计算）。",
            )

    def count_between(self, a: np.ndarray, b: np.ndarray,
                      ids: np.ndarray | None = None) -> np.ndarray:
        """Working days in ``(a, b]`` (negative when b < a)."""
        self._check(a, ids)
        self._check(b, ids)
        return self.cum[b - self.base] - self.cum[a - self.base]

    def add(self, a: np.ndarray, n: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """The n-th working day after ``a`` (n ≥ 1)."""
        self._check(a, ids)
        idx = np.searchsorted(self.workdays, a, side="right") + n - 1
        beyond = idx >= len(self.workdays)
        if beyond.any():
            k = int(np.flatnonzero(beyond)[0])
            first = from_day_number(int(a[k]))
            raise FengqiaoError(
                f"{_who(ids, k)}从 {first.isoformat()} 起算的期限落在法定工作日历已公布的年份（{self.years} 年）之后，"
                "无法按工作日计算。",
                hint="请升级 chinesecalendar 以获得新一年的节假日安排，"
                "或在配置中把 deadlines.day_count 改为 calendar（按自然日计算）。",
            )
        return self.workdays[idx]


def _who(ids: np.ndarray | None, k: int) -> str:
    return "" if ids is None else f"编号 {ids[k]} 的纠纷："


@cache
def working_calendar() -> WorkingCalendar:
    """Built once from the package's own tables of holidays and make-up days."""
    from chinese_calendar import constants  # only this module knows the package

    holidays = np.array(sorted(day_number(d) for d in constants.holidays), dtype=np.int64)
    makeups = np.array(sorted(day_number(d) for d in constants.workdays), dtype=np.int64)
    first_year = min(constants.holidays).year
    last_year = max(constants.holidays).year
    lo, hi = day_number(date(first_year, 1, 1)), day_number(date(last_year, 12, 31))
    days = np.arange(lo, hi + 1, dtype=np.int64)
    weekday = (days + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    work = (weekday < 5) & ~np.isin(days, holidays)
    work |= np.isin(days, makeups)
    return WorkingCalendar(
        base=lo,
        cum=np.cumsum(work.astype(np.int64)),
        workdays=days[work],
        first_year=first_year,
        last_year=last_year,
    )


def deadline_days(stars: np.ndarray, config: Config) -> np.ndarray:
    """Allowed days per case from its star (0 for an ungraded row)."""
    table = np.array([0, config.deadlines.star_1, config.deadlines.star_2, config.deadlines.star_3],
                     dtype=np.int64)
    return table[np.clip(stars, 0, 3)]


def elapsed(received: np.ndarray, until: np.ndarray, config: Config,
            ids: np.ndarray | None = None) -> np.ndarray:
    """Days from 受理日期 to ``until`` in the configured day count."""
    if len(received) == 0:
        return np.zeros(0, dtype=np.int64)
    if config.deadlines.day_count == "working":
        return working_calendar().count_between(received, until, ids)
    return until - received


def deadline_dates(received: np.ndarray, allowed: np.ndarray, config: Config,
                   ids: np.ndarray | None = None) -> np.ndarray:
    """The last day a case may close on and still be on time."""
    if len(received) == 0:
        return np.zeros(0, dtype=np.int64)
    if config.deadlines.day_count == "working":
        return working_calendar().add(received, allowed, ids)
    return received + allowed


def to_dates(days: np.ndarray) -> pd.Series:
    """Day numbers back to a datetime64 column (NA_DAY → NaT)."""
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    return pd.Series(out)
