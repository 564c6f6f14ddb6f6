"""The metrics engine: DOMAIN.md section 4 as pure functions of a Ledger.

``compute_metrics`` builds the published metrics.json dict, ``dumps`` writes
its canonical bytes, ``validate_contract`` checks a file from anyone,
``rollup.combine`` adds towns into a county, and :mod:`.lists` gives the
site's problem/solution/supervision lists. ``METRIC_TITLES`` is the one place
the Chinese names live; the CLI, the site and the docs all read it.
"""

from __future__ import annotations

from .contract import DEFINITIONS_VERSION, SCHEMA_VERSION, dumps, validate_contract
from .engine import compute_metrics
from .periods import Period, months_between, parse_date, parse_period, recent_months

#: metric id → Chinese name (every id of DOMAIN.md section 4, in its order)
METRIC_TITLES: dict[str, str] = {
    "received": "受理数",
    "closed": "办结数",
    "resolved": "化解数",
    "pending_start": "期初在办",
    "pending_end": "期末在办",
    "clearance_rate": "结收比",
    "closure_rate": "办结率",
    "resolution_rate": "化解率",
    "on_time_rate": "按期办结率",
    "overdue_open": "逾期在办",
    "first_try_rate": "首次调解成功率",
    "local_rate": "矛盾不上交率",
    "level_mix": "层级分布",
    "grid_discovery_rate": "网格发现率",
    "repeat_rate": "重复访率",
    "online_rate": "网上投诉率",
    "backlog_start": "积案",
    "backlog_cleared": "积案化解",
    "followup_rate": "回访率",
    "satisfaction_rate": "满意率",
    "median_days": "办结天数中位数",
    "disposition_days": "预计结案天数",
    "petition_batches": "信访批次",
    "petition_persons": "信访人次",
    "received_yoy": "受理数同比",
    "visit_coverage": "走访覆盖率",
    "key_person_followup_rate": "重点人员随访达标率",
    "reception_compliance": "领导接访达标率",
    "needs_closure_rate": "需求办结率",
}

#: the unit a reader sees after each figure (rates without one are percentages)
METRIC_UNITS: dict[str, str] = {
    "received": "件", "closed": "件", "resolved": "件", "pending_start": "件",
    "pending_end": "件", "overdue_open": "件", "backlog_start": "件", "backlog_cleared": "件",
    "median_days": "天", "disposition_days": "天", "petition_batches": "批",
    "petition_persons": "人次", "received_yoy": "件",
}

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
