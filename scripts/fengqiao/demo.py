"""A deterministic, realistic demo town: the data every stage is shown and
tested against.

The generated workbook imitates a real township file (a merged title row,
header aliases, dates typed as text, an extra column, ``√`` for yes) so that
the demo exercises the same tolerance staff rely on. With ``defects=True``
exactly the defects in :data:`PLANTED_DEFECTS` are planted, at fixed rows, and
nothing else is wrong: validating the demo must yield those findings and no
other error. Everything is drawn from one seeded numpy Generator (the
supervision loop's tabs and columns from a second stream of the same seed, so
adding them changed nothing else) and the xlsx is repacked with fixed
timestamps, so the same seed gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .config import load_config
from .errors import FengqiaoError, column_letter
from .publish.files import save_workbook
from .schema import TAB_ORDER, load_schema

#: document properties and zip entry times of every generated workbook
FIXED_TIME = datetime(2025, 1, 1, 8, 0, 0)

_DEFAULT_START = date(2023, 1, 1)
_DEFAULT_END = date(2024, 12, 31)

# --- invented names -------------------------------------------------------------
# Staff names are published; the names planted as personal data come from
# disjoint surname pools, so a planted name can never occur inside a published one.
_STAFF_SURNAMES = list("陈林黄周吴徐孙马朱胡郭何高罗郑梁谢宋唐许韩冯邓曹彭曾")
_STAFF_GIVEN = ["建华", "国平", "晓东", "海燕", "丽萍", "文斌", "志强", "春梅", "永红", "德明",
                "立新", "卫东", "玉兰", "家豪", "静怡", "宇航", "思远", "佳琪", "振宇", "雅琴",
                "敏", "军", "涛", "勇", "娟", "磊", "洁", "斌", "霞", "鹏"]
_PERSONAL_SURNAMES = list("王李张刘杨赵")
_PERSONAL_GIVEN = ["淑芬", "桂兰", "金凤", "大勇", "二牛", "德福", "长生", "满仓", "秋菊",
                   "翠花", "铁柱", "有财", "凤英", "来福", "宝山", "玉珍"]
_VILLAGE_STEMS = ["东岭", "石桥", "柳塘", "南坪", "青山", "河湾", "杏林", "白沙", "长岗", "双溪",
                  "龙潭", "桃源", "上坊", "梅岭", "竹园", "黄泥"]
_COMMUNITY_STEMS = ["新民", "和平", "幸福", "迎宾"]
#: made-up but well-formed area codes for planted ID numbers
_ID_REGIONS = ["330127", "330782", "360423", "410523", "430621", "510322"]

SOURCES = ["网格排查", "群众来访", "12345热线", "信访", "110转办", "网上舆情", "上级交办", "其他"]
_SOURCE_P = [0.38, 0.22, 0.13, 0.08, 0.08, 0.04, 0.05, 0.02]
DISPUTE_TYPES = ["婚姻家庭", "邻里", "土地林草", "征地拆迁", "劳资", "涉企", "合同债务", "医患",
                 "交通事故", "物业", "其他"]
_TYPE_P = [0.17, 0.22, 0.14, 0.05, 0.09, 0.04, 0.10, 0.02, 0.06, 0.06, 0.05]
_HARD_TYPES = {"征地拆迁", "劳资", "涉企", "医患"}
NEED_CATEGORIES = ["基础设施", "民生保障", "环境卫生", "就业帮扶", "养老助残"]
_NEED_P = [0.34, 0.22, 0.2, 0.12, 0.12]
_NEED_SOURCES = ["群众点单", "12345热线", "走访收集", "其他"]
_NEED_SOURCE_P = [0.45, 0.25, 0.25, 0.05]

#: dispute type / need category → (unit, leader position)
_ROUTING = {
    "婚姻家庭": ("妇联", "党委委员、组织委员"),
    "邻里": ("司法所", "党委委员、政法委员"),
    "土地林草": ("自然资源所", "副镇长"),
    "征地拆迁": ("征迁办", "党委副书记"),
    "劳资": ("劳动保障所", "副镇长"),
    "涉企": ("经济发展办", "副镇长"),
    "合同债务": ("司法所", "党委委员、政法委员"),
    "医患": ("卫生院", "副镇长"),
    "交通事故": ("交警中队", "党委委员、政法委员"),
    "物业": ("城建办", "副镇长"),
    "其他": ("综治中心", "党委委员、政法委员"),
    "基础设施": ("城建办", "副镇长"),
    "民生保障": ("社会事务办", "党委委员、宣传委员"),
    "环境卫生": ("环卫所", "副镇长"),
    "就业帮扶": ("劳动保障所", "副镇长"),
    "养老助残": ("社会事务办", "党委委员、宣传委员"),
}

_SUMMARIES = {
    "婚姻家庭": ["夫妻因家庭琐事长期争吵，一方提出离婚", "兄弟之间因赡养老人费用分摊发生矛盾",
                 "婆媳因子女抚养问题关系紧张"],
    "邻里": ["两户因排水沟走向发生争执", "邻居装修噪音扰民引发口角", "两家因宅基地边界墙发生推搡",
             "楼上漏水导致楼下墙面受损"],
    "土地林草": ["两户对山林承包边界认识不一", "承包地流转租金未按约支付", "田埂被占用引发争议"],
    "征地拆迁": ["对征地补偿标准有异议", "拆迁安置房分配顺序有争议"],
    "劳资": ["工地务工人员反映工资被拖欠", "企业辞退员工未支付经济补偿"],
    "涉企": ["厂区噪音影响周边住户休息", "企业运输车辆压坏村道"],
    "合同债务": ["民间借款到期未还", "房屋租赁合同押金退还有争议", "农资赊账款未结清"],
    "医患": ["对卫生院诊疗结果有异议", "就医后对收费有疑问"],
    "交通事故": ["电动车与行人相撞赔偿未谈拢", "农用车刮擦轿车责任有争议"],
    "物业": ["业主对物业费上涨不认可", "小区停车位分配有争议"],
    "其他": ["对低保评定结果有意见", "村集体收益分配有疑问"],
}
_NOTES = ["已签订调解协议", "双方同意分期履行", "已引导走司法途径", "约定下月再次回访",
          "已督办", "村调委会协助调解"]
_NEED_TEXT = {
    "基础设施": ["村道路灯损坏需要维修", "排水沟堵塞需要疏通", "村口桥梁护栏松动",
                 "自来水管老化经常停水", "小区健身器材损坏"],
    "民生保障": ["咨询城乡居民医保缴费", "申请临时救助", "办理残疾证需要上门评定"],
    "环境卫生": ["垃圾收集点清运不及时", "河道漂浮物需要清理", "公厕需要维修"],
    "就业帮扶": ["希望提供家政技能培训", "想了解附近企业招工信息"],
    "养老助残": ["独居老人需要助餐服务", "希望安装适老化扶手", "申请居家养老上门服务"],
}


@dataclass(frozen=True)
class Defect:
    """One planted defect: the frame row it is written to and the finding it
    must produce. ``header`` is the column as written in the demo sheet."""

    tab: str
    index: int
    header: str
    code: str


#: columns of 纠纷台账 as the demo writes them: an extra 序号 column in front
#: and two header aliases (案件编号, 村（社区）), as real files have
DISPUTE_HEADERS = [
    "序号", "案件编号", "受理日期", "来源", "村（社区）", "网格编号", "纠纷类型", "当事人",
    "涉及人数", "简要情况", "星级", "调处层级", "责任单位", "包案领导", "状态", "首次调解成功",
    "办结日期", "回访日期", "满意度", "重复事项", "备注",
    *("交办日期", "初始层级", "反馈日期", "调解力量"),
]
#: the supervision loop's optional columns (DOMAIN.md 5), written last, as a
#: town adds columns to a sheet it already keeps
LOOP_HEADERS = ("交办日期", "初始层级", "反馈日期", "调解力量")

DEFECTS: tuple[Defect, ...] = (
    Defect("disputes", 14, "受理日期", "bad-date"),
    Defect("disputes", 37, "案件编号", "duplicate-id"),
    Defect("disputes", 52, "星级", "not-in-enum"),
    Defect("disputes", 75, "办结日期", "closed-without-date"),
    Defect("disputes", 98, "办结日期", "closed-before-received"),
    Defect("disputes", 121, "网格编号", "unknown-grid"),
    Defect("disputes", 144, "重复事项", "unknown-repeat"),
    Defect("disputes", 167, "涉及人数", "below-minimum"),
    Defect("disputes", 190, "纠纷类型", "not-in-enum"),
    Defect("disputes", 213, "回访日期", "followup-before-closed"),
    Defect("visits", 500, "网格编号", "unknown-grid"),
    Defect("needs", 20, "办结日期", "closed-without-date"),
    Defect("key_person_visits", 30, "人员编号", "unknown-person"),
    # the supervision loop (issue 13): a defect in a loop column leaves the
    # case usable by every other tab, so these rows are not kept away from
    # the other tabs' links (which keeps those tabs' random draws as they were)
    Defect("disputes", 60, "反馈日期", "feedback-before-received"),
    # on the row closed for followup-before-closed: the one row sure to hold a 办结日期
    Defect("disputes", 213, "交办日期", "assigned-after-closed"),
    Defect("supervisions", 3, "纠纷编号", "supervision-unknown-dispute"),
    Defect("supervisions", 8, "督办日期", "supervised-before-received"),
    Defect("transfers", 5, "日期", "transfer-before-received"),
    Defect("transfers", 12, "转至层级", "transfer-same-level"),
)
_MIN_ROWS = {"disputes": 240, "visits": 520, "needs": 25, "key_person_visits": 40,
             "supervisions": 9, "transfers": 13}


def headers(tab: str) -> list[str]:
    """The header row the demo writes for a tab."""
    if tab == "disputes":
        return list(DISPUTE_HEADERS)
    return [f.title for f in load_schema()[tab].fields]


def header_row(tab: str, *, title_rows: bool = True) -> int:
    """Sheet row of the header: 纠纷台账 has a title row and a blank row above."""
    return 3 if tab == "disputes" and title_rows else 1


def planted_defects(*, title_rows: bool = True) -> list[tuple[str, str, str]]:
    """(sheet, A1 cell, code) of every planted defect, from where the writer
    puts it, so the list can never drift from the file."""
    schema = load_schema()
    out = []
    for d in DEFECTS:
        col = headers(d.tab).index(d.header)
        row = header_row(d.tab, title_rows=title_rows) + 1 + d.index
        out.append((schema[d.tab].title, f"{column_letter(col)}{row}", d.code))
    return out


PLANTED_DEFECTS: list[tuple[str, str, str]] = planted_defects()


# --- helpers ----------------------------------------------------------------------


def _pick(rng: np.random.Generator, values: list[Any], p: list[float] | None, n: int) -> np.ndarray:
    probs = None if p is None else np.asarray(p, dtype=float) / np.sum(p)
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=probs)]


def _unique_names(rng: np.random.Generator, n: int, surnames: list[str],
                  given: list[str]) -> list[str]:
    pool = [s + g for s in surnames for g in given]
    idx = rng.choice(len(pool), size=n, replace=False)
    return [pool[i] for i in idx]


def _days(start: date, end: date) -> np.ndarray:
    return np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)


def _as_dates(values: np.ndarray) -> np.ndarray:
    """datetime64[D] (NaT = blank) → python dates / None, the cell values openpyxl writes."""
    out = values.astype("datetime64[D]").astype(object)
    out[pd.isna(values)] = None
    return out


def _text_dates(values: np.ndarray, style: str) -> np.ndarray:
    s = pd.Series(values.astype("datetime64[ns]"))
    y, m, d = (part.astype("Int64").astype(str) for part in (s.dt.year, s.dt.month, s.dt.day))
    if style == "dot":
        return (y + "." + m + "." + d).to_numpy(dtype=object)
    return (y + "年" + m + "月" + d + "日").to_numpy(dtype=object)


def _mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    second = rng.integers(3, 10, size=n).astype(str)
    rest = pd.Series(rng.integers(0, 10**9, size=n)).astype(str).str.zfill(9)
    return ("1" + pd.Series(second) + rest).to_numpy(dtype=object)


_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.array(list("10X98765432"))


def _id_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    """18-digit resident ID numbers with a valid GB 11643 check digit (invented)."""
    region = _pick(rng, _ID_REGIONS, None, n).astype(str)
    birth = np.datetime64("1950-01-01") + rng.integers(0, 365 * 50, size=n).astype("timedelta64[D]")
    birth_s = pd.Series(birth.astype("datetime64[ns]")).dt.strftime("%Y%m%d").to_numpy(dtype=str)
    seq = pd.Series(rng.integers(0, 1000, size=n)).astype(str).str.zfill(3).to_numpy(dtype=str)
    body = np.char.add(np.char.add(region, birth_s), seq)
    digits = np.frombuffer("".join(body).encode(), dtype=np.uint8).reshape(n, 17) - 48
    check = _ID_CHECK[(digits * _ID_WEIGHTS).sum(axis=1) % 11]
    return np.char.add(body, check).astype(object)


def _personal_names(rng: np.random.Generator, n: int) -> np.ndarray:
    return _pick(rng, [s + g for s in _PERSONAL_SURNAMES for g in _PERSONAL_GIVEN], None, n)


def _keep(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, blank (None) elsewhere."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = np.asarray(values, dtype=object)[mask]
    return out


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank cells as None (not NaN), so writers leave them empty."""
    frame = frame.astype(object)
    return frame.where(frame.notna(), None)


# --- the town ---------------------------------------------------------------------


@dataclass
class _Town:
    villages: list[str]
    grids: pd.DataFrame  # grid_id, village, households, leader, worker, activity
    main_leaders: list[str]
    section_leaders: list[str]
    village_cadres: dict[str, str]  # village → cadre
    party_members: list[str]
    unit_leaders: dict[str, str]  # unit → leader


def _grid_prefix(town: str) -> str:
    return "FX" if town == "枫溪镇" else "WG"


def _make_town(rng: np.random.Generator, town: str) -> _Town:
    stem = town[:-1] if len(town) > 2 and town[-1] in "镇乡" else town
    communities = [f"{stem}社区", f"{rng.choice(_COMMUNITY_STEMS)}社区"]
    villages = communities + [f"{s}村" for s in rng.choice(_VILLAGE_STEMS, size=6, replace=False)]
    counts = np.array([5, 5, 4, 4, 3, 3, 3, 3])
    village_of_grid = np.repeat(np.asarray(villages, dtype=object), counts)
    n_grids = int(counts.sum())
    staff = _unique_names(rng, 2 + 4 + 8 + 12 + n_grids * 2 + 8, _STAFF_SURNAMES, _STAFF_GIVEN)
    it = iter(staff)
    main_leaders = [next(it) for _ in range(2)]
    section_leaders = [next(it) for _ in range(4)]
    cadres = {v: next(it) for v in villages}
    party = [next(it) for _ in range(12)]
    grid_leaders = [next(it) for _ in range(n_grids)]
    workers = [next(it) for _ in range(n_grids)]
    units = sorted({u for u, _ in _ROUTING.values()})
    leaders_pool = section_leaders + main_leaders[1:]
    unit_leaders = {u: leaders_pool[i % len(leaders_pool)] for i, u in enumerate(units)}
    prefix = _grid_prefix(town)
    grids = pd.DataFrame({
        "grid_id": [f"{prefix}-{k + 1:02d}" for k in range(n_grids)],
        "village": village_of_grid,
        "households": rng.integers(50, 101, size=n_grids),
        "leader": grid_leaders,
        "worker": workers,
        "activity": rng.uniform(0.35, 1.5, size=n_grids),
    })
    return _Town(villages, grids, main_leaders, section_leaders, cadres, party, unit_leaders)


def _period_count(base: float, scale: float, start: date, end: date) -> int:
    days = (end - start).days + 1
    return max(1, round(base * scale * days / 731))


def _received_dates(rng: np.random.Generator, n: int, start: date, end: date) -> np.ndarray:
    days = _days(start, end)
    s = pd.Series(days.astype("datetime64[ns]"))
    month_w = s.dt.month.map({1: 1.35, 2: 1.2, 10: 1.1, 12: 1.15}).fillna(1.0).to_numpy()
    weekday_w = np.where(s.dt.weekday.to_numpy() >= 5, 0.55, 1.0)
    w = month_w * weekday_w
    return np.sort(rng.choice(days, size=n, p=w / w.sum()))


def _disputes(rng: np.random.Generator, t: _Town, n: int, start: date, end: date,
              defects: bool, personal: bool) -> tuple[pd.DataFrame, np.ndarray, set[int]]:
    end64 = np.datetime64(end, "D")
    received = _received_dates(rng, n, start, end)
    years = pd.Series(received.astype("datetime64[ns]")).dt.year.to_numpy()
    seq = pd.Series(years).groupby(years).cumcount().to_numpy() + 1
    ids = (pd.Series(years).astype(str).radd("DZ") + "-"
           + pd.Series(seq).astype(str).str.zfill(4)).to_numpy(dtype=object)

    source = _pick(rng, SOURCES, _SOURCE_P, n)
    # fewer petitions in the later year, so the year-on-year change is visible
    later = years > years.min()
    fewer = later & (source == "信访") & (rng.random(n) < 0.4)
    source[fewer] = "群众来访"

    gw = (t.grids["households"] * t.grids["activity"]).to_numpy(dtype=float)
    gi = rng.choice(len(t.grids), size=n, p=gw / gw.sum())
    grid = t.grids["grid_id"].to_numpy(dtype=object)[gi]
    village = t.grids["village"].to_numpy(dtype=object)[gi]
    dtype_ = _pick(rng, DISPUTE_TYPES, _TYPE_P, n)

    persons = 2 + rng.geometric(0.65, size=n) - 1
    group = (source == "信访") & (rng.random(n) < 0.25)
    persons[group] = rng.integers(5, 26, size=int(group.sum()))

    hard = np.isin(dtype_, list(_HARD_TYPES))
    u = rng.random(n)
    star = np.where(hard, np.where(u < 0.5, 1, np.where(u < 0.9, 2, 3)),
                    np.where(u < 0.8, 1, np.where(u < 0.97, 2, 3)))
    u = rng.random(n)
    level = np.select(
        [star == 1, star == 2],
        [np.where(u < 0.72, "村级", "镇级"), np.where(u < 0.82, "镇级", "县级")],
        np.where(u < 0.35, "镇级", "县级"),
    ).astype(object)
    unit = pd.Series(dtype_).map({k: v[0] for k, v in _ROUTING.items()}).to_numpy(dtype=object)
    leaders = np.asarray(t.section_leaders + t.main_leaders, dtype=object)
    lead = np.where(star >= 2, leaders[rng.integers(0, len(leaders), size=n)],
                    pd.Series(village).map(t.village_cadres).to_numpy(dtype=object))

    # days to close by star, with a tail past the deadline and a few stuck cases
    u = rng.random(n)
    dur = np.select(
        [star == 1, star == 2],
        [np.where(u < 0.92, rng.integers(0, 6, size=n), rng.integers(6, 13, size=n)),
         np.where(u < 0.88, rng.integers(2, 16, size=n), rng.integers(16, 31, size=n))],
        np.where(u < 0.85, rng.integers(10, 61, size=n), rng.integers(61, 101, size=n)),
    )
    # the year-end rush leaves some recent cases open; a few get stuck for good
    late = received >= end64 - 30
    dur[late] += np.where(rng.random(n) < 0.35, rng.integers(5, 21, size=n), 0)[late]
    dur[rng.random(n) < 0.012] = 10_000
    closed_at = received + dur.astype("timedelta64[D]")
    closed = closed_at <= end64
    u = rng.random(n)
    status_closed = np.where(
        star == 3,
        np.select([u < 0.65, u < 0.9, u < 0.96], ["已化解", "转司法", "已终结"], "已撤回"),
        np.select([u < 0.91, u < 0.95, u < 0.98], ["已化解", "转司法", "已终结"], "已撤回"),
    )
    status = np.where(closed, status_closed, "调处中").astype(object)
    p_first = np.where(status == "已化解", np.select([star == 1, star == 2], [0.97, 0.85], 0.55), 0.1)
    first = np.where(rng.random(n) < p_first, "是", "否").astype(object)
    first[(first == "是") & (rng.random(n) < 0.05)] = "√"
    first[~closed] = None
    closed_date = np.where(closed, closed_at, np.datetime64("NaT"))
    fu_at = closed_at + rng.integers(1, 8, size=n).astype("timedelta64[D]")
    has_fu = closed & (fu_at <= end64) & (rng.random(n) < 0.96)
    followup = np.where(has_fu, fu_at, np.datetime64("NaT"))
    satisfaction = _keep(has_fu, _pick(rng, ["满意", "基本满意", "不满意"], [0.8, 0.16, 0.04], n))

    forbidden = _broken_cases() if defects else set()
    forbidden |= {i - 1 for i in forbidden}  # the duplicated original too
    # repeat cases point at an earlier, clean case and share its place and type
    rep = np.flatnonzero((np.arange(n) >= 30) & (rng.random(n) < 0.04))
    rep = rep[~np.isin(rep, list(forbidden))]
    orig = np.clip(rep - rng.integers(3, 80, size=len(rep)), 0, None)
    bad = np.isin(orig, list(forbidden))
    orig[bad] = np.clip(orig[bad] - 2, 0, None)  # forbidden rows come in pairs
    repeat_of = np.full(n, None, dtype=object)
    repeat_of[rep] = ids[orig]
    for arr in (grid, village, dtype_, unit):
        arr[rep] = arr[orig]

    surnames = np.asarray(_STAFF_SURNAMES + _PERSONAL_SURNAMES, dtype=object)
    s1 = surnames[rng.integers(0, len(surnames), size=n)]
    s2 = surnames[rng.integers(0, len(surnames), size=n)]
    parties = pd.Series(s1) + "某与" + pd.Series(s2) + "某"
    summary = pd.Series(np.empty(n, dtype=object))
    for k, texts in _SUMMARIES.items():
        mask = dtype_ == k
        summary[mask] = _pick(rng, texts, None, int(mask.sum()))
    notes = _keep(rng.random(n) < 0.3, _pick(rng, _NOTES, None, n))
    if personal:
        names_a, names_b = _personal_names(rng, n), _personal_names(rng, n)
        parties = (pd.Series(names_a) + "（" + pd.Series(_mobiles(rng, n)) + "）与"
                   + pd.Series(names_b))
        summary = (pd.Series(names_a) + "（身份证号" + pd.Series(_id_numbers(rng, n)) + "）反映："
                   + summary)
        notes = ("联系电话" + pd.Series(_mobiles(rng, n))).to_numpy(dtype=object)

    received_cell = _as_dates(received)
    u = rng.random(n)
    received_cell[u < 0.04] = _text_dates(received, "dot")[u < 0.04]
    received_cell[(u >= 0.04) & (u < 0.07)] = _text_dates(received, "cn")[(u >= 0.04) & (u < 0.07)]
    closed_cell = _as_dates(closed_date)
    dotted = closed & (rng.random(n) < 0.02)
    closed_cell[dotted] = _text_dates(closed_date, "dot")[dotted]

    frame = pd.DataFrame({
        "序号": np.arange(1, n + 1),
        "案件编号": ids,
        "受理日期": received_cell,
        "来源": source,
        "村（社区）": village,
        "网格编号": grid,
        "纠纷类型": dtype_,
        "当事人": parties.to_numpy(dtype=object),
        "涉及人数": persons,
        "简要情况": summary.to_numpy(dtype=object),
        "星级": star,
        "调处层级": level,
        "责任单位": unit,
        "包案领导": lead,
        "状态": status,
        "首次调解成功": first,
        "办结日期": closed_cell,
        "回访日期": _as_dates(followup),
        "满意度": satisfaction,
        "重复事项": repeat_of,
        "备注": notes,
    }).astype(object)

    if defects:
        _plant_dispute_defects(frame, received, t)
    frame = _objects(frame)
    return frame, received, forbidden


def _clean_closed(frame: pd.DataFrame, i: int, closed: date | None, followup: date | None) -> None:
    frame.loc[i, ["状态", "首次调解成功", "办结日期", "回访日期", "满意度"]] = [
        "已化解", "是", closed, followup, "满意" if followup else None]


def _defect_row(tab: str, header: str, code: str) -> int:
    return next(d.index for d in DEFECTS if (d.tab, d.header, d.code) == (tab, header, code))


def _broken_cases() -> set[int]:
    """Rows of 纠纷台账 whose planted defect breaks the case itself (its 编号,
    dates or grading): no other tab links to them."""
    return {d.index for d in DEFECTS if d.tab == "disputes" and d.header not in LOOP_HEADERS}


def _plant_dispute_defects(frame: pd.DataFrame, received: np.ndarray, t: _Town) -> None:
    """Each defect row is otherwise clean, so it yields exactly its one finding."""
    def at(header: str, code: str) -> int:
        return _defect_row("disputes", header, code)

    def day(i: int) -> date:
        return received[i].astype(object)  # type: ignore[no-any-return]

    for i in _broken_cases():
        frame.loc[i, "重复事项"] = None
    i = at("受理日期", "bad-date")
    frame.loc[i, "受理日期"] = f"{day(i).year}.2.30"
    i = at("案件编号", "duplicate-id")
    frame.loc[i, "案件编号"] = frame.loc[i - 1, "案件编号"]
    frame.loc[at("星级", "not-in-enum"), "星级"] = 4
    _clean_closed(frame, at("办结日期", "closed-without-date"), None, None)
    i = at("办结日期", "closed-before-received")
    _clean_closed(frame, i, day(i) - timedelta(days=3), None)
    frame.loc[at("网格编号", "unknown-grid"), "网格编号"] = (
        f"{_grid_prefix_of(t)}-{len(t.grids) + 7:02d}")
    i = at("重复事项", "unknown-repeat")
    frame.loc[i, "重复事项"] = f"DZ{day(i).year - 1}-0137"
    frame.loc[at("涉及人数", "below-minimum"), "涉及人数"] = 0
    i = at("纠纷类型", "not-in-enum")
    frame.loc[i, ["纠纷类型", "责任单位"]] = ["婚烟家庭", _ROUTING["婚姻家庭"][0]]
    i = at("回访日期", "followup-before-closed")
    closed = day(i) + timedelta(days=4)
    _clean_closed(frame, i, closed, closed - timedelta(days=2))


def _grid_prefix_of(t: _Town) -> str:
    return str(t.grids["grid_id"].iloc[0]).split("-")[0]


def _title(start: date, end: date) -> str:
    years = f"{start.year}年" if start.year == end.year else f"{start.year}—{end.year}年"
    return f"矛盾纠纷调处化解台账（{years}）"


def _grids_frame(t: _Town) -> pd.DataFrame:
    return _objects(pd.DataFrame({
        "网格编号": t.grids["grid_id"], "村(社区)": t.grids["village"],
        "户数": t.grids["households"], "网格长": t.grids["leader"], "网格员": t.grids["worker"],
    }))


def _visits(rng: np.random.Generator, t: _Town, n: int, start: date, end: date,
            disputes: pd.DataFrame, received: np.ndarray, forbidden: set[int],
            defects: bool, personal: bool) -> pd.DataFrame:
    g = t.grids.set_index("grid_id")
    # the patrol visit on which each 网格排查 case was found
    found = (disputes["来源"] == "网格排查").to_numpy() & disputes["网格编号"].isin(g.index).to_numpy()
    found[list(forbidden)] = False
    fi = np.flatnonzero(found)
    d_dates = received[fi] - rng.integers(0, 3, size=len(fi)).astype("timedelta64[D]")
    d_dates = np.maximum(d_dates, np.datetime64(start, "D"))
    d_grid = disputes["网格编号"].to_numpy(dtype=object)[fi]
    n_rand = max(n - len(fi), 0)
    w = (t.grids["households"] * t.grids["activity"]).to_numpy(dtype=float)
    ri = rng.choice(len(t.grids), size=n_rand, p=w / w.sum())
    days = _days(start, end)
    wd = pd.Series(days.astype("datetime64[ns]")).dt.weekday.to_numpy()
    dw = np.where(wd >= 5, 0.3, 1.0)
    r_dates = rng.choice(days, size=n_rand, p=dw / dw.sum())
    grid = np.concatenate([d_grid, t.grids["grid_id"].to_numpy(dtype=object)[ri]])
    dates = np.concatenate([d_dates, r_dates])
    hh_max = g.loc[grid, "households"].to_numpy()
    hh = np.floor(rng.random(len(grid)) * hh_max).astype(int) + 1
    household = (pd.Series(grid) + "-" + pd.Series(hh).astype(str).str.zfill(3)).to_numpy(dtype=object)
    visitor = np.where(rng.random(len(grid)) < 0.8, g.loc[grid, "worker"].to_numpy(dtype=object),
                       g.loc[grid, "leader"].to_numpy(dtype=object))
    issue = np.concatenate([np.full(len(fi), "是", dtype=object),
                            np.where(rng.random(n_rand) < 0.03, "是", "否").astype(object)])
    issue[(issue == "是") & (rng.random(len(issue)) < 0.05)] = "√"
    link = np.concatenate([disputes["案件编号"].to_numpy(dtype=object)[fi],
                           np.full(n_rand, None, dtype=object)])
    frame = pd.DataFrame({
        "日期": dates, "走访人": visitor, "网格编号": grid, "户编号": household,
        "人次": 1 + rng.geometric(0.6, size=len(grid)) - 1, "发现问题": issue, "关联纠纷编号": link,
    })
    frame = frame.sort_values("日期", kind="stable").reset_index(drop=True)
    if personal:
        # some grid workers log households by the head's name instead of a code
        codes = frame["户编号"].unique()
        chosen = codes[rng.random(len(codes)) < 0.03]
        names = _personal_names(rng, len(chosen)) + "户"
        frame["户编号"] = frame["户编号"].replace(dict(zip(chosen, names, strict=True)))
    frame["日期"] = _as_dates(frame["日期"].to_numpy())
    if defects:
        i = next(d.index for d in DEFECTS if d.tab == "visits")
        ghost = f"{_grid_prefix_of(t)}-{len(t.grids) + 12:02d}"
        frame.loc[i, ["网格编号", "户编号", "发现问题", "关联纠纷编号"]] = [ghost, f"{ghost}-012", "否", None]
    return _objects(frame)


def _key_persons(rng: np.random.Generator, t: _Town, start: date, end: date,
                 defects: bool, personal: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    cats = (["安置帮教"] * 10 + ["严重精神障碍"] * 10 + ["三失一偏"] * 8 + ["重复信访"] * 8
            + ["其他"] * 4)
    freq_of = {"安置帮教": "每月", "严重精神障碍": "每半月", "三失一偏": "每周", "重复信访": "每月",
               "其他": "每季度"}
    interval = {"每周": 7, "每半月": 15, "每月": 30, "每季度": 90}
    n = len(cats)
    order = rng.permutation(n)
    category = np.asarray(cats, dtype=object)[order]
    frequency = pd.Series(category).map(freq_of).to_numpy(dtype=object)
    gi = rng.integers(0, len(t.grids), size=n)
    grid = t.grids["grid_id"].to_numpy(dtype=object)[gi]
    liaison = t.grids["leader"].to_numpy(dtype=object)[gi]
    pid = np.asarray([f"ZD{k + 1:03d}" for k in range(n)], dtype=object)
    if personal:
        pid[:5] = _id_numbers(rng, 5)
        liaison = (pd.Series(_personal_names(rng, n)) + " " + pd.Series(_mobiles(rng, n))).to_numpy(
            dtype=object)
    # 列入日期 (optional): listed before the ledger starts, every ninth left
    # blank; computed, not drawn, so the rest of the town stays as it was
    listed = np.datetime64(start, "D") - (30 + 17 * np.arange(n)).astype("timedelta64[D]")
    listed = np.where(np.arange(n) % 9 == 4, np.datetime64("NaT"), listed)
    persons = pd.DataFrame({"人员编号": pid, "类别": category, "网格编号": grid, "包联人": liaison,
                            "随访频次": frequency, "列入日期": _as_dates(listed)})
    # follow-ups: most persons slightly more often than required, a few with gaps
    lax = set(rng.choice(n, size=6, replace=False).tolist())
    rows: list[pd.DataFrame] = []
    span = (end - start).days
    for k in range(n):
        step = interval[str(frequency[k])]
        gaps = rng.integers(max(step - 3, 1), step + 1, size=span // max(step - 3, 1) + 2)
        if k in lax:
            gaps = gaps * np.where(rng.random(len(gaps)) < 0.25, 2, 1)
        offs = np.cumsum(gaps) - gaps[0] + int(rng.integers(0, min(step, 5)))
        offs = offs[offs <= span]
        dates = np.datetime64(start, "D") + offs.astype("timedelta64[D]")
        rows.append(pd.DataFrame({
            "人员编号": pid[k], "日期": dates,
            "随访人": liaison[k],
            "方式": _pick(rng, ["上门", "电话", "视频"], [0.7, 0.25, 0.05], len(dates)),
        }))
    visits = pd.concat(rows, ignore_index=True).sort_values(["日期", "人员编号"], kind="stable")
    visits = visits.reset_index(drop=True)
    visits["日期"] = _as_dates(visits["日期"].to_numpy())
    if defects:
        i = next(d.index for d in DEFECTS if d.tab == "key_person_visits")
        visits.loc[i, "人员编号"] = "ZD999"
    return _objects(persons), _objects(visits)


def _receptions(rng: np.random.Generator, t: _Town, start: date, end: date,
                disputes: pd.DataFrame, received: np.ndarray, forbidden: set[int]) -> pd.DataFrame:
    days = _days(start, end)
    s = pd.Series(days.astype("datetime64[ns]"))
    workdays = days[s.dt.weekday.to_numpy() < 5]
    ws = pd.Series(workdays.astype("datetime64[ns]"))
    month_key = ws.dt.to_period("M").to_numpy()
    week_key = ws.dt.to_period("W").to_numpy()
    # (leader, rank, usual 方式, other 方式 that also counts for the rank's
    # default quota, window, days per window, visitors); now and then a 约访,
    # which a 科级领导 or 村两委 quota does not count
    plan = (
        [(name, "党政主要领导", "接访", "约访", month_key, (5, 7), (2, 13))
         for name in t.main_leaders]
        + [(name, "科级领导", "下访", "走访", week_key, (1, 2), (1, 7))
           for name in t.section_leaders]
        + [(t.village_cadres[v], "村两委", "走访", "下访", month_key, (1, 3), (1, 5))
           for v in t.villages]
    )
    lax = {plan[1][0], plan[3][0], plan[-1][0]}  # one leader of each rank sometimes misses
    frames = []
    for name, rank, mode, other, keys, (lo, hi), (vlo, vhi) in plan:
        pos = pd.Series(np.arange(len(workdays))).groupby(keys)
        picked: list[np.ndarray] = []
        for _key, idx in pos:
            k = int(rng.integers(lo, hi))
            if name in lax and rng.random() < 0.2:
                k = max(k - (3 if rank == "党政主要领导" else 1), 0)
            picked.append(rng.choice(idx.to_numpy(), size=min(k, len(idx)), replace=False))
        sel = np.sort(np.concatenate(picked)) if picked else np.array([], dtype=int)
        draw = rng.random(len(sel))
        modes = np.where(draw < 0.8, mode, np.where(draw < 0.99, other, "约访")).astype(object)
        frames.append(pd.DataFrame({
            "日期": workdays[sel], "领导": name, "职务类别": rank, "方式": modes,
            "接待人次": rng.integers(vlo, vhi, size=len(sel)),
        }))
    frame = pd.concat(frames, ignore_index=True).sort_values(["日期", "领导"], kind="stable")
    frame = frame.reset_index(drop=True)
    ok = np.ones(len(received), dtype=bool)
    ok[list(forbidden)] = False
    pool_dates, pool_ids = received[ok], disputes["案件编号"].to_numpy(dtype=object)[ok]
    upto = np.searchsorted(pool_dates, frame["日期"].to_numpy().astype("datetime64[D]"), side="right")
    link = (rng.random(len(frame)) < 0.1) & (upto > 0)
    pick = np.floor(rng.random(len(frame)) * np.maximum(upto, 1)).astype(int)
    frame["关联纠纷编号"] = _keep(link, pool_ids[pick])
    # the leader who left stops receiving after the last day in post (dropped
    # after every draw, so the other tabs keep their random numbers)
    leaver, _, left = _departure(t, end)
    if left is not None:
        gone = (frame["领导"] == leaver).to_numpy() & (
            frame["日期"].to_numpy().astype("datetime64[D]") > np.datetime64(left, "D"))
        frame = frame[~gone].reset_index(drop=True)
    frame["日期"] = _as_dates(frame["日期"].to_numpy())
    return _objects(frame)


def _departure(t: _Town, end: date) -> tuple[str, str, date | None]:
    """(the 科级领导 who leaves, the one who replaces them, the last day in
    post): mid-way through the demo's last year, when it has one."""
    left = date(end.year, 6, 28)
    newcomer = next(s + g for s in _STAFF_SURNAMES for g in _STAFF_GIVEN
                    if s + g not in _staff_names(t))
    return t.section_leaders[-1], newcomer, (left if left < end else None)


def _staff_names(t: _Town) -> set[str]:
    return {*t.main_leaders, *t.section_leaders, *t.village_cadres.values(), *t.party_members,
            *t.grids["leader"], *t.grids["worker"]}


def _leaders(t: _Town, start: date, end: date) -> pd.DataFrame:
    """领导名册, consistent with 领导接访: every leader who receives, plus
    the 科级领导 who left mid-year (离岗日期) and the one who took over and
    has not received anyone yet. Most 到岗日期 are older than the data;
    village cadres often have none (as real rosters), one is typed as text.
    No random draw: the other tabs stay as they were."""
    leaver, newcomer, left = _departure(t, end)
    since = date(start.year - 3, 3, 1)
    rows: list[tuple[Any, ...]] = []
    rows += [(name, "党政主要领导", date(since.year + k, 6 - 3 * k, 12), None)
             for k, name in enumerate(t.main_leaders)]
    rows += [(name, "科级领导", date(since.year + k % 2, 9, 1 + k), None)
             for k, name in enumerate(t.section_leaders)]
    rows += [(name, "村两委", "2021年5月20日" if k == 0 else None, None)
             for k, name in enumerate(t.village_cadres.values())]
    frame = pd.DataFrame(rows, columns=["领导", "职务类别", "到岗日期", "离岗日期"])
    if left is not None:
        frame.loc[frame["领导"] == leaver, "离岗日期"] = left
        frame.loc[len(frame)] = [newcomer, "科级领导", left + timedelta(days=3), None]
    return _objects(frame)


def _responsibilities(rng: np.random.Generator, t: _Town, personal: bool) -> pd.DataFrame:
    cats = DISPUTE_TYPES + NEED_CATEGORIES
    units = [_ROUTING[c][0] for c in cats]
    phones = {u: f"0579-8{int(rng.integers(0, 10**7)):07d}" for u in sorted(set(units))}
    notes = _keep(rng.random(len(cats)) < 0.4,
                  np.full(len(cats), "工作日 8:30—17:30 受理", dtype=object))
    if personal:
        notes = ("值班手机 " + pd.Series(_mobiles(rng, len(cats)))).to_numpy(dtype=object)
    return _objects(pd.DataFrame({
        "事项类别": cats, "责任单位": units, "责任领导": [t.unit_leaders[u] for u in units],
        "职务": [_ROUTING[c][1] for c in cats], "办公电话": [phones[u] for u in units],
        "备注": notes,
    }))


def _needs(rng: np.random.Generator, t: _Town, n: int, start: date, end: date,
           defects: bool, personal: bool) -> pd.DataFrame:
    end64 = np.datetime64(end, "D")
    raised = np.sort(rng.choice(_days(start, end), size=n))
    years = pd.Series(raised.astype("datetime64[ns]")).dt.year.to_numpy()
    seq = pd.Series(years).groupby(years).cumcount().to_numpy() + 1
    ids = (pd.Series(years).astype(str).radd("XQ") + "-" + pd.Series(seq).astype(str).str.zfill(3))
    cat = _pick(rng, NEED_CATEGORIES, _NEED_P, n)
    content = np.empty(n, dtype=object)
    for k, texts in _NEED_TEXT.items():
        mask = cat == k
        content[mask] = _pick(rng, texts, None, int(mask.sum()))
    if personal:
        tail = np.where(rng.random(n) < 0.5, "，联系电话" + pd.Series(_mobiles(rng, n)),
                        "，身份证号" + pd.Series(_id_numbers(rng, n)))
        content = (pd.Series(content) + tail).to_numpy(dtype=object)
    dur = rng.integers(2, 31, size=n)
    closed_at = raised + dur.astype("timedelta64[D]")
    closed = closed_at <= end64
    status = np.where(closed, np.where(rng.random(n) < 0.94, "已办结", "无法办理"),
                      np.where(raised >= end64 - 4, "待派单", "办理中")).astype(object)
    frame = pd.DataFrame({
        "编号": ids.to_numpy(dtype=object), "提出日期": _as_dates(raised),
        "来源": _pick(rng, _NEED_SOURCES, _NEED_SOURCE_P, n),
        "村(社区)": _pick(rng, t.villages, None, n), "需求内容": content, "类别": cat,
        "接单单位": pd.Series(cat).map({k: v[0] for k, v in _ROUTING.items()}).to_numpy(dtype=object),
        "领单党员": _pick(rng, t.party_members, None, n), "状态": status,
        "办结日期": _as_dates(np.where(closed, closed_at, np.datetime64("NaT"))),
    })
    if defects:
        i = next(d.index for d in DEFECTS if d.tab == "needs")
        frame.loc[i, ["状态", "办结日期"]] = ["已办结", None]
    return _objects(frame)


# --- the supervision loop (issue 13) ------------------------------------------------------
# Drawn from a stream of its own (``default_rng([seed, 13])``), after every
# other tab: the tabs and columns that existed before stay exactly as they
# were, so every figure computed before the loop existed keeps its value.

_TOWN_CENTRE = "镇综治中心"
_COUNTY_CENTRE = "县矛盾纠纷调处化解中心"
_EXPLANATIONS = ["当事人外出务工，一时联系不上", "双方对赔偿金额分歧较大，需要再次组织调解",
                 "需要等待土地确权资料", "涉及多个部门，协调用时较长", "当事人住院治疗，调解暂缓",
                 "需要现场勘查，受天气影响推迟"]
_NEXT_STEPS = ["约定本周内再次组织调解", "请司法所派员参与联合调解", "由包案领导牵头上门做工作",
               "协调自然资源所现场勘界", "邀请律师法律顾问释法说理"]
_REASONS = {"上传": ["涉及多个部门，村里协调不了", "矛盾有激化风险，需要上一级牵头",
                     "涉及金额较大，需要上一级调处"],
            "下传": ["事情不大，交由村调委会就地化解", "双方都在本村，由村里调解更方便"],
            "专传": ["属于部门职责，转对口单位办理", "需要专业鉴定，交对口部门处理"]}
#: 调解力量 by the level that handled the case
_FORCES = {
    "村级": (["村调委会", "专职调解员", "老干部", "乡贤能人", "其他"], [0.55, 0.15, 0.12, 0.12, 0.06]),
    "镇级": (["专职调解员", "部门联调", "律师法律顾问", "行业性专业性调解组织", "村调委会", "老干部",
              "乡贤能人"], [0.35, 0.25, 0.12, 0.1, 0.1, 0.04, 0.04]),
    "县级": (["部门联调", "行业性专业性调解组织", "律师法律顾问", "其他"], [0.45, 0.25, 0.25, 0.05]),
}
_NAT = np.datetime64("NaT", "D")


@dataclass(frozen=True)
class _Cases:
    """What the loop needs of each case of 纠纷台账, as arrays in sheet order."""

    ids: np.ndarray
    received: np.ndarray  # datetime64[D]
    closed: np.ndarray  # datetime64[D], NaT while open (or when the cell is not a date)
    star: np.ndarray
    level: np.ndarray
    unit: np.ndarray
    village: np.ndarray
    usable: np.ndarray  # not a row whose planted defect breaks the case


def _cell_days(cells: pd.Series) -> np.ndarray:
    """Date cells as the demo writes them (dates, “2024.3.5” text, blank) →
    datetime64[D], NaT where blank or not a date."""
    text = cells.astype("string").str.replace(".", "-", regex=False)
    parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
    return parsed.to_numpy(dtype="datetime64[D]")


def _cases(disputes: pd.DataFrame, received: np.ndarray, forbidden: set[int]) -> _Cases:
    usable = np.ones(len(disputes), dtype=bool)
    usable[list(forbidden)] = False
    return _Cases(
        ids=disputes["案件编号"].to_numpy(dtype=object),
        received=received.astype("datetime64[D]"),
        closed=_cell_days(disputes["办结日期"]),
        star=pd.to_numeric(disputes["星级"]).to_numpy(dtype=int),
        level=disputes["调处层级"].to_numpy(dtype=object),
        unit=disputes["责任单位"].to_numpy(dtype=object),
        village=disputes["村（社区）"].to_numpy(dtype=object),
        usable=usable,
    )


def _until_closed(c: _Cases, case: np.ndarray, day: np.ndarray, end: date) -> np.ndarray:
    """A step's day, never after the case's 办结日期 or the end of the data."""
    closed = c.closed[case]
    day = np.where(np.isnat(closed), day, np.minimum(day, closed))
    return np.minimum(day, np.datetime64(end, "D"))


def _with_contacts(rng: np.random.Generator, text: np.ndarray, personal: bool) -> np.ndarray:
    """Free text of a sensitive field; with ``personal`` it names a party
    and a mobile number, as staff do, so the privacy tests can prove the
    field never reaches an output."""
    if not personal or not len(text):
        return text
    who = pd.Series(_personal_names(rng, len(text))) + "，电话" + pd.Series(_mobiles(rng, len(text)))
    filled = pd.Series(text).notna().to_numpy()
    out = text.copy()
    out[filled] = (pd.Series(text[filled]) + "（当事人" + who[filled].reset_index(drop=True)
                   + "）").to_numpy(dtype=object)
    return out


def _transfer_plan(rng: np.random.Generator, c: _Cases, end: date,
                   personal: bool) -> tuple[np.ndarray, pd.DataFrame]:
    """(初始层级 of each case, 流转记录): some village cases passed up to the
    town, some county cases passed up from the town (a few from the village,
    in two steps), a few town cases passed down to the village, and some
    cases sent across to their 责任单位 (专传) at the level they are at."""
    n = len(c.ids)
    u = rng.random(n)
    up_town = c.usable & (c.level == "镇级") & (c.star <= 2) & (u < 0.22)
    county = c.usable & (c.level == "县级")
    one_up, two_up = county & (u < 0.5), county & (u >= 0.5) & (u < 0.65)
    down = c.usable & (c.level == "村级") & (u < 0.1)
    moved = up_town | one_up | two_up | down
    across = c.usable & ~moved & (rng.random(n) < 0.06)
    initial = _keep(rng.random(n) < 0.35, c.level)
    initial[up_town | two_up] = "村级"
    initial[one_up | down] = "镇级"
    initial[~c.usable] = None
    # (cases, 流向, 转至层级, days after 受理 from, to); the second step of a
    # two-step case comes last so a tie on the day keeps the steps in order
    kinds = [(up_town, "上传", "镇级", 0, 3), (one_up, "上传", "县级", 1, 5),
             (two_up, "上传", "镇级", 0, 2), (down, "下传", "村级", 0, 3),
             (across, "专传", None, 0, 4), (two_up, "上传", "县级", 2, 6)]
    parts = []
    for mask, way, level, lo, hi in kinds:
        case = np.flatnonzero(mask)
        to = c.level[case] if level is None else np.full(len(case), level, dtype=object)
        if level is None:  # 专传 keeps the level; half the clerks leave it blank
            to = _keep(rng.random(len(case)) < 0.5, to)
        parts.append(pd.DataFrame({"case": case, "流向": way, "转至层级": to,
                                   "offset": rng.integers(lo, hi, size=len(case))}))
    plan = pd.concat(parts, ignore_index=True)
    case = plan["case"].to_numpy()
    way = plan["流向"].to_numpy(dtype=object)
    day = _until_closed(c, case, c.received[case] + plan["offset"].to_numpy().astype(
        "timedelta64[D]"), end)
    to_county = (way == "上传") & (plan["转至层级"].to_numpy(dtype=object) == "县级")
    unit = np.select([way == "下传", to_county, way == "上传"],
                     [(pd.Series(c.village[case]) + "调委会").to_numpy(dtype=object),
                      np.full(len(case), _COUNTY_CENTRE, dtype=object),
                      np.full(len(case), _TOWN_CENTRE, dtype=object)], c.unit[case]).astype(object)
    reason = np.full(len(case), None, dtype=object)
    for key, texts in _REASONS.items():
        mask = way == key
        reason[mask] = _pick(rng, texts, None, int(mask.sum()))
    reason[rng.random(len(case)) < 0.2] = None
    frame = pd.DataFrame({"case": case, "纠纷编号": c.ids[case], "日期": day, "流向": way,
                          "转至层级": plan["转至层级"].to_numpy(dtype=object), "转至单位": unit,
                          "原因": _with_contacts(rng, reason, personal)})
    frame = frame.sort_values("日期", kind="stable").reset_index(drop=True)
    return initial, frame


def _supervision_plan(rng: np.random.Generator, c: _Cases, end: date,
                      personal: bool) -> pd.DataFrame:
    """督办记录: most cases that ran past their star's deadline are chased
    once or twice (a case stuck for months now and then a third time), the
    first a few days after the deadline, by phone or in writing; many chases
    carry the unit's 逾期说明 and 下步措施, some a new deadline."""
    n = len(c.ids)
    end64 = np.datetime64(end, "D")
    deadlines = load_config().deadlines
    allowed = np.select([c.star == 1, c.star == 2], [deadlines.star_1, deadlines.star_2],
                        deadlines.star_3)
    due = c.received + allowed.astype("timedelta64[D]")
    open_ = np.isnat(c.closed)
    late = c.usable & np.where(open_, due < end64, c.closed > due)
    stuck = open_ & (c.received < end64 - 90)
    count = 1 + (rng.random(n) < 0.4) + (stuck & (rng.random(n) < 0.5))
    count = np.where(late & (rng.random(n) < 0.85), count, 0)
    case = np.repeat(np.arange(n), count)
    k = np.arange(len(case)) - np.repeat(np.cumsum(count) - count, count)
    gap = np.where(k == 0, 0, rng.integers(5, 16, size=len(case)))
    offset = rng.integers(1, 4, size=n)[case] + pd.Series(gap).groupby(case).cumsum().to_numpy()
    day = due[case] + offset.astype("timedelta64[D]")
    first = _pick(rng, ["电话督办", "书面督办", "现场督办"], [0.65, 0.3, 0.05], len(case))
    later = _pick(rng, ["书面督办", "约谈", "现场督办", "提级督办"], [0.5, 0.3, 0.1, 0.1], len(case))
    unit = np.where((k > 0) & (rng.random(len(case)) < 0.25), "镇纪委", _TOWN_CENTRE)
    explained = _keep(rng.random(len(case)) < 0.65, _pick(rng, _EXPLANATIONS, None, len(case)))
    steps = _keep(rng.random(len(case)) < 0.6, _pick(rng, _NEXT_STEPS, None, len(case)))
    renewed = day + rng.integers(7, 21, size=len(case)).astype("timedelta64[D]")
    renewed = np.where(rng.random(len(case)) < 0.5, renewed, _NAT)
    frame = pd.DataFrame({
        "case": case, "纠纷编号": c.ids[case], "督办日期": day, "督办单位": unit.astype(object),
        "方式": np.where(k == 0, first, later).astype(object),
        "逾期说明": _with_contacts(rng, explained, personal),
        "下步措施": _with_contacts(rng, steps, personal), "新限办日期": renewed,
    })
    # only while the case is open, and not after the data ends
    keep = (day <= end64) & (open_[case] | (day < c.closed[case]))
    frame = frame[keep].sort_values(["督办日期", "case"], kind="stable").reset_index(drop=True)
    return frame


def _loop_columns(rng: np.random.Generator, c: _Cases, initial: np.ndarray,
                  end: date) -> pd.DataFrame:
    """交办日期 (0–2 days after 受理, never after 办结), 初始层级, 反馈日期 (a
    few days after 办结) and 调解力量 (by the level that handled the case)."""
    n = len(c.ids)
    case = np.arange(n)
    assigned = c.received + _pick(rng, [0, 1, 2], [0.35, 0.45, 0.2], n).astype(
        int).astype("timedelta64[D]")
    assigned = _until_closed(c, case, assigned, end)
    assigned = np.where(c.usable & (rng.random(n) < 0.94), assigned, _NAT)
    told = c.closed + _pick(rng, [0, 1, 2, 3], [0.4, 0.3, 0.2, 0.1], n).astype(
        int).astype("timedelta64[D]")
    fed_back = c.usable & ~np.isnat(c.closed) & (told <= np.datetime64(end, "D"))
    told = np.where(fed_back & (rng.random(n) < 0.9), told, _NAT)
    force = np.full(n, None, dtype=object)
    for level, (names, p) in _FORCES.items():
        mask = c.level == level
        force[mask] = _pick(rng, names, p, int(mask.sum()))
    force[np.isnat(c.closed) & (rng.random(n) < 0.5)] = None
    return pd.DataFrame({"交办日期": _as_dates(assigned), "初始层级": initial,
                         "反馈日期": _as_dates(told), "调解力量": force})


def _fresh_cases(c: _Cases, transfers: pd.DataFrame, k: int) -> list[int]:
    """``k`` clean cases with no transfer of their own (from row 150 on),
    for the planted transfer defects: nothing else moves their level."""
    taken = np.zeros(len(c.ids), dtype=bool)
    taken[transfers["case"].to_numpy()] = True
    taken[[d.index for d in DEFECTS if d.tab == "disputes"]] = True
    pool = np.flatnonzero(c.usable & ~taken & (np.arange(len(c.ids)) >= 150))
    return [int(i) for i in pool[:k]]


def _plant_loop_defects(c: _Cases, columns: pd.DataFrame, chases: pd.DataFrame,
                        transfers: pd.DataFrame, initial: np.ndarray, start: date) -> None:
    """Each planted loop defect yields exactly its one finding."""
    def at(tab: str, header: str, code: str) -> int:
        return _defect_row(tab, header, code)

    def day(value: np.datetime64, shift: int = 0) -> date:
        return (value + np.timedelta64(shift, "D")).astype(object)  # type: ignore[no-any-return]

    i = at("disputes", "反馈日期", "feedback-before-received")
    columns.loc[i, "反馈日期"] = day(c.received[i], -2)
    i = at("disputes", "交办日期", "assigned-after-closed")
    columns.loc[i, "交办日期"] = day(c.closed[i], 2)
    chases.loc[at("supervisions", "纠纷编号", "supervision-unknown-dispute"), "纠纷编号"] = (
        f"DZ{start.year - 1}-0999")
    i = at("supervisions", "督办日期", "supervised-before-received")
    chases.loc[i, "督办日期"] = day(c.received[int(chases.loc[i, "case"])], -5)
    early, same = _fresh_cases(c, transfers, 2)
    transfers.loc[at("transfers", "日期", "transfer-before-received"),
                  ["case", "纠纷编号", "日期", "流向", "转至层级", "转至单位"]] = [
        early, c.ids[early], day(c.received[early], -3), "专传", None, c.unit[early]]
    level = initial[same] or c.level[same]
    transfers.loc[at("transfers", "转至层级", "transfer-same-level"),
                  ["case", "纠纷编号", "日期", "流向", "转至层级", "转至单位"]] = [
        same, c.ids[same], day(c.received[same]), "上传", level, _TOWN_CENTRE]


def _loop(seed: int, t: _Town, disputes: pd.DataFrame, received: np.ndarray,
          forbidden: set[int], start: date, end: date, defects: bool,
          personal: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(the loop columns of 纠纷台账, 督办记录, 流转记录)."""
    rng = np.random.default_rng([seed, 13])
    c = _cases(disputes, received, forbidden)
    initial, transfers = _transfer_plan(rng, c, end, personal)
    chases = _supervision_plan(rng, c, end, personal)
    columns = _loop_columns(rng, c, initial, end)
    for frame, dates in ((chases, ("督办日期", "新限办日期")), (transfers, ("日期",))):
        for name in dates:  # cell values, as the other tabs hold them
            frame[name] = _as_dates(frame[name].to_numpy(dtype="datetime64[D]"))
    if defects:
        short = [tab for tab, frame in (("supervisions", chases), ("transfers", transfers))
                 if len(frame) < _MIN_ROWS[tab]]
        if short:
            raise FengqiaoError("演示数据太少，放不下预设的错误：请调大 scale 或延长日期范围，"
                                "或者关闭 defects。")
        _plant_loop_defects(c, columns, chases, transfers, initial, start)
    titles = {tab: [f.title for f in load_schema()[tab].fields]
              for tab in ("supervisions", "transfers")}
    return (_objects(columns), _objects(chases[titles["supervisions"]]),
            _objects(transfers[titles["transfers"]]))


def generate_town(
    seed: int = 7,
    *,
    town: str = "枫溪镇",
    start: date = _DEFAULT_START,
    end: date = _DEFAULT_END,
    scale: float = 1.0,
    defects: bool = True,
    personal_data: bool = False,
) -> dict[str, pd.DataFrame]:
    """Every tab of one invented town, keyed by tab id, with the Chinese
    headers and cell values a township file would hold.

    ``scale`` multiplies the record counts (disputes, visits, needs); the
    town's 8 villages, 30 grids and 40 key persons stay fixed.
    """
    if end < start:
        raise FengqiaoError(f"演示数据的结束日期 {end} 早于开始日期 {start}。")
    rng = np.random.default_rng(seed)
    t = _make_town(rng, town)
    n_disputes = _period_count(700, scale, start, end)
    n_visits = _period_count(15_000, scale, start, end)
    n_needs = _period_count(150, scale, start, end)
    if defects:
        sizes = {"disputes": n_disputes, "visits": n_visits, "needs": n_needs}
        short = [tab for tab, need in _MIN_ROWS.items() if tab in sizes and sizes[tab] < need]
        if short:
            raise FengqiaoError(
                "演示数据太少，放不下预设的错误：请调大 scale 或延长日期范围，"
                "或者关闭 defects。")
    disputes, received, forbidden = _disputes(rng, t, n_disputes, start, end, defects,
                                              personal_data)
    persons, person_visits = _key_persons(rng, t, start, end, defects, personal_data)
    tables = {
        "disputes": disputes,
        "grids": _grids_frame(t),
        "visits": _visits(rng, t, n_visits, start, end, disputes, received, forbidden, defects,
                          personal_data),
        "key_persons": persons,
        "key_person_visits": person_visits,
        "receptions": _receptions(rng, t, start, end, disputes, received, forbidden),
        "leaders": _leaders(t, start, end),
        "responsibilities": _responsibilities(rng, t, personal_data),
        "needs": _needs(rng, t, n_needs, start, end, defects, personal_data),
    }
    columns, chases, transfers = _loop(seed, t, disputes, received, forbidden, start, end,
                                       defects, personal_data)
    for name in LOOP_HEADERS:
        disputes[name] = columns[name].to_numpy(dtype=object)
    tables = {"disputes": disputes, "supervisions": chases, "transfers": transfers,
              **{k: v for k, v in tables.items() if k != "disputes"}}
    disputes.attrs["title"] = town + _title(start, end)
    disputes.attrs["town"] = town
    return tables


# --- personal data ------------------------------------------------------------------

MOBILE_RE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
ID_NUMBER_RE = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_NAME_RE = re.compile("|".join(s + g for s in _PERSONAL_SURNAMES for g in _PERSONAL_GIVEN))


def planted_personal_data(tables: dict[str, pd.DataFrame]) -> list[str]:
    """Every personal-data string in the tables (names, mobiles, ID numbers),
    sorted: what a privacy test must never find in published output."""
    found: set[str] = set()
    for frame in tables.values():
        for col in frame.columns:
            values = frame[col].dropna().astype(str)
            if values.empty:
                continue
            for pattern in (MOBILE_RE, ID_NUMBER_RE, _NAME_RE):
                hits = values.str.findall(pattern).explode().dropna()
                found.update(hits.tolist())
    return sorted(found)


# --- writers --------------------------------------------------------------------------


def _rows(frame: pd.DataFrame) -> Iterable[tuple[Any, ...]]:
    clean = _objects(frame)
    return clean.itertuples(index=False, name=None)


def write_workbook(tables: dict[str, pd.DataFrame], path: Path | str, *,
                   title_rows: bool = True, title: str | None = None) -> Path:
    """One sheet per tab, laid out like a township's own file."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    schema = load_schema()
    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for tab in TAB_ORDER:
        if tab not in tables:
            continue
        frame = tables[tab]
        ws = wb.create_sheet(schema[tab].title)
        ncols = len(frame.columns)
        hrow = header_row(tab, title_rows=title_rows)
        if hrow > 1:
            text = title or frame.attrs.get("title") or _title(_DEFAULT_START, _DEFAULT_END)
            ws.cell(row=1, column=1, value=text)
            ws.cell(row=1, column=1).font = Font(bold=True, size=16)
            ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=ncols)
            ws.append([None])
        ws.append([str(c) for c in frame.columns])
        for c in range(1, ncols + 1):
            cell = ws.cell(row=hrow, column=c)
            cell.font = bold
            cell.fill = fill
        for row in _rows(frame):
            ws.append(row)
        for c, name in enumerate(frame.columns):
            wide = 24 if name in ("简要情况", "需求内容", "当事人", "备注") else max(len(str(name)) * 2 + 4, 12)
            ws.column_dimensions[column_letter(c)].width = wide
        ws.freeze_panes = ws.cell(row=hrow + 1, column=1)
    # byte-stable: the same seed gives the same file on any day
    return save_workbook(wb, Path(path), stamp=FIXED_TIME)


def write_csv_folder(tables: dict[str, pd.DataFrame], directory: Path | str) -> list[Path]:
    """One UTF-8 (with BOM, as Excel saves) CSV per tab, named by sheet."""
    schema = load_schema()
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for tab in TAB_ORDER:
        if tab not in tables:
            continue
        path = folder / f"{schema[tab].title}.csv"
        _objects(tables[tab]).to_csv(path, index=False, encoding="utf-8-sig")
        written.append(path)
    return written
