"""The county office: collect every town's published metrics.json, check it,
roll it up, rank the towns, report who reported on time, and build the
county site. Stages: ``config`` → ``collect`` → ``report`` → ``site``."""

from __future__ import annotations

from .collect import Receipt, check_contract, collect, collect_town, read_log
from .config import CountyConfig, TownSource, load_county_config
from .report import PeriodReport, TownStatus, build_report, ranking_table, wilson_lower

__all__ = [
    "CountyConfig",
    "PeriodReport",
    "Receipt",
    "TownSource",
    "TownStatus",
    "build_report",
    "check_contract",
    "collect",
    "collect_town",
    "load_county_config",
    "ranking_table",
    "read_log",
    "wilson_lower",
]
