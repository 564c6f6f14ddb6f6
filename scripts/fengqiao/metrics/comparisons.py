"""环比 and 同比: a period's figures beside the previous period's and those of
the same period a year earlier, all from the same ledger.

metrics.json carries them under ``comparisons`` (contract 1.4), so a reader
of the file, of the statistics page and of its xlsx sees the same earlier
figures. The rules, stated in Chinese in the contract's description:

* **Windows.** The previous period is :meth:`Period.previous` (环比), the
  year-earlier one :meth:`Period.previous_year` (同比). While the period is
  still running at the as-of date (its window is ``[s, d]`` with ``d`` before
  the period's end), each earlier period is cut to the same number of days
  from its start, so half a month is compared with half a month rather than
  with a whole one. The year-earlier window is then exactly the one the
  ``*_yoy`` and petition figures already use.
* **As of.** Each earlier window is judged as many days after its own end as
  the period is after its window's end (0 on the site), so a rate judged at
  the as-of date (办结率) is compared like for like.
* **Known.** An earlier window counts as known only when it starts on or
  after the ledger's start: ``config.ledger_start``, else the first 受理日期
  the ledger counts. Before that the ledger cannot tell "no dispute" from
  "not recorded yet", so every figure of that window is null, never 0;
  so is the ``previous`` (and the change) of every year-on-year figure of
  the period (``received_yoy``, the petition counts, ``group_cases``, in
  ``metrics`` and in every breakdown; contract 1.6).
* **Which figures.** :data:`fengqiao.catalogue.COMPARED`: a count as an
  integer, a rate as ``{numerator, denominator, value}``, a year-on-year
  count as its count, a median as its number of days (since 1.6, with the
  window's ``distributions`` beside the figures); each null when the window
  is unknown or the figure is (a missing optional tab).

A roll-up adds the parts' earlier figures like the main ones
(:func:`combine`): an earlier figure is known for the county only when it is
known for every part that has the current figure; an earlier median is
taken again of the parts' summed distributions (a part's file from before
1.6 has none, so the county's earlier median is then null).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from ..catalogue import COMPARED, METRICS
from ..config import Config
from ..ledger import Ledger
from .periods import Period, shift_year
from .shapes import Window, add_figures, median_from_distribution

#: the two earlier periods, in the order pages show them
KINDS = ("previous", "year_ago")
#: how a page and the contract's messages name them
KIND_WORDS = {"previous": "上期", "year_ago": "上年同期"}


def earlier_windows(period: Period, as_of: date) -> dict[str, tuple[Period, date]]:
    """The previous and the year-earlier period of ``period`` as of ``as_of``,
    each with the as-of date it is judged at (see the module's rules)."""
    end = min(period.end, as_of)
    lag = as_of - end
    out: dict[str, tuple[Period, date]] = {}
    for kind, earlier in (("previous", period.previous()), ("year_ago", period.previous_year())):
        if end < period.end:  # still running: the same stretch of the earlier period
            cut = earlier.start + (end - period.start) if kind == "previous" \
                else shift_year(end, -1)
            earlier = Period.custom(earlier.start, min(cut, earlier.end))
        out[kind] = (earlier, earlier.end + lag)
    return out


def known_from(ledger_start: date | None, first_received: date | None) -> date | None:
    """The first day the ledger is taken to hold every dispute: the configured
    ``ledger_start``, else the first 受理日期 it counts; None for an empty
    ledger (then no earlier figure is known)."""
    return ledger_start if ledger_start is not None else first_received


def is_known(earlier: Period, start: date | None) -> bool:
    """Whether the ledger covers ``earlier``: it starts on or after the
    ledger's known start (see :func:`known_from`)."""
    return start is not None and earlier.start >= start


def compared_figures(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of one window that are compared, in the comparison's
    shape: a year-on-year figure gives its count; a rate is copied, so the
    caller's dict is never shared."""
    out: dict[str, Any] = {}
    for metric_id in COMPARED:
        value = metrics.get(metric_id)
        if isinstance(value, Mapping):
            value = value.get("count") if METRICS[metric_id].shape == "change" else dict(value)
        out[metric_id] = value
    return out


def unknown_figures() -> dict[str, None]:
    return dict.fromkeys(COMPARED)


#: each compared median → the distribution it is the median of (the same
#: key as in the file's ``distributions``)
MEDIANS = {"median_days": "days_to_close", "assign_days_median": "assign_days"}


def window_distributions(dist: Mapping[str, int],
                         assign: Mapping[str, int] | None) -> dict[str, dict[str, int]]:
    """The distributions an earlier window carries: 办结天数 always, 交办天数
    when the ledger has the supervision loop's 交办日期."""
    out = {"days_to_close": dict(dist)}
    if assign is not None:
        out["assign_days"] = dict(assign)
    return out


def entry(period: Period, as_of: date, figures: Mapping[str, Any] | None,
          distributions: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One earlier window as metrics.json holds it: its distributions only
    when it is known."""
    out = {"period": period.as_dict(), "as_of": as_of.isoformat(),
           "metrics": dict(figures) if figures is not None else unknown_figures()}
    if figures is not None and distributions is not None:
        out["distributions"] = {k: dict(v) for k, v in distributions.items()}
    return out


class FigureCache:
    """The compared figures of windows already computed for one ledger and
    config. A site build hands one cache to every period it computes, so the
    month before a month (computed just before it) is not computed again."""

    def __init__(self, ledger: Ledger, config: Config) -> None:
        self.ledger = ledger
        self.config = config
        self._figures: dict[Window, tuple[dict[str, Any], dict[str, Any]]] = {}
        #: windows computed for a comparison only (not found in the cache)
        self.extra = 0

    def serves(self, ledger: Ledger, config: Config) -> bool:
        return self.ledger is ledger and self.config is config

    def get(self, window: Window) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The window's compared figures and its distributions, if computed."""
        found = self._figures.get(window)
        return None if found is None else (compared_figures(found[0]),
                                           {k: dict(v) for k, v in found[1].items()})

    def put(self, window: Window, metrics: Mapping[str, Any],
             distributions: Mapping[str, Any]) -> None:
        self._figures[window] = (compared_figures(metrics),
                                 {k: dict(v) for k, v in distributions.items()})


def combine(parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The roll-up's ``comparisons`` (``{}`` when a part has none: a file
    older than 1.4). Each earlier figure is the sum of the parts' (rates
    recomputed from the summed counts) over the parts that have the current
    figure, and null when one of them does not know its earlier figure. The
    windows must agree across the parts (they do when the as-of dates do);
    otherwise the whole comparison is unknown and its period null."""
    if not parts or any(not isinstance(p.get("comparisons"), Mapping) for p in parts):
        return {}
    out: dict[str, Any] = {}
    for kind in KINDS:
        blocks = [p["comparisons"][kind] for p in parts]
        same = all((b["period"], b["as_of"]) == (blocks[0]["period"], blocks[0]["as_of"])
                   for b in blocks)
        figures: dict[str, Any] = unknown_figures()
        summed: dict[str, Any] = {}
        if same:
            for metric_id in COMPARED:
                if metric_id in MEDIANS:
                    continue
                having = [b["metrics"].get(metric_id) for b, p in zip(blocks, parts, strict=True)
                          if p["metrics"].get(metric_id) is not None]
                if having and all(v is not None for v in having):
                    figures[metric_id] = add_figures(having)
            for metric_id, key in MEDIANS.items():
                # the parts that have the distribution now must all have it then
                having = [(b.get("distributions") or {}).get(key)
                          for b, p in zip(blocks, parts, strict=True)
                          if key in (p.get("distributions") or {})]
                if having and all(d is not None for d in having):
                    summed[key] = add_figures(having) or {}
                    figures[metric_id] = median_from_distribution(summed[key])
        out[kind] = {"period": blocks[0]["period"] if same else None,
                     "as_of": blocks[0]["as_of"] if same else None, "metrics": figures}
        if summed:
            out[kind]["distributions"] = summed
    return {"comparisons": out}


def _median_problems(entry: Mapping[str, Any], kind: str) -> list[str]:
    """An earlier median is the median of the window's distribution, and
    null where the window carries none (unknown, or a file before 1.6)."""
    out: list[str] = []
    figures = entry.get("metrics") or {}
    dists = entry.get("distributions") or {}
    for metric_id, key in MEDIANS.items():
        value = figures.get(metric_id)
        dist = dists.get(key)
        expected = median_from_distribution(dict(dist)) if isinstance(dist, Mapping) else None
        if value != expected:
            source = f"distributions/{key} 算出的 {json.dumps(expected)}" if isinstance(dist, Mapping) \
                else f"这一段没有 distributions/{key}，应为 null"
            out.append(f"comparisons/{kind}/metrics/{metric_id}：{json.dumps(value)} 与 {source} 不符。")
    return out


def problems(obj: Mapping[str, Any]) -> list[str]:
    """What the contract checker adds for ``comparisons`` (the JSON Schema
    checks the shapes, the walk every rate's arithmetic): each compared
    figure of ``metrics`` is there, each rate's denominator is its count as
    in ``metrics``, and the year-earlier counts equal the ``previous`` of the
    year-on-year figures."""
    block = obj.get("comparisons")
    if not isinstance(block, Mapping):
        return []
    out: list[str] = []
    metrics = obj.get("metrics") or {}
    # a file before 1.6 compares no medians: theirs may be absent (null)
    wanted = [m for m in COMPARED if m in metrics and m not in MEDIANS]
    # a roll-up's figure that some towns lack covers only the others: not tied
    partial = set(obj.get("missing_figures") or ())
    for kind in KINDS:
        earlier = (block.get(kind) or {}).get("metrics") or {}
        where = f"comparisons/{kind}/metrics"
        lacking = [m for m in wanted if m not in earlier]
        if lacking:
            out.append(f"{where}：缺少 {'、'.join(lacking)}。")
        for metric_id, value in earlier.items():
            metric = METRICS.get(metric_id)
            if metric is None or not isinstance(value, Mapping) or metric_id in partial:
                continue
            for part, word, count_id in (("denominator", "分母", metric.denominator_is),
                                         ("numerator", "分子", metric.numerator_is)):
                count = earlier.get(count_id) if count_id else None
                if count_id and isinstance(count, int) and value.get(part) != count:
                    out.append(f"{where}/{metric_id}：{word} {value.get(part)} 应等于"
                               f"{KIND_WORDS[kind]}的{METRICS[count_id].title} {count}。")
    year = (block.get("year_ago") or {}).get("metrics") or {}
    for metric_id in COMPARED:
        metric = METRICS[metric_id]
        if metric.shape != "change" or metric_id in partial:
            continue
        now, then = metrics.get(metric_id), year.get(metric_id)
        if isinstance(now, Mapping) and isinstance(then, int) and now.get("previous") != then:
            out.append(f"comparisons/year_ago/metrics/{metric_id}：上年同期 {then} "
                       f"与 metrics/{metric_id} 的 previous {json.dumps(now.get('previous'))} 不符。")
    for kind in KINDS:
        out.extend(_median_problems(block.get(kind) or {}, kind))
    received, yoy = year.get("received"), metrics.get("received_yoy")
    if isinstance(received, int) and isinstance(yoy, Mapping) and yoy.get("previous") != received:
        out.append(f"comparisons/year_ago/metrics/received：上年同期 {received} "
                   f"与 metrics/received_yoy 的 previous {json.dumps(yoy.get('previous'))} 不符。")
    return out


__all__ = ["KINDS", "KIND_WORDS", "MEDIANS", "FigureCache", "combine", "compared_figures", "earlier_windows",
           "entry", "is_known", "known_from", "problems", "unknown_figures",
           "window_distributions"]
