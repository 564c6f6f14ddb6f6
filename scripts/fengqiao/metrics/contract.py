"""The published metrics.json contract, version 1: serialisation and checks.

Notes for consumers (the town site publishes one file per period; the county
collects and rolls them up):

* **Bytes.** ``dumps`` is the only way the file is written:
  ``json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2)`` plus a
  trailing newline. Dates are ISO strings; the only wall-clock values are
  ``source.read_at`` and ``source.stale_since``, which come from the source,
  so the same inputs always give byte-identical files (and golden-file diffs).
* **Versions.** ``schema_version`` changes its major part on any breaking
  change of shape; ``definitions_version`` changes whenever a metric
  definition changes, even if the shape does not — compare figures across
  files only when it matches.
* **Counts and rates.** A count is a non-negative integer. A rate is
  ``{"numerator", "denominator", "value"}`` with ``value`` =
  ``round(numerator / denominator, 6)``, and null exactly when the
  denominator is 0 (shown "—", never 0%); :func:`validate_contract`
  compares ``value`` with that rounding exactly, with no tolerance. A rate
  whose numerator is a part of its denominator never exceeds it (the metric
  catalogue, :mod:`fengqiao.catalogue`, names the exceptions). Year-on-year
  figures are ``{"count", "previous", "change"}``, ``change`` null when
  ``previous`` is 0 or null; ``previous`` is null (since 1.6) when the
  year-earlier stretch starts before the ledger's start. A roll-up sums counts, numerators, denominators and
  distributions and recomputes values; it never averages rates.
* **Window.** Figures "in the period" look at ``[period.start,
  min(period.end, as_of)]``: a period still running counts what has happened
  so far. Open/closed states for ``closure_rate``, ``resolution_rate``,
  ``overdue_open`` and ``needs_closure_rate`` are judged at ``as_of``. The
  year-earlier comparison uses the same window shifted back one year.
* **Optional tabs.** ``visit_coverage``, ``key_person_followup_rate``,
  ``reception_compliance`` and ``needs_closure_rate`` are null as a whole when
  their tab or a needed column is missing; in a roll-up they are null only
  when null in every part, and ``missing_figures`` names the towns that lacked
  them. ``reception_basis`` (since 1.1) says whom ``reception_compliance``
  judged: ``roster`` (the 领导名册 tab), ``records`` (leaders with a record
  in the window, when a town keeps no roster), ``mixed`` in a roll-up of
  both, null when the figure is null.
* **Privacy.** No sensitive field (当事人, 简要情况, 备注, 户编号, anything from
  重点人员) appears anywhere; key persons appear only as counts (met / on the
  list, by village, grid and 类别 under ``breakdowns.key_person_category``).
* **The supervision loop** (since 1.2): the figures of DOMAIN.md 4.2
  (``supervised`` … ``key_persons_by_category``), ``breakdowns.unit`` and
  ``breakdowns.leader`` (the accountability views; leaders' names may be
  published, they act in office), ``baselines`` (the counts of 五个底数清
  that are not figures of their own), ``distributions.assign_days`` and,
  on each overdue case, its chases (count, last date and 方式) and whether a
  逾期说明 exists — a boolean, never the text. A 1.1 file lacks all of them
  and stays valid: the JSON Schema requires only the 1.0 figures. In a
  roll-up, a rate some towns lack (``missing_figures``) covers only the
  towns that have it, so it is not tied to the all-town count.
* **Comparisons** (since 1.4): ``comparisons.previous`` (环比) and
  ``comparisons.year_ago`` (同比) give every count and rate of ``metrics``
  (:data:`fengqiao.catalogue.COMPARED`) for the previous period and the same
  period a year earlier, in the same shapes, computed from the same ledger;
  a window that starts before the ledger's start is null throughout, never
  0 (the rules: :mod:`.comparisons`). Since 1.6 a known window also gives
  its medians and the ``distributions`` they are taken of, so a roll-up
  adds the distributions and takes the median again. The checker ties
  their rates to their counts, each median to its distribution and the
  year-earlier counts to the ``previous`` of the year-on-year figures.
* **Roll-up files** (``source.kind == "rollup"``) add ``towns`` (every town
  counted, at any depth below), ``missing_towns`` (expected but absent),
  ``missing_figures`` and the ``by_town`` breakdown; their ``village``/``grid``/
  ``leader`` units are keyed ``"镇名/村名"``, and each overdue case carries
  its ``town``.
* **Levels** (since 1.3): ``level`` is 镇 for a town's own file and 县, 市 or
  省 for a roll-up; a file without it is a 镇, or a 县 when it is a roll-up
  (:func:`level_of`). A roll-up of roll-ups names everything below it by its
  path from the roll-up: towns ``"某县/某镇"``, villages ``"某县/某镇/某村"``
  (each level adds its unit's name in front, so the keys of a flat roll-up
  are those of the nested one with the middle levels taken off). ``units``
  lists the direct units expected (name, level, reporting status, towns
  counted and missing under each: null when unknown), ``by_unit`` their
  figures, ``town_status`` the reporting status of every known town below
  (on time only when every level was on time), ``unknown_units`` the units
  below that sent nothing usable and whose towns cannot be counted; each
  overdue case also names its direct ``unit``.
* **Detail** (since 1.5): ``detail`` is ``full`` (also when absent) or
  ``summary``. Town files and county roll-ups are full. A city's or a
  province's roll-up is a summary (:func:`detail_for`): what is named inside
  a town stays with the county that supervises it, so the file carries no
  ``village``, ``grid`` or ``leader`` breakdown, only the
  :data:`SUMMARY_OVERDUE` longest-overdue cases (the whole count is
  ``metrics.overdue_open``) and ``excluded_rows`` as counts with no rows.
  Every figure, ``by_town``, ``by_unit`` and the summed breakdowns are
  there in full, so a summary rolls up into the next level exactly. Without
  this a 1,000-town file was 107 MB (25,706 grids, 48,546 overdue rows),
  and a 200-town city's went past what a collector accepts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from ..catalogue import METRICS, title
from . import comparisons
from .shapes import CHANGE_KEYS, RATE_KEYS, median_from_distribution, ratio

SCHEMA_VERSION = "1.6"
DEFINITIONS_VERSION = "2026.3"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "contract" / "metrics.schema.json"
#: the administrative levels, lowest first: a roll-up's units lie below it
LEVELS = ("镇", "县", "市", "省")
TOWN = LEVELS[0]
#: what a roll-up without ``level`` (a county file before 1.3) is
OLD_ROLLUP_LEVEL = "县"
#: the two values of ``detail`` (since 1.5)
FULL = "full"
SUMMARY = "summary"
#: how many overdue cases a summary keeps, longest overdue first
SUMMARY_OVERDUE = 100
#: the breakdowns a summary leaves out: units named inside a town
SUMMARY_OMITS = ("village", "grid", "leader")


def level_of(contract: dict[str, Any]) -> str:
    """A file's level: as written, else (a file before 1.3) 县 for a
    roll-up and 镇 for a town's own file."""
    level = contract.get("level")
    if isinstance(level, str) and level in LEVELS:
        return level
    source = contract.get("source")
    kind = source.get("kind") if isinstance(source, dict) else None
    return OLD_ROLLUP_LEVEL if kind == "rollup" else TOWN


#: what a roll-up's direct units are called, by their own level
UNIT_WORDS = {"镇": "乡镇", "县": "县（市、区）", "市": "市（州、盟）"}
#: units of more than one level (a town directly under a city beside counties)
MIXED_UNITS = "下级单位"


def units_word(level: str, unit_levels: Iterable[str | None] = (),
               words: Mapping[str, str] = UNIT_WORDS) -> str:
    """What a roll-up at ``level`` calls its direct units: by the levels
    their files state (a province collecting its towns directly calls them
    乡镇, not 市), else the level just below its own. ``words`` gives the
    word per level (the Word report uses the formal 镇（街道）)."""
    known = {u for u in unit_levels if u is not None and u in words}
    if len(known) > 1:
        return MIXED_UNITS
    if known:
        return words[known.pop()]
    return words[LEVELS[max(LEVELS.index(level) - 1, 0)]]


def units_are_towns(level: str, unit_levels: Iterable[str | None] = ()) -> bool:
    """Whether a roll-up's direct units are the towns themselves: then its
    pages, messages and tables say nothing separate about "the towns
    underneath" (a province collecting its towns directly would otherwise
    count the same 1,000 towns twice, once as units and once below them).
    By the levels the units' files state, else by the level below its own."""
    known = {u for u in unit_levels if u in LEVELS}
    if known:
        return known == {TOWN}
    return LEVELS.index(level) == 1


def is_below(level: str, upper: str) -> bool:
    """Whether ``level`` lies strictly below ``upper`` (镇 below 县 …)."""
    return LEVELS.index(level) < LEVELS.index(upper)


def detail_for(level: str) -> str:
    """A roll-up above a county (市, 省) publishes a summary; a town's file
    and a county's roll-up everything (the county supervises the cases)."""
    return SUMMARY if is_below("县", level) else FULL


def detail_of(contract: dict[str, Any]) -> str:
    """A file's detail as written; full when absent (every file before 1.5)."""
    return SUMMARY if contract.get("detail") == SUMMARY else FULL


def overdue_order(row: dict[str, Any]) -> tuple[Any, ...]:
    """The one order of an overdue list, longest overdue first (ties by
    town, receipt and id), so a summary's cases are the first rows of the
    full list, and each unit's first rows contain the area's."""
    return (-row["days_overdue"], str(row.get("town") or ""), str(row.get("received_date") or ""),
            str(row["id"]))


def dumps(contract: dict[str, Any]) -> str:
    """The canonical text of a metrics file: exactly
    ``json.dumps(contract, ensure_ascii=False, sort_keys=True, indent=2)``
    plus a newline, written faster (see :func:`_indented`)."""
    if _c_make_encoder is None:  # pragma: no cover - CPython always has the C encoder
        return json.dumps(contract, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
    out: list[str] = []
    _indented(contract, 0, out)
    out.append("\n")
    return "".join(out)


_INDENT = "  "
#: the types the C encoder writes as they are; a container holding only these is "flat"
_SCALARS = frozenset({str, int, float, bool, type(None)})
_c_make_encoder: Callable[..., Any] | None = getattr(json.encoder, "c_make_encoder", None)


def _not_serializable(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


@cache
def _flat_encoder(level: int) -> Callable[[Any], str]:
    """The C encoder for a value at nesting ``level`` whose items are all
    scalars, its item separator being the line break and indentation that
    ``indent=2`` puts between items at that depth."""
    assert _c_make_encoder is not None
    encode = _c_make_encoder(None, _not_serializable, json.encoder.encode_basestring, None,
                             ": ", ",\n" + _INDENT * (level + 1), True, False, True)
    return lambda value: "".join(encode(value, 0))


def _indented(node: Any, level: int, out: list[str]) -> None:
    """``node`` as ``json.dumps(..., indent=2, sort_keys=True)`` writes it at
    nesting ``level``. Python's encoder runs in pure Python whenever an
    indent is asked for (a million calls for a large overdue list); here a
    flat dict or list (the overdue cases, rates, excluded rows) goes through
    the C encoder in one call, its separators carrying the indentation, and
    Python only walks the containers that hold containers. The bytes are the
    same because a JSON string never holds a raw line break, so each
    ``,\n`` the C encoder writes is a separator (tests compare the two)."""
    inner = _INDENT * (level + 1)
    if isinstance(node, dict):
        if not node:
            out.append("{}")
        elif _SCALARS.issuperset(map(type, node.values())):
            text = _flat_encoder(level)(node)
            out.append(f"{{\n{inner}{text[1:-1]}\n{_INDENT * level}}}")
        elif not all(type(k) is str for k in node):  # keys json converts: the stdlib's own way
            text = json.dumps(node, ensure_ascii=False, sort_keys=True, indent=2)
            out.append(text.replace("\n", "\n" + _INDENT * level))
        else:
            out.append("{\n" + inner)
            for k, key in enumerate(sorted(node)):
                if k:
                    out.append(",\n" + inner)
                out.append(json.encoder.encode_basestring(key) + ": ")
                _indented(node[key], level + 1, out)
            out.append("\n" + _INDENT * level + "}")
    elif isinstance(node, list | tuple):
        if not node:
            out.append("[]")
        elif _SCALARS.issuperset(map(type, node)):
            text = _flat_encoder(level)(node)
            out.append(f"[\n{inner}{text[1:-1]}\n{_INDENT * level}]")
        else:
            out.append("[\n" + inner)
            for k, item in enumerate(node):
                if k:
                    out.append(",\n" + inner)
                _indented(item, level + 1, out)
            out.append("\n" + _INDENT * level + "]")
    else:
        out.append(_flat_encoder(level)(node))


@cache
def json_schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return data


def _where(path: list[Any] | tuple[Any, ...]) -> str:
    return "/".join(str(p) for p in path) or "（根）"


def _rate_problems(node: dict[str, Any], path: tuple[Any, ...]) -> list[str]:
    """One rate object: its value must be exactly ``round(n / d, 6)`` (null
    when d is 0), and a rate whose numerator is a part of its denominator
    (the catalogue says which) cannot exceed it. The comparison is exact,
    not within a tolerance: the contract fixes the rounding, and fengqiao
    writes every file, so a value off in the seventh digit was altered."""
    n, d, v = node["numerator"], node["denominator"], node["value"]
    if not (isinstance(n, int) and isinstance(d, int)):
        return []  # the schema names the wrong type
    out: list[str] = []
    expected = ratio(n, d)
    if v != expected:
        out.append(f"{_where(path)}：比率值 {v} 与 分子 {n} ÷ 分母 {d} 不符（应为 {expected}）。")
    if n < 0 or d < 0:
        out.append(f"{_where(path)}：分子和分母不能为负数。")
    else:
        metric = METRICS.get(str(path[-1])) if path else None
        if metric is not None and not metric.may_exceed_one and n > d:
            out.append(f"{_where(path)}：分子 {n} 不能大于分母 {d}。")
    return out


#: the keys whose integers may be negative
_SIGNED = frozenset({"change", "days_overdue"})


def _walk(node: Any, path: tuple[Any, ...], problems: list[str]) -> None:
    """Every rate and change object's arithmetic and every negative count,
    in document order. A roll-up checks a thousand files of some 5,000
    values each, so a leaf is looked at in its parent's loop, never by a
    call of its own, and a path is built only for a container."""
    if isinstance(node, dict):
        if len(node) == 3:
            keys = node.keys()
            if keys == RATE_KEYS:
                problems.extend(_rate_problems(node, path))
            elif keys == CHANGE_KEYS:
                _change_problems(node, path, problems)
        items: Any = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, value in items:
        if isinstance(value, dict | list):
            _walk(value, (*path, key), problems)
        elif type(value) is int and value < 0 and key not in _SIGNED:
            problems.append(f"{_where((*path, key))}：计数 {value} 不能为负数。")


def _change_problems(node: dict[str, Any], path: tuple[Any, ...], problems: list[str]) -> None:
    c, p, ch = node["count"], node["previous"], node["change"]
    if isinstance(c, int) and (p is None or isinstance(p, int)):
        expected = None if not p else round((c - p) / p, 6)
        if ch != expected:
            problems.append(f"{_where(path)}：同比变化 {json.dumps(ch)} 与本期 {c}、"
                            f"上年同期 {json.dumps(p)} 不符（应为 {json.dumps(expected)}）。")


def _identities(obj: dict[str, Any], problems: list[str]) -> None:
    m = obj["metrics"]
    dist = obj["distributions"]["days_to_close"]
    if m["pending_start"] + m["received"] != m["pending_end"] + m["closed"]:
        problems.append(
            "metrics：期初在办 + 受理数 应等于 期末在办 + 办结数，"
            f"实际是 {m['pending_start']} + {m['received']} ≠ {m['pending_end']} + {m['closed']}。")
    if sum(dist.values()) != m["closed"]:
        problems.append(f"distributions/days_to_close：合计 {sum(dist.values())} 与办结数 {m['closed']} 不符。")
    if sum(m["level_mix"].values()) != m["closed"]:
        problems.append(f"metrics/level_mix：合计 {sum(m['level_mix'].values())} 与办结数 {m['closed']} 不符。")
    median = median_from_distribution(dist)
    if m["median_days"] != median:
        problems.append(f"metrics/median_days：{m['median_days']} 与办结天数分布算出的 {median} 不符。")
    for metric in METRICS.values():
        if m.get(metric.id) is None:  # a null optional figure, or one an older file lacks
            continue
        if metric.id in (obj.get("missing_figures") or {}):
            continue  # a roll-up over only the towns that have it: a part of the count
        for part, word, count_id in (("denominator", "分母", metric.denominator_is),
                                     ("numerator", "分子", metric.numerator_is)):
            if count_id is not None and m[metric.id][part] != m[count_id]:
                problems.append(f"metrics/{metric.id}：{word}应等于{title(count_id)} {m[count_id]}。")
    _loop_identities(obj, problems)
    _rollup_identities(obj, problems)
    problems.extend(comparisons.problems(obj))
    if m["resolved"] > m["closed"]:
        problems.append(f"metrics：化解数 {m['resolved']} 不能大于办结数 {m['closed']}。")
    if m["backlog_cleared"] > m["backlog_start"]:
        problems.append("metrics：积案化解数不能大于积案数。")


def _loop_identities(obj: dict[str, Any], problems: list[str]) -> None:
    """The 1.2 figures: each mix adds up to the count it splits, and the
    交办 median is the median of its distribution (absent keys: a 1.1 file)."""
    m = obj["metrics"]
    for mix, whole in (("status_mix", "closed"), ("star_mix", "received")):
        if isinstance(m.get(mix), dict) and sum(m[mix].values()) != m[whole]:
            problems.append(f"metrics/{mix}：合计 {sum(m[mix].values())} 与{title(whole)} {m[whole]} 不符。")
    force = m.get("force_mix")
    if isinstance(force, dict) and sum(v["closed"] for v in force.values()) != m["closed"]:
        problems.append(f"metrics/force_mix：各项办结数之和与办结数 {m['closed']} 不符。")
    if "assign_days" in obj["distributions"] or m.get("assign_days_median") is not None:
        median = median_from_distribution(obj["distributions"].get("assign_days", {}))
        if m.get("assign_days_median") != median:
            problems.append(f"metrics/assign_days_median：{m.get('assign_days_median')} "
                            f"与交办天数分布算出的 {median} 不符。")
    if isinstance(m.get("supervised"), int) and isinstance(m.get("supervision_count"), int) \
            and m["supervised"] > m["supervision_count"]:
        problems.append("metrics：督办件数不能大于督办次数。")


def _rollup_identities(obj: dict[str, Any], problems: list[str]) -> None:
    """The 1.3 keys of a roll-up agree with each other: a town's own file is
    no roll-up, every unit lies below the file's level, the units' towns add
    up to ``towns``, and ``town_status`` names exactly the towns listed."""
    level = level_of(obj)
    rollup = (obj.get("source") or {}).get("kind") == "rollup"
    if "level" in obj and rollup == (level == TOWN):
        word = "汇总文件的层级不能是镇" if rollup else f"乡镇自己的文件层级应是镇，写的是{level}"
        problems.append(f"level：{word}。")
        return
    _detail_identities(obj, level, problems)
    units = obj.get("units")
    if not isinstance(units, list):
        return
    for unit in units:
        if unit.get("level") is not None and not is_below(unit["level"], level):
            problems.append(f"units：{unit['name']} 的层级是{unit['level']}，不低于本级（{level}）。")
    towns = obj.get("towns") or []
    counted = sum(u.get("towns", 0) for u in units)
    if counted != len(towns):
        problems.append(f"units：各单位计入的乡镇数之和 {counted} 与 towns 的 {len(towns)} 个不符。")
    status = obj.get("town_status")
    if isinstance(status, dict):
        listed = set(towns) | set(obj.get("missing_towns") or [])
        if set(status) != listed:
            problems.append("town_status：列出的乡镇与 towns 和 missing_towns 不一致。")


def _detail_identities(obj: dict[str, Any], level: str, problems: list[str]) -> None:
    """A summary is a city's or a province's, and leaves out exactly what it
    says; a full file has the village and grid breakdowns."""
    breakdowns = obj["breakdowns"]
    if detail_of(obj) == FULL:
        absent = [k for k in ("village", "grid") if k not in breakdowns]
        if absent:
            problems.append(f"breakdowns：缺少 {'、'.join(absent)}（只有 detail 为 summary 的市、省级汇总可以不带）。")
        return
    if not is_below("县", level):
        problems.append(f"detail：{level}级文件不能是 summary，只有市、省级汇总只带摘要。")
    extra = [k for k in SUMMARY_OMITS if k in breakdowns]
    if extra:
        problems.append(f"breakdowns：summary 文件不应带 {'、'.join(extra)}。")
    overdue = obj["overdue"]
    if len(overdue) > min(SUMMARY_OVERDUE, obj["metrics"]["overdue_open"]):
        problems.append(f"overdue：summary 文件最多列 {SUMMARY_OVERDUE} 件，且不超过逾期在办数，"
                        f"实际列了 {len(overdue)} 件。")
    listed = [r for tab in obj["excluded_rows"].values() for r in tab.get("rows", [])]
    if listed:
        problems.append("excluded_rows：summary 文件只带行数，不列行。")


@cache
def _schema_validator() -> Any:
    """The JSON Schema compiled once by jsonschema-rs (Rust): it answers
    whether a town's file is valid in about 0.4 ms, against 4.7 ms for the
    closures fengqiao compiled itself before and 0.1 s for jsonschema
    (bench/RESULTS.md, province roll-up); a 1,000-town roll-up checks 1,000."""
    import jsonschema_rs

    return jsonschema_rs.validator_for(json_schema())


def schema_is_valid(obj: Any) -> bool:
    """Whether ``obj`` follows the contract's JSON Schema (a yes or no only:
    :func:`validate_contract` asks jsonschema for the messages of a file
    that does not, so every message stays jsonschema's own)."""
    return bool(_schema_validator().is_valid(obj))


def validate_contract(obj: Any) -> list[str]:
    """Every problem with a metrics file: JSON Schema errors first, then the
    arithmetic a consumer relies on (rate values, null iff denominator 0,
    non-negative counts, parts within their whole, the pending identity).
    Empty list = valid.

    The one checker: the town's own tests and ``county collect`` both call
    it, so a file the county accepts is exactly a file the town could have
    written."""
    problems: list[str] = []
    if not schema_is_valid(obj):
        # jsonschema words every problem; the quick check only says whether
        # there is one (a valid file, the usual case, never reaches here)
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(json_schema())
        problems = [f"{_where(list(e.absolute_path))}：{e.message}"
                    for e in sorted(validator.iter_errors(obj),
                                    key=lambda e: list(map(str, e.absolute_path)))]
    _walk(obj, (), problems)
    if not problems:
        try:
            _identities(obj, problems)
        except (KeyError, TypeError) as exc:  # pragma: no cover - schema guards the shape
            problems.append(f"结构不完整：{exc}")
    return problems
