"""The same field and row checks as ``fengqiao validate``, in the peer tools.

Each subcommand is one measured task of ``bench/run.py``; it runs in its own
process and writes a JSON result (findings counted the way that tool reports
them) to ``--result``:

- ``frictionless``: a Table Schema package built from ``sheets_schema`` (or the
  file ``fengqiao schema export --by-title`` writes, when given with
  ``--descriptor``), with row constraints, validated with no error limit;
- ``pandera``: a pandas read of the same CSV plus a ``DataFrameSchema`` with
  the same checks, validated lazily so every failure is gathered (dates by a
  vectorised check); ``pandera-coerce``: the same with dates as a coerced
  ``DateTime`` dtype, pandera's textbook form, slow on bad dates;
- ``pyarrow-csv``: a bare ``pyarrow.csv.read_csv`` of the same files (the floor);
- ``polars-floor``: the year's five core dispute figures (received, closed,
  on time, pending at the end, median days) counted the way fengqiao counts
  them, in one Polars query over the disputes CSV: what a columnar engine
  would pay for reading, parsing and counting, measured to size the rewrite
  that issue 16's last target needs. It is not a second implementation of
  the figures: no other checks, breakdowns, comparisons or JSON;
- ``calamine`` / ``openpyxl``: a bare read of every cell of the xlsx.

What the peers cannot express the way fengqiao does (documented in README):
enum aliases, non-ISO date spellings, full-width digits, title rows above the
header. They check the canonical spelling only.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fengqiao.schema import FieldSpec, TabSpec, load_schema

TABS = ("disputes", "grids", "visits")


def _closed_values(tab: TabSpec) -> tuple[str, ...]:
    for f in tab.fields:
        if f.closed_values:
            return tuple(str(v) for v in f.closed_values)
    return ()


# --- frictionless -----------------------------------------------------------------

def _tableschema_field(f: FieldSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.title, "type": f.type}
    cons: dict[str, Any] = {}
    if f.required:
        cons["required"] = True
    if f.unique:
        cons["unique"] = True
    if f.enum is not None:
        cons["enum"] = list(f.enum)
    if f.minimum is not None:
        cons["minimum"] = f.minimum
    if f.maximum is not None:
        cons["maximum"] = f.maximum
    if cons:
        out["constraints"] = cons
    if f.type == "boolean":
        out["trueValues"] = list(f.true_values)
        out["falseValues"] = list(f.false_values)
    return out


def table_schema_by_title(tab: TabSpec, present: set[str]) -> dict[str, Any]:
    """A Table Schema whose field names are the Chinese titles (the headers in
    the files). The id's uniqueness is its ``unique`` constraint only (a
    primaryKey as well would report every duplicate twice); foreign keys to
    tabs that are not in the package are dropped."""
    schema = load_schema()
    fks = []
    for fk in tab.foreign_keys:
        if fk.resource not in present:
            continue
        ref = schema[fk.resource]
        fks.append({
            "fields": [tab.field(n).title for n in fk.fields],
            "reference": {
                "resource": "" if fk.resource == tab.name else fk.resource,
                "fields": [ref.field(n).title for n in fk.reference_fields],
            },
        })
    out: dict[str, Any] = {"fields": [_tableschema_field(f) for f in tab.fields]}
    if fks:
        out["foreignKeys"] = fks
    return out


def row_constraints(tab: TabSpec) -> list[str]:
    """closed ⇔ 办结日期 and 办结日期 ≥ 受理日期, as simpleeval formulas."""
    if tab.name != "disputes":
        return []
    status = tab.field("status").title
    closed = tab.field("closed_date").title
    received = tab.field("received_date").title
    not_closed = " and ".join(f"{status} != '{v}'" for v in _closed_values(tab))
    return [
        f"({not_closed}) or {closed} is not None",  # closed-without-date
        f"{closed} is None or not ({not_closed})",  # date-without-closed
        f"{closed} is None or {received} is None or {closed} >= {received}",  # order
    ]


def package_descriptor(csv_dir: Path) -> dict[str, Any]:
    schema = load_schema()
    present = {n for n in TABS if (csv_dir / f"{schema[n].title}.csv").exists()}
    resources = []
    for name in TABS:
        if name not in present:
            continue
        tab = schema[name]
        resources.append({
            "name": name,
            "path": f"{tab.title}.csv",
            "format": "csv",
            "encoding": "utf-8",
            "schema": table_schema_by_title(tab, present),
        })
    return {"name": "town", "resources": resources}


def run_frictionless(csv_dir: Path, descriptor: Path | None) -> dict[str, Any]:
    from frictionless import Checklist, Package, checks

    desc = (json.loads(descriptor.read_text(encoding="utf-8")) if descriptor
            else package_descriptor(csv_dir))
    package = Package.from_descriptor(desc, basepath=str(csv_dir))
    schema = load_schema()
    by_type: Counter[str] = Counter()
    per_tab: dict[str, dict[str, int]] = {}
    rows = 0
    for resource in package.resources:
        tab = schema[resource.name] if resource.name in schema.tabs else None
        formulas = row_constraints(tab) if tab else []
        checklist = Checklist(checks=[checks.row_constraint(formula=f) for f in formulas])
        report = resource.validate(checklist, limit_errors=10**12)
        counts: Counter[str] = Counter()
        for task in report.tasks:
            rows += int(task.stats.get("rows") or 0)
            for err in task.errors:
                counts[err.type] += 1
        per_tab[resource.name] = dict(counts)
        by_type.update(counts)
    return {"findings": sum(by_type.values()), "by_type": dict(by_type), "per_tab": per_tab,
            "rows": rows}


# --- pandera ------------------------------------------------------------------------

def _read_csv(path: Path) -> Any:
    import pandas as pd

    # every cell as text, only an empty cell is missing: the same input the others get
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


ISO_DATE = "%Y-%m-%d"


def _iso_dates(s: Any) -> Any:
    """A column as dates; anything that is not an ISO date becomes NaT."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s):
        return s
    return pd.to_datetime(s.where(s.map(lambda v: isinstance(v, str))), format=ISO_DATE, errors="coerce")


def pandera_schema(tab: TabSpec, refs: dict[str, Any], coerce_dates: bool = False) -> Any:
    """A DataFrameSchema with the same checks; ``refs`` maps (tab, field) to
    the reference values of its foreign keys.

    Dates are checked by a vectorised ``Check`` on the text column; with
    ``coerce_dates`` they are a coerced ``DateTime`` dtype instead, the
    textbook way, whose failure-case path calls ``pd.to_datetime`` once per
    cell (twice: coercion and dtype), hence slow on a column with bad dates.
    """
    import pandas as pd
    import pandera.pandas as pa
    from pandera.engines import pandas_engine

    iso = pandas_engine.DateTime(to_datetime_kwargs={"format": ISO_DATE})

    def is_iso_date(s: pd.Series) -> pd.Series:
        return _iso_dates(s).notna() | s.isna()
    fk_of = {fk.fields[0]: (fk.resource, fk.reference_fields[0]) for fk in tab.foreign_keys}
    columns: dict[str, Any] = {}
    for f in tab.fields:
        checks: list[Any] = []
        if f.enum is not None:
            checks.append(pa.Check.isin(list(f.enum)))
        if f.minimum is not None:
            checks.append(pa.Check.ge(f.minimum))
        if f.maximum is not None:
            checks.append(pa.Check.le(f.maximum))
        if f.type == "boolean":
            checks.append(pa.Check.isin(list(f.true_values) + list(f.false_values)))
        ref = refs.get(fk_of.get(f.name, ("", ""))) if f.name in fk_of else None
        if ref is not None:
            checks.append(pa.Check(lambda s, ref=ref: s.isin(ref), name="foreign_key"))
        if f.type == "date" and not coerce_dates:
            checks.append(pa.Check(is_iso_date, name="date", element_wise=False))
        dtype: Any = {"string": str, "boolean": str, "integer": "Int64", "number": "Float64",
                      "date": iso if coerce_dates else str}[f.type]
        columns[f.title] = pa.Column(
            dtype, checks=checks, nullable=not f.required, unique=f.unique,
            coerce=f.type in ("integer", "number") or (f.type == "date" and coerce_dates),
            required=True, report_duplicates="exclude_first",
        )
    frame_checks: list[Any] = []
    if tab.name == "disputes":
        status = tab.field("status").title
        closed = tab.field("closed_date").title
        received = tab.field("received_date").title
        closed_values = list(_closed_values(tab))

        def closed_without_date(df: pd.DataFrame) -> pd.Series:
            return ~(df[status].isin(closed_values) & df[closed].isna())

        def date_without_closed(df: pd.DataFrame) -> pd.Series:
            return ~(df[closed].notna() & ~df[status].isin(closed_values))

        def closed_before_received(df: pd.DataFrame) -> pd.Series:
            return ~(_iso_dates(df[closed]) < _iso_dates(df[received]))

        frame_checks = [
            pa.Check(closed_without_date, name="closed_without_date"),
            pa.Check(date_without_closed, name="date_without_closed"),
            pa.Check(closed_before_received, name="closed_before_received"),
        ]
    return pa.DataFrameSchema(columns, checks=frame_checks, strict=False, coerce=False)


def run_pandera(csv_dir: Path, coerce_dates: bool = False) -> dict[str, Any]:
    import pandera.pandas as pa

    schema = load_schema()
    frames = {n: _read_csv(csv_dir / f"{schema[n].title}.csv") for n in TABS
              if (csv_dir / f"{schema[n].title}.csv").exists()}
    refs: dict[tuple[str, str], Any] = {}
    for name in frames:
        for fk in schema[name].foreign_keys:
            if fk.resource in frames:
                col = schema[fk.resource].field(fk.reference_fields[0]).title
                refs[(fk.resource, fk.reference_fields[0])] = frames[fk.resource][col].dropna().unique()
    by_check: Counter[str] = Counter()
    per_tab: dict[str, dict[str, int]] = {}
    reported = 0
    for name, frame in frames.items():
        counts: Counter[str] = Counter()
        try:
            pandera_schema(schema[name], refs, coerce_dates).validate(frame, lazy=True)
        except pa.errors.SchemaErrors as exc:
            fc = exc.failure_cases
            reported += len(fc)
            counts = _pandera_issues(fc)
        per_tab[name] = dict(counts)
        by_check.update(counts)
    return {"findings": sum(by_check.values()), "reported": reported, "by_type": dict(by_check),
            "per_tab": per_tab, "rows": sum(len(f) for f in frames.values())}


def _pandera_issues(fc: Any) -> Counter[str]:
    """Distinct issues in pandera's ``failure_cases``: it lists a failed
    frame-level (row) check once per cell of each failing row, and a failed
    coercion twice (``coerce_dtype`` and ``dtype``). Count one per failing
    cell per check, one per failing row per row check."""
    check = fc["check"].astype(str).str.replace(r"\(.*$", "", regex=True)
    check = check.where(check != "coerce_dtype", "dtype")
    frame_level = fc["schema_context"] == "DataFrameSchema"
    column = fc["column"].astype(str).where(~frame_level, "")
    keys = (check + "|" + column + "|" + fc["index"].astype(str)).drop_duplicates()
    return Counter(k.split("|", 1)[0] for k in keys)


# --- bare reads (floors) -------------------------------------------------------------

def run_pyarrow_csv(csv_dir: Path) -> dict[str, Any]:
    import pyarrow.csv as pacsv

    rows = 0
    for path in sorted(csv_dir.glob("*.csv")):
        rows += pacsv.read_csv(path).num_rows
    return {"findings": None, "rows": rows}


#: the date spellings the benchmark's data holds (fengqiao's normaliser reads
#: more: Excel serial numbers, full-width digits, two-digit years)
POLARS_DATES = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


def run_polars_floor(csv_dir: Path, year: int) -> dict[str, Any]:
    """The floor of a columnar engine; see the module's docstring. Rows
    count as fengqiao counts them: an 编号 present and its first use, a
    受理日期 that parses and a 星级 of 1-3; a case is closed with a closing
    status and a 办结日期 on or after the 受理日期; calendar days."""
    import polars as pl

    from fengqiao.config import load_config

    deadlines = load_config().deadlines
    if deadlines.day_count != "calendar":
        raise SystemExit("polars-floor counts calendar days only")
    spec = load_schema()["disputes"]
    title = {f.name: f.title for f in spec.fields}
    frame = pl.read_csv(csv_dir / f"{spec.title}.csv", infer_schema=False)

    def text(name: str) -> pl.Expr:
        return pl.col(title[name]).str.strip_chars()

    def day(name: str) -> pl.Expr:
        return pl.coalesce([text(name).str.to_date(f, strict=False) for f in POLARS_DATES])

    start, end = pl.date(year, 1, 1), pl.date(year, 12, 31)
    counts = frame.lazy().select(
        text("id").alias("id"), day("received_date").alias("rd"), day("closed_date").alias("cd"),
        text("star").cast(pl.Int8, strict=False).alias("star"), text("status").alias("status"),
    ).filter(
        pl.col("id").is_not_null() & (pl.col("id").str.len_chars() > 0)
        & pl.col("id").is_first_distinct() & pl.col("rd").is_not_null()
        & pl.col("star").is_between(1, 3),
    ).with_columns(
        closed=pl.col("cd").is_not_null() & pl.col("status").is_in(list(_closed_values(spec)))
        & (pl.col("cd") >= pl.col("rd")),
        allowed=pl.when(pl.col("star") == 1).then(deadlines.star_1)
        .when(pl.col("star") == 2).then(deadlines.star_2).otherwise(deadlines.star_3),
        days=(pl.col("cd") - pl.col("rd")).dt.total_days(),
    ).with_columns(
        closed_in=pl.col("closed") & pl.col("cd").is_between(start, end),
    ).select(
        pl.col("rd").is_between(start, end).sum().alias("received"),
        pl.col("closed_in").sum().alias("closed"),
        (pl.col("closed_in") & (pl.col("days") <= pl.col("allowed"))).sum().alias("on_time"),
        ((pl.col("rd") <= end) & ~(pl.col("closed") & (pl.col("cd") <= end)))
        .sum().alias("pending_end"),
        pl.col("days").filter(pl.col("closed_in")).median().alias("median_days"),
    ).collect().row(0, named=True)
    return {"findings": None, "rows": frame.height, "figures": counts}


def run_calamine(xlsx: Path) -> dict[str, Any]:
    from python_calamine import CalamineWorkbook

    wb = CalamineWorkbook.from_path(str(xlsx))
    rows = 0
    for name in wb.sheet_names:
        rows += len(wb.get_sheet_by_name(name).to_python()) - 1
    return {"findings": None, "rows": rows}


def run_openpyxl(xlsx: Path) -> dict[str, Any]:
    from openpyxl import load_workbook

    wb = load_workbook(str(xlsx), read_only=True, data_only=True)
    rows = 0
    for ws in wb.worksheets:
        for _ in ws.iter_rows(values_only=True):
            rows += 1
        rows -= 1
    wb.close()
    return {"findings": None, "rows": rows}


def main() -> None:
    p = argparse.ArgumentParser(description="One peer task of the benchmark.")
    p.add_argument("tool", choices=["frictionless", "pandera", "pandera-coerce", "pyarrow-csv",
                                    "polars-floor",
                                    "calamine", "openpyxl", "descriptor"])
    p.add_argument("source", type=Path, help="the CSV folder, or the xlsx for calamine/openpyxl")
    p.add_argument("--result", type=Path, help="write the JSON result here (default: stdout)")
    p.add_argument("--descriptor", type=Path, default=None,
                   help="frictionless: a package descriptor to use instead of the built one")
    p.add_argument("--year", type=int, default=2024, help="polars-floor: the year counted")
    a = p.parse_args()
    t = time.perf_counter()
    if a.tool == "descriptor":
        print(json.dumps(package_descriptor(a.source), ensure_ascii=False, indent=1))
        return
    if a.tool == "frictionless":
        out = run_frictionless(a.source, a.descriptor)
    elif a.tool in ("pandera", "pandera-coerce"):
        out = run_pandera(a.source, coerce_dates=a.tool == "pandera-coerce")
    elif a.tool == "pyarrow-csv":
        out = run_pyarrow_csv(a.source)
    elif a.tool == "polars-floor":
        out = run_polars_floor(a.source, a.year)
    elif a.tool == "calamine":
        out = run_calamine(a.source)
    else:
        out = run_openpyxl(a.source)
    out["inner_seconds"] = round(time.perf_counter() - t, 3)
    text = json.dumps(out, ensure_ascii=False, indent=1)
    if a.result:
        a.result.write_text(text, encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
