"""The county's only doorway into the town pipeline.

The county reuses the town's own code for everything a town also does
(computing a workbook's figures, validating and writing the contract, the
roll-up), so a county figure can never be defined differently from the same
figure on a town's site. Imports are made here, late, so that the rest of the
county package stays importable while a stage is being worked on.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from ..config import load_config
from ..metrics.periods import Period


def validate_contract(obj: Any) -> list[str]:
    """JSON Schema and consistency problems as the town pipeline defines them."""
    try:
        from ..metrics.contract import validate_contract as town_validate
    except ImportError:  # the contract module has not landed: our own checks still run
        return []
    return list(town_validate(obj))


def dumps(contract: dict[str, Any]) -> str:
    """Serialise exactly as a town does, so the county file diffs cleanly."""
    try:
        from ..metrics.contract import dumps as town_dumps
    except ImportError:
        return json.dumps(contract, ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    return str(town_dumps(contract))


def combine(parts: list[dict[str, Any]], *, name: str, towns: list[str],
            targets: dict[str, float] | None = None) -> dict[str, Any]:
    from ..metrics.rollup import combine as town_combine

    return dict(town_combine(parts, name=name, towns=towns, targets=targets))


def metrics_from_workbook(spec: str, period: Period, *, config_path: Path | None,
                          town_name: str | None, today: date | None = None) -> dict[str, Any]:
    """A workbook (xlsx, CSV folder, ``gsheets:``) run through open_source →
    validate_workbook → compute_metrics, named as the county knows the town."""
    from dataclasses import replace

    from ..metrics import compute_metrics
    from ..sources import open_source
    from ..validate import require_figures, validate_workbook

    config = load_config(config_path)
    if town_name:
        config = replace(config, town=town_name)
    raw = open_source(spec, config=config)
    ledger = validate_workbook(raw, config=config)
    require_figures(ledger)
    return dict(compute_metrics(ledger, period, config=config, today=today))
