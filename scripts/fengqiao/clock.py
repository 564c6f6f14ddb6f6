"""The one place fengqiao asks what day and what time it is.

A command decides "today" once, here, and passes the date down: the
metrics, the overdue list, the site's "this month" and the county's
computed figures then all agree, and a config's ``report_date`` fixes every
one of them at once (a demo, a re-run of last year's report). Library
functions take the date or time as an argument, so tests inject their own.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Protocol


class HasReportDate(Protocol):
    """A town or county config: both may fix the report date."""

    @property
    def report_date(self) -> date | None: ...


def now() -> datetime:
    """The current moment, time-zone aware, in UTC (read times, receipts)."""
    return datetime.now(UTC)


def today(config: HasReportDate | None = None, *, fallback: date | None = None) -> date:
    """The day a command reports as of: the config's ``report_date`` when it
    sets one, else ``fallback`` (a day a caller or a test injected), else the
    computer's date."""
    if config is not None and config.report_date is not None:
        return config.report_date
    if fallback is not None:
        return fallback
    return date.today()
