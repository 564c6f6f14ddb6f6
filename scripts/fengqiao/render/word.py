"""The written report officials hand upward: 矛盾纠纷排查化解工作情况.

Every report the towns submit is a monthly or quarterly summary with the
figures, how they changed, a few tables and a chart; this module writes one
from the period's metrics contract (and the previous period's and the same
period a year earlier, for 环比 and 同比), so nothing is copied by hand. It is
the only module that uses python-docx; the file opens in Word and WPS.

Only what the site may publish goes in: figures, village totals, the overdue
cases by id with their unit and leader (officials acting in office), never a
party's name or a case description. The bytes depend only on the figures
(fixed document times and zip times), so the same period gives the same file.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from copy import deepcopy
from dataclasses import dataclass
from functools import partial
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from .. import catalogue, charts
from ..metrics.contract import level_of, units_word
from ..metrics.report import MetricRow, metric_rows
from ..publish.files import EPOCH, restamp_xlsx
from . import fmt

#: how many months the trend chart shows
TREND_MONTHS = 12
#: how many overdue cases the report lists by id (the count is always given)
OVERDUE_ROWS = 30
FONT = "宋体"
HEADING_FONT = "黑体"
#: table text: smaller than the body so ids and rates fit on one line
TABLE_SIZE = Pt(9.5)
DASH = fmt.DASH

#: the per-village columns, in the order officials read them
VILLAGE_COLUMNS = (("received", "受理"), ("closed", "办结"), ("closure_rate", "办结率"),
                   ("on_time_rate", "按期办结率"), ("overdue_open", "逾期在办"))
#: what a unit one level down is called in a report of each level (a town's
#: units are its villages; a roll-up's are the units it collected)
#: a town's units in the report's formal words; a roll-up's by its units' level
VILLAGE_WORD = "村（社区）"
UNIT_WORDS = {"镇": "镇（街道）", "县": "县（市、区）", "市": "市（州、盟）"}


@dataclass(frozen=True)
class ReportInput:
    """What one report is written from: the period's contract, the two it
    is compared with (None when the ledger cannot give them), and charts
    as PNG bytes with their captions."""

    current: Mapping[str, Any]
    previous: Mapping[str, Any] | None
    year_ago: Mapping[str, Any] | None
    charts: Sequence[tuple[str, bytes]] = ()

    @classmethod
    def from_contract(cls, contract: Mapping[str, Any],
                      charts: Sequence[tuple[str, bytes]] = ()) -> ReportInput:
        """A report from one metrics file alone: the earlier figures are the
        file's own ``comparisons`` block (contract 1.4), so a site or a
        roll-up writes every period's report without going back to a ledger.
        A file without the block compares with nothing ("—")."""
        block = contract.get("comparisons") or {}

        def earlier(key: str) -> Mapping[str, Any] | None:
            entry = block.get(key)
            return {"metrics": entry["metrics"]} if isinstance(entry, Mapping) \
                and isinstance(entry.get("metrics"), Mapping) else None

        return cls(contract, earlier("previous"), earlier("year_ago"), charts)


def report_title(contract: Mapping[str, Any]) -> str:
    return f"{contract['town']}{fmt.period_title(contract['period'])}矛盾纠纷排查化解工作情况"


def unit_table(contract: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(what the units are called, their figures): villages for a town; for a
    roll-up its direct units (``by_unit``), else every town (``by_town``)."""
    level = level_of(dict(contract))
    b = contract.get("breakdowns", {})
    if level == "镇":
        return VILLAGE_WORD, dict(b.get("village") or {})
    if b.get("by_unit"):
        units = contract.get("units") or ()
        return units_word(level, (u.get("level") for u in units), UNIT_WORDS), dict(b["by_unit"])
    return UNIT_WORDS["镇"], dict(b.get("by_town") or {})


def report_charts(months: Sequence[Mapping[str, Any]], current: Mapping[str, Any],
                  maker: charts.ChartMaker | None = None) -> list[tuple[str, bytes]]:
    """The report's two charts with their captions: cases received and closed
    in each of ``months`` (monthly contracts, oldest first), and each
    village's closure rate in ``current`` with its denominator. With a
    ``maker`` (a site build) a chart drawn before for the same figures is
    reused instead of drawn again."""
    line = charts.line_png if maker is None else partial(maker.line_png, "report-trend")
    bar = charts.bar_png if maker is None else partial(maker.bar_png, "report-villages")
    labels = [f"{int(c['period']['start'][5:7])}月" for c in months]
    trend = line(f"近{len(months)}个月受理与办结（件）", labels, {
        "受理": [c["metrics"].get("received") for c in months],
        "办结": [c["metrics"].get("closed") for c in months]})
    out = [("近一年每月受理与办结件数", trend)]
    villages = current.get("breakdowns", {}).get("village") or {}
    if villages:
        names = sorted(villages)
        rates = [(villages[n].get("closure_rate") or {}).get("value") for n in names]
        dens = [(villages[n].get("closure_rate") or {}).get("denominator") for n in names]
        labelled = [f"{n}（{d if d is not None else DASH}件）" for n, d in zip(names, dens, strict=True)]
        out.append(("各村（社区）办结率，括号内为受理件数",
                    bar("各村（社区）办结率", labelled, rates, percent=True)))
    return out


# -- figures as words -------------------------------------------------------------


def _count(contract: Mapping[str, Any] | None, key: str) -> int | None:
    if contract is None:
        return None
    value = contract["metrics"].get(key)
    if isinstance(value, Mapping):
        value = value.get("count", value.get("value"))
    return value if isinstance(value, int) else None


def _rate(contract: Mapping[str, Any] | None, key: str) -> float | None:
    if contract is None:
        return None
    value = contract["metrics"].get(key)
    return value.get("value") if isinstance(value, Mapping) else None


def change_words(now: float | None, before: float | None, *, rate: bool = False) -> str:
    """比较 as an official writes it: 增加 3 件（+25%）, 下降 2.1 个百分点, 持平;
    "—" when either side is unknown (never a made-up zero)."""
    if now is None or before is None:
        return DASH
    if rate:
        points = (now - before) * 100
        if abs(points) < 0.05:
            return "持平"
        return f"{'上升' if points > 0 else '下降'} {abs(points):.1f} 个百分点"
    diff = now - before
    if diff == 0:
        return "持平"
    share = f"（{'+' if diff > 0 else '-'}{abs(diff) / before * 100:.1f}%）" if before else ""
    return f"{'增加' if diff > 0 else '减少'} {abs(diff):g} 件{share}"


def narrative(data: ReportInput) -> str:
    """The opening paragraph: the key figures and how they moved."""
    c, prev, ago = data.current, data.previous, data.year_ago
    received, closed = _count(c, "received"), _count(c, "closed")
    parts = [f"{fmt.period_title(c['period'])}，全{level_of(dict(c))}共受理矛盾纠纷 {fmt.num(received)} 件，"
             f"同比{change_words(received, _count(ago, 'received'))}，"
             f"环比{change_words(received, _count(prev, 'received'))}"]
    parts.append(f"办结 {fmt.num(closed)} 件，其中化解 {fmt.num(_count(c, 'resolved'))} 件")
    for key, words in (("closure_rate", "办结率"), ("on_time_rate", "按期办结率"),
                       ("local_rate", "矛盾不上交率")):
        value = _rate(c, key)
        parts.append(f"{words} {fmt.pct(value)}（同比{change_words(value, _rate(ago, key), rate=True)}）")
    overdue = _count(c, "overdue_open")
    parts.append(f"截至{fmt.cn_date(c['as_of'])}，逾期未办结 {fmt.num(overdue)} 件，"
                 f"期末在办 {fmt.num(_count(c, 'pending_end'))} 件")
    return "；".join(parts) + "。"


# -- tables -------------------------------------------------------------------------


#: figures counted in days: shown as "19.6 天", never as a share or a fraction
DAYS_FIGURES = frozenset(catalogue.ids(kind="days"))


def _metric_value(row: MetricRow) -> str:
    days = row.id in DAYS_FIGURES
    if row.numerator is None:
        if row.value is None:
            return DASH
        return f"{fmt.num(row.value)} 天" if days else str(row.value)
    if row.value is None:
        return f"{DASH}（{row.numerator}/{row.denominator}）"
    if days:
        return f"{fmt.num(row.value)} 天"
    return f"{fmt.pct(row.value)}（{row.numerator}/{row.denominator}）"


def _metric_plain(contract: Mapping[str, Any] | None, row_id: str) -> str:
    if contract is None:
        return DASH
    for row in metric_rows(dict(contract)):
        if row.id == row_id:
            return _metric_value(row)
    return DASH


#: rows the report's figure table leaves out (see ``figure_rows``)
SKIPPED_FIGURES = frozenset({"level_mix", "received_yoy"})


def figure_rows(data: ReportInput) -> list[list[str]]:
    """指标 | 本期 | 上期 | 上年同期 | 目标 | 是否达标, one row per figure."""
    rows = []
    for row in metric_rows(dict(data.current)):
        # level_mix is a distribution (its own chart); received_yoy is 受理数
        # against its year-ago count, which this table's columns already show
        if row.id in SKIPPED_FIGURES:
            continue
        target = fmt.pct(row.target) if row.target is not None else ""
        met = "" if row.met is None else ("达标" if row.met else "未达标")
        rows.append([row.title, _metric_value(row), _metric_plain(data.previous, row.id),
                     _metric_plain(data.year_ago, row.id), target, met])
    return rows


def _yoy(value: Any, unit: str) -> str:
    """{"count", "previous", "change"} → 5 批次（上年同期 8 批次，-37.5%）."""
    if not isinstance(value, Mapping):
        return DASH
    ch, previous = value.get("change"), value.get("previous")
    if previous is None:  # the ledger does not reach back a year
        return f"{fmt.num(value.get('count'))} {unit}（上年同期 {DASH}）"
    share = "" if ch is None else f"，{'+' if ch >= 0 else ''}{fmt.pct(ch)}"
    return (f"{fmt.num(value.get('count'))} {unit}"
            f"（上年同期 {fmt.num(previous)} {unit}{share}）")


def baseline_rows(contract: Mapping[str, Any]) -> list[list[str]]:
    """五个底数清 from the figures the contract carries; a part the ledger
    cannot give is "—" (the supervision-loop tabs add the rest)."""
    m = contract["metrics"]
    b = contract.get("breakdowns", {})
    by_type = b.get("dispute_type", {})

    def received_of(kind: str) -> str:
        return fmt.num((by_type.get(kind) or {}).get("received"))

    star = m.get("star_mix") or {}
    groups = m.get("group_cases")
    key_people = b.get("key_person_category") or {}
    coverage = m.get("visit_coverage")
    households = coverage.get("denominator") if isinstance(coverage, Mapping) else None
    people = "、".join(f"{k} {fmt.num((v.get('key_person_followup_rate') or {}).get('denominator'))} 人"
                      for k, v in key_people.items() if isinstance(v, Mapping)) or DASH
    return [
        ["矛盾纠纷", f"受理 {fmt.num(m.get('received'))} 件，化解 {fmt.num(m.get('resolved'))} 件，"
                   f"期末在办 {fmt.num(m.get('pending_end'))} 件"],
        ["重大疑难", f"三星级受理 {fmt.num(star.get('3') if isinstance(star, Mapping) else None)} 件；"
                   f"期初积案 {fmt.num(m.get('backlog_start'))} 件，化解 {fmt.num(m.get('backlog_cleared'))} 件"],
        ["婚姻家庭、邻里、土地", f"婚姻家庭 {received_of('婚姻家庭')} 件，邻里 {received_of('邻里')} 件，"
                           f"土地林草 {received_of('土地林草')} 件"],
        ["群体性纠纷与信访", f"群体性纠纷 {fmt.num(groups)} 件；信访 {_yoy(m.get('petition_batches'), '批次')}，"
                       f"{_yoy(m.get('petition_persons'), '人次')}"],
        ["重点人员与网格户数", f"重点人员：{people}；网格户数 {fmt.num(households)} 户"],
    ]


def village_rows(contract: Mapping[str, Any]) -> list[list[str]]:
    """One row per unit one level down (villages of a town, towns or
    counties of a roll-up), by name."""
    _, villages = unit_table(contract)
    rows = []
    for name in sorted(villages):
        v = villages[name]
        cells = [str(name)]
        for key, _ in VILLAGE_COLUMNS:
            value = v.get(key)
            if isinstance(value, Mapping):
                cells.append(f"{fmt.pct(value)}（{value.get('numerator')}/{value.get('denominator')}）")
            else:
                cells.append(fmt.num(value))
        rows.append(cells)
    return rows


def overdue_rows(contract: Mapping[str, Any]) -> list[list[str]]:
    """The overdue cases by id, most overdue first: no party, no description."""
    items = sorted(contract.get("overdue") or [],
                   key=lambda o: (-(o.get("days_overdue") or 0), str(o.get("town", "")),
                                  str(o.get("id"))))
    rolled = level_of(dict(contract)) != "镇"
    return [[*([str(o.get("town") or DASH)] if rolled else []),
             str(o.get("id", "")), str(o.get("village") or DASH), str(o.get("dispute_type") or DASH),
             f"{o.get('star')}星" if o.get("star") else DASH, fmt.num(o.get("days_overdue")),
             str(o.get("responsible_unit") or DASH), str(o.get("lead_official") or DASH)]
            for o in items[:OVERDUE_ROWS]]


def target_lines(contract: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    met: list[str] = []
    missed: list[str] = []
    for row in metric_rows(dict(contract)):
        if row.met is None:
            continue
        text = f"{row.title} {fmt.pct(row.value)}（目标 {fmt.pct(row.target)}）"
        (met if row.met else missed).append(text)
    return met, missed


# -- the document -------------------------------------------------------------------


def _fonts(doc: Any) -> None:
    style = doc.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(11)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)
    for name in ("Title", "Heading 1", "Heading 2"):
        s = doc.styles[name]
        s.font.name = HEADING_FONT
        s.element.rPr.rFonts.set(qn("w:eastAsia"), HEADING_FONT)


def _table(doc: Any, header: Sequence[str], rows: Sequence[Sequence[str]],
           widths: Sequence[float] | None = None) -> Any:
    """A grid table; ``widths`` in cm (set on every cell, which is what Word
    and WPS honour, and on the grid, which is what LibreOffice reads).

    The header row and one body row are built through python-docx; every
    body row is then a copy of that row with only its text set. python-docx's
    ``add_row`` and ``column.cells`` walk the whole table on each call, so a
    roll-up's table of 1,000 units took 2.5 s; the copies give the same XML
    (``tests/test_word_table.py``) in a fraction of that."""
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    if widths is not None:
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Cm(width)
    _fill_row(table.rows[0], header, widths, bold=True)
    if rows:
        model = table.add_row()
        _fill_row(model, [""] * len(header), widths, bold=False)
        tbl, tr = table._tbl, model._tr  # noqa: SLF001 - python-docx has no row copy
        tbl.remove(tr)
        for row in rows:
            copy = deepcopy(tr)
            for run, text in zip(list(copy.iter(qn("w:r"))), row, strict=True):
                run.text = text
            tbl.append(copy)
    return table


def _fill_row(row: Any, texts: Sequence[str], widths: Sequence[float] | None, *,
              bold: bool) -> None:
    """One row's text in table type, bold for the header, with its widths."""
    for k, (cell, text) in enumerate(zip(row.cells, texts, strict=True)):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            if bold:
                run.bold = True
            run.font.size = TABLE_SIZE
        if widths is not None:
            cell.width = Cm(widths[k])


def build_report(data: ReportInput) -> bytes:
    """The report as .docx bytes."""
    c = data.current
    doc = Document()
    _fonts(doc)
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    for side in ("left_margin", "right_margin"):
        setattr(section, side, Cm(2.2))
    props = doc.core_properties
    props.author = props.last_modified_by = "fengqiao"
    props.title = report_title(c)
    props.created = props.modified = EPOCH
    props.revision = 1

    title = doc.add_heading(report_title(c), level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    source = (c.get("source") or {}).get("name") or ""
    note = doc.add_paragraph(f"数据截至{fmt.cn_date(c['as_of'])}"
                             + (f"，来源：{source}" if source else "") + "。")
    note.alignment = WD_ALIGN_PARAGRAPH.CENTER

    doc.add_heading("一、总体情况", level=1)
    doc.add_paragraph(narrative(data))

    doc.add_heading("二、五个底数", level=1)
    _table(doc, ["底数", "情况"], baseline_rows(c), widths=(3.6, 13.0))

    doc.add_heading("三、主要指标", level=1)
    _table(doc, ["指标", "本期", "上期", "上年同期", "目标", "是否达标"], figure_rows(data),
           widths=(3.4, 3.4, 3.4, 3.4, 1.4, 1.6))

    unit_word, _ = unit_table(c)
    doc.add_heading(f"四、各{unit_word}情况", level=1)
    villages = village_rows(c)
    if villages:
        _table(doc, [unit_word, *(t for _, t in VILLAGE_COLUMNS)], villages,
               widths=(3.0, 1.6, 1.6, 3.6, 3.6, 2.2))
    else:
        doc.add_paragraph(f"没有{unit_word}的分项数据。")

    doc.add_heading("五、逾期未办结纠纷", level=1)
    # the count is the figure: a city's or province's summary lists only the
    # longest-overdue cases (contract 1.5), so the list's length is not it
    counted = _count(c, "overdue_open")
    total = len(c.get("overdue") or []) if counted is None else counted
    shown = overdue_rows(c)
    doc.add_paragraph(f"截至{fmt.cn_date(c['as_of'])}，逾期未办结 {fmt.num(total)} 件"
                      + (f"，下表列出逾期最久的 {len(shown)} 件" if total > len(shown) else "")
                      + "。" if total else f"截至{fmt.cn_date(c['as_of'])}，没有逾期未办结的纠纷。")
    if shown and level_of(dict(c)) != "镇":
        _table(doc, ["镇（街道）", "编号", "村（社区）", "类型", "星级", "逾期天数", "责任单位",
                     "包案领导"], shown, widths=(2.2, 2.6, 2.0, 1.8, 1.0, 1.4, 3.2, 2.2))
    elif shown:
        _table(doc, ["编号", "村（社区）", "类型", "星级", "逾期天数", "责任单位", "包案领导"], shown,
               widths=(3.0, 2.4, 2.0, 1.2, 1.6, 3.6, 2.6))

    doc.add_heading("六、考核目标完成情况", level=1)
    met, missed = target_lines(c)
    doc.add_paragraph("达标：" + ("；".join(met) if met else "无") + "。")
    doc.add_paragraph("未达标：" + ("；".join(missed) if missed else "无") + "。")

    if data.charts:
        doc.add_heading("附图", level=1)
        for caption, png in data.charts:
            doc.add_picture(io.BytesIO(png), width=Cm(16))
            doc.add_paragraph(caption).alignment = WD_ALIGN_PARAGRAPH.CENTER

    buf = io.BytesIO()
    doc.save(buf)
    return restamp_xlsx(buf.getvalue())  # the same zip re-timed: equal figures, equal file


__all__ = ["OVERDUE_ROWS", "VILLAGE_COLUMNS", "ReportInput", "baseline_rows", "build_report",
           "TREND_MONTHS", "UNIT_WORDS", "VILLAGE_WORD", "change_words", "figure_rows", "narrative",
           "overdue_rows", "report_charts", "report_title", "target_lines", "unit_table",
           "village_rows"]
