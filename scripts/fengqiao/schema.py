"""Load ``sheets_schema/`` into typed specs.

The YAML files are the single source of truth for every tab: validation, the
template, the fill-in guide and the Table Schema export all read these objects,
so a header alias or an allowed value is added in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from .errors import CATALOGUE, FengqiaoError
from .resources import SCHEMA_DIR

#: tab order as staff see it in the workbook and as the guide lists it
TAB_ORDER = (
    "disputes",
    # the supervision loop's records of a case sit beside its ledger (DOMAIN.md 5)
    "supervisions",
    "transfers",
    "grids",
    "visits",
    "key_persons",
    "key_person_visits",
    "receptions",
    "leaders",
    "responsibilities",
    "needs",
)

FIELD_TYPES = ("string", "integer", "number", "date", "boolean")


@dataclass(frozen=True)
class FieldSpec:
    name: str
    title: str
    type: str
    description: str = ""
    aliases: tuple[str, ...] = ()
    required: bool = False
    unique: bool = False
    enum: tuple[Any, ...] | None = None
    enum_aliases: dict[str, Any] = field(default_factory=dict)
    minimum: float | None = None
    maximum: float | None = None
    sensitive: bool = False
    redact: bool = False
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    closed_values: tuple[str, ...] = ()
    #: the config mapping whose keys are the allowed values (``enumFrom``:
    #: ``reception_quotas`` for 职务类别); ``enum`` is then only the default
    #: and the documentation, replaced per town by :meth:`Schema.with_enums`
    enum_from: str | None = None
    #: an optional column that only refines a figure (``warnIfMissing: false``):
    #: a workbook without it is as valid as before, so no reminder is shown
    warn_if_missing: bool = True

    @property
    def headers(self) -> tuple[str, ...]:
        """Every header spelling accepted for this field, canonical first."""
        return (self.title, *self.aliases)


@dataclass(frozen=True)
class ForeignKey:
    """A column whose values must exist in a column of another tab (or of its
    own tab). ``code`` is the finding a value that does not exist gives, and
    ``self_code`` (references into the same tab only) the one for a row that
    names itself; both are catalogue codes, so validation hard-codes none."""

    fields: tuple[str, ...]
    resource: str
    reference_fields: tuple[str, ...]
    code: str
    self_code: str | None = None

    @property
    def field(self) -> str:
        """The referring column (references are single-column)."""
        return self.fields[0]

    @property
    def reference_field(self) -> str:
        return self.reference_fields[0]


@dataclass(frozen=True)
class TabSpec:
    name: str
    title: str
    fields: tuple[FieldSpec, ...]
    description: str = ""
    aliases: tuple[str, ...] = ()
    required: bool = False
    sensitive: bool = False
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    #: an optional tab that only refines figures (``warnIfMissing: false``):
    #: an older workbook without it validates clean, as before the tab existed
    warn_if_missing: bool = True

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def is_sensitive(self, field_name: str) -> bool:
        """A field is sensitive on its own or because its whole tab is."""
        return self.sensitive or self.field(field_name).sensitive


@dataclass(frozen=True)
class Schema:
    tabs: dict[str, TabSpec]
    directory: Path

    def __getitem__(self, name: str) -> TabSpec:
        return self.tabs[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.tabs.values())

    def by_title(self, title: str) -> TabSpec:
        for tab in self.tabs.values():
            if tab.title == title:
                return tab
        raise KeyError(title)

    def with_enums(self, values: dict[str, tuple[str, ...]]) -> Schema:
        """The schema with the allowed values of every ``enumFrom`` field
        replaced: ``values`` maps a config key (``reception_quotas``) to the
        values it allows. A value alias is kept only while it still points at
        an allowed value and is not itself one, so 主要领导 → 党政主要领导 keeps
        working exactly as long as a town has 党政主要领导."""
        tabs: dict[str, TabSpec] = {}
        for name, tab in self.tabs.items():
            fields = []
            for f in tab.fields:
                allowed = values.get(f.enum_from) if f.enum_from else None
                if allowed is not None:
                    aliases = {k: v for k, v in f.enum_aliases.items()
                               if v in allowed and k not in allowed}
                    f = replace(f, enum=tuple(allowed), enum_aliases=aliases)
                fields.append(f)
            tabs[name] = replace(tab, fields=tuple(fields))
        return Schema(tabs=tabs, directory=self.directory)


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return tuple(value)
    return (value,)


def _field_from_yaml(raw: dict[str, Any], where: str) -> FieldSpec:
    for key in ("name", "title", "type"):
        if key not in raw:
            raise FengqiaoError(f"表结构文件 {where} 中有字段缺少“{key}”。")
    if raw["type"] not in FIELD_TYPES:
        raise FengqiaoError(
            f"表结构文件 {where} 中字段 {raw['name']} 的类型 {raw['type']!r} 不受支持，"
            f"只能是 {'/'.join(FIELD_TYPES)}。"
        )
    for key in ("trueValues", "falseValues"):
        if any(isinstance(v, bool) for v in raw.get(key, ())):
            # YAML 1.1 reads bare yes/no/true as booleans: the spelling staff
            # typed would be lost, so insist on quotes.
            raise FengqiaoError(
                f"表结构文件 {where} 中字段 {raw['name']} 的 {key} 里有未加引号的 yes/no/true 之类的值，"
                "请给它们加上英文双引号。"
            )
    cons = raw.get("constraints") or {}
    enum = cons.get("enum")
    aliases = {str(k): v for k, v in (raw.get("enumAliases") or {}).items()}
    return FieldSpec(
        name=raw["name"],
        title=raw["title"],
        type=raw["type"],
        description=raw.get("description", ""),
        aliases=_as_tuple(raw.get("aliases")),
        required=bool(cons.get("required", False)),
        unique=bool(cons.get("unique", False)),
        enum=tuple(enum) if enum is not None else None,
        enum_aliases=aliases,
        minimum=cons.get("minimum"),
        maximum=cons.get("maximum"),
        sensitive=bool(raw.get("sensitive", False)),
        redact=bool(raw.get("redact", False)),
        true_values=tuple(str(v) for v in raw.get("trueValues", ())),
        false_values=tuple(str(v) for v in raw.get("falseValues", ())),
        closed_values=_as_tuple(raw.get("closedValues")),
        enum_from=str(raw["enumFrom"]) if raw.get("enumFrom") else None,
        warn_if_missing=bool(raw.get("warnIfMissing", True)),
    )


def _foreign_key_from_yaml(raw: dict[str, Any], tab: str, where: str) -> ForeignKey:
    fk = ForeignKey(
        fields=_as_tuple(raw["fields"]),
        resource=raw["reference"]["resource"],
        reference_fields=_as_tuple(raw["reference"]["fields"]),
        code=str(raw.get("code") or ""),
        self_code=str(raw["selfCode"]) if raw.get("selfCode") else None,
    )
    if len(fk.fields) != 1 or len(fk.reference_fields) != 1:
        raise FengqiaoError(f"表结构文件 {where} 中的 foreignKeys 只能是单列对单列，"
                            f"现在是 {list(fk.fields)} → {list(fk.reference_fields)}。")
    if not fk.code:
        raise FengqiaoError(f"表结构文件 {where} 中 {fk.field} 的 foreignKeys 缺少 code。",
                            hint="code 是值在被引用的表里找不到时报告的问题代码，例如 unknown-grid。")
    for key, code in (("code", fk.code), ("selfCode", fk.self_code)):
        if code is not None and code not in CATALOGUE:
            raise FengqiaoError(
                f"表结构文件 {where} 中 {fk.field} 的 foreignKeys 的 {key} “{code}”不在问题目录里。",
                hint="请写 errors.py 的 CATALOGUE 里已有的问题代码，例如 unknown-grid。")
    if fk.self_code is not None and fk.resource != tab:
        raise FengqiaoError(f"表结构文件 {where} 中 {fk.field} 的 selfCode 只适用于引用本表的 foreignKeys。")
    return fk


def _tab_from_yaml(raw: dict[str, Any], where: str) -> TabSpec:
    fks = tuple(_foreign_key_from_yaml(fk, raw["name"], where)
                for fk in raw.get("foreignKeys", ()))
    return TabSpec(
        name=raw["name"],
        title=raw["title"],
        fields=tuple(_field_from_yaml(f, where) for f in raw["fields"]),
        description=raw.get("description", ""),
        aliases=_as_tuple(raw.get("aliases")),
        required=bool(raw.get("required", False)),
        sensitive=bool(raw.get("sensitive", False)),
        primary_key=_as_tuple(raw.get("primaryKey")),
        foreign_keys=fks,
        warn_if_missing=bool(raw.get("warnIfMissing", True)),
    )


#: libyaml's safe loader when PyYAML has it (the same documents, several
#: times faster: every command reads the schema), else the pure-Python one
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def load_schema(directory: Path | None = None) -> Schema:
    """Read every tab file; cached because every stage asks for it."""
    directory = Path(directory) if directory else SCHEMA_DIR
    tabs: dict[str, TabSpec] = {}
    for name in TAB_ORDER:
        path = directory / f"{name}.yml"
        if not path.exists():
            raise FengqiaoError(f"找不到表结构文件 {path}。")
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506
        except yaml.YAMLError as exc:
            raise FengqiaoError(f"表结构文件 {path} 不是有效的 YAML：{exc}") from exc
        tab = _tab_from_yaml(raw, str(path))
        if tab.name != name:
            raise FengqiaoError(f"表结构文件 {path} 的 name 应为 {name}，实际是 {tab.name}。")
        tabs[name] = tab
    return Schema(tabs=tabs, directory=directory)
