"""From the collection log to the county's figures: who reported, the roll-up,
the rankings and the county-wide supervision list.

Reporting status per town and period (DHIS2-style):

* 按时 — the first *valid* copy was received by the due moment;
* 迟报 — the first valid copy was received after it;
* 数据无效 — only invalid copies were received (wrong period, wrong town,
  figures that disagree with each other, not the contract);
* 未报 — nothing was received.

Completeness = reported (按时 + 迟报, or 已报 where no deadline was judged) ÷
towns expected; timeliness = 按时 ÷ towns expected. An invalid file is not a report: the county cannot use it.

A city or province counts both its direct units and the towns underneath
(:func:`fengqiao.metrics.rollup.reporting`): a county that reported 3 of its
4 towns adds 3 reported and 4 expected towns. A town's figures are on time at
the top only if every level passed them on time. A unit that sent nothing
usable has towns nobody can count: the towns' denominator is then unknown,
and completeness and timeliness show "—" with the unit named, never a guess.

Ranking uses a small-sample guard, because a town with 2 of 2 cases closed has
proved much less than one with 190 of 200: towns whose denominator is below
``min_denominator`` are listed apart as 样本不足 and not ranked, and the rest
are ranked by the Wilson score lower bound (95%) of their rate, so even without
the cut-off 2/2 (lower bound 0.34) ranks below 190/200 (0.91).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import numpy as np
import pandas as pd

from ..catalogue import title
from ..metrics.contract import SUMMARY, SUMMARY_OVERDUE, TOWN, detail_for, level_of, units_are_towns
from ..metrics.periods import Period, parse_period
from ..metrics.rollup import (
    COUNTED,
    INVALID,
    LATE,
    MISSING,
    ON_TIME,
    REPORTED,
    STATUSES,
    Reporting,
    below,
    combine,
    reporting,
    summarised,
)
from .collect import Receipt, collected_periods, load_copy, read_log
from .config import RANKED_RATES, CountyConfig

# the status words (按时 …) are the roll-up's; imported here for this module's readers

RANKED = "排名"
SMALL = "样本不足"
NO_DATA = "无数据"

WILSON_Z = 1.959964



#: Chinese metric names, from the metric catalogue
title_of = title


@dataclass
class TownStatus:
    town: str
    status: str
    due_at: datetime
    first_valid_at: datetime | None = None
    #: the receipt whose file the figures come from (the latest valid one)
    used: Receipt | None = None
    #: the most recent receipt of any kind
    latest: Receipt | None = None
    contract: dict[str, Any] | None = None
    attempts: int = 0
    #: the most recent invalid receipt (for 数据无效, its reasons)
    last_invalid: Receipt | None = None
    tz: tzinfo | None = None

    def local(self, moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    @property
    def last_good(self) -> bool:
        """The latest attempt failed, so an earlier valid copy stands in."""
        return self.used is not None and self.latest is not None and self.latest.status != "valid"

    @property
    def reported(self) -> bool:
        return self.status in (ON_TIME, LATE, REPORTED)

    @property
    def reason(self) -> str:
        """What the county office should read about this town, in Chinese."""
        if self.latest is None:
            return "还没有收取过这一期的文件。"
        if self.status == MISSING:
            return self.latest.reason
        if self.status == INVALID and self.last_invalid is not None:
            text = f"收到的文件无效：{self.last_invalid.reason}"
            if self.latest.status == "failed":
                text += f" 最近一次收取也未成功：{self.latest.reason}"
            return text
        if self.last_good and self.used is not None:
            kind = "收到的文件无效" if self.latest.status == "invalid" else "收取未成功"
            return (f"最近一次{kind}：{self.latest.reason} "
                    f"统计改用 {self.local(self.used.received)} 收到的上一份有效文件。")
        return ""


@dataclass
class PeriodReport:
    county: str
    period: Period
    statuses: list[TownStatus]
    #: the county file (same contract as a town's, ``town`` = county name); None if no town usable
    contract: dict[str, Any] | None
    counts: dict[str, int] = field(default_factory=dict)
    completeness: dict[str, Any] = field(default_factory=dict)
    timeliness: dict[str, Any] = field(default_factory=dict)
    rankings: dict[str, pd.DataFrame] = field(default_factory=dict)
    supervision: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: 县, 市 or 省; above a county, ``counts`` are the direct units and
    #: ``completeness``/``timeliness`` count the towns underneath
    level: str = "县"
    reporting: Reporting | None = None
    #: statuses of the towns underneath (equal to ``counts`` for a county)
    town_counts: dict[str, int] = field(default_factory=dict)
    unit_completeness: dict[str, Any] = field(default_factory=dict)
    unit_timeliness: dict[str, Any] = field(default_factory=dict)

    @property
    def usable(self) -> list[TownStatus]:
        return [s for s in self.statuses if s.contract is not None]

    @property
    def units_are_towns(self) -> bool:
        """Whether the direct units are towns: then nothing is said apart
        about the towns underneath (:func:`~fengqiao.metrics.contract.units_are_towns`)."""
        units = self.reporting.units if self.reporting is not None else ()
        return units_are_towns(self.level, (u.get("level") for u in units))


def _rate(num: int, den: int) -> dict[str, Any]:
    return {"numerator": num, "denominator": den,
            "value": None if den == 0 else round(num / den, 6)}


#: a share nobody can work out (shown "—" for each part)
UNKNOWN: dict[str, Any] = {"numerator": None, "denominator": None, "value": None}


def town_figures(rep: Reporting, judge_timeliness: bool
                 ) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
    """Counts, completeness and timeliness of the towns underneath. The
    denominator is unknown while a unit's towns are (completeness then keeps
    its known numerator); timeliness is unknown too when some town's
    timeliness was not judged at a level below (it is 已报 there)."""
    counts = {k: 0 for k in STATUSES}
    for state in rep.town_status.values():
        counts[state] += 1
    reported = sum(counts[k] for k in COUNTED)
    expected = rep.towns_expected
    if expected is None:
        completeness = {**UNKNOWN, "numerator": reported}
    else:
        completeness = _rate(reported, expected)
    if not judge_timeliness:
        timeliness = _rate(0, 0)
    elif expected is None or counts[REPORTED]:
        timeliness = dict(UNKNOWN)
    else:
        timeliness = _rate(counts[ON_TIME], expected)
    return counts, completeness, timeliness


def town_status(config: CountyConfig, period: Period, town: str,
                receipts: list[Receipt]) -> TownStatus:
    """Status of one town from its receipts (in log order)."""
    due = config.due_at(period)
    mine = [r for r in receipts if r.town == town]
    status = TownStatus(town=town, status=MISSING, due_at=due, attempts=len(mine), tz=config.tz)
    if not mine:
        return status
    status.latest = mine[-1]
    invalid = [r for r in mine if r.status == "invalid"]
    status.last_invalid = invalid[-1] if invalid else None
    valid = [r for r in mine if r.status == "valid"]
    if valid:
        status.first_valid_at = min(r.received for r in valid)
        if not config.judge_timeliness:
            status.status = REPORTED
        else:
            status.status = ON_TIME if status.first_valid_at <= due else LATE
        status.used = valid[-1]
        contract = load_copy(config.collection_dir, status.used)
        # a city or province keeps only what its summary uses, file by file
        status.contract = (summarised(contract) if detail_for(config.level) == SUMMARY
                           else contract)
    elif invalid:
        status.status = INVALID
    return status


def wilson_lower(numerator: np.ndarray, denominator: np.ndarray, z: float = WILSON_Z) -> np.ndarray:
    """Wilson score interval lower bound; NaN where the denominator is 0."""
    n = denominator.astype(float)
    k = numerator.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = p + z * z / (2 * n)
        margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        lower = (centre - margin) / (1 + z * z / n)
    return np.where(n > 0, np.clip(lower, 0.0, 1.0), np.nan)


def ranking_table(statuses: list[TownStatus], metric: str, min_denominator: int) -> pd.DataFrame:
    """One rate across towns: ranked towns first (best Wilson lower bound
    first), then 样本不足, then 无数据, then the towns without a usable file
    (未报, 数据无效), listed by name so no town silently drops out."""
    rows: list[tuple[str, int, int, float | None]] = []
    absent: list[tuple[str, str]] = []
    for s in statuses:
        if s.contract is None:
            absent.append((s.town, s.status))
            continue
        r = (s.contract.get("metrics") or {}).get(metric)
        if isinstance(r, dict):
            rows.append((s.town, int(r["numerator"]), int(r["denominator"]), r.get("value")))
        else:
            rows.append((s.town, 0, 0, None))
    frame = pd.DataFrame(rows, columns=["town", "numerator", "denominator", "value"])
    frame["numerator"] = frame["numerator"].astype("int64")
    frame["denominator"] = frame["denominator"].astype("int64")
    frame["value"] = frame["value"].astype("float64")
    frame["wilson_lower"] = wilson_lower(frame["numerator"].to_numpy(), frame["denominator"].to_numpy())
    den = frame["denominator"]
    frame["group"] = np.select([den == 0, den < min_denominator], [NO_DATA, SMALL], RANKED)
    ranked = frame["group"] == RANKED
    frame["rank"] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
    if ranked.any():
        frame.loc[ranked, "rank"] = (
            frame.loc[ranked, "wilson_lower"].round(9).rank(method="min", ascending=False).astype("int64")
        )
    order = frame["group"].map({RANKED: 0, SMALL: 1, NO_DATA: 2})
    frame = frame.assign(_order=order).sort_values(
        ["_order", "wilson_lower", "value", "denominator", "town"],
        ascending=[True, False, False, False, True], kind="mergesort", na_position="last",
    ).drop(columns="_order").reset_index(drop=True)
    columns = ["rank", "group", "town", "numerator", "denominator", "value", "wilson_lower"]
    if absent:
        missing = pd.DataFrame({"group": [g for _, g in sorted(absent)],
                                "town": [t for t, _ in sorted(absent)]})
        frame = pd.concat([frame, missing], ignore_index=True)
        for col in ("numerator", "denominator"):
            frame[col] = frame[col].astype("Int64")
    return frame[columns]


SUPERVISION_COLUMNS = ["town", "id", "village", "grid_id", "dispute_type", "star", "received_date",
                       "deadline", "days_open", "days_overdue", "responsible_unit", "lead_official",
                       # since contract 1.2: the chases (null for a town without 督办记录)
                       "chases", "last_chase_date", "last_chase_mode", "explained"]


def supervision_list(statuses: list[TownStatus], limit: int | None = None) -> pd.DataFrame:
    """Every town's overdue open cases with the town's name (its path below
    this level when it came through a roll-up), most overdue first, in the
    contract's order (:func:`~fengqiao.metrics.contract.overdue_order`); a
    summary (city, province) keeps the ``limit`` longest-overdue."""
    frames = []
    for s in statuses:
        if s.contract is None:
            continue
        overdue = s.contract.get("overdue") or []
        if overdue:
            frame = pd.DataFrame(overdue)
            if level_of(s.contract) == TOWN or "town" not in frame.columns:
                frames.append(frame.assign(town=s.town))
            else:
                frames.append(frame.assign(town=below(s.town, "") + frame["town"].astype(str)))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in SUPERVISION_COLUMNS})
    table = pd.concat(frames, ignore_index=True)
    for c in SUPERVISION_COLUMNS:
        if c not in table.columns:
            table[c] = None
    table = table.assign(_id=table["id"].astype(str),
                         _received=table["received_date"].astype(str)).sort_values(
        ["days_overdue", "town", "_received", "_id"],
        ascending=[False, True, True, True], kind="mergesort")
    if limit is not None:
        table = table.head(limit)
    return table[SUPERVISION_COLUMNS].reset_index(drop=True)


def build_report(config: CountyConfig, period: Period) -> PeriodReport:
    """Everything the county pages and downloads show for one period."""
    receipts = read_log(config.collection_dir, period.label)
    statuses = [town_status(config, period, t.name, receipts) for t in config.towns]
    usable = [s for s in statuses if s.contract is not None]
    contract = None
    if usable:
        contract = combine([s.contract for s in usable if s.contract is not None],
                           name=config.name, towns=[t.name for t in config.towns],
                           targets=config.targets, level=config.level,
                           status={s.town: s.status for s in statuses})
    counts = {k: sum(1 for s in statuses if s.status == k) for k in STATUSES}
    expected = len(statuses)
    unit_completeness = _rate(counts[ON_TIME] + counts[LATE] + counts[REPORTED], expected)
    unit_timeliness = (_rate(counts[ON_TIME], expected) if config.judge_timeliness
                       else _rate(0, 0))
    rep = reporting([(s.town, s.status, s.contract) for s in statuses], config.level)
    town_counts, completeness, timeliness = town_figures(rep, config.judge_timeliness)
    return PeriodReport(
        county=config.name,
        period=period,
        statuses=statuses,
        contract=contract,
        counts=counts,
        completeness=completeness,
        timeliness=timeliness,
        rankings={m: ranking_table(statuses, m, config.min_denominator) for m in RANKED_RATES},
        supervision=supervision_list(
            statuses, SUMMARY_OVERDUE if detail_for(config.level) == SUMMARY else None),
        level=config.level,
        reporting=rep,
        town_counts=town_counts,
        unit_completeness=unit_completeness,
        unit_timeliness=unit_timeliness,
    )


def trend_reports(config: CountyConfig, period: Period) -> list[PeriodReport]:
    """Reports for every collected period of the same kind up to ``period``,
    oldest first (``period`` itself is always last)."""
    periods: dict[str, Period] = {}
    for label in collected_periods(config.collection_dir):
        try:
            p = parse_period(label)
        except Exception:  # a stray folder in the collection is not a period
            continue
        if p.kind == period.kind and p.start < period.start:
            periods[p.label] = p
    ordered = sorted(periods.values(), key=lambda p: p.start)
    return [build_report(config, p) for p in ordered] + [build_report(config, period)]


def status_table(report: PeriodReport) -> pd.DataFrame:
    """The 报送情况 table as published (pages and downloads). Above a
    county, each unit also shows its towns counted and expected (None when
    unknown, shown "—")."""
    rows = [{
        "town": s.town,
        "status": s.status,
        "due": s.local(s.due_at),
        "first_valid_at": s.local(s.first_valid_at),
        "latest_at": s.local(s.latest.received if s.latest else None),
        "last_good": "是" if s.last_good else "",
        "sha256": s.used.sha256 if s.used and s.used.sha256 else "",
        "reason": s.reason,
    } for s in report.statuses]
    columns = ["town", "status", "due", "first_valid_at", "latest_at", "last_good", "sha256",
               "reason"]
    table = pd.DataFrame(rows, columns=columns)
    if not report.units_are_towns and report.reporting is not None:
        units = {u["name"]: u for u in report.reporting.units}
        counted = [units[s.town]["towns"] for s in report.statuses]
        missing = [units[s.town]["missing_towns"] for s in report.statuses]
        table.insert(2, "towns_reported", pd.array(counted, dtype="Int64"))
        table.insert(3, "towns_expected", pd.array(
            [None if m is None else c + m for c, m in zip(counted, missing, strict=True)],
            dtype="Int64"))
    return table


def town_table(report: PeriodReport) -> pd.DataFrame:
    """Every known town underneath with its status (above a county)."""
    status = report.reporting.town_status if report.reporting is not None else {}
    return pd.DataFrame({"town": list(status), "status": list(status.values())},
                        columns=["town", "status"]).sort_values("town", kind="mergesort",
                                                                 ignore_index=True)
