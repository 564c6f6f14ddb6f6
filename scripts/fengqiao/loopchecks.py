"""The supervision loop's records checked against the case they belong to.

督办记录 and 流转记录 rows name a case by its 纠纷编号; these checks compare
each row with that case (DOMAIN.md 5). They are pure column-wise functions
of typed columns (one merge and one groupby, no Python loop per row), so
:mod:`fengqiao.validate` only has to turn the masks they return into
findings.

Rules the DOMAIN text leaves to us, stated once here (the finding messages
say the same in Chinese):

* A record is checked against the first row of its 编号 in 纠纷台账 (a
  repeated 编号 is already an error there and names nothing).
* The level a case is at when it is transferred: its 初始层级, or its 调处层级
  when 初始层级 is blank, moved by each earlier transfer of the case to that
  transfer's 转至层级 as written (a blank one leaves the level where it was).
  "Earlier" is by 日期, then by sheet row for the same day; a transfer whose
  date is missing or unusable moves nothing.
* 上传 must go to a higher level and 下传 to a lower one: a transfer to the
  level the case is already at is ``transfer-same-level``, one the other way
  (up to a lower level, down to a higher one) is ``transfer-wrong-direction``.
  A 专传 may keep its level (it goes to a department, not a level).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: the three handling levels, lowest first (DOMAIN.md 2, 三级调处)
LEVELS = ("村级", "镇级", "县级")
UP, DOWN = "上传", "下传"
_RANK = {level: float(k) for k, level in enumerate(LEVELS)}


def _instants(values: pd.Series) -> np.ndarray:
    """``datetime64[ns]`` values of a date column. A typed column is taken
    as it is: ``pd.to_datetime`` of one still maps every row through its
    cache of distinct values, a noticeable cost on a million rows."""
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.to_numpy(dtype="datetime64[ns]")
    return pd.to_datetime(values).to_numpy(dtype="datetime64[ns]")


def case_lookup(ids: pd.Series, received: pd.Series, initial: pd.Series,
                final: pd.Series) -> pd.DataFrame:
    """One row per case id (its first row): ``received`` and ``level``, the
    level handling began at (初始层级, else 调处层级). Inputs are 纠纷台账
    columns with every error already NA."""
    frame = pd.DataFrame({
        "id": ids.astype("string").to_numpy(),
        "received": _instants(received),
        "level": initial.astype("string").fillna(final.astype("string")).to_numpy(),
    })
    frame = frame[frame["id"].notna().to_numpy()]
    return frame.drop_duplicates("id", keep="first").reset_index(drop=True)


def of_case(ids: pd.Series, cases: pd.DataFrame) -> pd.DataFrame:
    """The case columns of each record, in the records' order (NA for a
    blank or unknown 纠纷编号)."""
    left = pd.DataFrame({"id": ids.astype("string").to_numpy()})
    return left.merge(cases, on="id", how="left", sort=False).reset_index(drop=True)


def before(dates: pd.Series, received: pd.Series) -> np.ndarray:
    """Rows dated before their case was received (unknown dates: never)."""
    a, b = _instants(dates), _instants(received)
    return (~np.isnat(a)) & (~np.isnat(b)) & (a < b)


def _ranks(levels: pd.Series) -> np.ndarray:
    """村级/镇级/县级 → 0/1/2 as floats, NaN for blank (or anything else)."""
    codes = pd.Categorical(levels.astype("string"), categories=LEVELS).codes
    return np.where(codes < 0, np.nan, codes.astype(float))


def level_before(ids: pd.Series, dates: pd.Series, to_level: pd.Series,
                 start: pd.Series) -> pd.Series:
    """The level each transfer finds its case at (see the module rules), in
    the records' order; NA where it cannot be known (no usable id or date,
    no starting level and no earlier 转至层级)."""
    n = len(ids)
    case, _ = pd.factorize(ids.astype("string"), use_na_sentinel=True)
    day = _instants(dates)
    usable = np.flatnonzero((case >= 0) & ~np.isnat(day))
    # by case, then date, then sheet row
    order = usable[np.lexsort((usable, day[usable].view("int64"), case[usable]))]
    group, to = case[order], _ranks(to_level)[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    # the 转至层级 of the latest earlier transfer of the same case that has one
    earlier = np.full(len(order), np.nan)
    earlier[1:] = to[:-1]
    earlier[first] = np.nan
    positions = np.arange(len(order))
    last = np.maximum.accumulate(np.where(np.isnan(earlier), -1, positions))
    group_start = np.maximum.accumulate(np.where(first, positions, 0))
    known = last >= group_start
    level = np.where(known, earlier[np.where(known, last, 0)], _ranks(start)[order])
    out = np.full(n, np.nan)
    out[order] = level
    names = np.asarray((None, *LEVELS), dtype=object)
    shown = names[np.where(np.isnan(out), 0, out + 1).astype(int)]
    return pd.Series(pd.array(shown, dtype="string"))


def level_mistakes(direction: pd.Series, to_level: pd.Series,
                   current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(same level, wrong way) masks of 上传/下传 rows, against the level
    the case was at (:func:`level_before`)."""
    to, cur = _ranks(to_level), _ranks(current)
    known = ~np.isnan(to) & ~np.isnan(cur)
    way = direction.astype("string").to_numpy(dtype=object, na_value=None)
    up, down = way == UP, way == DOWN
    same = known & (up | down) & (to == cur)
    wrong = known & ((up & (to < cur)) | (down & (to > cur)))
    return same, wrong


__all__ = ["LEVELS", "case_lookup", "before", "level_before", "level_mistakes", "of_case"]
