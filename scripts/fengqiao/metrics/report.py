"""Plain-text and CSV views of a metrics contract, for the command line.

One row per metric in METRIC_TITLES order, so the terminal table, the CSV
that staff open in Excel/WPS and the site's tables list figures identically.
Null figures are shown "—", never 0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..catalogue import METRICS, ids
from . import METRIC_TITLES, METRIC_UNITS
from .shapes import CHANGE_KEYS, RATE_KEYS

DASH = "—"
#: ratio-shaped figures whose value is a number of days, not a percentage
NOT_PERCENT = frozenset(ids(kind="days"))


@dataclass(frozen=True)
class MetricRow:
    id: str
    title: str
    value: float | int | str | None  # raw value; level_mix as text
    numerator: int | None = None
    denominator: int | None = None
    previous: int | None = None  # None for a year-on-year figure: not known
    change: float | None = None
    year_on_year: bool = False
    target: float | None = None
    met: bool | None = None  # None: no target or no value


def _percent(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def _number(value: float | None) -> str:
    return DASH if value is None else f"{value:.1f}"


def metric_rows(contract: dict[str, Any]) -> list[MetricRow]:
    metrics = contract["metrics"]
    targets = contract.get("targets", {})
    rows: list[MetricRow] = []
    for mid, title in METRIC_TITLES.items():
        v = metrics.get(mid)
        target = targets.get(mid)
        if isinstance(v, dict) and set(v) == RATE_KEYS:
            value = v["value"]
            met = None if target is None or value is None else value >= target
            rows.append(MetricRow(mid, title, value, v["numerator"], v["denominator"],
                                  target=target, met=met))
        elif isinstance(v, dict) and set(v) == CHANGE_KEYS:
            rows.append(MetricRow(mid, title, v["count"], previous=v["previous"], change=v["change"],
                                  year_on_year=True))
        elif isinstance(v, dict):
            # force_mix holds {closed, first_try_rate} per force: the count is shown
            rows.append(MetricRow(mid, title, "，".join(
                f"{k} {n['closed'] if isinstance(n, dict) else n}" for k, n in v.items())))
        else:
            rows.append(MetricRow(mid, title, v, target=target))
    return rows


def _cells(row: MetricRow) -> list[str]:
    unit = METRIC_UNITS.get(row.id, "")
    if row.numerator is not None:
        num = row.value if isinstance(row.value, float | int) else None
        if num is None:
            value = DASH
        else:
            value = f"{_number(num)} 天" if row.id in NOT_PERCENT else _percent(num)
        # each part named with its count ("按期办结 1 ÷ 办结 2"); a days figure
        # in words only, never as days × cases over cases ("1472/75")
        entry = METRICS.get(row.id)
        counts = entry.counted_note(row.numerator, row.denominator) if entry is not None \
            else f"{row.numerator}/{row.denominator}"
    elif row.year_on_year:
        change = DASH if row.change is None else f"{row.change * 100:+.1f}%"
        value = f"{row.value} {unit}".strip()
        counts = f"上年同期 {DASH}（台账未覆盖）" if row.previous is None \
            else f"上年同期 {row.previous}，同比 {change}"
    elif row.value is None:
        value, counts = DASH, ""
    elif isinstance(row.value, float):
        value, counts = f"{row.value:.1f} {unit}".strip(), ""
    else:
        value, counts = f"{row.value} {unit}".strip(), ""
    if row.target is None:
        target, verdict = "", ""
    else:
        target = _percent(row.target)
        verdict = DASH if row.met is None else ("达标" if row.met else "未达标")
    return [row.title, counts, value, target, verdict]


def text_width(text: str) -> int:
    """Display width in a terminal: CJK and full-width characters take two cells."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - text_width(text))


def render_table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(text_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(pad(c, w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def metrics_table(contract: dict[str, Any]) -> str:
    p = contract["period"]
    head = (f"{contract['town']} {p['label']}（{p['start']} 至 {p['end']}）统计指标，"
            f"截至 {contract['as_of']}\n\n")
    all_rows = metric_rows(contract)
    # a mix is a line of its own below, so it cannot stretch the table
    mixes = [r for r in all_rows if r.numerator is None and isinstance(r.value, str)]
    rows = [_cells(r) for r in all_rows if r not in mixes]
    out = head + render_table(["指标", "分子 ÷ 分母", "数值", "目标", "是否达标"], rows)
    if mixes:
        out += "\n分布：\n" + "".join(f"  {r.title}：{r.value}\n" for r in mixes)
    ratios = [r for r in all_rows if r.numerator is not None and r.id in METRICS
              and METRICS[r.id].denominator]
    if ratios:
        out += "\n分子/分母是什么：\n" + "".join(
            f"  {r.title}：{METRICS[r.id].numerator} ÷ {METRICS[r.id].denominator}\n"
            for r in ratios)
    return out


CSV_HEADER = ["指标编号", "指标", "数值", "分子", "分母", "上年同期", "同比变化", "目标", "是否达标"]


def metrics_csv(contract: dict[str, Any]) -> str:
    """CSV text with a UTF-8 BOM, so Excel/WPS open the Chinese correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)

    def cell(x: Any) -> str:
        return "" if x is None else str(x)

    for r in metric_rows(contract):
        verdict = "" if r.met is None else ("达标" if r.met else "未达标")
        writer.writerow([r.id, r.title, cell(r.value), cell(r.numerator), cell(r.denominator),
                         cell(r.previous), cell(r.change), cell(r.target), verdict])
    return "\ufeff" + out.getvalue()


OVERDUE_HEADER = ["编号", "村(社区)", "纠纷类型", "星级", "受理日期", "办结期限", "已受理天数",
                  "办理情况", "责任单位", "包案领导"]


def _state(days_left: int) -> str:
    if days_left < 0:
        return f"逾期 {-days_left} 天"
    return "今天到期" if days_left == 0 else f"还剩 {days_left} 天"


def overdue_table(table: pd.DataFrame, *, as_of: str, town: str) -> str:
    """The supervision list (from :func:`.lists.supervision_list`) as a terminal table."""
    if table.empty:
        return f"{town}截至 {as_of} 没有逾期或临近期限的在办纠纷。\n"

    def text(col: str) -> list[str]:
        return [DASH if pd.isna(x) else str(x) for x in table[col].tolist()]

    def day(col: str) -> list[str]:
        return [DASH if pd.isna(x) else x.date().isoformat() for x in table[col].tolist()]

    columns = [text("id"), text("village"), text("dispute_type"),
               ["★" * int(x) for x in table["star"].tolist()], day("received_date"),
               day("deadline"), text("days_open"), [_state(int(x)) for x in table["days_left"].tolist()],
               text("responsible_unit"), text("lead_official")]
    cells = [list(r) for r in zip(*columns, strict=True)]
    overdue = int((table["days_left"] < 0).sum())
    head = (f"{town}截至 {as_of}：逾期未办结 {overdue} 件，临近期限 {len(table) - overdue} 件"
            "（逾期最久的在前）。\n\n")
    return head + render_table(OVERDUE_HEADER, cells)
