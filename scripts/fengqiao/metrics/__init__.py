"""The metrics engine: DOMAIN.md section 4 as pure functions of a Ledger.

``compute_metrics`` builds the published metrics.json dict, ``dumps`` writes
its canonical bytes, ``validate_contract`` checks a file from anyone,
``rollup.combine`` adds towns into a county, and :mod:`.lists` gives the
site's problem/solution/supervision lists. The metrics themselves (names,
units, definitions) are listed once, in :mod:`fengqiao.catalogue`;
``METRIC_TITLES`` and ``METRIC_UNITS`` are views of it.
"""

from __future__ import annotations

from ..catalogue import METRICS, TITLES
from .contract import DEFINITIONS_VERSION, SCHEMA_VERSION, dumps, validate_contract
from .engine import compute_metrics
from .periods import Period, months_between, parse_date, parse_period, recent_months

#: metric id → Chinese name, in catalogue order (read from :mod:`fengqiao.catalogue`)
METRIC_TITLES: dict[str, str] = dict(TITLES)

#: the unit a reader sees after each count or number of days (rates are percentages)
METRIC_UNITS: dict[str, str] = {m.id: m.unit for m in METRICS.values() if m.kind in ("count", "days")}

__all__ = [
    "DEFINITIONS_VERSION",
    "METRIC_TITLES",
    "METRIC_UNITS",
    "SCHEMA_VERSION",
    "Period",
    "compute_metrics",
    "dumps",
    "months_between",
    "parse_date",
    "parse_period",
    "recent_months",
    "validate_contract",
]
