"""Reading a config file: YAML as written, defaults beneath, errors in Chinese.

``fengqiao.yml`` and ``county.yml`` are typed models (pydantic dataclasses in
``config.py`` and ``county/config.py``). This module does what the two share:

* it reads YAML without surprises: dates stay text until the model checks
  them, so ``2024-02-30`` is a message and not a crash;
* it lays the defaults file under the user's file (the defaults YAML is the
  only place a default value is written; the models declare none);
* it validates, and turns every validation error into one Chinese sentence
  naming the file, the key path, what was found and the expected form, with
  the nearest valid key for a typo. pydantic's English never reaches a user.

A field no default can stand in for (the county's name) is marked
``MustWrite()``; any other missing key can only be one the defaults file
lost, and the message says so. A field's ``Field(examples=[...])`` is shown
as the expected form; without one, the defaults file's own value is.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml
from pydantic import ConfigDict, Field, PlainValidator, Strict, StringConstraints, TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from .errors import FengqiaoError

T = TypeVar("T")

#: every config model: an unknown key at any depth is an error
RULES = ConfigDict(extra="forbid")

#: the error types this module raises itself (their context carries Chinese)
PROBLEM = "fengqiao_problem"
CHOICE = "fengqiao_choice"

_DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
_SHOWN_ERRORS = 8


class MustWrite:
    """``Annotated`` marker: the user's file must set this key (no default)."""


def problem(what: str, hint: str = "", *, sub: str | None = None) -> PydanticCustomError:
    """A validator's own error: ``what`` follows the key path in the message
    ("应以 http:// 开头"); ``sub`` names a key below the validated one."""
    return PydanticCustomError(PROBLEM, "{what}", {"what": what, "hint": hint, "sub": sub or ""})


def choice(noun: str, choices: Sequence[str], *, sub: str | None = None) -> PydanticCustomError:
    """A value (or key) outside a fixed set: the message suggests the nearest
    one and lists them all, like an unknown key."""
    return PydanticCustomError(CHOICE, "{noun}", {"noun": noun, "choices": list(choices),
                                                  "sub": sub or ""})


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        raise problem("应只写日期，不带时间（例如 2024-12-31）")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _DATE_TEXT.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise problem("不是真实存在的日期", "请检查月份和日子，例如 2024-12-31。") from None
    raise problem("应是 2024-12-31 这样的日期")


# -- field types every config uses -----------------------------------------------

Text = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1)]
AnyText = Annotated[str, Strict()]
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
NonNegativeInt = Annotated[int, Strict(), Field(ge=0)]
PositiveNumber = Annotated[float, Strict(), Field(gt=0)]
NonNegativeNumber = Annotated[float, Strict(), Field(ge=0)]
Day = Annotated[date, PlainValidator(_day)]


# -- reading ----------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, for the model to judge."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path, kind: str = "配置文件") -> dict[str, Any]:
    """A YAML mapping, or a Chinese error naming the file."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}  # noqa: S506
    except FileNotFoundError as exc:
        raise FengqiaoError(f"找不到{kind} {path}。") from exc
    except IsADirectoryError as exc:
        raise FengqiaoError(f"{kind} {path} 是一个文件夹，不是文件。") from exc
    except UnicodeDecodeError as exc:
        raise FengqiaoError(f"{kind} {path} 不是 UTF-8 编码的文字文件。",
                            hint="请用记事本等编辑器另存为 UTF-8 编码。") from exc
    except yaml.YAMLError as exc:
        raise FengqiaoError(f"{kind} {path} 格式有误：{exc}") from exc
    if not isinstance(data, dict):
        raise FengqiaoError(f"{kind} {path} 应该是“键: 值”的形式。")
    return data


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``, mapping by mapping. A key left empty in
    ``over`` (``deadlines:`` with nothing under it) keeps a mapping or list
    default, as the person meant."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if value is None and isinstance(current, dict | list):
            continue
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = merge(current, value)
        else:
            out[key] = value
    return out


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def validate(model: type[T], data: dict[str, Any], *, kind: str, where: Path | str,
             defaults: dict[str, Any] | None = None, defaults_file: Path | None = None,
             internal: dict[str, Any] | None = None) -> T:
    """``data`` (defaults already merged under it) as a ``model``, or a
    FengqiaoError in Chinese. ``internal`` fields (the config's own folder)
    are set by the loader; a user's file may not name them."""
    internal = internal or {}
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    written = sorted(set(data) & set(internal))
    if written:
        raise _error([{"type": "extra_forbidden", "loc": (written[0],), "input": data[written[0]]}],
                     model, kind=kind, where=where, defaults=defaults or {},
                     defaults_file=defaults_file)
    try:
        return adapter.validate_python({**data, **internal})
    except PydanticValidationError as exc:
        raise _error(exc.errors(include_url=False), model, kind=kind, where=where,
                     defaults=defaults or {}, defaults_file=defaults_file) from None


# -- the model's shape, for messages ------------------------------------------------


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    """The plain type under ``Annotated`` and ``X | None``, with the metadata."""
    metadata: list[Any] = []
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            args = get_args(tp)
            tp, metadata = args[0], [*metadata, *args[1:]]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp, metadata


def _child(tp: Any, part: str | int) -> Any:
    plain, _ = _unwrap(tp)
    if dataclasses.is_dataclass(plain) and isinstance(plain, type):
        return get_type_hints(plain, include_extras=True).get(str(part))
    origin = get_origin(plain)
    if origin is dict:
        return get_args(plain)[1]
    if origin in (list, tuple):
        item = get_args(plain)[0]
        # a key below a list (an error reported without its list position)
        return item if isinstance(part, int) else _child(item, part)
    return None


def _type_at(model: Any, loc: Sequence[str | int]) -> Any:
    tp = model
    for part in loc:
        if part == "[key]":
            return str
        tp = _child(tp, part)
        if tp is None:
            return None
    return tp


def _keys(tp: Any) -> list[str]:
    """The keys a user may write at a place that holds a model."""
    plain, _ = _unwrap(tp)
    if dataclasses.is_dataclass(plain) and isinstance(plain, type):
        return [f.name for f in dataclasses.fields(plain) if not f.metadata.get("internal")]
    if get_origin(plain) in (list, tuple):  # a list of models, or one written alone
        return _keys(get_args(plain)[0])
    return []


def _examples(tp: Any) -> list[Any]:
    _, metadata = _unwrap(tp)
    for item in metadata:
        if isinstance(item, FieldInfo) and item.examples:
            return list(item.examples)
    return []


def _default_at(defaults: dict[str, Any], loc: Sequence[str | int]) -> tuple[str, Any] | None:
    """The defaults file's value at ``loc`` (the first entry of an open
    mapping stands in for a key the defaults do not name), with its key."""
    here: Any = defaults
    key = ""
    for part in loc:
        if part == "[key]" or isinstance(part, int):
            return None
        if not isinstance(here, dict) or not here:
            return None
        key = str(part)
        if key not in here:
            key = str(next(iter(here)))
        here = here[key]
    return (key, here) if key else None


# -- the message ----------------------------------------------------------------------


def key_path(loc: Iterable[str | int], model: Any = None) -> str:
    """``deadlines.star_1``, ``towns[2].url``: a key as the user finds it
    (list items counted from 1; a number is a list position only where the
    model has a list)."""
    out = ""
    tp = model
    for part in loc:
        if part == "[key]":
            continue
        in_list = get_origin(_unwrap(tp)[0]) in (list, tuple) if tp is not None else True
        if isinstance(part, int) and in_list:
            out += f"[{part + 1}]"
        else:
            out += f".{part}" if out else str(part)
        tp = _child(tp, part) if tp is not None else None
    return out


def found(value: Any) -> str:
    """"实际写的是……": what the user's file holds at a key."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return "实际没有填写"
    text = shown(value)
    return f"实际写的是{text}" if text.startswith("“") else f"实际写的是 {text}"


def shown(value: Any, *, nested: bool = False) -> str:
    """A value the way it reads in the user's YAML."""
    if value is None:
        return "~"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if nested else f"{value:g}"
    if isinstance(value, str):
        return value if nested else f"“{value}”"
    if isinstance(value, dict):
        inner = ", ".join(f"{shown(k, nested=True)}: {shown(v, nested=True)}"
                          for k, v in list(value.items())[:4])
        return "{" + inner + (", …" if len(value) > 4 else "") + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(shown(v, nested=True) for v in list(value)[:6])
        return "[" + inner + (", …" if len(value) > 6 else "") + "]"
    return str(value)


def _example(leaf: str, value: Any) -> str:
    """A hint showing the expected form: one line, or a short block."""
    if isinstance(value, dict):
        lines = [f"{leaf}:"]
        for k, v in list(value.items())[:3]:
            lines.append(f"  {shown(k, nested=True)}: {shown(v, nested=True)}")
        if len(value) > 3:
            lines.append("  ……")
        return "可以这样写：\n" + "\n".join(f"    {line}" for line in lines)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        first, *rest = [f"{shown(k, nested=True)}: {shown(v, nested=True)}"
                        for k, v in value[0].items()]
        lines = [f"{leaf}:", f"  - {first}", *(f"    {line}" for line in rest)]
        return "可以这样写：\n" + "\n".join(f"    {line}" for line in lines)
    return f"例如 {leaf}: {shown(value, nested=True)}。"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _noun(tp: Any) -> str:
    plain, _ = _unwrap(tp)
    return {int: "整数", float: "数字", str: "文字", date: "日期"}.get(plain, "值")


def _suggest(bad: str, choices: Sequence[str], prefix: str, listed: str = "可用的有") -> str:
    near = difflib.get_close_matches(bad, list(choices), n=1, cutoff=0.5)
    names = f"{listed}：{'、'.join(choices)}。" if choices else ""
    return f"您是不是想写 {prefix}{near[0]}？{names}" if near else names


def _expected(err: dict[str, Any], tp: Any) -> str:
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "string_type":
        return "应是一段文字"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "应是整数"
    if kind in ("float_type", "float_parsing"):
        return "应是数字"
    if kind in ("bool_type", "bool_parsing"):
        return "只能是 true 或 false"
    if kind in ("dict_type", "dataclass_type", "dataclass_exact_type", "model_type",
                "mapping_type"):
        keys = _keys(tp)
        return ("应是几行设置，写在下一行、缩进两格" +
                (f"（可写 {'、'.join(keys)}）" if keys else "（每行“名称: 值”）"))
    if kind in ("list_type", "tuple_type"):
        return "应是一个列表，每项一行，以“- ”开头"
    if kind == "string_too_short":
        return "不能空着"
    if kind == "greater_than":
        return f"应是大于 {_number(ctx.get('gt'))} 的{_noun(tp)}"
    if kind == "greater_than_equal":
        return f"应是不小于 {_number(ctx.get('ge'))} 的{_noun(tp)}"
    if kind == "less_than_equal":
        return f"应是不大于 {_number(ctx.get('le'))} 的{_noun(tp)}"
    if kind == "less_than":
        return f"应是小于 {_number(ctx.get('lt'))} 的{_noun(tp)}"
    if kind.startswith("date"):
        return "应是 2024-12-31 这样的日期"
    return "的写法不对"


def _one(err: dict[str, Any], model: Any, *, defaults: dict[str, Any],
         defaults_file: Path | None) -> tuple[str, str]:
    """(what is wrong, what to do) for one error. The first part starts with
    the key path ("deadlines.star4 不是……") or with "缺少"."""
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if ctx.get("sub"):
        loc = (*loc, ctx["sub"])
    value = err.get("input")
    is_key = loc[-1:] == ("[key]",)
    names = tuple(p for p in loc if p != "[key]")
    key = key_path(names, model)
    parent = key_path(names[:-1], model)
    prefix = f"{parent}." if parent else ""
    tp = _type_at(model, loc)
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return (f"{key} 不是可用的设置。",
                _suggest(str(names[-1]), _keys(_type_at(model, names[:-1])), prefix))
    if kind == CHOICE:
        bad = str(value) if is_key else str(names[-1])
        return (f"{key} 不是{ctx['noun']}。",
                _suggest(bad, ctx["choices"], prefix, listed="可以写的有"))
    if kind == "literal_error":
        allowed = re.findall(r"'((?:[^'\\]|\\.)*)'", str(ctx.get("expected", "")))
        near = difflib.get_close_matches(str(value), allowed, n=1, cutoff=0.5)
        maybe = f"您是不是想写 {names[-1]}: {near[0]}？" if near else ""
        return f"{key} 只能是 {' 或 '.join(allowed)}，{found(value)}。", maybe
    if kind == "missing":
        examples = _examples(tp)
        if any(isinstance(m, MustWrite) for m in _unwrap(tp)[1]):
            example = _example(str(names[-1]), examples[0]) if examples else ""
            return f"缺少 {key}。", f"请写上这一项。{example}"
        source = f"默认设置 {defaults_file} " if defaults_file else "默认设置"
        return (f"缺少 {key}，{source}里也没有这一项。",
                "请在本文件里写上它，或者把默认设置文件恢复原样。")
    if kind == PROBLEM:
        what = f"{key}{'' if ctx['what'].startswith('（') else ' '}{ctx['what']}"
        if not ctx.get("sub") and not isinstance(value, dict | list | tuple):
            what += f"，{found(value)}"
        return what + "。", str(ctx.get("hint") or "")
    if kind == "string_too_short":
        return f"{key} 不能空着。", ""
    if is_key:
        return f"{key} 的名称{_expected(err, tp)}，{found(value)}。", ""
    hint = ""
    examples = _examples(tp)
    if examples:
        hint = _example(str(names[-1]), examples[0])
    else:
        default = _default_at(defaults, names)
        if default is not None:
            hint = _example(*default)
    return f"{key} {_expected(err, tp)}，{found(value)}。", hint


def _error(errors: Sequence[Any], model: Any, *, kind: str, where: Path | str,
           defaults: dict[str, Any], defaults_file: Path | None) -> FengqiaoError:
    described = [_one(dict(e), model, defaults=defaults, defaults_file=defaults_file)
                 for e in errors]
    if len(described) == 1:
        what, hint = described[0]
        joint = "里" if what.startswith("缺少") else "里的 "
        return FengqiaoError(f"{kind} {where} {joint}{what}", hint=hint)
    lines = [f"{kind} {where} 里有 {len(described)} 处需要改正："]
    for i, (what, hint) in enumerate(described[:_SHOWN_ERRORS], 1):
        lines.append(f"  {i}. {what}{hint}".replace("\n", "\n    "))
    if len(described) > _SHOWN_ERRORS:
        lines.append(f"  ……还有 {len(described) - _SHOWN_ERRORS} 处，改好上面这些后再运行一次就能看到。")
    return FengqiaoError("\n".join(lines))
