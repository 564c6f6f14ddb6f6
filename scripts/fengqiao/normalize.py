"""Turn raw cell values into typed columns, one column at a time.

Ledgers repeat values heavily (a few hundred distinct dates, a handful of
statuses), so every parser factorizes its column, parses each *distinct* value
once with vectorised pandas/pyarrow operations, and maps the results back with
the factorization codes. Parsers never raise: a value either parses or is
flagged, with the finding code that explains why, so validation can report
every problem in one pass.

This module also finds where a tab's header is (under title rows) and which
sheet holds which tab; both work on normalised spellings so that full-width
characters, stray spaces and bracket styles do not hide a match.

Entirely blank rows are dropped by validation before any check runs: a row
with nothing in it carries no data, so skipping it loses nothing. A row with
anything in any cell, even an extra column, is kept and checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .schema import FieldSpec, TabSpec
from .sources.base import RawTable, UnsavedFormula

#: dates outside this window are typos (a year typed as 2204 or 1024)
DATE_MIN = pd.Timestamp("1990-01-01")
DATE_MAX = pd.Timestamp("2100-12-31")
DATE_RANGE_TEXT = "1990-01-01 至 2100-12-31"

#: Excel 1900-system serials accepted as dates (1950-01-01 .. 2199-12-31);
#: other numbers in a date column are not dates at all
EXCEL_EPOCH = pd.Timestamp("1899-12-30")
SERIAL_MIN = 18264
SERIAL_MAX = 109574

#: longer free text is almost always a pasted document, worth a warning
TEXT_MAX_CHARS = 2000

#: how many rows from the top are searched for the header row
HEADER_SCAN_ROWS = 20

STRING_DTYPE = pd.StringDtype("pyarrow")

FORMULA_ERRORS = frozenset({
    "#REF!", "#VALUE!", "#DIV/0!", "#N/A", "#NAME?", "#NUM!", "#NULL!", "#SPILL!",
    "#CALC!", "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!",
    "#UNKNOWN!", "#ERROR!", "#N/A!",
})

# Control characters (tab, newline and carriage return are ordinary text) and
# zero-width marks that staff cannot see but that break matching.
_CONTROL_CLASS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f\u200b\u200c\u200d\u2060\ufeff]"
_CONTROL_RE = re.compile(_CONTROL_CLASS)

# Full-width ASCII (U+FF01..U+FF5E) and odd spaces → ASCII. Free text only gets
# digits, letters and spaces converted, so Chinese punctuation such as “，” and
# “（）” in a sentence stays as written.
_SPACES = "\u3000\u00a0\u2002\u2003\u2009\u202f"
_FULL_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {ord(c): " " for c in _SPACES}
_ALNUM_TABLE = (
    {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF1A)}
    | {cp: cp - 0xFEE0 for cp in range(0xFF21, 0xFF3B)}
    | {cp: cp - 0xFEE0 for cp in range(0xFF41, 0xFF5B)}
    | {ord(c): " " for c in _SPACES}
)
_WIDE_CLASS = "[\uff01-\uff5e" + _SPACES + "]"
_WIDE_ALNUM_CLASS = "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a" + _SPACES + "]"
_BRACKETS = str.maketrans({"【": "[", "】": "]", "〔": "[", "〕": "]", "［": "[", "］": "]",
                           "（": "(", "）": ")", "｛": "{", "｝": "}"})


class _BoolMark:
    """Stand-in for ``True``/``False`` cells while factorizing: ``True == 1``
    in Python, so without it a checkbox cell and the number 1 would share one
    distinct value and whichever came first would decide for both."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "TRUE" if self.value else "FALSE"


_TRUE = _BoolMark(True)
_FALSE = _BoolMark(False)


# --------------------------------------------------------------------------
# text helpers shared by every parser


def clean_text(text: str, *, full: bool = True) -> str:
    """One value, the way the column-wise cleaners treat it (used for headers,
    sheet names and the slow path)."""
    text = _CONTROL_RE.sub("", text)
    text = text.translate(_FULL_TABLE if full else _ALNUM_TABLE)
    return text.strip()


#: marks staff put on a header to flag a required or important column
#: (“*编号”, “星级★”, “※受理日期”); they never carry meaning in a name
_DECORATIONS = "*★☆※•·・●◆◇■□▲△✱✳"
_DECORATION_RE = re.compile("[\\s" + re.escape(_DECORATIONS) + "]+")
#: one note in brackets at the start or the end of a header key, after
#: :func:`header_key` (so “（必填）” and “【必填】” are already “(必填)” and “[必填]”)
_LEADING_NOTE_RE = re.compile(r"^[(\[][^()\[\]]*[)\]]")
_TRAILING_NOTE_RE = re.compile(r"[(\[][^()\[\]]*[)\]]$")


def header_key(text: Any) -> str:
    """Spelling-insensitive form of a header or sheet name: full-width and
    half-width, bracket styles, spaces, line breaks (“编号\\n(必填)”) and
    decorations such as required-field stars (“*编号”, “星级★”) all compare
    equal. A note in brackets is kept here, because some titles hold one
    (“村(社区)”) and a copy's “(2)” must stay visible; :func:`without_notes`
    drops it where a match needs that."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    s = str(text).translate(_BRACKETS)
    s = clean_text(s)
    s = _DECORATION_RE.sub("", s)
    return s.lower()


def without_notes(key: str) -> list[str]:
    """A header key without a trailing note in brackets, without a leading
    one, and without both (“受理日期(必填)”, “[必填]星级”, “[必填]村(社区)”),
    in that order; only forms that differ from the key and are not empty."""
    trailing = _TRAILING_NOTE_RE.sub("", key)
    leading = _LEADING_NOTE_RE.sub("", key)
    both = _TRAILING_NOTE_RE.sub("", leading)
    out: list[str] = []
    for form in (trailing, leading, both):
        if form and form != key and form not in out:
            out.append(form)
    return out


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and value != value)


def display(value: Any) -> str:
    """A raw cell value as the person sees it in their sheet."""
    if _is_missing(value):
        return ""
    if isinstance(value, _BoolMark):
        return repr(value)
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float | np.floating):
        f = float(value)
        if np.isfinite(f) and f.is_integer() and abs(f) < 2**53:
            return str(int(f))
        return repr(f)
    if isinstance(value, datetime | pd.Timestamp):
        if value.hour == value.minute == value.second == value.microsecond == 0:
            return value.strftime("%Y-%m-%d")
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, np.datetime64):
        return display(pd.Timestamp(value))
    if isinstance(value, date):
        return value.isoformat()
    text = _CONTROL_RE.sub("", str(value)).strip()
    return text if len(text) <= 60 else text[:60] + "…"


_type_of = np.frompyfunc(type, 1, 1)


def _types(arr: np.ndarray) -> np.ndarray:
    """The Python type of every cell (C loop; a pandas ``map`` would first
    turn datetime cells into Timestamps)."""
    return np.asarray(_type_of(arr), dtype=object) if len(arr) else np.zeros(0, dtype=object)


def _factorize_generic(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    uniques = np.asarray(uniques, dtype=object)
    if any(isinstance(u, bool | np.bool_ | int | float | np.integer | np.floating)
           and not isinstance(u, _BoolMark) and u in (0, 1) for u in uniques):
        types = _types(arr)
        is_bool = pd.Series(types, dtype=object).isin([bool, np.bool_]).to_numpy()
        if is_bool.any():
            arr = arr.copy()
            marks = np.full(int(is_bool.sum()), _FALSE, dtype=object)
            marks[arr[is_bool].astype(bool)] = _TRUE
            arr[is_bool] = marks
            codes, uniques = pd.factorize(arr, use_na_sentinel=True)
            uniques = np.asarray(uniques, dtype=object)
    return np.asarray(codes, dtype=np.intp), uniques


def _factorize_datetimes(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Datetime cells hash slowly as Python objects; as int64 they are fast."""
    try:
        stamps = pd.to_datetime(arr)
    except (ValueError, TypeError, OverflowError):
        return None  # out-of-bounds or time-zone-mixed cells: the generic path copes
    codes, uniques = pd.factorize(stamps, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.intp), np.asarray(uniques.to_pydatetime(), dtype=object)


def arrow_chunks(series: pd.Series) -> pa.ChunkedArray | None:
    """The column's Arrow text as it is held, in the blocks the CSV reader
    made, when it is Arrow-backed text; else ``None`` (xlsx cells are
    Python objects)."""
    dtype = series.dtype
    if not isinstance(dtype, pd.StringDtype) or dtype.storage != "pyarrow":
        return None
    data = pa.array(series.array)
    return data if isinstance(data, pa.ChunkedArray) else pa.chunked_array([data])


def arrow_strings(series: pd.Series) -> pa.Array | None:
    """The column as one Arrow string array when it is Arrow-backed text (what
    the CSV reader gives), else ``None`` (xlsx cells are Python objects).

    Getting it costs no conversion: the chunks are joined, the strings are not
    touched one by one."""
    data = arrow_chunks(series)
    if data is None:
        return None
    return data.combine_chunks() if data.num_chunks != 1 else data.chunk(0)


def set_null(raw: pa.Array, mask: np.ndarray) -> pa.Array:
    """``raw`` with the cells in ``mask`` made null, without copying the
    text: only a new validity bitmap is built over the same offsets and
    characters (Arrow leaves what lies under a null cell unspecified)."""
    if raw.offset:
        raw = pa.concat_arrays([raw])  # a fresh copy starts at offset 0
    valid = ~mask
    if raw.null_count:
        valid &= np.asarray(raw.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    buffers = raw.buffers()
    return pa.Array.from_buffers(raw.type, len(raw), [bitmap, *buffers[1:]],
                                 null_count=len(raw) - int(np.count_nonzero(valid)))


def null_where(values: pd.Series, mask: np.ndarray) -> pd.Series:
    """``values.mask(mask)``; for Arrow text without copying the text."""
    raw = arrow_strings(values) if values.dtype == STRING_DTYPE else None
    if raw is None or raw.type not in (pa.string(), pa.large_string()):
        return values.mask(mask)
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([set_null(raw, mask)])),
                     index=values.index)


def _encode_strings(raw: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Codes (−1 for missing) and distinct values of Arrow strings. Blocks
    are hashed as they are, never joined: one hash table serves them all,
    so every block carries the same final dictionary (checked; joined
    otherwise)."""
    if isinstance(raw, pa.ChunkedArray):
        if raw.num_chunks == 1:
            raw = raw.chunk(0)
        else:
            encoded = pc.dictionary_encode(raw)
            chunks = encoded.chunks
            if chunks and all(c.dictionary.equals(chunks[-1].dictionary) for c in chunks):
                indices = pa.chunked_array([c.indices for c in chunks], type=pa.int32())
                codes = pc.fill_null(indices, -1).to_numpy()
                return (np.asarray(codes, dtype=np.intp), np.asarray(
                    chunks[-1].dictionary.to_numpy(zero_copy_only=False), dtype=object))
            raw = raw.combine_chunks()
    encoded = pc.dictionary_encode(raw)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return (np.asarray(codes, dtype=np.intp),
            np.asarray(encoded.dictionary.to_numpy(zero_copy_only=False), dtype=object))


def _factorize(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes (−1 for missing) and distinct values, with booleans kept apart
    from the numbers 0 and 1. Homogeneous columns (all text, all numbers,
    all dates: the usual case) take a typed fast path."""
    raw = arrow_chunks(series)
    if raw is not None:
        # CSV columns: Arrow text already, so hash it in Arrow and never build
        # a million Python strings (only the distinct values become objects)
        return _encode_strings(raw)
    arr = series.to_numpy(dtype=object)
    if len(arr) == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=object)
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind == "empty":
        return np.full(len(arr), -1, dtype=np.intp), np.zeros(0, dtype=object)
    if kind == "string":
        return _encode_strings(pa.array(arr, type=pa.string(), from_pandas=True))
    if kind == "floating":
        try:
            numbers = arr.astype(float)
        except (TypeError, ValueError, OverflowError):
            return _factorize_generic(arr)
        codes, uniques = pd.factorize(numbers, use_na_sentinel=True)
        return np.asarray(codes, dtype=np.intp), np.asarray(uniques, dtype=object)
    if kind in ("datetime", "datetime64", "date"):
        done = _factorize_datetimes(arr)
        if done is not None:
            return done
        return _factorize_generic(arr)
    if kind == "mixed" and len(arr) > 10_000:
        # mostly dates with a few typed-in strings: split the two kinds
        types = pd.Series(_types(arr), dtype=object)
        is_dt = types.isin([datetime, pd.Timestamp]).to_numpy()
        if is_dt.mean() > 0.5:
            part = _factorize_datetimes(arr[is_dt])
            if part is not None:
                rest_codes, rest_uniques = _factorize_generic(arr[~is_dt])
                codes = np.empty(len(arr), dtype=np.intp)
                codes[is_dt] = part[0]
                codes[~is_dt] = np.where(rest_codes < 0, -1, rest_codes + len(part[1]))
                return codes, np.concatenate([part[1], rest_uniques])
    return _factorize_generic(arr)


def _str_positions(uniques: np.ndarray) -> np.ndarray:
    if len(uniques) == 0:
        return np.zeros(0, dtype=bool)
    return pd.Series(uniques).map(type).eq(str).to_numpy()


def _clean_strings(strings: pd.Series, *, full: bool) -> tuple[pd.Series, np.ndarray]:
    """Vectorised :func:`clean_text` over distinct strings; also returns which
    of them held control characters."""
    s = strings.astype(STRING_DTYPE)
    control = s.str.contains(_CONTROL_CLASS, regex=True).fillna(False).to_numpy(dtype=bool)
    wide = s.str.contains(_WIDE_CLASS if full else _WIDE_ALNUM_CLASS,
                          regex=True).fillna(False).to_numpy(dtype=bool)
    slow = control | wide
    if slow.any():
        table = _FULL_TABLE if full else _ALNUM_TABLE
        fixed = s[slow].astype(object).map(lambda t: _CONTROL_RE.sub("", t).translate(table))
        s = s.astype(object)
        s[slow] = fixed
        s = s.astype(STRING_DTYPE)
    return s.str.strip(), control


# --------------------------------------------------------------------------
# the parse result


@dataclass
class Parsed:
    """One column after parsing.

    ``issues`` maps a finding code to the rows it applies to; error codes are
    exactly the rows in ``bad`` (their value is NA), warning codes
    (``control-characters``, ``text-too-long``) keep the value.
    """

    values: pd.Series
    bad: np.ndarray
    blank: np.ndarray
    issues: dict[str, np.ndarray] = field(default_factory=dict)
    #: per row, the position of its raw value in ``raw_unique`` (−1: empty);
    #: ``None`` means row ``i`` is ``raw_unique[i]`` (free text, where
    #: ``raw_unique`` is the column itself)
    codes: np.ndarray | None = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    #: the raw values ``codes`` point into: the distinct values (numpy) or,
    #: for free text, the column itself as an Arrow array (kept in Arrow so
    #: that no Python string is made for a row without a finding)
    raw_unique: np.ndarray | pa.Array = field(
        default_factory=lambda: np.zeros(0, dtype=object))

    def shown(self, mask: np.ndarray) -> np.ndarray:
        """What the person typed, for the rows in ``mask`` (for messages);
        computed only for those rows because findings are few."""
        idx = np.flatnonzero(mask) if self.codes is None else self.codes[mask]
        out = np.full(len(idx), "", dtype=object)
        ok = idx >= 0
        if isinstance(self.raw_unique, pa.Array):
            raw = self.raw_unique.take(pa.array(idx[ok], type=pa.int64())).to_pylist()
        else:
            raw = self.raw_unique[idx[ok]]
        out[ok] = [display(v) for v in raw]
        return out

    def take(self, positions: np.ndarray) -> Parsed:
        return Parsed(
            values=self.values.iloc[positions].reset_index(drop=True),
            bad=self.bad[positions],
            blank=self.blank[positions],
            issues={code: mask[positions] for code, mask in self.issues.items()},
            codes=positions.astype(np.intp) if self.codes is None else self.codes[positions],
            raw_unique=self.raw_unique,
        )


@dataclass
class _Unique:
    """Per-distinct-value results before they are spread back to the rows."""

    values: Any  # array-like aligned with the uniques
    code: np.ndarray  # finding code per distinct value, "" when fine
    blank: np.ndarray
    control: np.ndarray


def _spread(series: pd.Series, codes: np.ndarray, uniques: np.ndarray, res: _Unique,
            dtype: Any, *, extra: dict[str, np.ndarray] | None = None) -> Parsed:
    n = len(codes)
    missing = codes < 0
    safe = np.where(missing, 0, codes)
    issues: dict[str, np.ndarray] = {}
    if len(uniques):
        values_u = pd.array(res.values, dtype=dtype)
        bad_u = res.code != ""
        values_u[bad_u | res.blank] = pd.NA if dtype != "datetime64[ns]" else pd.NaT
        values = pd.Series(values_u.take(codes, allow_fill=True), index=series.index,
                           dtype=dtype, copy=False)
        # a per-row mask is spread only when some distinct value sets it
        # (each spread is a gather over every row)
        bad = bad_u[safe] & ~missing if bad_u.any() else np.zeros(n, dtype=bool)
        blank = missing | res.blank[safe] if res.blank.any() else missing.copy()
        control = (res.control[safe] & ~missing if res.control.any()
                   else np.zeros(n, dtype=bool))
        for code in pd.unique(res.code[bad_u]):
            issues[str(code)] = (res.code == code)[safe] & ~missing
    else:
        values = pd.Series(pd.array([pd.NA] * n if dtype != "datetime64[ns]" else
                                    [pd.NaT] * n, dtype=dtype), index=series.index)
        bad = np.zeros(n, dtype=bool)
        blank = np.ones(n, dtype=bool)
        control = np.zeros(n, dtype=bool)
    if control.any():
        issues["control-characters"] = control
    for code, mask in (extra or {}).items():
        if mask.any():
            issues[code] = mask
    return Parsed(values=values, bad=bad, blank=blank,
                  issues=issues, codes=codes, raw_unique=uniques)


def _prepare(uniques: np.ndarray, *, full: bool = True) -> tuple[np.ndarray, np.ndarray,
                                                                  np.ndarray, np.ndarray]:
    """Distinct values with strings cleaned. Returns (values, is_str, blank,
    control) where strings that were blank after cleaning are flagged."""
    values = uniques.copy()
    is_str = _str_positions(uniques)
    blank = np.zeros(len(uniques), dtype=bool)
    control = np.zeros(len(uniques), dtype=bool)
    if is_str.any():
        cleaned, ctrl = _clean_strings(pd.Series(uniques[is_str]), full=full)
        values[is_str] = cleaned.to_numpy(dtype=object)
        blank[is_str] = (cleaned == "").to_numpy(dtype=bool)
        control[is_str] = ctrl
    return values, is_str, blank, control


def _numeric_positions(values: np.ndarray, is_str: np.ndarray) -> np.ndarray:
    """Distinct values that are numbers (not booleans, not text)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    kinds = pd.Series(values).map(type)
    numeric_types = [t for t in set(kinds)
                     if issubclass(t, int | float | np.integer | np.floating)
                     and not issubclass(t, bool | np.bool_)]
    return kinds.isin(numeric_types).to_numpy() & ~is_str


def _formula_errors(values: np.ndarray, is_str: np.ndarray) -> np.ndarray:
    out = np.zeros(len(values), dtype=bool)
    if is_str.any():
        out[is_str] = pd.Series(values[is_str]).str.upper().isin(FORMULA_ERRORS).to_numpy()
    return out


def _unsaved(values: np.ndarray, is_str: np.ndarray) -> np.ndarray:
    """Distinct values that are formulas saved without a result (the marker
    a workbook reader puts in such a cell). The marker is never text, so
    only the other distinct values are looked at, by type, in one C loop."""
    out = np.zeros(len(values), dtype=bool)
    other = np.flatnonzero(~is_str)
    if len(other):
        out[other] = _types(values[other]) == UnsavedFormula
    return out


# --------------------------------------------------------------------------
# dates

_DATE_RE = (
    r"^(?P<y>\d{4})(?:\s*[-./年]\s*(?P<m>\d{1,2})\s*[-./月]\s*(?P<d>\d{1,2})\s*[日号]?"
    r"|(?P<m2>\d{2})(?P<d2>\d{2}))"
    r"(?:\s*[T\s]\s*(?P<H>\d{1,2})\s*[:时点]\s*(?P<M>\d{1,2})\s*分?"
    r"(?:\s*[:]?\s*(?P<S>\d{1,2})(?:\.\d+)?\s*秒?)?)?$"
)
_NUMERIC_RE = r"^\d+(?:\.\d+)?$"


def _dates_from_strings(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised: the dates written as text. Returns (datetime64 values,
    matched mask); unmatched strings fall back to :func:`_slow_date`."""
    n = len(texts)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    matched = np.zeros(n, dtype=bool)
    if n == 0:
        return out, matched
    collapsed = texts.str.replace(r"\s+", " ", regex=True)
    parts = collapsed.astype(object).str.extract(_DATE_RE)
    has = parts["y"].notna().to_numpy()
    if has.any():
        p = parts[has]
        month = p["m"].fillna(p["m2"]).astype(int)
        day = p["d"].fillna(p["d2"]).astype(int)
        hour = p["H"].fillna("0").astype(int)
        minute = p["M"].fillna("0").astype(int)
        second = p["S"].fillna("0").astype(int)
        good_time = ((hour < 24) & (minute < 60) & (second < 60)).to_numpy()
        stamps = pd.to_datetime(
            pd.DataFrame({"year": p["y"].astype(int), "month": month, "day": day}),
            errors="coerce",
        ).to_numpy(dtype="datetime64[ns]")
        stamps[~good_time] = np.datetime64("NaT")
        out[has] = stamps
        matched[has] = True
    numeric = (~has) & collapsed.str.fullmatch(_NUMERIC_RE).fillna(False).to_numpy(dtype=bool)
    if numeric.any():
        out[numeric] = _dates_from_serials(collapsed[numeric].astype(float).to_numpy())
        matched[numeric] = True
    rest = np.flatnonzero(~matched)
    for i in rest:  # the few spellings no pattern above covers
        stamp = _slow_date(str(texts.iloc[i]))
        if stamp is not None:
            out[i] = stamp
            matched[i] = True
    return out, matched


def _slow_date(text: str) -> np.datetime64 | None:
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return None
    if stamp.tzinfo is not None:
        stamp = stamp.replace(tzinfo=None)
    if not 1677 < stamp.year < 2262:
        return None
    return np.datetime64(stamp.date(), "ns")


def _dates_from_serials(numbers: np.ndarray) -> np.ndarray:
    """Excel serials (and ``20240305`` typed as a number) → dates; any other
    number is not a date (NaT)."""
    out = np.full(len(numbers), np.datetime64("NaT"), dtype="datetime64[ns]")
    finite = np.isfinite(numbers)
    ymd = finite & (numbers >= 19000101) & (numbers <= 29991231) & (numbers == np.floor(numbers))
    if ymd.any():
        as_int = numbers[ymd].astype(np.int64)
        out[ymd] = pd.to_datetime(
            pd.DataFrame({"year": as_int // 10000, "month": as_int // 100 % 100,
                          "day": as_int % 100}),
            errors="coerce",
        ).to_numpy(dtype="datetime64[ns]")
    serial = finite & ~ymd & (numbers >= SERIAL_MIN) & (numbers < SERIAL_MAX + 1)
    if serial.any():
        # Day arithmetic in datetime64[D]: a nanosecond timedelta overflows
        # int64 at 106,752 days, inside the serial window.
        days = np.floor(numbers[serial]).astype(np.int64).astype("timedelta64[D]")
        out[serial] = (EXCEL_EPOCH.to_datetime64().astype("datetime64[D]") + days).astype(
            "datetime64[ns]")
    return out


def _date_uniques(uniques: np.ndarray) -> _Unique:
    values, is_str, blank, control = _prepare(uniques)
    n = len(values)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    code = np.full(n, "", dtype=object)
    formula = _formula_errors(values, is_str)
    code[formula] = "formula-error"
    code[_unsaved(values, is_str)] = "formula-no-value"
    out_of_range = np.zeros(n, dtype=bool)
    todo = is_str & ~blank & ~formula
    if todo.any():
        parsed, _ = _dates_from_strings(pd.Series(values[todo]).astype(STRING_DTYPE))
        out[todo] = parsed
    numeric = _numeric_positions(values, is_str)
    if numeric.any():
        numbers = values[numeric].astype(float)
        out[numeric] = _dates_from_serials(numbers)
        # A number is a day count to a spreadsheet, so one that is no date we
        # accept lies outside the window (a typed 20241345 is a bad date).
        ymd_shaped = (numbers >= 19000101) & (numbers <= 29991231)
        out_of_range[np.flatnonzero(numeric)[np.isnat(out[numeric]) & ~ymd_shaped
                                                 & ~blank[numeric]]] = True
    for i in np.flatnonzero(~is_str & ~numeric):  # datetime-like cells: few distinct
        v = values[i]
        if isinstance(v, np.datetime64):
            try:
                v = pd.Timestamp(v)
            except (ValueError, OverflowError):
                out_of_range[i] = True
                continue
        if isinstance(v, date):  # datetime and Timestamp included
            if not 1990 <= v.year <= 2100:
                out_of_range[i] = True
                continue
            out[i] = np.datetime64(date(v.year, v.month, v.day), "ns")
    out = out.astype("datetime64[D]").astype("datetime64[ns]")
    have = ~np.isnat(out)
    out_of_range |= have & ((out < DATE_MIN.to_datetime64()) | (out > DATE_MAX.to_datetime64()))
    code[(code == "") & out_of_range] = "date-out-of-range"
    code[(code == "") & ~have & ~blank & ~out_of_range] = "bad-date"
    out[out_of_range] = np.datetime64("NaT")
    return _Unique(out, code, blank, control)


def parse_date_column(series: pd.Series) -> Parsed:
    """Dates in every spelling DOMAIN.md §3 lists, as ``datetime64[ns]`` at
    midnight (a time of day is dropped: the ledger counts calendar days)."""
    codes, uniques = _factorize(series)
    return _spread(series, codes, uniques, _date_uniques(uniques), "datetime64[ns]")


def parse_dates(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    p = parse_date_column(series)
    return p.values, pd.Series(p.bad, index=series.index)


# --------------------------------------------------------------------------
# integers and numbers

_INT_RE = r"^[+-]?\d{1,18}(?:\.0*)?$"
_NUM_RE = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_THOUSANDS = r"(?<=\d),(?=\d{3}(?:\D|$))"


def _number_uniques(uniques: np.ndarray, *, integer: bool) -> _Unique:
    values, is_str, blank, control = _prepare(uniques)
    n = len(values)
    out = np.full(n, np.nan, dtype=float)
    ok = np.zeros(n, dtype=bool)
    code = np.full(n, "", dtype=object)
    formula = _formula_errors(values, is_str)
    code[formula] = "formula-error"
    code[_unsaved(values, is_str)] = "formula-no-value"
    todo = is_str & ~blank & ~formula
    if todo.any():
        texts = pd.Series(values[todo]).str.replace(_THOUSANDS, "", regex=True)
        texts = texts.str.replace(r"\s+", "", regex=True)
        good = texts.str.fullmatch(_INT_RE if integer else _NUM_RE).to_numpy(dtype=bool)
        nums = np.full(len(texts), np.nan)
        if good.any():
            nums[good] = texts[good].astype(float).to_numpy()
        out[todo] = nums
        ok[todo] = good
    numeric = _numeric_positions(values, is_str)
    if numeric.any():
        nums = values[numeric].astype(float)
        out[numeric] = nums
        ok[numeric] = np.isfinite(nums)
    if integer:
        ok &= np.isfinite(out) & (out == np.floor(out)) & (np.abs(out) < 2**53)
    code[(code == "") & ~ok & ~blank] = "bad-integer" if integer else "bad-number"
    result: Any
    if integer:
        result = np.where(ok, out, 0).astype(np.int64)
    else:
        result = out
    return _Unique(result, code, blank, control)


def _limits(parsed: Parsed, spec: FieldSpec) -> Parsed:
    """``minimum``/``maximum`` constraints: a value out of bounds is an error
    (NA), like any other bad value."""
    vals = parsed.values
    for code, bound, cmp in (("below-minimum", spec.minimum, np.less),
                             ("above-maximum", spec.maximum, np.greater)):
        if bound is None:
            continue
        mask = cmp(vals.to_numpy(dtype=float, na_value=np.nan), bound)
        mask &= ~parsed.bad
        if mask.any():
            parsed.issues[code] = mask
            parsed.bad = parsed.bad | mask
            vals = vals.mask(pd.Series(mask, index=vals.index))
    parsed.values = vals
    return parsed


def parse_integer_column(series: pd.Series) -> Parsed:
    """Whole numbers; ``3.0`` is 3, ``３`` is 3, ``3人`` is not an integer
    (the unit is more likely a sign of a wrong column than a harmless habit,
    and the hint tells the person to drop it)."""
    codes, uniques = _factorize(series)
    return _spread(series, codes, uniques, _number_uniques(uniques, integer=True), "Int64")


def parse_number_column(series: pd.Series) -> Parsed:
    codes, uniques = _factorize(series)
    return _spread(series, codes, uniques, _number_uniques(uniques, integer=False), "Float64")


def parse_integers(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    p = parse_integer_column(series)
    return p.values, pd.Series(p.bad, index=series.index)


# --------------------------------------------------------------------------
# booleans


def _bool_lookup(spec: FieldSpec | None) -> dict[str, bool]:
    trues = spec.true_values if spec and spec.true_values else ("是", "√", "Y", "TRUE", "1")
    falses = spec.false_values if spec and spec.false_values else ("否", "×", "N", "FALSE", "0")
    lookup: dict[str, bool] = {}
    # Unquoted YES/yes/true/NO/no in the YAML load as booleans and reach us as
    # "True"/"False"; restore the spellings they stood for.
    yaml_words = {"True": ("true", "yes"), "False": ("false", "no")}
    for words, flag in ((trues, True), (falses, False)):
        words = tuple(w for word in words for w in (word, *yaml_words.get(word, ())))
        for w in words:
            lookup.setdefault(clean_text(w), flag)
            lookup.setdefault(clean_text(w).lower(), flag)
    return lookup


def parse_boolean_column(series: pd.Series, spec: FieldSpec | None = None) -> Parsed:
    """Booleans from the field's own ``trueValues``/``falseValues`` (so that
    “有/无” works where the schema allows it), case-insensitively."""
    codes, uniques = _factorize(series)
    values, is_str, blank, control = _prepare(uniques)
    lookup = _bool_lookup(spec)
    n = len(values)
    out = np.zeros(n, dtype=bool)
    code = np.full(n, "", dtype=object)
    formula = _formula_errors(values, is_str)
    texts = pd.Series([display(v) if not isinstance(v, str) else v for v in values], dtype=object)
    mapped = texts.map(lookup)
    mapped = mapped.where(mapped.notna(), texts.str.lower().map(lookup))
    for i in np.flatnonzero(pd.Series(values).map(type).eq(_BoolMark).to_numpy()):
        mapped.iloc[i] = values[i].value
    known = mapped.notna().to_numpy()
    out[known] = mapped[known].astype(bool).to_numpy()
    code[formula] = "formula-error"
    code[_unsaved(values, is_str)] = "formula-no-value"
    code[(code == "") & ~known & ~blank] = "bad-boolean"
    return _spread(series, codes, uniques, _Unique(out, code, blank, control), "boolean")


def parse_booleans(series: pd.Series, spec: FieldSpec | None = None) -> tuple[pd.Series,
                                                                              pd.Series]:
    p = parse_boolean_column(series, spec)
    return p.values, pd.Series(p.bad, index=series.index)


# --------------------------------------------------------------------------
# enums and text


def enum_key(text: str) -> str:
    """How an allowed value is compared: full-width, spaces and case ignored."""
    return re.sub(r"\s+", "", clean_text(text).translate(_BRACKETS)).lower()


def enum_lookup(spec: FieldSpec) -> dict[str, Any]:
    lookup: dict[str, Any] = {}
    for value in spec.enum or ():
        lookup.setdefault(enum_key(str(value)), value)
    for alias, value in spec.enum_aliases.items():
        lookup.setdefault(enum_key(str(alias)), value)
    return lookup


def parse_enum_column(series: pd.Series, spec: FieldSpec) -> Parsed:
    """Allowed values and their accepted spellings → the canonical value.
    An integer enum (星级) also accepts ``2.0`` and ``２``."""
    codes, uniques = _factorize(series)
    values, is_str, blank, control = _prepare(uniques)
    lookup = enum_lookup(spec)
    n = len(values)
    code = np.full(n, "", dtype=object)
    formula = _formula_errors(values, is_str)
    texts = pd.Series([v if isinstance(v, str) else display(v) for v in values], dtype=object)
    keys = texts.str.replace(r"\s+", "", regex=True).str.translate(_BRACKETS).str.lower()
    mapped = keys.map(lookup)
    known = mapped.notna().to_numpy() & ~blank
    code[formula] = "formula-error"
    code[_unsaved(values, is_str)] = "formula-no-value"
    code[(code == "") & ~known & ~blank] = "not-in-enum"
    if spec.type == "integer":
        out: Any = np.where(known, mapped.fillna(0), 0).astype(np.int64)
        dtype = "Int64"
    else:
        out = np.full(n, None, dtype=object)
        out[known] = mapped[known].astype(str).to_numpy(dtype=object)
        dtype = STRING_DTYPE
    return _spread(series, codes, uniques, _Unique(out, code, blank, control), dtype)


#: one character class for everything :func:`clean_text` rewrites
_SLOW_FULL = "[" + _CONTROL_CLASS[1:-1] + _WIDE_CLASS[1:-1] + "]"
_SLOW_ALNUM = "[" + _CONTROL_CLASS[1:-1] + _WIDE_ALNUM_CLASS[1:-1] + "]"


def _buffer_matches(raw: pa.Array, pattern: str) -> bool:
    """Whether ``pattern`` (a character class) occurs anywhere in the column,
    by one regex scan over the column's character buffer taken as a single
    string. Almost every column is clean, and one long scan is several times
    cheaper than a scan per cell. A class cannot match across two cells, so a
    miss proves every cell clean; a hit (possibly in the bytes behind a null
    cell) only means the cells are then checked one by one."""
    if len(raw) == 0 or raw.null_count == len(raw):
        return False
    buffers = raw.buffers()
    if buffers[2] is None:
        return False
    wide = pa.types.is_large_string(raw.type) or pa.types.is_large_binary(raw.type)
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)
    first, last = int(offsets[raw.offset]), int(offsets[raw.offset + len(raw)])
    if last <= first:
        return False
    whole = pa.Array.from_buffers(
        pa.large_string(), 1,
        [None, pa.py_buffer(np.array([0, last - first], dtype=np.int64)),
         buffers[2].slice(first, last - first)])
    return bool(pc.match_substring_regex(whole, pattern)[0].as_py())


def _clean_arrow(raw: pa.Array, *, code_like: bool) -> tuple[pa.Array, np.ndarray]:
    """Control characters out and full-width characters converted. A column
    with none of them (the usual case) costs one scan; otherwise the cells
    the regex flags are rewritten in Python, each distinct flagged text once."""
    pattern = _SLOW_FULL if code_like else _SLOW_ALNUM
    control = np.zeros(len(raw), dtype=bool)
    if not _buffer_matches(raw, pattern):
        return raw, control
    slow = np.asarray(pc.fill_null(pc.match_substring_regex(raw, pattern), False)
                      .to_numpy(zero_copy_only=False), dtype=bool)
    if not slow.any():
        return raw, control
    table = _FULL_TABLE if code_like else _ALNUM_TABLE
    idx = np.flatnonzero(slow)
    flagged = pc.dictionary_encode(raw.take(pa.array(idx, type=pa.int64())))
    texts = flagged.dictionary.to_numpy(zero_copy_only=False).tolist()
    control_d = np.array([bool(_CONTROL_RE.search(t)) for t in texts], dtype=bool)
    fixed_d = pa.array([_CONTROL_RE.sub("", t).translate(table) for t in texts],
                       type=raw.type)
    codes = np.asarray(flagged.indices.to_numpy(zero_copy_only=False), dtype=np.intp)
    control[idx] = control_d[codes]
    raw = pc.replace_with_mask(raw, pa.array(slow), fixed_d.take(flagged.indices))
    return raw, control


def _to_bool(arr: pa.Array | pa.ChunkedArray, fill: bool) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, fill).to_numpy(zero_copy_only=False), dtype=bool)


def _cell_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first byte offset, byte length, character buffer) of every cell of
    an Arrow string array, read from its buffers without touching the text;
    a null cell has length 0."""
    buffers = arr.buffers()
    wide = pa.types.is_large_string(arr.type)
    offsets = np.frombuffer(buffers[1], dtype=np.int64 if wide else np.int32)
    offsets = offsets[arr.offset:arr.offset + len(arr) + 1]
    data = (np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None
            else np.zeros(0, dtype=np.uint8))
    lengths = np.diff(offsets).astype(np.int64, copy=False)
    if arr.null_count:
        lengths[~_to_bool(arr.is_valid(), False)] = 0
    return offsets[:-1], lengths, data


def _trim(arr: pa.Array) -> pa.Array:
    """``utf8_trim_whitespace`` of the column, or the column itself when
    trimming took nothing off (told by the total length, since trimming
    only removes bytes): a clean column then keeps sharing the reader's
    buffers instead of holding a second copy of a million cells."""
    trimmed = pc.utf8_trim_whitespace(arr)
    return arr if _text_bytes(trimmed) == _text_bytes(arr) else trimmed


def _text_bytes(arr: pa.Array) -> int:
    """Bytes of text in the non-null cells of a string array (whatever lies
    under a null cell is not counted)."""
    return int(_cell_bytes(arr)[1].sum())


def _text_arrow(raw: pa.Array, index: pd.Index, *, code_like: bool) -> Parsed:
    """Free text held as one Arrow array, with pyarrow compute kernels over
    the whole column: free text is mostly distinct, so factorizing would buy
    nothing, and no cell becomes a Python string unless it needs fixing or
    has a finding. Lengths are read from the byte offsets first; characters
    are counted only when some cell has more bytes than the limit allows
    characters."""
    n = len(raw)
    cleaned, control_np = _clean_arrow(raw, code_like=code_like)
    cleaned = _trim(cleaned)
    starts, nbytes, data = _cell_bytes(cleaned)
    blank = nbytes == 0  # a null cell has length 0 here
    # the first byte of each cell (a blank cell's position may lie past the end)
    hashed = ~blank & (data[np.minimum(starts, max(len(data) - 1, 0))] == ord("#")) \
        if len(data) else np.zeros(n, dtype=bool)
    formula = np.zeros(n, dtype=bool)
    if hashed.any():
        idx = np.flatnonzero(hashed)
        texts = raw.take(pa.array(idx, type=pa.int64())).to_pylist()
        formula[idx] = [str(t).strip().upper() in FORMULA_ERRORS for t in texts]
    if (nbytes > TEXT_MAX_CHARS).any():
        too_long = _to_bool(pc.greater(pc.utf8_length(cleaned), TEXT_MAX_CHARS), False)
    else:
        too_long = np.zeros(n, dtype=bool)
    drop = blank | formula
    if drop.any():
        cleaned = set_null(cleaned, drop)
    values = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([cleaned])), index=index)
    issues: dict[str, np.ndarray] = {}
    for name, m in (("formula-error", formula), ("control-characters", control_np),
                    ("text-too-long", too_long)):
        if m.any():
            issues[name] = m
    return Parsed(values=values, bad=formula, blank=blank, issues=issues,
                  codes=None, raw_unique=raw)


def parse_text_column(series: pd.Series, *, code_like: bool = False) -> Parsed:
    """Free text, trimmed, invisible characters removed. ``code_like`` fields
    (ids, grid codes) also get full-width punctuation converted so that
    ``DZ2024－001`` matches ``DZ2024-001``; sentences keep their Chinese
    punctuation."""
    raw = arrow_strings(series)
    if raw is not None:
        return _text_arrow(raw, series.index, code_like=code_like)
    arr = series.to_numpy(dtype=object)
    kind = pd.api.types.infer_dtype(arr, skipna=True)
    if kind in ("string", "empty"):
        return _text_arrow(pa.array(arr, type=pa.string(), from_pandas=True), series.index,
                           code_like=code_like)
    codes, uniques = _factorize(series)
    values, is_str, blank, control = _prepare(uniques, full=code_like)
    n = len(values)
    code = np.full(n, "", dtype=object)
    code[_formula_errors(values, is_str)] = "formula-error"
    code[_unsaved(values, is_str)] = "formula-no-value"
    texts = np.array([v if isinstance(v, str) else display(v) for v in values], dtype=object)
    too_long_u = np.array([len(t) > TEXT_MAX_CHARS for t in texts], dtype=bool)
    safe = np.where(codes < 0, 0, codes)
    too_long = too_long_u[safe] & (codes >= 0) if n else np.zeros(len(codes), dtype=bool)
    return _spread(series, codes, uniques, _Unique(texts, code, blank, control), STRING_DTYPE,
                   extra={"text-too-long": too_long})


def parse_field(series: pd.Series, spec: FieldSpec, *, code_like: bool = False) -> Parsed:
    """The parser a schema field calls for, with its numeric limits applied."""
    if spec.enum is not None:
        parsed = parse_enum_column(series, spec)
    elif spec.type == "date":
        parsed = parse_date_column(series)
    elif spec.type == "integer":
        parsed = parse_integer_column(series)
    elif spec.type == "number":
        parsed = parse_number_column(series)
    elif spec.type == "boolean":
        parsed = parse_boolean_column(series, spec)
    else:
        parsed = parse_text_column(series, code_like=code_like)
    if spec.type in ("integer", "number") and (spec.minimum is not None
                                               or spec.maximum is not None):
        parsed = _limits(parsed, spec)
    return parsed


def blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows where every cell is empty or only spaces/invisible characters."""
    blank = np.ones(len(frame), dtype=bool)
    for col in frame.columns:
        codes, uniques = _factorize(frame[col])
        if len(uniques) == 0:
            continue
        _, _, blank_u, _ = _prepare(uniques)
        blank &= (codes < 0) | blank_u[np.where(codes < 0, 0, codes)]
        if not blank.any():
            break
    return blank


# --------------------------------------------------------------------------
# locating tabs and headers


@dataclass
class HeaderMatch:
    """Where a tab's header is and which sheet column holds which field."""

    index: int  # frame row of the header
    sheet_row: int
    columns: dict[str, int]  # field → column position (0 = sheet column A)
    headers: dict[str, str]  # field → header text as written in the sheet
    duplicates: list[tuple[int, str, str]]  # (column, header as written, field) ignored


def _header_lookup(tab: TabSpec) -> dict[str, tuple[str, bool]]:
    """normalised header → (field, is_alias); titles win over aliases."""
    lookup: dict[str, tuple[str, bool]] = {}
    for f in tab.fields:
        lookup.setdefault(header_key(f.title), (f.name, False))
    for f in tab.fields:
        for alias in f.aliases:
            lookup.setdefault(header_key(alias), (f.name, True))
    return lookup


def _match_header_cell(key: str, lookup: dict[str, tuple[str, bool]]) -> tuple[str, bool] | None:
    """The field a header names: the key as written first, so that a title
    holding brackets (“村(社区)”) keeps its meaning; then without a note in
    brackets (“受理日期(必填)”, “[必填]星级”). No substring rule: a header
    such as “星级评定说明” names no field."""
    if not key:
        return None
    hit = lookup.get(key)
    if hit is None:
        hit = next((lookup[k] for k in without_notes(key) if k in lookup), None)
    return hit


def locate_header(raw: RawTable, tab: TabSpec, scan_rows: int = HEADER_SCAN_ROWS
                  ) -> HeaderMatch | None:
    """The row among the first ``scan_rows`` that names the most fields (title
    rows above it are left alone); ``None`` when no row names any."""
    lookup = _header_lookup(tab)
    head = raw.frame.iloc[:scan_rows]
    best: tuple[int, int] | None = None  # (count, row index)
    for pos in range(len(head)):
        row = head.iloc[pos]
        found = {hit[0] for hit in (_match_header_cell(header_key(v), lookup) for v in row)
                 if hit is not None}
        if found and (best is None or len(found) > best[0]):
            best = (len(found), pos)
    if best is None:
        return None
    pos = best[1]
    row = head.iloc[pos]
    candidates: dict[str, list[tuple[bool, int, str]]] = {}
    for col, value in enumerate(row.to_numpy(dtype=object)):
        hit = _match_header_cell(header_key(value), lookup)
        if hit is not None:
            written = display(value)
            candidates.setdefault(hit[0], []).append((hit[1], col, written))
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    duplicates: list[tuple[int, str, str]] = []
    for name, cands in candidates.items():
        cands.sort()
        _, col, written = cands[0]
        columns[name] = col
        headers[name] = written
        duplicates.extend((c, w, name) for _, c, w in cands[1:])
    duplicates.sort()
    return HeaderMatch(index=pos, sheet_row=raw.first_row + pos, columns=columns,
                       headers=headers, duplicates=duplicates)


#: how Excel, WPS and people name a copy of a tab, on the header key:
#: “纠纷台账 (2)”, “纠纷台账-旧”, “纠纷台账_副本”, “纠纷台账 - 副本”, “Copy of 纠纷台账”
_COPY_PREFIX_RE = re.compile(r"^(?:copyof|副本[-_]?|旧[-_]?)")
_COPY_SUFFIX_RE = re.compile(
    r"(?:\(\d+\)|[-_]\d+|[-_]?(?:副本|备份|旧表|旧版|旧|copy|old|bak)\d*)$")
#: a title or alias this long is also found inside a longer sheet name
#: (“2024年纠纷台账”); shorter ones (“网格”) would match too much
_CONTAINS_MIN = 4


def _copy_base(key: str) -> str:
    """The name a copy was made from (“纠纷台账(2)-副本” → “纠纷台账”); the
    key itself when it carries no copy mark."""
    while True:
        base = _COPY_SUFFIX_RE.sub("", _COPY_PREFIX_RE.sub("", key))
        if base == key or not base:
            return key
        key = base


@dataclass(frozen=True)
class TabChoice:
    """Which sheet serves a tab, and what the choice passed over.

    ``sheet`` is None when the tab is missing, ambiguous (``candidates``
    holds every sheet that could be it) or mapped in the config to a sheet
    that does not exist (``unknown_mapping``).
    """

    sheet: str | None = None
    candidates: tuple[str, ...] = ()
    hidden_used: bool = False  # the only candidate was a hidden sheet
    hidden_ignored: tuple[str, ...] = ()  # hidden candidates passed over for ``sheet``
    unknown_mapping: str | None = None  # the config named this sheet, which is absent


def _claim(key: str, wanted: list[str]) -> tuple[int, int] | None:
    """How strongly a sheet key looks like a tab: (0, ·) exact title or
    alias, (1, ·) a copy of one, (2, −length) contains one of
    :data:`_CONTAINS_MIN` characters or more; None when it does not."""
    if key in wanted:
        return (0, 0)
    base = _copy_base(key)
    if base != key and base in wanted:
        return (1, 0)
    lengths = [len(w) for w in wanted if len(w) >= _CONTAINS_MIN and w in key]
    return (2, -max(lengths)) if lengths else None


def _find_sheet(name: str, sheets: list[str]) -> str | None:
    """The sheet a config entry names: exactly, else by header key."""
    if name in sheets:
        return name
    key = header_key(name)
    hits = [s for s in sheets if header_key(s) == key]
    return hits[0] if len(hits) == 1 else None


def choose_tabs(sheets: dict[str, bool], tabs: list[TabSpec],
                mapping: dict[str, str] | None = None) -> dict[str, TabChoice]:
    """tab id → :class:`TabChoice`, for every tab; ``sheets`` is sheet name →
    hidden, in workbook order; ``mapping`` is the config's ``tabs``.

    Never a silent guess. A sheet named in ``mapping`` serves that tab and
    no other. Every other sheet is a candidate of the tab it looks most
    like (exact title or alias, then a copy name, then the longest title or
    alias it contains; “重点人员随访记录” belongs to 重点人员随访, not to 重点人员).
    A visible candidate always wins over hidden ones; two or more visible
    candidates (or, with none visible, two or more hidden ones) leave the tab
    without a sheet and list them, because a stale copy cannot be told from
    the current ledger by its name."""
    names = list(sheets)
    mapping = mapping or {}
    choices: dict[str, TabChoice] = {}
    mapped: set[str] = set()
    for tab in tabs:
        if tab.name in mapping:
            hit = _find_sheet(mapping[tab.name], names)
            choices[tab.name] = (TabChoice(sheet=hit) if hit is not None
                                 else TabChoice(unknown_mapping=mapping[tab.name]))
            if hit is not None:
                mapped.add(hit)
    wanted = {tab.name: [header_key(t) for t in (tab.title, *tab.aliases)] for tab in tabs}
    candidates: dict[str, list[str]] = {tab.name: [] for tab in tabs}
    for sheet in names:
        if sheet in mapped:
            continue
        key = header_key(sheet)
        claims = [(claim, order, tab.name) for order, tab in enumerate(tabs)
                  if (claim := _claim(key, wanted[tab.name])) is not None]
        if claims:  # a sheet most like a mapped tab is that tab's unused copy
            candidates[min(claims)[2]].append(sheet)
    for tab in tabs:
        if tab.name in choices:
            continue
        visible = [s for s in candidates[tab.name] if not sheets[s]]
        hidden = [s for s in candidates[tab.name] if sheets[s]]
        if len(visible) == 1:
            choices[tab.name] = TabChoice(sheet=visible[0], hidden_ignored=tuple(hidden))
        elif len(visible) > 1:
            choices[tab.name] = TabChoice(candidates=tuple(visible + hidden))
        elif len(hidden) == 1:
            choices[tab.name] = TabChoice(sheet=hidden[0], hidden_used=True)
        elif hidden:
            choices[tab.name] = TabChoice(candidates=tuple(hidden))
        else:
            choices[tab.name] = TabChoice()
    return choices


def locate_tabs(sheet_names: list[str], tabs: list[TabSpec]) -> dict[str, str]:
    """tab id → sheet name for the tabs :func:`choose_tabs` settles, all
    sheets taken as visible (a short form for callers that need no reasons)."""
    choices = choose_tabs(dict.fromkeys(sheet_names, False), tabs)
    return {name: c.sheet for name, c in choices.items() if c.sheet is not None}


__all__ = [
    "DATE_MAX", "DATE_MIN", "HeaderMatch", "Parsed", "TabChoice", "blank_rows", "choose_tabs",
    "clean_text", "display", "enum_key", "header_key", "locate_header", "locate_tabs",
    "parse_boolean_column", "parse_booleans", "parse_date_column", "parse_dates",
    "parse_enum_column", "parse_field", "parse_integer_column", "parse_integers",
    "parse_number_column", "parse_text_column", "without_notes",
]
