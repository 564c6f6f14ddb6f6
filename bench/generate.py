"""Synthetic town ledger for the benchmarks.

Column-wise (numpy) and deterministic by seed. Writes, under ``--out``:

- ``csv/纠纷台账.csv``, ``csv/走访记录.csv``, ``csv/网格.csv``: one UTF-8 CSV per
  tab, headers exactly the ``sheets_schema`` titles;
- ``town.xlsx`` (with ``--xlsx``): the same three tabs as one workbook, dates as
  real date cells, numbers as numbers (what Excel/WPS save);
- ``defects.json``: the planted defects, per tab and kind, with their row
  numbers as a spreadsheet shows them, the finding code fengqiao is expected to
  give for each kind, and the time each step took.

About 2% of rows carry exactly one planted defect each (disjoint rows, exact
counts). Some kinds are *tolerated spellings* (non-ISO dates, full-width
digits): fengqiao normalises them, strict Table Schema tools flag them.

Usage::

    .venv/bin/python bench/generate.py --rows 1000000 --out bench/data/town-1m --xlsx
"""

from __future__ import annotations

import argparse
import json
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from fengqiao.errors import column_letter
from fengqiao.schema import load_schema

START = np.datetime64("2023-01-01")
END = np.datetime64("2024-12-31")
#: the "today" of the synthetic ledger: a closure after it has not happened yet
AS_OF = np.datetime64("2025-01-31")
EXCEL_EPOCH = np.datetime64("1899-12-30")

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国")
VILLAGE_HEADS = list("东西南北前后上下大小新老石桥河湾山岭")
VILLAGE_TAILS = ["庄村", "湾村", "山村", "河村", "岭村", "桥社区", "街社区", "坪村"]
UNITS = ["镇综治中心", "司法所", "派出所", "自然资源所", "劳动保障所", "信访办", "市场监管所",
         "村委会", "社区居委会", "卫生院"]
SUMMARIES = [
    "因宅基地边界发生争执", "因拖欠工资引发纠纷", "邻里之间因噪音产生矛盾", "因婚姻家庭琐事发生争吵",
    "因承包地流转费用产生分歧", "因借款到期未还发生纠纷", "因交通事故赔偿协商不成",
    "因物业费和停车位产生矛盾", "因征地补偿款分配不均", "因医疗费用报销发生争议",
    "因排水沟堵塞影响邻居", "因林地界址不清发生争执",
]
NOTES = ["已电话回访", "当事人外出务工", "需协调多个部门", "已录入平台", "复杂疑难"]
FORCES = ["村调委会", "专职调解员", "老干部", "乡贤能人", "律师法律顾问", "行业性专业性调解组织",
          "部门联调", "其他"]

# planted defects: kind -> (tab, field title, the finding fengqiao should give or None)
DISPUTE_KINDS: dict[str, tuple[str, str | None]] = {
    "bad_date": ("受理日期", "bad-date"),
    "non_iso_date": ("受理日期", None),
    "enum_typo": ("纠纷类型", "not-in-enum"),
    "star_4": ("星级", "not-in-enum"),
    "duplicate_id": ("编号", "duplicate-id"),
    "closed_without_date": ("办结日期", "closed-without-date"),
    "closed_before_received": ("办结日期", "closed-before-received"),
    "unknown_grid": ("网格编号", "unknown-grid"),
    "persons_zero": ("涉及人数", "below-minimum"),
    "fullwidth_digits": ("涉及人数", None),
}
#: kinds that exclude the row from every figure (DOMAIN.md "Which rows count")
EXCLUDING = {"disputes": {"bad_date", "star_4", "duplicate_id"}, "visits": {"bad_date"}}
VISIT_KINDS: dict[str, tuple[str, str | None]] = {
    "bad_date": ("日期", "bad-date"),
    "non_iso_date": ("日期", None),
    "unknown_grid": ("网格编号", "unknown-grid"),
    "persons_zero": ("人次", "below-minimum"),
    "fullwidth_digits": ("人次", None),
}
BAD_DATES = ["2024-13-45", "2024-02-30", "待补", "三月初", "2024-0-12", "24.15.3"]
ENUM_TYPOS = ["邻理", "婚烟家庭", "劳姿", "土地林早"]
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


class Column:
    """A column as typed values plus string overrides for planted defects.

    ``kind`` is ``str`` (object array, ``None`` = blank), ``int`` (int64 array,
    ``mask`` False = blank) or ``date`` (datetime64[D], NaT = blank).
    """

    def __init__(self, kind: str, values: np.ndarray, mask: np.ndarray | None = None) -> None:
        self.kind = kind
        self.values = values
        self.mask = mask
        self.overrides: dict[int, Any] = {}

    def as_arrow(self) -> pa.Array:
        """The column as CSV text (null = empty cell), built with Arrow casts."""
        if self.kind == "str":
            arr = pa.array(self.values, type=pa.string())
        elif self.kind == "int":
            mask = None if self.mask is None else ~self.mask
            arr = pa.array(self.values, mask=mask).cast(pa.string())
        else:
            arr = pa.array(self.values, type=pa.date32()).cast(pa.string())
        if self.overrides:
            rows = np.fromiter(self.overrides, dtype=np.int64, count=len(self.overrides))
            order = np.argsort(rows)
            values = [self.overrides[int(r)] for r in rows[order]]
            mask = np.zeros(len(arr), dtype=bool)
            mask[rows] = True
            arr = pc.replace_with_mask(arr, pa.array(mask),
                                       pa.array([None if v is None else str(v) for v in values],
                                                type=pa.string()))
        return arr


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    s = np.array(SURNAMES, dtype=object)[rng.integers(0, len(SURNAMES), n)]
    g = np.array(GIVEN, dtype=object)[rng.integers(0, len(GIVEN), n)]
    return s + g


def pick(rng: np.random.Generator, pool: list[Any], n: int, p: list[float] | None = None) -> np.ndarray:
    arr = np.array(pool, dtype=object)
    return arr[rng.choice(len(pool), size=n, p=p)]


def make_grids(rng: np.random.Generator, n_grids: int) -> tuple[dict[str, Column], np.ndarray]:
    n_villages = max(1, n_grids // 6)
    villages = np.array(
        [VILLAGE_HEADS[i % len(VILLAGE_HEADS)] + VILLAGE_HEADS[(i // len(VILLAGE_HEADS)) % len(VILLAGE_HEADS)]
         + VILLAGE_TAILS[i % len(VILLAGE_TAILS)] for i in range(n_villages)], dtype=object)
    # unique village names even when the combination repeats
    seen: dict[str, int] = {}
    for i, v in enumerate(villages):
        seen[v] = seen.get(v, 0) + 1
        if seen[v] > 1:
            villages[i] = f"{v[:-1]}{seen[v]}{v[-1]}"
    grid_ids = np.array([f"WG{g:03d}" for g in range(1, n_grids + 1)], dtype=object)
    grid_village = villages[np.arange(n_grids) % n_villages]
    cols = {
        "网格编号": Column("str", grid_ids),
        "村(社区)": Column("str", grid_village),
        "户数": Column("int", rng.integers(50, 101, n_grids)),
        "网格长": Column("str", person_names(rng, n_grids)),
        "网格员": Column("str", person_names(rng, n_grids)),
    }
    return cols, grid_ids


def plant_rows(rng: np.random.Generator, n: int, kinds: Iterable[str], rate: float) -> dict[str, np.ndarray]:
    """Disjoint, sorted row indexes per kind; none in the first 100 rows so
    that a duplicate always has an earlier original."""
    kinds = list(kinds)
    per_kind = int(round(n * rate / len(kinds)))
    lo = min(100, n // 10)
    total = min(per_kind * len(kinds), n - lo)
    per_kind = total // len(kinds)
    chosen = rng.choice(np.arange(lo, n), size=per_kind * len(kinds), replace=False)
    return {k: np.sort(chosen[i * per_kind:(i + 1) * per_kind]) for i, k in enumerate(kinds)}


def earlier_clean(rng: np.random.Generator, clean: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """For each row, a clean row index strictly before it."""
    pos = np.searchsorted(clean, rows)
    return clean[(rng.random(len(rows)) * np.maximum(pos, 1)).astype(np.int64)]


def non_iso(day: np.datetime64, i: int) -> str:
    d = date.fromisoformat(str(day))
    spellings = (f"{d.year}.{d.month}.{d.day}", f"{d.year}年{d.month}月{d.day}日",
                 f"{d.year:04d}{d.month:02d}{d.day:02d}", f"{d.year}/{d.month:02d}/{d.day:02d}")
    return spellings[i % len(spellings)]


def make_disputes(rng: np.random.Generator, n: int, grid_ids: np.ndarray,
                  grid_village: np.ndarray, rate: float) -> tuple[dict[str, Column], dict[str, np.ndarray]]:
    days = int((END - START).astype(int)) + 1
    received = START + rng.integers(0, days, n).astype("timedelta64[D]")
    grid_idx = rng.integers(0, len(grid_ids), n)
    star = rng.choice([1, 2, 3], size=n, p=[0.7, 0.25, 0.05]).astype(np.int64)
    # days to close, by star: mostly within the deadline, some late
    limit = np.choose(star - 1, [5, 15, 60])
    took = (rng.gamma(2.0, 1.0, n) * limit / 3.0).astype(np.int64)
    closed_date = received + took.astype("timedelta64[D]")
    status = pick(rng, ["调处中", "已化解", "转司法", "已终结", "已撤回"], n, [0.08, 0.77, 0.05, 0.05, 0.05])
    open_ = (status == "调处中") | (closed_date > AS_OF)
    status[open_] = "调处中"
    closed_date[open_] = np.datetime64("NaT")
    closed = ~open_
    level = np.where(star == 1, "村级", np.where(star == 2, "镇级", "县级")).astype(object)
    bump = rng.random(n) < 0.1
    level[bump & (star == 1)] = "镇级"
    level[bump & (star == 2)] = "县级"
    level[open_] = None
    first_try = np.where(rng.random(n) < 0.86, "是", "否").astype(object)
    first_try[open_] = None
    has_followup = closed & (rng.random(n) < 0.95)
    followup = closed_date + rng.integers(0, 11, n).astype("timedelta64[D]")
    followup[~has_followup] = np.datetime64("NaT")
    satisfaction = pick(rng, ["满意", "基本满意", "不满意"], n, [0.8, 0.15, 0.05])
    satisfaction[~has_followup] = None
    persons = np.maximum(1, rng.geometric(0.5, n)).astype(np.int64)
    parties = person_names(rng, n) + "、" + person_names(rng, n)
    summary = pick(rng, SUMMARIES, n)
    notes = pick(rng, NOTES, n)
    notes[rng.random(n) < 0.85] = None
    ids = np.strings.add("DZ", np.strings.zfill(np.arange(1, n + 1).astype(str), 7)).astype(object)
    # the supervision loop's columns (DOMAIN 4.2) come from a generator of
    # their own, so every column above is the same as before they existed
    loop = np.random.default_rng(rng.bit_generator.seed_seq.spawn(1)[0])
    assigned = received + loop.integers(0, 3, n).astype("timedelta64[D]")
    assigned = np.where(closed & (assigned > closed_date), closed_date, assigned)
    assigned[loop.random(n) < 0.3] = np.datetime64("NaT")
    initial = np.where(star == 1, "村级", np.where(star == 2, "镇级", "县级")).astype(object)
    feedback = closed_date + loop.integers(0, 4, n).astype("timedelta64[D]")
    feedback[~closed | (loop.random(n) < 0.1)] = np.datetime64("NaT")
    force = pick(loop, FORCES, n)
    force[~closed | (loop.random(n) < 0.2)] = None

    cols: dict[str, Column] = {
        "编号": Column("str", ids),
        "受理日期": Column("date", received),
        "来源": Column("str", pick(rng, ["网格排查", "群众来访", "12345热线", "信访", "110转办", "网上舆情",
                                       "上级交办", "其他"], n,
                                      [0.35, 0.25, 0.12, 0.06, 0.08, 0.04, 0.05, 0.05])),
        "村(社区)": Column("str", grid_village[grid_idx]),
        "网格编号": Column("str", grid_ids[grid_idx]),
        "纠纷类型": Column("str", pick(rng, ["婚姻家庭", "邻里", "土地林草", "征地拆迁", "劳资", "涉企",
                                         "合同债务", "医患", "交通事故", "物业", "其他"], n)),
        "当事人": Column("str", parties),
        "涉及人数": Column("int", persons),
        "简要情况": Column("str", summary),
        "星级": Column("int", star),
        "调处层级": Column("str", level),
        "责任单位": Column("str", pick(rng, UNITS, n)),
        "包案领导": Column("str", person_names(rng, n)),
        "状态": Column("str", status),
        "首次调解成功": Column("str", first_try),
        "办结日期": Column("date", closed_date),
        "回访日期": Column("date", followup),
        "满意度": Column("str", satisfaction),
        "重复事项": Column("str", np.full(n, None, dtype=object)),
        "备注": Column("str", notes),
        "交办日期": Column("date", assigned),
        "初始层级": Column("str", initial),
        "反馈日期": Column("date", feedback),
        "调解力量": Column("str", force),
    }

    planted = plant_rows(rng, n, DISPUTE_KINDS, rate)
    defective = np.concatenate(list(planted.values()))
    clean = np.setdiff1d(np.arange(n), defective)

    # repeats (not a defect): about 2% of rows point at an earlier clean case
    rep_rows = rng.choice(clean[clean > 10], size=int(0.02 * n), replace=False) if n > 100 else np.array([], int)
    rep_rows.sort()
    cols["重复事项"].values[rep_rows] = ids[earlier_clean(rng, clean, rep_rows)]

    for j, i in enumerate(planted["bad_date"]):
        cols["受理日期"].overrides[int(i)] = BAD_DATES[j % len(BAD_DATES)]
    for j, i in enumerate(planted["non_iso_date"]):
        cols["受理日期"].overrides[int(i)] = non_iso(received[i], j)
    for j, i in enumerate(planted["enum_typo"]):
        cols["纠纷类型"].overrides[int(i)] = ENUM_TYPOS[j % len(ENUM_TYPOS)]
    cols["星级"].values[planted["star_4"]] = 4
    src = earlier_clean(rng, clean, planted["duplicate_id"])
    cols["编号"].values[planted["duplicate_id"]] = ids[src]
    rows = planted["closed_without_date"]
    cols["状态"].values[rows] = "已化解"
    cols["办结日期"].values[rows] = np.datetime64("NaT")
    cols["回访日期"].values[rows] = np.datetime64("NaT")
    cols["满意度"].values[rows] = None
    cols["首次调解成功"].values[rows] = "是"
    cols["调处层级"].values[rows] = "村级"
    cols["反馈日期"].values[rows] = np.datetime64("NaT")
    rows = planted["closed_before_received"]
    early = received[rows] - rng.integers(1, 30, len(rows)).astype("timedelta64[D]")
    cols["状态"].values[rows] = "已化解"
    cols["办结日期"].values[rows] = early
    cols["回访日期"].values[rows] = early + np.timedelta64(3, "D")
    cols["满意度"].values[rows] = "满意"
    cols["首次调解成功"].values[rows] = "是"
    cols["调处层级"].values[rows] = "村级"
    # one defect per row: no 交办/反馈 date to clash with the early 办结日期
    cols["交办日期"].values[rows] = np.datetime64("NaT")
    cols["反馈日期"].values[rows] = np.datetime64("NaT")
    cols["网格编号"].values[planted["unknown_grid"]] = np.array(
        [f"WG{900 + k % 99:03d}X" for k in range(len(planted["unknown_grid"]))], dtype=object)
    cols["涉及人数"].values[planted["persons_zero"]] = 0
    for i in planted["fullwidth_digits"]:
        cols["涉及人数"].overrides[int(i)] = str(persons[i] + 1).translate(FULLWIDTH)
    return cols, planted


def make_visits(rng: np.random.Generator, n: int, grid_ids: np.ndarray, households: np.ndarray,
                dispute_ids: np.ndarray, rate: float) -> tuple[dict[str, Column], dict[str, np.ndarray]]:
    days = int((END - START).astype(int)) + 1
    day = START + rng.integers(0, days, n).astype("timedelta64[D]")
    g = rng.integers(0, len(grid_ids), n)
    h = (rng.random(n) * households[g]).astype(np.int64) + 1
    # zfill reduces over the widths, which an empty array has none of
    number = np.strings.zfill(h.astype(str), 3) if n else h.astype(str)
    household = np.strings.add(np.strings.add(grid_ids[g].astype(str), "-"), number).astype(object)
    found = rng.random(n) < 0.04
    issue = np.where(found, "是", "否").astype(object)
    linked = np.full(n, None, dtype=object)
    k = np.flatnonzero(found & (rng.random(n) < 0.5))
    if len(dispute_ids):
        linked[k] = dispute_ids[rng.integers(0, len(dispute_ids), len(k))]
    cols: dict[str, Column] = {
        "日期": Column("date", day),
        "走访人": Column("str", person_names(rng, n)),
        "网格编号": Column("str", grid_ids[g].copy()),
        "户编号": Column("str", household),
        "人次": Column("int", rng.integers(1, 5, n)),
        "发现问题": Column("str", issue),
        "关联纠纷编号": Column("str", linked),
    }
    planted = plant_rows(rng, n, VISIT_KINDS, rate)
    for j, i in enumerate(planted["bad_date"]):
        cols["日期"].overrides[int(i)] = BAD_DATES[j % len(BAD_DATES)]
    for j, i in enumerate(planted["non_iso_date"]):
        cols["日期"].overrides[int(i)] = non_iso(day[i], j)
    cols["网格编号"].values[planted["unknown_grid"]] = "WG999X"
    cols["人次"].values[planted["persons_zero"]] = 0
    for i in planted["fullwidth_digits"]:
        cols["人次"].overrides[int(i)] = str(int(cols["人次"].values[i]) + 1).translate(FULLWIDTH)
    return cols, planted


def write_csv(cols: dict[str, Column], path: Path) -> None:
    table = pa.table({name: c.as_arrow() for name, c in cols.items()})
    # the header unquoted, as Excel and WPS save a CSV
    with path.open("wb") as f:
        f.write((",".join(cols) + "\n").encode("utf-8"))
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none"))


# --- xlsx: the stdlib zip + XML fast path -----------------------------------------



class _SharedStrings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.count = 0

    def __call__(self, s: str) -> int:
        self.count += 1
        k = self.index.get(s)
        if k is None:
            k = self.index[s] = len(self.index)
        return k

    def xml(self) -> Iterator[str]:
        yield ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
               f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
               f'count="{self.count}" uniqueCount="{len(self.index)}">')
        for s in self.index:
            yield f"<si><t>{escape(s)}</t></si>"
        yield "</sst>"


def _cell_fragments(col: Column, letter: str, n: int, sst: _SharedStrings) -> list[str]:
    """One ``<c>`` element per row (empty string for a blank cell)."""
    out: list[str] = [""] * n
    if col.kind == "str":
        for i, v in enumerate(col.values):
            if v is not None:
                out[i] = f'<c r="{letter}{i + 2}" t="s"><v>{sst(v)}</v></c>'
    elif col.kind == "int":
        mask = col.mask
        for i, v in enumerate(col.values.tolist()):
            if mask is None or mask[i]:
                out[i] = f'<c r="{letter}{i + 2}"><v>{v}</v></c>'
    else:
        serial = (col.values - EXCEL_EPOCH).astype("timedelta64[D]").astype(np.int64).tolist()
        nat = np.isnat(col.values).tolist()
        for i, v in enumerate(serial):
            if not nat[i]:
                out[i] = f'<c r="{letter}{i + 2}" s="1"><v>{v}</v></c>'
    for i, v in col.overrides.items():
        out[i] = "" if v is None else f'<c r="{letter}{i + 2}" t="s"><v>{sst(str(v))}</v></c>'
    return out


def _sheet_xml(cols: dict[str, Column], sst: _SharedStrings) -> Iterator[str]:
    names = list(cols)
    n = len(next(iter(cols.values())).values)
    yield ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
           f'<dimension ref="A1:{column_letter(len(names) - 1)}{n + 1}"/><sheetData>')
    header = "".join(f'<c r="{column_letter(j)}1" t="s"><v>{sst(h)}</v></c>' for j, h in enumerate(names))
    yield f'<row r="1">{header}</row>'
    frags = [_cell_fragments(cols[h], column_letter(j), n, sst) for j, h in enumerate(names)]
    step = 5000
    for start in range(0, n, step):
        stop = min(n, start + step)
        yield "".join(f'<row r="{i + 2}">{"".join(cells)}</row>'
                      for i, cells in zip(range(start, stop), zip(*(f[start:stop] for f in frags), strict=True),
                                          strict=True))
    yield "</sheetData></worksheet>"


def write_xlsx_fast(tabs: dict[str, dict[str, Column]], path: Path) -> None:
    """Write an xlsx with shared strings and date-styled cells, no library."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    sst = _SharedStrings()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for k, cols in enumerate(tabs.values(), start=1):
            with z.open(f"xl/worksheets/sheet{k}.xml", "w", force_zip64=True) as f:
                for chunk in _sheet_xml(cols, sst):
                    f.write(chunk.encode("utf-8"))
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as f:
            for chunk in sst.xml():
                f.write(chunk.encode("utf-8"))
        sheets = "".join(f'<sheet name="{escape(t)}" sheetId="{k}" r:id="rId{k}"/>'
                         for k, t in enumerate(tabs, start=1))
        z.writestr("xl/workbook.xml",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   f'<workbook xmlns="{main}" xmlns:r="{rel}"><sheets>{sheets}</sheets></workbook>')
        n = len(tabs)
        rels = "".join(f'<Relationship Id="rId{k}" Type="{rel}/worksheet" Target="worksheets/sheet{k}.xml"/>'
                       for k in range(1, n + 1))
        rels += (f'<Relationship Id="rId{n + 1}" Type="{rel}/styles" Target="styles.xml"/>'
                 f'<Relationship Id="rId{n + 2}" Type="{rel}/sharedStrings" Target="sharedStrings.xml"/>')
        pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
        z.writestr("xl/_rels/workbook.xml.rels",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                   f'<Relationships xmlns="{pkg}">{rels}</Relationships>')
        z.writestr("xl/styles.xml",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{main}">'
                   '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
                   '<fonts count="1"><font><sz val="11"/><name val="等线"/></font></fonts>'
                   '<fills count="2"><fill><patternFill patternType="none"/></fill>'
                   '<fill><patternFill patternType="gray125"/></fill></fills>'
                   '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                   '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                   '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
                   '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
                   '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
                   '</cellStyles></styleSheet>')
        ct = "http://schemas.openxmlformats.org/package/2006/content-types"
        sml = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{k}.xml" ContentType="{sml}.worksheet+xml"/>'
                            for k in range(1, n + 1))
        z.writestr("[Content_Types].xml",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="{ct}">'
                   '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                   '<Default Extension="xml" ContentType="application/xml"/>'
                   f'<Override PartName="/xl/workbook.xml" ContentType="{sml}.sheet.main+xml"/>'
                   f'<Override PartName="/xl/styles.xml" ContentType="{sml}.styles+xml"/>'
                   f'<Override PartName="/xl/sharedStrings.xml" ContentType="{sml}.sharedStrings+xml"/>'
                   f"{overrides}</Types>")
        z.writestr("_rels/.rels",
                   f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{pkg}">'
                   f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
                   "</Relationships>")


def write_xlsx_openpyxl(tabs: dict[str, dict[str, Column]], path: Path) -> None:
    """The same workbook through openpyxl's write-only mode (for comparison)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    for title, cols in tabs.items():
        ws = wb.create_sheet(title)
        ws.append(list(cols))
        n = len(next(iter(cols.values())).values)
        py: list[list[Any]] = []
        for c in cols.values():
            if c.kind == "date":
                vals: list[Any] = [None if np.isnat(v) else v.astype(object) for v in c.values]
            elif c.kind == "int":
                vals = c.values.tolist()
            else:
                vals = list(c.values)
            for i, v in c.overrides.items():
                vals[i] = v
            py.append(vals)
        datecols = {j for j, c in enumerate(cols.values()) if c.kind == "date"}
        for i in range(n):
            row: list[Any] = []
            for j, vals in enumerate(py):
                v = vals[i]
                if j in datecols and isinstance(v, date):
                    cell = WriteOnlyCell(ws, value=v)
                    cell.number_format = "yyyy-mm-dd"
                    row.append(cell)
                else:
                    row.append(v)
            ws.append(row)
    wb.save(path)


def planted_report(planted: dict[str, np.ndarray], kinds: dict[str, tuple[str, str | None]],
                   n: int, with_rows: bool, excluding: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"rows": n, "kinds": {}}
    for k, rows in planted.items():
        column, code = kinds[k]
        entry: dict[str, Any] = {"count": len(rows), "column": column, "expected_code": code,
                                 "tolerated": code is None, "excludes_row": k in excluding}
        if with_rows:
            entry["sheet_rows"] = (rows + 2).tolist()  # header is sheet row 1
        out["kinds"][k] = entry
    out["defective_rows"] = int(sum(len(r) for r in planted.values()))
    out["expected_errors"] = int(sum(len(planted[k]) for k in planted if kinds[k][1]))
    out["excluded_rows"] = int(sum(len(planted[k]) for k in planted if k in excluding))
    return out


def generate(rows: int, visit_rows: int, grids: int, seed: int, rate: float, out: Path,
             csv: bool = True, xlsx: bool = False, xlsx_writer: str = "fast",
             with_rows: bool = True) -> dict[str, Any]:
    schema = load_schema()
    timings: dict[str, float] = {}

    def timed(label: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        result = fn()
        timings[label] = round(time.perf_counter() - t, 3)
        return result

    rng = np.random.default_rng(seed)
    grid_cols, grid_ids = make_grids(rng, grids)
    disputes, d_planted = timed("make_disputes", lambda: make_disputes(
        rng, rows, grid_ids, grid_cols["村(社区)"].values, rate))
    ids = disputes["编号"].values
    visits, v_planted = timed("make_visits", lambda: make_visits(
        rng, visit_rows, grid_ids, grid_cols["户数"].values, ids[: max(1, rows // 2)], rate))
    tabs = {
        schema["disputes"].title: disputes,
        schema["grids"].title: grid_cols,
        schema["visits"].title: visits,
    }
    for title, cols in tabs.items():
        tab = schema.by_title(title)
        assert list(cols) == [f.title for f in tab.fields], title

    out.mkdir(parents=True, exist_ok=True)
    if csv:
        (out / "csv").mkdir(exist_ok=True)
        for title, cols in tabs.items():
            timed(f"write_csv:{title}", lambda c=cols, t=title: write_csv(c, out / "csv" / f"{t}.csv"))
    if xlsx:
        writers = {"fast": write_xlsx_fast, "openpyxl": write_xlsx_openpyxl}
        for name in (["fast", "openpyxl"] if xlsx_writer == "both" else [xlsx_writer]):
            target = out / ("town.xlsx" if name == "fast" or xlsx_writer == "openpyxl"
                            else "town-openpyxl.xlsx")
            timed(f"write_xlsx:{name}", lambda w=writers[name], p=target: w(tabs, p))

    meta = {
        "seed": seed,
        "rate": rate,
        "period_span": [str(START), str(END)],
        "as_of": str(AS_OF),
        "tabs": {
            "disputes": planted_report(d_planted, DISPUTE_KINDS, rows, with_rows,
                                       EXCLUDING["disputes"]),
            "visits": planted_report(v_planted, VISIT_KINDS, visit_rows, with_rows,
                                     EXCLUDING["visits"]),
            "grids": {"rows": grids, "kinds": {}, "defective_rows": 0, "expected_errors": 0,
                      "excluded_rows": 0},
        },
        "titles": {"disputes": schema["disputes"].title, "visits": schema["visits"].title,
                   "grids": schema["grids"].title},
        "timings_s": timings,
    }
    (out / "defects.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return meta


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="disputes rows")
    p.add_argument("--visit-rows", type=int, default=None, help="visits rows (default: --rows)")
    p.add_argument("--grids", type=int, default=300)
    p.add_argument("--seed", type=int, default=20240305)
    p.add_argument("--rate", type=float, default=0.02, help="share of rows with a planted defect")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--no-csv", action="store_true")
    p.add_argument("--xlsx", action="store_true", help="also write town.xlsx")
    p.add_argument("--xlsx-writer", choices=["fast", "openpyxl", "both"], default="fast")
    a = p.parse_args()
    meta = generate(a.rows, a.visit_rows if a.visit_rows is not None else a.rows, a.grids, a.seed,
                    a.rate, a.out, csv=not a.no_csv, xlsx=a.xlsx, xlsx_writer=a.xlsx_writer)
    for tab, info in meta["tabs"].items():
        kinds = ", ".join(f"{k}={v['count']}" for k, v in info["kinds"].items())
        print(f"{tab}: {info['rows']} rows; planted {kinds or 'none'}")
    print("timings:", json.dumps(meta["timings_s"], ensure_ascii=False))


if __name__ == "__main__":
    main()
