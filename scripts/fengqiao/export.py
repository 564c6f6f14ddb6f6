"""The schema as standard Frictionless Table Schema and Data Package JSON.

Counties and data teams use off-the-shelf tools (frictionless, csvkit, a BI
import); exporting our YAML in the standard vocabulary lets them check a
town's CSV export without fengqiao. Our own extensions survive under
``x-fengqiao-`` keys, which standard tools ignore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import outdir
from .schema import FieldSpec, Schema, TabSpec, load_schema

PREFIX = "x-fengqiao-"
PACKAGE_NAME = "fengqiao-ledger"


def _field_name(spec: FieldSpec, by_title: bool) -> str:
    return spec.title if by_title else spec.name


def _field(tab: TabSpec, spec: FieldSpec, by_title: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": _field_name(spec, by_title),
        "title": spec.title,
        "type": spec.type,
    }
    if spec.description:
        out["description"] = spec.description
    if spec.type == "date":
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


def table_schema(tab: TabSpec, *, by_title: bool = False, schema: Schema | None = None,
                 in_package: bool = False) -> dict[str, Any]:
    """One tab as a Table Schema descriptor. With ``by_title`` the field names
    are the Chinese headers, so a CSV saved from the sheet validates as is.

    A reference to another tab needs the package to resolve, so a standalone
    schema keeps those under ``x-fengqiao-foreignKeys`` (a lone CSV then still
    validates) and only ``in_package`` makes them standard foreign keys."""
    descriptor: dict[str, Any] = {
        "fields": [_field(tab, f, by_title) for f in tab.fields],
        "missingValues": [""],
    }
    if tab.primary_key:
        descriptor["primaryKey"] = _names(tab, tab.primary_key, by_title)
    if tab.foreign_keys:
        tabs = (schema or load_schema()).tabs
        fks: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []
        for fk in tab.foreign_keys:
            target = tabs.get(fk.resource, tab)
            own = fk.resource == tab.name
            (fks if own or in_package else others).append({
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


def data_package(schema: Schema | None = None, *, by_title: bool = False,
                 title: str | None = None) -> dict[str, Any]:
    """A datapackage.json with one CSV resource per tab (file named as the
    sheet when ``by_title``, by tab id otherwise)."""
    schema = schema or load_schema()
    resources = []
    for tab in schema:
        resource: dict[str, Any] = {
            "name": tab.name,
            "title": tab.title,
            "path": f"{tab.title if by_title else tab.name}.csv",
            "type": "table",
            "scheme": "file",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "schema": table_schema(tab, by_title=by_title, schema=schema, in_package=True),
        }
        if tab.description:
            resource["description"] = tab.description
        resource[PREFIX + "required"] = tab.required
        if tab.sensitive:
            resource[PREFIX + "sensitive"] = True
        resources.append(resource)
    return {
        "name": PACKAGE_NAME,
        "title": title or "矛盾纠纷调处化解台账",
        "resources": resources,
    }


def _dump(data: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def write_schemas(directory: Path, *, schema: Schema | None = None, by_title: bool = False,
                  title: str | None = None) -> list[Path]:
    """``<tab>.schema.json`` for every tab plus ``datapackage.json``.

    Only into a folder that is new, empty or an earlier export (it would
    overwrite files of those names); other files there are left alone."""
    schema = schema or load_schema()
    outdir.claim(directory, "schema-export", replacing=False)
    earlier = outdir.read_marker(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        _dump(table_schema(tab, by_title=by_title, schema=schema),
              directory / f"{tab.name}.schema.json")
        for tab in schema
    ]
    written.append(_dump(data_package(schema, by_title=by_title, title=title),
                         directory / "datapackage.json"))
    kept = [rel for rel in (earlier.files if earlier else {}) if (directory / rel).is_file()]
    outdir.write_marker(directory, "schema-export", [*kept, *(p.name for p in written)])
    return written
