"""The schema as standard Frictionless Table Schema and Data Package JSON.

Counties and data teams use off-the-shelf tools (frictionless, csvkit, a BI
import); exporting our YAML in the standard vocabulary lets them check a
town's CSV export without fengqiao. Our own extensions survive under
``x-fengqiao-`` keys, which standard tools ignore.

A standard tool cannot read the sheet the way fengqiao does (2023年1月19日,
一星, full-width digits), so checking the raw sheet against these schemas
reports errors fengqiao does not. With a validated :class:`Ledger` the export
also writes the normalised tables (:func:`data_tables`): the rows that count,
ISO dates, canonical choices, no sensitive column, and schemas that describe
exactly those files, so a standard tool agrees with the validator.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import outdir
from .ledger import Ledger
from .privacy import csv_safe, publishable_columns, publishable_frame
from .schema import FieldSpec, Schema, TabSpec, load_schema

PREFIX = "x-fengqiao-"
PACKAGE_NAME = "fengqiao-ledger"

#: the first column of every exported table: where the row is in the sheet
ROW_FIELD = "sheet_row"
ROW_TITLE = "台账行号"


def _field_name(spec: FieldSpec, by_title: bool) -> str:
    return spec.title if by_title else spec.name


def _field(tab: TabSpec, spec: FieldSpec, by_title: bool, data: bool = False) -> dict[str, Any]:  # noqa: C901 (one branch per Table Schema keyword)
    out: dict[str, Any] = {
        "name": _field_name(spec, by_title),
        "title": spec.title,
        "type": spec.type,
    }
    if spec.description:
        out["description"] = spec.description
    if spec.type == "date" and not data:  # exported data is ISO, Table Schema's default
        out["format"] = "any"
    if spec.type == "boolean":
        out["trueValues"] = list(spec.true_values) or ["是"]
        out["falseValues"] = list(spec.false_values) or ["否"]
    cons: dict[str, Any] = {}
    if spec.required:
        cons["required"] = True
    if spec.unique:
        cons["unique"] = True
    if spec.enum is not None:
        cons["enum"] = list(spec.enum)
    if spec.minimum is not None:
        cons["minimum"] = spec.minimum
    if spec.maximum is not None:
        cons["maximum"] = spec.maximum
    if cons:
        out["constraints"] = cons
    if by_title:
        out[PREFIX + "id"] = spec.name
    if spec.aliases:
        out[PREFIX + "aliases"] = list(spec.aliases)
    if spec.enum_aliases:
        out[PREFIX + "enumAliases"] = {str(k): v for k, v in spec.enum_aliases.items()}
    if tab.is_sensitive(spec.name):
        out[PREFIX + "sensitive"] = True
    if spec.redact:
        out[PREFIX + "redact"] = True
    if spec.closed_values:
        out[PREFIX + "closedValues"] = list(spec.closed_values)
    return out


def _names(tab: TabSpec, fields: tuple[str, ...], by_title: bool) -> list[str]:
    return [_field_name(tab.field(f), by_title) for f in fields]


def _row_field(by_title: bool) -> dict[str, Any]:
    return {
        "name": ROW_TITLE if by_title else ROW_FIELD,
        "title": ROW_TITLE,
        "type": "integer",
        "description": "这一行在原台账工作表里的行号，方便回到原表核对。",
        "constraints": {"required": True, "unique": True, "minimum": 1},
    }


def _written(columns: Mapping[str, Collection[str]] | None, tab: str,
             fields: tuple[str, ...]) -> bool:
    """Whether every one of ``fields`` of ``tab`` is in the exported data
    (always, when describing the sheet rather than data)."""
    return columns is None or (tab in columns and all(f in columns[tab] for f in fields))


def table_schema(tab: TabSpec, *, by_title: bool = False, schema: Schema | None = None,
                 in_package: bool = False,
                 columns: Mapping[str, Collection[str]] | None = None,
                 unchecked: Collection[tuple[str, tuple[str, ...]]] = ()) -> dict[str, Any]:
    """One tab as a Table Schema descriptor. With ``by_title`` the field names
    are the Chinese headers, so a CSV saved from the sheet validates as is.

    A reference to another tab needs the package to resolve, so a standalone
    schema keeps those under ``x-fengqiao-foreignKeys`` (a lone CSV then still
    validates) and only ``in_package`` makes them standard foreign keys.

    ``columns`` (tab id → fields written) describes exported data instead of
    the sheet: the sheet-row field first, only the written fields, and a key
    or reference only when all its fields (and its target's) were written.
    References in ``unchecked`` ((tab id, fields)) stay extensions: some of
    their rows point at a row that was not exported (see
    :func:`unresolved_references`)."""
    fields = tab.fields if columns is None else tuple(
        f for f in tab.fields if f.name in columns.get(tab.name, ()))
    descriptor: dict[str, Any] = {
        "fields": ([] if columns is None else [_row_field(by_title)])
        + [_field(tab, f, by_title, data=columns is not None) for f in fields],
        "missingValues": [""],
    }
    if tab.primary_key and _written(columns, tab.name, tab.primary_key):
        descriptor["primaryKey"] = _names(tab, tab.primary_key, by_title)
    if tab.foreign_keys:
        tabs = (schema or load_schema()).tabs
        fks: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for fk in tab.foreign_keys:
            if not _written(columns, tab.name, fk.fields):
                continue
            target = tabs.get(fk.resource, tab)
            own = fk.resource == tab.name
            resolvable = (_written(columns, fk.resource, fk.reference_fields)
                          and (tab.name, fk.fields) not in unchecked)
            (fks if (own or in_package) and resolvable else others).append({
                "fields": _names(tab, fk.fields, by_title),
                # Table Schema spells a reference to the same table as ""
                "reference": {
                    "resource": "" if fk.resource == tab.name else fk.resource,
                    "fields": _names(target, fk.reference_fields, by_title),
                },
            })
        if fks:
            descriptor["foreignKeys"] = fks
        if others:
            descriptor[PREFIX + "foreignKeys"] = others
    return descriptor


def _csv_name(tab: TabSpec, by_title: bool) -> str:
    return f"{tab.title if by_title else tab.name}.csv"


def data_package(schema: Schema | None = None, *, by_title: bool = False,
                 title: str | None = None, ledger: Ledger | None = None) -> dict[str, Any]:
    """A datapackage.json with one CSV resource per tab (file named as the
    sheet when ``by_title``, by tab id otherwise).

    With ``ledger`` it describes the data :func:`write_schemas` writes from
    it: only the tabs exported, their schemas as written, and a description
    of what was left out and why."""
    schema = schema or load_schema()
    columns = None if ledger is None else exported_columns(ledger, schema)
    unchecked = set() if ledger is None else unresolved_references(ledger, schema)
    resources = []
    for tab in schema:
        if columns is not None and tab.name not in columns:
            continue
        resource: dict[str, Any] = {
            "name": tab.name,
            "title": tab.title,
            "path": _csv_name(tab, by_title),
            "type": "table",
            "scheme": "file",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": table_schema(tab, by_title=by_title, schema=schema, in_package=True,
                                   columns=columns, unchecked=unchecked),
        }
        if tab.description:
            resource["description"] = tab.description
        resource[PREFIX + "required"] = tab.required
        if ledger is None or columns is None:
            if tab.sensitive:
                resource[PREFIX + "sensitive"] = True
        else:
            resource[PREFIX + "sheet"] = ledger.sheet_names.get(tab.name, tab.title)
            resource[PREFIX + "excludedRows"] = ledger.excluded_count(tab.name)
            left_out = [f.name for f in tab.fields if f.name not in columns[tab.name]]
            if left_out:
                resource[PREFIX + "omittedFields"] = left_out
        resources.append(resource)
    package: dict[str, Any] = {
        "name": PACKAGE_NAME,
        "title": title or "矛盾纠纷调处化解台账",
    }
    if ledger is not None:
        package["description"] = data_description(ledger, schema)
    package["resources"] = resources
    return package


# --- the normalised data ---------------------------------------------------------


def exported_columns(ledger: Ledger, schema: Schema | None = None) -> dict[str, list[str]]:
    """Tab id → fields written as data: every publishable field of a tab the
    ledger has (a wholly sensitive tab has none and is not written)."""
    schema = schema or load_schema()
    out: dict[str, list[str]] = {}
    for tab in schema:
        fields = publishable_columns(tab)
        if ledger.has(tab.name) and fields:
            out[tab.name] = fields
    return out


def unresolved_references(ledger: Ledger,
                          schema: Schema | None = None) -> set[tuple[str, tuple[str, ...]]]:
    """(tab id, fields) of every reference with an exported row that points
    at a row fengqiao did not count (so it was not exported) although the
    value is in the sheet. fengqiao checks references against the whole
    sheet; declared as a foreign key, such a row would fail a standard
    tool's check with nothing wrong in the ledger, so the reference stays an
    ``x-fengqiao-`` extension. A reference fengqiao itself reports at the cell
    does not count here: both then report it."""
    schema = schema or load_schema()
    columns = exported_columns(ledger, schema)
    reported = {(f.tab, f.row, f.field) for f in ledger.findings}
    out: set[tuple[str, tuple[str, ...]]] = set()
    for name in columns:
        frame = ledger.tables[name]
        for fk in schema[name].foreign_keys:
            if not (_written(columns, name, fk.fields)
                    and _written(columns, fk.resource, fk.reference_fields)):
                continue
            target = ledger.tables[fk.resource]
            known = set(zip(*(target[f].tolist() for f in fk.reference_fields), strict=True))
            rows = zip(frame["_row"].tolist(), *(frame[f].tolist() for f in fk.fields),
                       strict=True)
            for row, *values in rows:
                if (any(pd.isna(v) for v in values) or tuple(values) in known
                        or any((name, row, f) in reported for f in fk.fields)):
                    continue
                out.add((name, fk.fields))
                break
    return out


def _cells(values: pd.Series, spec: FieldSpec) -> pd.Series:
    """One column as the text its schema field reads: ISO dates, integers
    without decimals, the first true/false spelling, empty for missing."""
    if spec.type == "date":
        text = pd.to_datetime(values).dt.strftime("%Y-%m-%d").astype("string")
    elif spec.type == "boolean":
        yes = spec.true_values[0] if spec.true_values else "是"
        no = spec.false_values[0] if spec.false_values else "否"
        text = values.astype("boolean").map({True: yes, False: no}, na_action="ignore")
    elif spec.type == "integer":
        text = values.astype("Int64").astype("string")
    elif spec.type == "number":
        text = values.astype("Float64").astype("string")
    else:  # text a spreadsheet would run as a formula is defused, as in every download
        text = csv_safe(values.astype("string"))
    return text.astype(object).where(text.notna(), "")


def data_tables(ledger: Ledger, schema: Schema | None = None) -> dict[str, pd.DataFrame]:
    """Tab id → the exported table, all text: the sheet row, then every
    publishable field normalised (free text scrubbed like the site's
    downloads). Only the rows that count: excluded rows are not written."""
    schema = schema or load_schema()
    out: dict[str, pd.DataFrame] = {}
    for name, fields in exported_columns(ledger, schema).items():
        tab = schema[name]
        frame = ledger.tables[name]
        public = publishable_frame(frame, tab)
        table = {ROW_FIELD: frame["_row"].astype("int64").astype(str).tolist()}
        for field_name in fields:
            table[field_name] = _cells(public[field_name], tab.field(field_name)).tolist()
        out[name] = pd.DataFrame(table, dtype=object)
    return out


def data_description(ledger: Ledger, schema: Schema | None = None) -> str:
    """What the exported data is and what it leaves out, in Chinese, for the
    datapackage ``description``."""
    schema = schema or load_schema()
    columns = exported_columns(ledger, schema)
    parts = [f"从“{ledger.source.name}”导出、按 fengqiao 的校验规则整理过的台账数据："
             "日期写成 2024-03-05 的样子，选项都用标准写法，整数不带小数。"
             f"每张表的第一列“{ROW_TITLE}”是这一行在原工作表里的行号。"]
    excluded = [(schema[t].title, ledger.excluded_count(t)) for t in columns
                if ledger.excluded_count(t)]
    if excluded:
        total = sum(n for _, n in excluded)
        listed = "、".join(f"“{title}”{n} 行" for title, n in excluded)
        parts.append(f"只导出计入统计的行：有 {total} 行因编号、日期或星级等有误不计入统计，"
                     f"没有导出（{listed}），用 fengqiao validate 可以看到具体的单元格。")
    else:
        parts.append("台账里的行都计入了统计，全部导出。")
    dropped = [f"“{schema[t].title}”的" + "、".join(
        f"“{f.title}”" for f in schema[t].fields if f.name not in fields)
        for t, fields in columns.items() if len(fields) < len(schema[t].fields)]
    whole = [f"“{tab.title}”" for tab in schema if ledger.has(tab.name)
             and tab.name not in columns]
    if dropped or whole:
        text = "涉及个人信息的内容没有导出："
        text += "；".join([*dropped, *(["整张" + "、".join(whole) + "表"] if whole else [])])
        parts.append(text + "。")
    for name, fields in sorted(unresolved_references(ledger, schema)):
        tab = schema[name]
        heads = "、".join(f"“{tab.field(f).title}”" for f in fields)
        parts.append(f"“{tab.title}”有的行{heads}指向的行没有计入统计、没有导出，"
                     "所以这一列不作为外键检查。")
    absent = [f"“{tab.title}”" for tab in schema if not ledger.has(tab.name)]
    if absent:
        parts.append(f"台账里没有这些表，所以也没有导出：{'、'.join(absent)}。")
    return "".join(parts)


def _dump(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def _write_csv(frame: pd.DataFrame, header: list[str], path: Path) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(frame.itertuples(index=False, name=None))
    return path


def claim_folder(directory: Path) -> None:
    """Refuse a folder that is not new, empty or an earlier export (raises
    :class:`FengqiaoError`). Call it before reading a ledger, so a refusal
    costs nothing; :func:`write_schemas` calls it again."""
    outdir.claim(directory, "schema-export", replacing=False)


def write_schemas(directory: Path, *, schema: Schema | None = None, by_title: bool = False,
                  title: str | None = None, ledger: Ledger | None = None) -> list[Path]:
    """``<tab>.schema.json`` for every tab plus ``datapackage.json``.

    With ``ledger`` (validated), also one CSV of normalised data per tab
    (:func:`data_tables`); every schema then describes the CSV beside it,
    and tabs with nothing to export get neither file.

    Only into a folder that is new, empty or an earlier export (it would
    overwrite files of those names); other files there are left alone."""
    schema = schema or load_schema()
    claim_folder(directory)
    earlier = outdir.read_marker(directory)
    directory.mkdir(parents=True, exist_ok=True)
    columns = None if ledger is None else exported_columns(ledger, schema)
    unchecked = set() if ledger is None else unresolved_references(ledger, schema)
    written = [
        _dump(table_schema(tab, by_title=by_title, schema=schema, columns=columns,
                           unchecked=unchecked),
              directory / f"{tab.name}.schema.json")
        for tab in schema if columns is None or tab.name in columns
    ]
    if ledger is not None:
        for name, frame in data_tables(ledger, schema).items():
            tab = schema[name]
            header = [ROW_TITLE if by_title else ROW_FIELD,
                      *(_field_name(tab.field(f), by_title) for f in frame.columns[1:])]
            written.append(_write_csv(frame, header, directory / _csv_name(tab, by_title)))
    written.append(_dump(data_package(schema, by_title=by_title, title=title, ledger=ledger),
                         directory / "datapackage.json"))
    kept = [rel for rel in (earlier.files if earlier else {}) if (directory / rel).is_file()]
    outdir.write_marker(directory, "schema-export", [*kept, *(p.name for p in written)])
    return written
