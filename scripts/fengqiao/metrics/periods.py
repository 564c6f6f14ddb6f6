"""Reporting periods: what staff type on the command line and what the site iterates.

A period is always a closed interval of whole days ``[start, end]``. Staff
write periods the way they say them (``2024-Q1``, ``2024年3月``), often with
full-width digits from a Chinese input method, so parsing normalises first
and only then matches a small set of shapes; anything else is refused with
examples rather than guessed.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from .. import clock
from ..errors import FengqiaoError
from ..normalize import DATE_MAX, DATE_MIN

PeriodKind = Literal["month", "quarter", "half", "year", "custom"]

EXAMPLES = "2024-03（月）、2024-Q1（季度）、2024-H1（半年）、2024（全年）、2024-01-01..2024-03-31（自定义）"

_CN_NUM = {"一": 1, "二": 2, "三": 3, "四": 4}


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def shift_year(day: date, years: int) -> date:
    """Same calendar day in another year; 29 February falls back to the 28th
    so that a leap-day period still has a comparable year-earlier window."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    label: str
    kind: PeriodKind

    # -- constructors -------------------------------------------------------
    @classmethod
    def month(cls, year: int, month: int) -> Period:
        return cls(date(year, month, 1), _month_end(year, month), f"{year:04d}-{month:02d}", "month")

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        first = 3 * (quarter - 1) + 1
        return cls(date(year, first, 1), _month_end(year, first + 2), f"{year:04d}-Q{quarter}", "quarter")

    @classmethod
    def half(cls, year: int, half: int) -> Period:
        first = 1 if half == 1 else 7
        return cls(date(year, first, 1), _month_end(year, first + 5), f"{year:04d}-H{half}", "half")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year, 12, 31), f"{year:04d}", "year")

    @classmethod
    def custom(cls, start: date, end: date) -> Period:
        if end < start:
            raise FengqiaoError(
                f"统计期 {start.isoformat()}..{end.isoformat()} 的结束日期早于开始日期。",
                hint="请把较早的日期写在前面，例如 2024-01-01..2024-03-31。",
            )
        return cls(start, end, f"{start.isoformat()}..{end.isoformat()}", "custom")

    # -- queries ------------------------------------------------------------
    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def previous_year(self) -> Period:
        """The same period a year earlier, for year-on-year comparisons."""
        y = self.start.year - 1
        if self.kind == "month":
            return Period.month(y, self.start.month)
        if self.kind == "quarter":
            return Period.quarter(y, (self.start.month - 1) // 3 + 1)
        if self.kind == "half":
            return Period.half(y, 1 if self.start.month == 1 else 2)
        if self.kind == "year":
            return Period.year(y)
        return Period.custom(shift_year(self.start, -1), shift_year(self.end, -1))

    def previous(self) -> Period:
        """The period just before, of the same kind and length (环比): the
        month, quarter, half or year before; for a custom range, the same
        number of days ending the day before it starts."""
        if self.kind == "month":
            y, m = (self.start.year, self.start.month - 1) if self.start.month > 1 \
                else (self.start.year - 1, 12)
            return Period.month(y, m)
        if self.kind == "quarter":
            q = (self.start.month - 1) // 3 + 1
            return Period.quarter(self.start.year, q - 1) if q > 1 \
                else Period.quarter(self.start.year - 1, 4)
        if self.kind == "half":
            return Period.half(self.start.year, 1) if self.start.month == 7 \
                else Period.half(self.start.year - 1, 2)
        if self.kind == "year":
            return Period.year(self.start.year - 1)
        end = self.start - timedelta(days=1)
        return Period.custom(end - timedelta(days=self.days - 1), end)

    def months(self) -> list[Period]:
        """Every calendar month the period touches, whole or partial."""
        return months_between(self.start, self.end)

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "label": self.label, "kind": self.kind}

    def default_as_of(self, today: date | None = None) -> date:
        """The period's end once it is over; before that, today (so a running
        month reports what is known so far)."""
        today = today or clock.today()
        return self.end if today >= self.end else today


def iter_months(start: date, end: date) -> Iterator[Period]:
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        yield Period.month(y, m)
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def months_between(start: date, end: date) -> list[Period]:
    """Month periods from ``start``'s month to ``end``'s month inclusive
    (empty when ``end`` is before ``start``)."""
    return list(iter_months(start, end))


def recent_months(as_of: date, count: int) -> list[Period]:
    """The ``count`` months ending with ``as_of``'s month, oldest first: the
    site's monthly statistics pages."""
    first = date(as_of.year, as_of.month, 1)
    for _ in range(count - 1):
        first = (first - timedelta(days=1)).replace(day=1)
    return months_between(first, as_of)


def weeks_touched(start: date, end: date) -> int:
    """Monday-to-Sunday weeks that overlap ``[start, end]``."""
    first_monday = start - timedelta(days=start.weekday())
    last_monday = end - timedelta(days=end.weekday())
    return (last_monday - first_monday).days // 7 + 1


def months_touched(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


# -- parsing ------------------------------------------------------------------

_DATE = r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?"
_RANGE_SEP = r"(?:\.\.|~|～|至|到|—|--|_)"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^{_DATE}{_RANGE_SEP}{_DATE}$"), "custom"),
    (re.compile(r"^(\d{4})[-/.]?Q([1-4])$"), "quarter"),
    (re.compile(r"^(\d{4})年?第?([1-4一二三四])季度?$"), "quarter"),
    (re.compile(r"^(\d{4})[-/.]?H([12])$"), "half"),
    (re.compile(r"^(\d{4})年?([上下])半年$"), "half"),
    (re.compile(r"^(\d{4})[-/.](\d{1,2})$"), "month"),
    (re.compile(r"^(\d{4})年(\d{1,2})月$"), "month"),
    (re.compile(r"^(\d{6})$"), "month6"),
    (re.compile(r"^(\d{4})年?(?:全年|年度)?$"), "year"),
]


def _normalise(text: str) -> str:
    out = unicodedata.normalize("NFKC", text)
    out = re.sub(r"\s+", "", out)
    out = out.replace("－", "-").replace("‐", "-").replace("–", "-")
    return out.upper()


def _bad(text: str, why: str = "") -> FengqiaoError:
    return FengqiaoError(
        f"无法识别统计期“{text}”{why}。",
        hint=f"可以这样写：{EXAMPLES}。",
    )


def _date(text: str, y: str, m: str, d: str) -> date:
    try:
        return date(int(y), int(m), int(d))
    except ValueError as exc:
        raise _bad(text, f"：{y}-{m}-{d} 不是有效日期") from exc


def _in_calendar(text: str, period: Period) -> Period:
    """A period the ledger's dates can fall in: dates outside the accepted
    window are refused as typos, so no figure could ever count a case there."""
    if period.start < DATE_MIN.date() or period.end > DATE_MAX.date():
        raise _bad(text, f"：只能统计 {DATE_MIN.year} 年至 {DATE_MAX.year} 年之间的日期")
    return period


def parse_period(text: str) -> Period:
    """Parse what a person types for a period; refuse, with examples, anything else."""
    try:
        period = _parse_period(text)
    except ValueError as exc:  # year 0 and the like: no calendar holds them
        raise _bad(text, f"：只能统计 {DATE_MIN.year} 年至 {DATE_MAX.year} 年之间的日期") from exc
    return _in_calendar(text, period)


def _parse_period(text: str) -> Period:
    norm = _normalise(text or "")
    for pattern, kind in _PATTERNS:
        match = pattern.match(norm)
        if not match:
            continue
        g = match.groups()
        if kind == "custom":
            return Period.custom(_date(text, *g[:3]), _date(text, *g[3:]))
        if kind == "quarter":
            return Period.quarter(int(g[0]), _CN_NUM.get(g[1]) or int(g[1]))
        if kind == "half":
            half = {"上": 1, "下": 2}.get(g[1]) or int(g[1])
            return Period.half(int(g[0]), half)
        if kind in ("month", "month6"):
            year, month = (int(g[0]), int(g[1])) if kind == "month" else (int(g[0][:4]), int(g[0][4:]))
            if not 1 <= month <= 12:
                raise _bad(text, f"：月份 {month} 不在 1 到 12 之间")
            return Period.month(year, month)
        return Period.year(int(g[0]))
    raise _bad(text)


def parse_date(text: str, *, what: str = "日期") -> date:
    """A single date typed on the command line (``--as-of``)."""
    norm = _normalise(text or "")
    match = re.match(rf"^{_DATE}$", norm) or re.match(r"^(\d{4})(\d{2})(\d{2})$", norm)
    if match:
        try:
            day = date(*(int(x) for x in match.groups()))
        except ValueError:
            pass
        else:
            if DATE_MIN.date() <= day <= DATE_MAX.date():
                return day
            raise FengqiaoError(
                f"{what}“{text}”不在 {DATE_MIN.year} 年至 {DATE_MAX.year} 年之间。",
                hint="请检查年份是否输错。",
            )
    raise FengqiaoError(
        f"无法识别{what}“{text}”。",
        hint="请写成 2024-03-31 或 2024/3/31 这样的日期。",
    )
