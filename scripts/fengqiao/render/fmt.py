"""How figures read on a page: one formatting rule per kind of value.

A rate whose denominator is 0 is "—", never 0%; a figure that needs a
missing tab is "—" too. Tables are built column-wise from frames.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pandas as pd

from .. import catalogue
from ..privacy import escape_html, escape_html_series, escape_md, escape_md_series

DASH = "—"

#: times on the pages are China Standard Time, whatever zone the file recorded
CHINA = timezone(timedelta(hours=8), "CST")


#: the statistics table lists counts, then rates, then days, then year-on-year
#: figures, each group in catalogue order
COUNTS = catalogue.ids(shape="count")
RATES = catalogue.ids(kind="rate")
DAYS = catalogue.ids(kind="days")
CHANGES = catalogue.ids(shape="change")
#: the figures the home page shows for each current period
KEY_FIGURES = catalogue.KEY_FIGURES


def title(metric: str) -> str:
    """Chinese metric names come from one table, the metric catalogue."""
    return catalogue.title(metric)


def pct(value: Any, digits: int = 1) -> str:
    """0.8571 → 85.7%; a rate dict is read for its value; None → —."""
    if isinstance(value, Mapping):
        value = value.get("value")
    if value is None or (isinstance(value, float) and value != value):
        return DASH
    text = f"{float(value) * 100:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text + "%"


def target_pct(value: Any) -> str:
    return pct(value, 1)


def num(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("value", value.get("count"))
    if value is None or (isinstance(value, float) and value != value):
        return DASH
    if isinstance(value, float):
        return f"{value:.1f}".rstrip("0").rstrip(".")
    return str(value)


def days(value: Any) -> str:
    text = num(value)
    return text if text == DASH else f"{text} 天"


def year_ago_words(value: Mapping[str, Any]) -> str:
    """The bracket after a year-on-year count: "上年同期 8，+50%"; only
    "上年同期 —" when the ledger does not reach back that far."""
    previous, ch = value.get("previous"), value.get("change")
    if previous is None:
        return f"上年同期 {DASH}"
    sign = "" if ch is None or ch < 0 else "+"
    return f"上年同期 {previous}，{sign}{pct(ch)}"


def change(value: Any) -> str:
    """{"count", "previous", "change"} → "12（上年同期 8，+50%）"."""
    if not isinstance(value, Mapping):
        return DASH
    return f"{value.get('count')}（{year_ago_words(value)}）"


def cn_date(value: Any) -> str:
    if value in (None, ""):
        return DASH
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return escape_md(value)
    if isinstance(value, datetime | date):
        return f"{value.year}年{value.month}月{value.day}日"
    return escape_md(value)


def cn_datetime(value: Any) -> str:
    if value in (None, ""):
        return DASH
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return escape_md(value)
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(CHINA)
        return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
    return cn_date(value)


def period_title(period: Mapping[str, Any]) -> str:
    """2024-Q1 → 2024年第一季度; shown in headings and navigation."""
    label = str(period["label"])
    kind = period.get("kind")
    if kind == "month":
        y, m = label.split("-")
        return f"{int(y)}年{int(m)}月"
    if kind == "quarter":
        y, q = label.split("-Q")
        return f"{y}年第{'一二三四'[int(q) - 1]}季度"
    if kind == "half":
        y, h = label.split("-H")
        return f"{y}年{'上下'[int(h) - 1]}半年"
    if kind == "year":
        return f"{label}年"
    return label


def _cell(value: Any) -> Any:
    return value.get("value") if isinstance(value, Mapping) else value


#: the page that explains every figure once, and its anchors (the metric ids)
DEFINITIONS_PAGE = "definitions.md"


def definition_link(metric: str, page: str = DEFINITIONS_PAGE) -> str:
    """A figure's title linked to its entry on the 指标解释 page."""
    return f"[{title(metric)}]({page}#{metric})"


def note(metric: str) -> str:
    """The short note beside a table row: what the numerator and the
    denominator are ("已办结 ÷ 受理"), or what a count counts."""
    entry = catalogue.METRICS.get(metric)
    return DASH if entry is None else entry.short_note()


def _signed(number: float, digits: int = 1) -> str:
    text = f"{number:+.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("+0", "-0") else text


def _count_of(value: Any) -> int | None:
    """A count, or the count of a year-on-year figure; None when unknown."""
    if isinstance(value, Mapping):
        value = value.get("count")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _value_of(value: Any) -> float | None:
    if isinstance(value, Mapping):
        value = value.get("value")
    return None if value is None or isinstance(value, bool) else float(value)


def earlier_cells(metric: str, now: Any, then: Any) -> tuple[str, str]:
    """(the earlier figure, the change) for one row: a count and its change in
    per cent ("+25%"), a rate and its change in percentage points
    ("+3.2 个百分点"), a days figure and its change in days. "—" when the
    earlier figure is unknown, when a rate's denominator is 0, or when a
    count's earlier value is 0 (no percentage of nothing)."""
    if metric in DAYS:
        before, after = _value_of(then), _value_of(now)
        shown = days(before)
        diff = DASH if before is None or after is None else f"{_signed(after - before)} 天"
        return shown, diff
    if metric in RATES:
        before, after = _value_of(then), _value_of(now)
        diff = DASH if before is None or after is None \
            else f"{_signed((after - before) * 100)} 个百分点"
        return pct(before), diff
    old, new = _count_of(then), _count_of(now)
    diff = DASH if old is None or new is None or old == 0 else f"{_signed((new - old) / old * 100)}%"
    return num(old), diff


def metric_rows(metrics: Mapping[str, Any], targets: Mapping[str, float],
                comparisons: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per figure for the statistics table, in DOMAIN.md order, each
    with its short note and, from ``comparisons`` (metrics.json 1.4), the
    previous period's and the year-earlier figure with their changes ("—"
    throughout for an older file)."""
    rows: list[dict[str, str]] = []
    for key in COUNTS:
        if key in metrics:
            rows.append({"id": key, "title": title(key), "numerator": DASH, "denominator": DASH,
                         "value": num(metrics[key]), "target": DASH, "status": DASH})
    for key in RATES:
        if key not in metrics:
            continue
        r = metrics[key]
        if not isinstance(r, Mapping):  # optional tab missing: the whole figure is null
            rows.append({"id": key, "title": title(key), "numerator": DASH,
                         "denominator": DASH, "value": DASH, "target": pct(targets.get(key)),
                         "status": "缺少数据表" if key in targets else DASH})
            continue
        target = targets.get(key)
        value = r.get("value")
        if target is None or value is None:
            status = DASH
        else:
            status = "达标" if value >= target else "未达标"
        rows.append({"id": key, "title": title(key), "numerator": num(r.get("numerator")),
                     "denominator": num(r.get("denominator")), "value": pct(value),
                     "target": pct(target), "status": status})
    for key in DAYS:
        if key not in metrics:
            continue
        # a days figure shows days, never its numerator and denominator as a
        # fraction ("1472/75"): the note names them in words
        rows.append({"id": key, "title": title(key), "numerator": DASH, "denominator": DASH,
                     "value": days(_cell(metrics[key])), "target": DASH, "status": DASH})
    for key in CHANGES:
        if key in metrics:
            # with comparisons the 上年同期/同比 columns carry the year-earlier
            # count (null before the ledger's start), so the cell is the count
            value = num(metrics[key]) if comparisons else change(metrics[key])
            rows.append({"id": key, "title": title(key), "numerator": DASH, "denominator": DASH,
                         "value": value, "target": DASH, "status": DASH})
    for row in rows:
        row["note"] = note(row["id"])
        row["counted"] = counted_note(row["id"], metrics.get(row["id"]))
        _add_earlier(row, metrics, comparisons or {})
    return rows


def counted_note(metric: str, value: Any) -> str:
    """The note with the counts in it, "已办结 9 ÷ 受理 12", for a rate whose
    counts are known; a days figure and a count keep the words alone (a
    days figure is never shown as a fraction such as "1472/75")."""
    entry = catalogue.METRICS.get(metric)
    if entry is None or not isinstance(value, Mapping):
        return note(metric)
    return entry.counted_note(num(value.get("numerator")), num(value.get("denominator")))


def _add_earlier(row: dict[str, str], metrics: Mapping[str, Any],
                 comparisons: Mapping[str, Any]) -> None:
    """The 上期/环比 and 上年同期/同比 cells of one row."""
    key = row["id"]
    for kind in ("previous", "year_ago"):
        block = comparisons.get(kind)
        figures = block.get("metrics") if isinstance(block, Mapping) else None
        if isinstance(figures, Mapping) and key in figures:
            row[kind], row[f"{kind}_change"] = earlier_cells(key, metrics.get(key), figures[key])
        else:  # an older file, or a figure not compared (a median)
            row[kind], row[f"{kind}_change"] = DASH, DASH


def breakdown_columns(groups: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The figures a breakdown table shows, in contract order."""
    present: set[str] = set()
    for figures in groups.values():
        present.update(figures)
    order = (*COUNTS, *RATES, *DAYS)
    return [k for k in order if k in present and k != "level_mix"]


def breakdown_table(groups: Mapping[str, Mapping[str, Any]], first: str,
                    columns: Sequence[str] | None = None) -> str:
    """Markdown table of a breakdown (village, type, source …)."""
    if not groups:
        return "（本期没有数据）\n"
    cols = list(columns) if columns is not None else breakdown_columns(groups)
    head = "| " + " | ".join([first, *[title(c) for c in cols]]) + " |"
    sep = "|" + "---|" * (len(cols) + 1)
    lines = [head, sep]
    for name in sorted(groups):
        figures = groups[name]
        cells = [escape_md(name)]
        for c in cols:
            v = figures.get(c)
            cells.append(pct(v) if c in RATES or (isinstance(v, Mapping) and c not in DAYS)
                         else (days(_cell(v)) if c in DAYS else num(v)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


#: the most figures one breakdown table carries beside its first column: a
#: table of up to 8 columns reads on a laptop screen and on A4 without scrolling
BREAKDOWN_WIDTH = 7


def table_parts(figures: Sequence[str]) -> list[list[str]]:
    """Figures of one group in tables of at most :data:`BREAKDOWN_WIDTH`:
    counts, rates and days stay together where they fit, and a run longer
    than a table is cut into even pieces."""
    def kind(key: str) -> str:
        return "rate" if key in RATES else "days" if key in DAYS else "count"

    runs: list[list[str]] = []
    for key in figures:
        if runs and kind(runs[-1][-1]) == kind(key):
            runs[-1].append(key)
        else:
            runs.append([key])
    pieces: list[list[str]] = []
    for run in runs:
        n = -(-len(run) // BREAKDOWN_WIDTH)
        size = -(-len(run) // n)
        pieces += [run[i:i + size] for i in range(0, len(run), size)]
    tables: list[list[str]] = []
    for piece in pieces:
        if tables and len(tables[-1]) + len(piece) <= BREAKDOWN_WIDTH:
            tables[-1] += piece
        else:
            tables.append(list(piece))
    return tables


def breakdown_groups(groups: Mapping[str, Mapping[str, Any]], first: str) -> list[dict[str, str]]:
    """A breakdown (by village, type, source …) as narrow tables, one per
    group of the 指标解释 page (``catalogue.GROUPS``, so both pages sort the
    figures the same way), each with ``first`` as its first column; a group
    wider than a table continues in a second one titled "（续）"."""
    if not groups:
        return [{"title": "", "table": "（本期没有数据）\n"}]
    present = breakdown_columns(groups)
    sections = [(heading, [c for c in members if c in present])
                for heading, members in catalogue.GROUPS]
    grouped = {c for _, members in catalogue.GROUPS for c in members}
    sections.append(("其他", [c for c in present if c not in grouped]))
    out = []
    for heading, figures in sections:
        for i, part in enumerate(table_parts(figures)):
            out.append({"title": heading if i == 0 else f"{heading}（续）",
                        "table": breakdown_table(groups, first, part)})
    return out or [{"title": "", "table": breakdown_table(groups, first, [])}]


def frame_table(frame: pd.DataFrame, columns: Mapping[str, str], *, empty: str = "（无）") -> str:
    """A Markdown table from a frame, built column by column; every cell is
    escaped, so ledger text can never become markup."""
    cols = [c for c in columns if c in frame.columns]
    if frame.empty or not cols:
        return empty + "\n"
    head = "| " + " | ".join(columns[c] for c in cols) + " |"
    sep = "|" + "---|" * len(cols)
    body = pd.Series("| ", index=frame.index, dtype="string")
    for i, c in enumerate(cols):
        body = body + escape_md_series(_display(frame[c])) + (" |" if i == len(cols) - 1 else " | ")
    return "\n".join([head, sep, *body.tolist()]) + "\n"


def html_table(frame: pd.DataFrame, columns: Mapping[str, str], *, row_class: pd.Series | None = None,
               table_class: str = "fq-table", empty: str = "（无）",
               filters: Mapping[str, str] | None = None,
               groups: Mapping[str, pd.Series] | None = None, scroll: bool = False) -> str:
    """An HTML table (for rows that need a CSS class, such as overdue cases);
    Markdown inside raw HTML is not processed, so cells are HTML-escaped.

    ``filters`` (column → label) marks the columns a reader can filter the
    list by in the page (``assets/fengqiao.js`` reads the marks; without
    JavaScript the whole table shows); ``groups`` gives a filtered column a
    value per row other than its text ("已逾期" for "逾期 3 天"). ``scroll``
    puts the table in its own scrolling box, so its header stays in view."""
    cols = [c for c in columns if c in frame.columns]
    if frame.empty or not cols:
        return f"<p>{empty}</p>\n"
    marks = filters or {}
    head = "".join(f'<th data-fq-filter="{escape_html(marks[c])}">{columns[c]}</th>' if c in marks
                   else f"<th>{columns[c]}</th>" for c in cols)
    if row_class is None:
        opening = pd.Series("<tr>", index=frame.index, dtype="string")
    else:
        cls = row_class.reindex(frame.index).astype("string").fillna("")
        opening = ("<tr class=\"" + cls + "\">").where(cls != "", "<tr>")
    body = opening
    for c in cols:
        cell = "<td>"
        if groups and c in groups:
            cell = '<td data-fq="' + escape_html_series(groups[c].reindex(frame.index)) + '">'
        body = body + cell + escape_html_series(_display(frame[c])) + "</td>"
    body = body + "</tr>"
    table = (f'<table class="{table_class}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n'
             + "\n".join(body.tolist()) + "\n</tbody>\n</table>\n")
    return f'<div class="fq-scroll">\n{table}</div>\n' if scroll else table


def _display(column: pd.Series) -> pd.Series:
    """Dates as 2024-03-05, numbers without .0, missing as —."""
    if pd.api.types.is_datetime64_any_dtype(column):
        text = column.dt.strftime("%Y-%m-%d").astype("string")
    elif pd.api.types.is_bool_dtype(column):
        text = column.map({True: "是", False: "否"}).astype("string")
    elif pd.api.types.is_float_dtype(column):
        text = column.round(1).astype("string").str.replace(r"\.0$", "", regex=True)
    else:
        text = column.astype("string")
    return text.fillna(DASH).replace("", DASH)


#: where the key-person counts are shown, in page order: breakdown key → heading
KEY_PERSON_BREAKDOWNS = (("key_person_category", "类别"), ("grid", "网格"), ("village", "村(社区)"))


def key_person_table(units: Mapping[str, Mapping[str, Any]], first: str) -> str:
    """Met / not met counts of key persons per unit, from their rate objects;
    only counts exist in the contract, so nothing here can name a person."""
    lines = [f"| {first} | 人数 | 达标 | 未达标 | {title('key_person_followup_rate')} |",
             "|---|---|---|---|---|"]
    for name in sorted(units):
        r = units[name]
        met, total = int(r["numerator"]), int(r["denominator"])
        lines.append(f"| {escape_md(name)} | {total} | {met} | {total - met} | {pct(r)} |")
    return "\n".join(lines) + "\n"


def key_person_sections(breakdowns: Mapping[str, Any]) -> list[dict[str, str]]:
    """The key-person tables of a statistics page: units with someone on the list."""
    out = []
    for key, what in KEY_PERSON_BREAKDOWNS:
        units = {unit: body.get("key_person_followup_rate")
                 for unit, body in (breakdowns.get(key) or {}).items()}
        shown = {u: r for u, r in units.items() if isinstance(r, Mapping) and r.get("denominator")}
        if shown:
            out.append({"title": what, "table": key_person_table(shown, what)})
    return out


# -- the supervision loop (DOMAIN.md 4.2) -------------------------------------------


def pct_counts(value: Any) -> str:
    """A rate with its counts beside it, "85.7%（6/7）", so a reader sees the
    denominator; a null figure is "—"."""
    if not isinstance(value, Mapping):
        return DASH
    return f"{pct(value)}（{value.get('numerator')}/{value.get('denominator')}）"


#: the accountability columns in page order: figure id → header
ACCOUNTABILITY_COLUMNS = (
    ("received", "受理数"), ("closed", "办结数"), ("on_time_rate", "按期办结率（按期/办结）"),
    ("overdue_open", "逾期在办"), ("satisfaction_rate", "满意率（满意/有评价）"),
    ("supervised", "督办件数"), ("overdue_explained_rate", "逾期说明率（有说明/逾期）"),
)


def accountability_table(units: Mapping[str, Mapping[str, Any]], first: str,
                         columns: Sequence[tuple[str, str]] = ACCOUNTABILITY_COLUMNS) -> str:
    """By-unit or by-leader figures, each rate with its numerator and
    denominator; units with an overdue case first, then by name."""
    if not units:
        return "（本期没有数据）\n"
    lines = ["| " + " | ".join([first, *[h for _, h in columns]]) + " |",
             "|" + "---|" * (len(columns) + 1)]
    order = sorted(units, key=lambda u: (-int(units[u].get("overdue_open") or 0), u))
    for name in order:
        body = units[name]
        cells = [escape_md(name)]
        for key, _ in columns:
            v = body.get(key)
            cells.append(pct_counts(v) if key.endswith("_rate") else num(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def mix_table(mix: Mapping[str, Any] | None, first: str, unit: str = "件数",
              labels: Mapping[str, str] | None = None) -> str:
    """A mix (counts by category) as a two-column table; "" when null."""
    if not isinstance(mix, Mapping) or not mix:
        return ""
    names = labels or {}
    lines = [f"| {first} | {unit} |", "|---|---|"]
    lines += [f"| {escape_md(names.get(k, k))} | {num(v)} |" for k, v in mix.items()]
    return "\n".join(lines) + "\n"


def force_table(mix: Mapping[str, Any] | None) -> str:
    """调解力量: closed cases per force with its first-try success rate."""
    if not isinstance(mix, Mapping) or not mix:
        return ""
    lines = [f"| 调解力量 | 办结件数 | {title('first_try_rate')}（成功/办结） |", "|---|---|---|"]
    for name, body in mix.items():
        lines.append(f"| {escape_md(name)} | {num(body.get('closed'))} | "
                     f"{pct_counts(body.get('first_try_rate'))} |")
    return "\n".join(lines) + "\n"


STAR_WORDS = {"1": "一星", "2": "二星", "3": "三星"}


def _n(value: Any, unit: str = "件") -> str:
    text = num(value)
    return text if text == DASH else f"{text} {unit}"


def _change_words(value: Any, unit: str = "件") -> str:
    if not isinstance(value, Mapping):
        return DASH
    return f"{value.get('count')} {unit}（{year_ago_words(value)}）"


def baseline_rows(contract: Mapping[str, Any]) -> list[dict[str, str]]:
    """五个底数清 as five rows (DOMAIN.md 4.2), from the figures and the
    ``baselines`` block; [] for a file older than 1.2, which has no block."""
    base = contract.get("baselines")
    if not isinstance(base, Mapping):
        return []
    m = contract["metrics"]
    stars = m.get("star_mix") or {}
    types = base.get("types") or {}
    persons = m.get("key_persons_by_category")
    person_text = DASH if not isinstance(persons, Mapping) else (
        f"共 {sum(persons.values())} 人：" + "、".join(f"{k} {v} 人" for k, v in persons.items())
        if persons else "0 人")
    households = base.get("households")
    return [
        {"title": "矛盾纠纷总数", "text": f"受理 {_n(m.get('received'))}，化解 {_n(m.get('resolved'))}，"
                                    f"截止日仍在办 {_n(base.get('open'))}"},
        {"title": "重大疑难纠纷", "text": f"三星纠纷受理 {_n(stars.get('3'))}，截止日仍在办 "
                                    f"{_n(base.get('star_3_open'))}；期初积案 {_n(m.get('backlog_start'))}"},
        {"title": "婚姻家庭、邻里、土地纠纷", "text": "；".join(
            f"{t} 受理 {_n(v.get('received'))}、在办 {_n(v.get('open'))}" for t, v in types.items())},
        {"title": "群体性纠纷和信访", "text": f"群体性纠纷 {_change_words(m.get('group_cases'))}；"
                                       f"信访 {_change_words(m.get('petition_batches'), '批')}，"
                                       f"{_change_words(m.get('petition_persons'), '人次')}"},
        {"title": "重点人员和网格户数", "text": f"重点人员 {person_text}；网格户数 "
                                        f"{_n(households, '户') if households is not None else DASH}"},
    ]


#: the supervision list's columns on the 督办 page: contract key → header
#: the supervision list's columns on the 督办 page: column → header. Key
#: columns first, and the three chase figures of the contract (次数, 最近
#: 督办, 方式) in one "督办情况" cell, so the table fits a laptop screen.
SUPERVISION_PAGE_COLUMNS = {
    "id": "编号", "village": "村(社区)", "dispute_type": "纠纷类型", "star": "星级",
    "days_overdue": "逾期天数", "responsible_unit": "责任单位", "lead_official": "包案领导",
    "chased": "督办情况", "explained": "逾期说明", "received_date": "受理日期",
}
#: the contract keys the 督办 page reads from each overdue case
_SUPERVISION_KEYS = ("id", "village", "dispute_type", "star", "days_overdue", "responsible_unit",
                     "lead_official", "chases", "last_chase_date", "last_chase_mode", "explained",
                     "received_date")


def chase_words(chases: pd.Series, last: pd.Series, mode: pd.Series) -> pd.Series:
    """"2 次，最近 2024-03-15 书面督办", "未督办", or missing when the town
    keeps no 督办记录 tab (the count is null then, which is not 0)."""
    count = pd.array(chases, dtype="Int64")
    some = pd.Series(count > 0, index=chases.index).fillna(False).astype(bool)
    when = last.astype("string").str.slice(0, 10)
    how = mode.astype("string")
    text = pd.Series(pd.NA, index=chases.index, dtype="string")
    text[~pd.isna(count)] = "未督办"
    text[some] = pd.Series(count, index=chases.index).astype("string")[some] + " 次"
    dated = some & when.notna()
    text[dated] = text[dated] + "，最近 " + when[dated]
    named = dated & how.notna() & (how != "")
    text[named] = text[named] + " " + how[named]
    return text


def supervision_frame(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The overdue cases of a contract as a frame for the 督办 page; the
    explanation is "有"/"无" (its text is never in the contract)."""
    frame = pd.DataFrame([{k: r.get(k) for k in _SUPERVISION_KEYS} for r in rows],
                         columns=list(_SUPERVISION_KEYS))
    frame["explained"] = frame["explained"].map({True: "有", False: "无"})
    frame["star"] = frame["star"].map(lambda s: "★" * int(s) if s == s and s is not None else None)
    frame["chased"] = chase_words(frame["chases"], frame["last_chase_date"], frame["last_chase_mode"])
    frame["days_overdue"] = pd.array(frame["days_overdue"], dtype="Int64")
    frame = frame[list(SUPERVISION_PAGE_COLUMNS)]
    return frame.astype({k: "string" for k in SUPERVISION_PAGE_COLUMNS if k != "days_overdue"})


# -- the 指标解释 page ---------------------------------------------------------------

#: how each unit reads on the 指标解释 page
UNIT_WORDS = {"%": "百分比", "天": "天（这是天数，不是比例）"}
_DAY_COUNT_WORDS = {"calendar": "（按自然日计）", "working": "（按工作日计，节假日不算）"}


def plain_words(text: str, settings: Mapping[str, Any]) -> str:
    """A catalogue sentence as a reader sees it: the settings it names
    (``config.backlog_days`` …) replaced by their values, or by words when a
    county's towns differ (``settings`` is a contract's ``config`` block)."""
    day_count = settings.get("day_count")
    backlog = settings.get("backlog_days")
    group = settings.get("group_threshold")
    return (text
            .replace("（按 config.day_count 计）",
                     _DAY_COUNT_WORDS.get(str(day_count), "（按各镇设置的计日方法）"))
            .replace("超过 config.backlog_days 天",
                     f"超过 {backlog} 天" if backlog is not None else "超过积案标准的天数")
            .replace("不少于 config.group_threshold",
                     f"不少于 {group}" if group is not None else "不少于群体性纠纷的人数标准")
            .replace("（config.reception_quotas）", ""))


def definition_groups(targets: Mapping[str, float],
                      settings: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The 指标解释 page's sections (:data:`fengqiao.catalogue.GROUPS`), one
    entry per figure: its sentence, its numerator and denominator (or what it
    counts), unit and target, all from the metric catalogue."""
    out = []
    for heading, ids in catalogue.GROUPS:
        entries = []
        for metric_id in ids:
            m = catalogue.METRICS[metric_id]
            target = targets.get(metric_id)
            entries.append({
                "id": m.id, "title": m.title, "meaning": m.meaning, "kind": m.kind,
                "numerator": plain_words(m.numerator, settings),
                "denominator": plain_words(m.denominator, settings),
                "numerator_label": m.numerator_label, "denominator_label": m.denominator_label,
                "unit": UNIT_WORDS.get(m.unit, m.unit),
                "target": None if target is None else f"不低于 {pct(target)}",
            })
        out.append({"title": heading, "entries": entries})
    return out


def earlier_periods(comparisons: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """What the 上期 and 上年同期 columns of a statistics page compare with:
    the earlier period in words, and whether its figures are known at all
    (not before the ledger's start). [] for a file older than 1.4."""
    if not isinstance(comparisons, Mapping):
        return []
    out = []
    for kind, word in (("previous", "上期"), ("year_ago", "上年同期")):
        block = comparisons.get(kind)
        if not isinstance(block, Mapping):
            continue
        period = block.get("period")
        if not isinstance(period, Mapping):
            text = DASH
        elif period.get("kind") == "custom":
            text = f"{cn_date(period.get('start'))}至{cn_date(period.get('end'))}"
        else:
            text = period_title(period)
        figures = block.get("metrics")
        known = isinstance(figures, Mapping) and any(v is not None for v in figures.values())
        out.append({"word": word, "title": text, "known": known})
    return out
