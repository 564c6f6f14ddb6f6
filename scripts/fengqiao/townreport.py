"""``fengqiao report``: the period's written report, from the ledger.

Wires the figures to :mod:`fengqiao.render.word`: the period's contract, whose
``comparisons`` block gives the previous period (环比) and the same period a
year earlier (同比) by the contract's rules (the same elapsed stretch, the
same lag, null before the ledger's start), exactly as the site's report of
the period has them, plus two charts
(the last twelve months of cases received and closed, and each village's
closure rate). The file is written atomically, and only over a file fengqiao
wrote itself (recognised by its document author), never over someone's own
document.
"""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path
from typing import Any

from .config import Config
from .errors import FengqiaoError
from .ledger import Ledger
from .metrics import compute_metrics
from .metrics.periods import Period, recent_months
from .publish.atomic import atomic_path, shared_mode
from .render.word import TREND_MONTHS, ReportInput, build_report, report_charts, report_title

_OUR_AUTHOR = b"<dc:creator>fengqiao</dc:creator>"


def _contract(ledger: Ledger, period: Period, config: Config, today: date,
              as_of: date | None = None) -> dict[str, Any]:
    return dict(compute_metrics(ledger, period, as_of=as_of, config=config, today=today))


def _charts(ledger: Ledger, current: dict[str, Any], config: Config, as_of: date
            ) -> list[tuple[str, bytes]]:
    months = recent_months(as_of, TREND_MONTHS)
    return report_charts([_contract(ledger, m, config, as_of) for m in months], current)


def report_input(ledger: Ledger, period: Period, config: Config, *, today: date,
                 as_of: date | None = None, with_charts: bool = True) -> ReportInput:
    current = _contract(ledger, period, config, today, as_of)
    drawn = _charts(ledger, current, config, date.fromisoformat(current["as_of"])) \
        if with_charts else []
    # the earlier periods as the contract compares them, not recomputed here
    # with other rules (a whole earlier period judged today; a year before
    # the ledger's start counted as 0)
    return ReportInput.from_contract(current, drawn)


def default_name(contract: dict[str, Any]) -> str:
    return f"{report_title(contract)}.docx"


def _ours(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return _OUR_AUTHOR in zf.read("docProps/core.xml")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False


def write_report(data: ReportInput, out: Path) -> Path:
    """Write the report to ``out`` (a .docx), replacing only a report
    fengqiao wrote."""
    if out.suffix.lower() != ".docx":
        raise FengqiaoError(f"报告文件名应以 .docx 结尾，实际是“{out.name}”。")
    if out.exists() and not _ours(out):
        raise FengqiaoError(f"{out} 已经存在，而且不是 fengqiao 生成的报告，不会覆盖它。",
                            hint="请换一个文件名，或用 --out 指定新的位置。")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with atomic_path(out, mode=shared_mode()) as tmp:
            tmp.write_bytes(build_report(data))
    except OSError as exc:
        raise FengqiaoError(f"无法写入报告 {out}：{exc.strerror or exc}。",
                            hint="请确认文件没有在 Word/WPS 里打开，并且文件夹可以写入。") from exc
    return out


__all__ = ["TREND_MONTHS", "default_name", "report_input", "write_report"]
