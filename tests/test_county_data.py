"""Town files for the county tests, made by the real metrics engine from
seeded ledgers, plus the small servers the collection tests talk to.

Other ``test_county_*`` modules import the helpers from here.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fengqiao.config import load_config
from fengqiao.ledger import DTYPES, Ledger
from fengqiao.metrics import compute_metrics, dumps, parse_period, validate_contract
from fengqiao.schema import load_schema
from fengqiao.sources.base import SourceInfo
from loopback import LoopbackServer

SOURCES = ["网格排查", "群众来访", "12345热线", "信访", "网上舆情", "上级交办"]
TYPES = ["婚姻家庭", "邻里", "土地林草", "劳资", "合同债务", "物业"]
CLOSED_STATUSES = ["已化解", "已化解", "已化解", "转司法", "已终结"]


def town_ledger(seed: int, town: str, *, cases: int = 120, start: date = date(2023, 10, 1),
                days: int = 240) -> Ledger:
    """A seeded disputes tab with the contract dtypes (only the required tab)."""
    rng = np.random.default_rng(seed)
    spec = load_schema()["disputes"]
    received = pd.to_datetime(start) + pd.to_timedelta(rng.integers(0, days, cases), unit="D")
    star = rng.choice([1, 2, 3], cases, p=[0.6, 0.3, 0.1])
    closed = rng.random(cases) < 0.8
    took = rng.integers(0, 25, cases)
    closed_date = (received + pd.to_timedelta(took, unit="D")).where(closed)
    status = np.where(closed, rng.choice(CLOSED_STATUSES, cases), "调处中")
    level = np.where(closed, rng.choice(["村级", "镇级", "县级"], cases, p=[0.6, 0.3, 0.1]), None)
    sat = np.where(closed, rng.choice(["满意", "基本满意", "不满意", None], cases), None)
    data: dict[str, Any] = {
        "id": [f"{town[:1]}{seed}-{i:04d}" for i in range(cases)],
        "received_date": received,
        "source": rng.choice(SOURCES, cases),
        "village": rng.choice([f"{town}一村", f"{town}二村", f"{town}社区"], cases),
        "grid_id": [f"G{n:02d}" for n in rng.integers(1, 6, cases)],
        "dispute_type": rng.choice(TYPES, cases),
        "persons_involved": rng.integers(1, 6, cases),
        "star": star,
        "level": level,
        "responsible_unit": rng.choice(["司法所", "派出所", "综治中心"], cases),
        "lead_official": rng.choice(["张镇长", "李书记"], cases),
        "status": status,
        "first_try_success": np.where(closed, rng.random(cases) < 0.85, None),
        "closed_date": closed_date,
        "followup_date": (closed_date + pd.to_timedelta(3, unit="D")).where(rng.random(cases) < 0.9),
        "satisfaction": sat,
    }
    frame = pd.DataFrame({"_row": np.arange(2, cases + 2)})
    for f in spec.fields:
        values = data.get(f.name, [None] * cases)
        frame[f.name] = pd.Series(values).astype(DTYPES[f.type]) if f.type != "date" \
            else pd.to_datetime(pd.Series(values))
    info = SourceInfo("xlsx", f"{town}台账.xlsx", f"/tmp/{town}.xlsx", sha256="0" * 64)
    return Ledger(town=town, source=info, tables={"disputes": frame})


def town_contract(seed: int, town: str, period: str) -> dict[str, Any]:
    p = parse_period(period)
    contract = compute_metrics(town_ledger(seed, town), p, config=load_config(),
                               today=p.end + timedelta(days=1))
    assert validate_contract(contract) == []
    return contract


def write_site(folder: Path, contract: dict[str, Any]) -> Path:
    """A site-like folder as the town site publishes it."""
    target = folder / "downloads" / contract["period"]["label"] / "metrics.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dumps(contract), encoding="utf-8")
    return target


def tamper(contract: dict[str, Any]) -> dict[str, Any]:
    """A file whose closure rate disagrees with its own counts."""
    bad = json.loads(json.dumps(contract))
    r = bad["metrics"]["closure_rate"]
    r["value"] = 0.999 if r["value"] != 0.999 else 0.5
    return bad


@dataclass
class Served:
    url: str
    hits: list[str] = field(default_factory=list)


@contextmanager
def serve(root: Path | None = None, *, status: int | None = None) -> Iterator[Served]:
    """An HTTP server on 127.0.0.1 (port 0) serving ``root``, or answering
    every request with ``status``; ``hits`` counts the requests made."""
    served = Served(url="")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root or "."), **kwargs)

        def do_GET(self) -> None:
            served.hits.append(self.path)
            if status is not None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = LoopbackServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def test_town_contracts_are_valid_and_differ() -> None:
    a = town_contract(1, "东湖镇", "2024-Q1")
    b = town_contract(2, "西山镇", "2024-Q1")
    assert a["town"] == "东湖镇" and b["town"] == "西山镇"
    assert a["metrics"]["received"] != b["metrics"]["received"]
    assert validate_contract(tamper(a)) != []
