"""Build typed Ledger objects straight from records, following ledger.py's column contract."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from fengqiao.ledger import DTYPES, Ledger
from fengqiao.schema import load_schema
from fengqiao.sources.base import SourceInfo


def frame(tab: str, records: list[dict[str, Any]], *, first_row: int = 2) -> pd.DataFrame:
    spec = load_schema()[tab]
    cols: dict[str, pd.Series] = {}
    for f in spec.fields:
        values = [r.get(f.name) for r in records]
        dtype = DTYPES[f.type]
        if f.type == "date":
            cols[f.name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
        else:
            cols[f.name] = pd.Series(values, dtype=dtype)
    cols["_row"] = pd.Series([r.get("_row", first_row + i) for i, r in enumerate(records)],
                             dtype="int64")
    return pd.DataFrame(cols)


def dispute(id: str, received: str, *, star: int = 1, status: str = "调处中",
            closed: str | None = None, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": id, "received_date": received, "star": star, "status": status,
                            "closed_date": closed, "source": "群众来访", "village": "东岭村",
                            "dispute_type": "邻里", "persons_involved": 2, "parties": "张三 13800000000",
                            "summary": "秘密情况", "notes": "备注秘密"}
    base.update(extra)
    return base


def ledger(tables: dict[str, list[dict[str, Any]]], *, town: str = "枫溪镇",
           excluded: dict[str, pd.DataFrame] | None = None,
           missing_columns: dict[str, tuple[str, ...]] | None = None) -> Ledger:
    return Ledger(
        town=town,
        source=SourceInfo(kind="xlsx", name="demo_town.xlsx", location="/tmp/demo_town.xlsx",
                          sha256="0" * 64),
        tables={tab: frame(tab, recs) for tab, recs in tables.items()},
        excluded=excluded or {},
        missing_columns=missing_columns or {},
    )


def d(text: str) -> date:
    return date.fromisoformat(text)
