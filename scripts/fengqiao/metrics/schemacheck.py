"""A fast yes/no answer to "does this file follow the contract's JSON Schema?".

jsonschema walks a file keyword by keyword through Python objects and
resolves every ``$ref`` at each use: about 0.1 s for one town's file, and
20 s for a 200-town roll-up's own file (10,000 overdue rows, 200 towns'
figures). A roll-up of 1,000 towns checks 1,000 such files and then its own,
so the checker, not the roll-up, set the build's time.

:func:`compile_schema` turns the schema into nested Python closures once
(``$ref`` resolved at compile time), which answer only *whether* a value is
valid, several times faster. It knows exactly the keywords the contract's schema
uses, with JSON Schema 2020-12 meaning; a schema with any other keyword is
refused (:class:`Unsupported`) so the caller keeps jsonschema for it.
``validate_contract`` asks this first and asks jsonschema for the messages
only when the answer is no, so every message is still jsonschema's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: keywords that say nothing about validity
ANNOTATIONS = frozenset({"description", "title", "$schema", "$id", "$comment", "examples",
                         "default", "$defs"})
SUPPORTED = ANNOTATIONS | {"$ref", "type", "anyOf", "properties", "additionalProperties",
                           "required", "minimum", "maximum", "enum", "items", "pattern",
                           "minLength", "propertyNames"}


class Unsupported(Exception):
    """The schema uses something this compiler does not implement."""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    # JSON Schema: 1.0 is an integer too (jsonschema's own type checker agrees)
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


def _equal(value: Any, option: Any) -> bool:
    """JSON equality of scalars, as jsonschema's ``enum``: true and 1 differ,
    1 and 1.0 do not."""
    if isinstance(value, bool) or isinstance(option, bool):
        return isinstance(value, bool) and isinstance(option, bool) and value == option
    if option is None or value is None:
        return value is option
    if isinstance(option, str) or isinstance(value, str):
        return isinstance(value, str) and isinstance(option, str) and value == option
    return _is_number(value) and value == option


TYPES: dict[str, Check] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": _is_integer,
    "number": _is_number,
    "string": lambda v: isinstance(v, str),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _all(checks: list[Check]) -> Check:
    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    return lambda v: all(c(v) for c in checks)


class _Compiler:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, pointer: str) -> Check:
        """A local ``#/$defs/…`` reference, compiled once and shared (a
        recursive definition calls itself through the table)."""
        if not pointer.startswith("#/"):
            raise Unsupported(pointer)
        if pointer not in self.refs:
            self.refs[pointer] = lambda v: True  # placeholder while compiling
            node: Any = self.root
            for part in pointer[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(node, dict) or part not in node:
                    raise Unsupported(pointer)
                node = node[part]
            compiled = self.compile(node)
            table = self.refs
            table[pointer] = compiled
        table = self.refs
        return lambda v: table[pointer](v)

    def compile(self, schema: Any) -> Check:  # noqa: C901 - one branch per keyword
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, dict):
            raise Unsupported(repr(schema))
        unknown = set(schema) - SUPPORTED
        if unknown:
            raise Unsupported(", ".join(sorted(unknown)))
        checks: list[Check] = []
        if "$ref" in schema:
            checks.append(self.ref(schema["$ref"]))
        if "type" in schema:
            names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            tests = [TYPES[n] for n in names]
            checks.append(tests[0] if len(tests) == 1 else (lambda v: any(t(v) for t in tests)))
        if "enum" in schema:
            options = list(schema["enum"])
            if not all(o is None or isinstance(o, str | int | float) for o in options):
                raise Unsupported("enum of arrays or objects")
            checks.append(lambda v: any(_equal(v, o) for o in options))
        if "minimum" in schema:
            low = schema["minimum"]
            checks.append(lambda v: not _is_number(v) or v >= low)
        if "maximum" in schema:
            high = schema["maximum"]
            checks.append(lambda v: not _is_number(v) or v <= high)
        if "minLength" in schema:
            shortest = schema["minLength"]
            checks.append(lambda v: not isinstance(v, str) or len(v) >= shortest)
        if "pattern" in schema:
            search = re.compile(schema["pattern"]).search
            checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
        if "anyOf" in schema:
            options_c = [self.compile(s) for s in schema["anyOf"]]
            checks.append(lambda v: any(c(v) for c in options_c))
        if "items" in schema:
            if not isinstance(schema["items"], dict | bool):
                raise Unsupported("items as a list")
            item = self.compile(schema["items"])
            checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
        object_checks = self._object(schema)
        if object_checks is not None:
            checks.append(object_checks)
        return _all(checks)

    def _object(self, schema: dict[str, Any]) -> Check | None:
        required = tuple(schema.get("required", ()))
        props = {k: self.compile(s) for k, s in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        extra_c = None if extra is True else self.compile(extra)
        names_c = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None
        if not required and not props and extra_c is None and names_c is None:
            return None

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for key in required:
                if key not in v:
                    return False
            for key, value in v.items():
                if names_c is not None and not names_c(key):
                    return False
                c = props.get(key)
                if c is not None:
                    if not c(value):
                        return False
                elif extra_c is not None and not extra_c(value):
                    return False
            return True
        return check


def compile_schema(schema: dict[str, Any]) -> Check:
    """A function telling whether a value is valid against ``schema``;
    raises :class:`Unsupported` for a schema it cannot judge exactly."""
    return _Compiler(schema).compile(schema)


__all__ = ["Check", "Unsupported", "compile_schema"]
