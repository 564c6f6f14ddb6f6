"""The schema as one town's config shapes it.

Some allowed values are the town's own choice, not the project's: the
职务类别 of 领导接访 and 领导名册 are the ranks the town's ``reception_quotas``
configure (a county may add 县处级领导 or 村居干部). Such a field says so in
its YAML with ``enumFrom: <config key>``; :func:`schema_for` is the one place
that applies the config to those fields, and validation, the template's
dropdowns, ``sheets init``, the fill-in guide and the schema export all take
their schema from it, so a rank the metrics judge is always a rank staff can
pick, and no other.
"""

from __future__ import annotations

from functools import cache

from .config import Config
from .schema import Schema, load_schema

__all__ = ["configured_values", "schema_for"]


def configured_values(config: Config) -> dict[str, tuple[str, ...]]:
    """config key → the values it allows, for every ``enumFrom`` key in use."""
    keys = {f.enum_from for tab in load_schema() for f in tab.fields if f.enum_from}
    return {key: tuple(getattr(config, key)) for key in sorted(keys)}


def schema_for(config: Config | None) -> Schema:
    """The schema with the config's values in every ``enumFrom`` field;
    without a config, the schema as written (its enums are the defaults)."""
    if config is None:
        return load_schema()
    return _shaped(tuple(configured_values(config).items()))


@cache
def _shaped(values: tuple[tuple[str, tuple[str, ...]], ...]) -> Schema:
    return load_schema().with_enums(dict(values))
