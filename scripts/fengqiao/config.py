"""The one project config: deadlines, targets, quotas, town and source.

``sheets_schema/defaults.yml`` holds every default and is the only place one
is written: a town's ``fengqiao.yml`` is laid over it key by key, and the
merged result is validated as the typed model below (pydantic dataclasses,
no defaults of their own). Metrics, the overdue list and the procedures pages
all read the same :class:`Config`, so the site can never state a deadline the
figures do not use. A bad key or value stops the command with a Chinese
message naming the file and the key (see ``configfile``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    SecretStr,
    Strict,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.dataclasses import dataclass
from pydantic_core import PydanticCustomError
from pydantic_core.core_schema import ErrorType as ErrorTypeLiteral

from .catalogue import TARGET_KEYS
from .configfile import (
    RULES,
    AnyText,
    Day,
    NonNegativeInt,
    PositiveInt,
    Text,
    choice,
    merge,
    problem,
    read_yaml,
    validate,
)
from .resources import SCHEMA_DIR
from .schema import load_schema

DEFAULTS_FILE = SCHEMA_DIR / "defaults.yml"
#: the file a town folder is recognised by (``fengqiao init`` writes it)
CONFIG_NAME = "fengqiao.yml"
KIND = "配置文件"

#: the rates a ``targets:`` key may name (the metric catalogue decides)
RATE_TITLES_FOR_TARGETS = TARGET_KEYS

__all__ = ["DEFAULTS_FILE", "KNOWN_KEYS", "CONFIG_NAME", "RATE_TITLES_FOR_TARGETS", "Config",
           "Deadlines", "Quota", "Quotas", "SiteConfig", "SnapshotRetention", "defaults", "find_config",
           "from_dict", "load_config", "reception_modes"]


def _rate(value: float) -> float:
    if not 0 <= value <= 1:
        raise problem("应是 0 到 1 之间的小数（如 0.85 表示 85%）")
    return value


def _target_key(key: str) -> str:
    if key not in TARGET_KEYS:
        raise choice("可设目标的指标", TARGET_KEYS)
    return key


#: a share between 0 and 1 (0.85 = 85%)
Rate = Annotated[float, Strict(), AfterValidator(_rate)]
#: a rate id that may carry a target (the metric catalogue decides)
TargetKey = Annotated[str, Strict(), AfterValidator(_target_key)]


def _enum_value(tab: str, field: str, noun: str, value: str) -> str:
    """One value of a schema enum, an alias read as its canonical value, so
    the config accepts what the sheet accepts (入户 is 上门)."""
    spec = load_schema()[tab].field(field)
    allowed = tuple(str(v) for v in spec.enum or ())
    canonical = str(spec.enum_aliases.get(value.strip(), value.strip()))
    if canonical not in allowed:
        raise problem(f"不是{noun}", f"可以写的有：{'、'.join(allowed)}。")
    return canonical


def _person_category(value: str) -> str:
    return _enum_value("key_persons", "category", "重点人员的类别", value)


def _visit_method(value: str) -> str:
    return _enum_value("key_person_visits", "method", "重点人员随访的方式", value)


def _some_methods(value: list[str]) -> list[str]:
    if not value:
        raise problem("不能空着", "至少写一种方式，例如 [上门]；不限方式的类别不用写。")
    return list(dict.fromkeys(value))


#: a 类别 of the 重点人员 tab (aliases accepted)
PersonCategory = Annotated[str, Strict(), AfterValidator(_person_category)]
#: the 方式 a follow-up of that 类别 must have to count (aliases accepted)
VisitMethods = Annotated[list[Annotated[str, Strict(), AfterValidator(_visit_method)]],
                         AfterValidator(_some_methods)]


def _secret_text(value: Any) -> Any:
    """An app secret as YAML gives it (all digits arrive as a number). The
    value is never echoed back: a config error must not print a secret."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise problem("应是一段文字（飞书开发者后台里的 App Secret）")


def _sheet_name(value: Any) -> str:
    """A sheet name as YAML gives it: ``2024`` arrives as a number."""
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value).strip():
        return str(value)
    raise problem("应是一个工作表名")


def _tabs(value: dict[str, str]) -> dict[str, str]:
    """``tabs:`` keyed by tab id or Chinese title → tab id → sheet name. The
    keys are checked against the schema, so that a typo is a config error and
    not a mapping that silently does nothing."""
    schema = load_schema()
    ids = {tab.title: tab.name for tab in schema} | {tab.name: tab.name for tab in schema}
    out: dict[str, str] = {}
    for key, sheet in value.items():
        tab = ids.get(key.strip())
        if tab is None:
            raise choice("台账里的表", [t.title for t in schema], sub=key)
        if tab in out:
            raise problem(f"把“{schema[tab].title}”写了两次", "请只保留一行。")
        out[tab] = sheet
    sheets = list(out.values())
    repeated = sorted({s for s in sheets if sheets.count(s) > 1})
    if repeated:
        raise problem(f"把工作表“{'、'.join(repeated)}”指定给了不止一张表",
                      "每张工作表只能当作一张表来读，请改正。")
    return out


@dataclass(frozen=True, config=RULES)
class Deadlines:
    """Days allowed from 受理日期 to 办结日期, per star, and how they count."""

    star_1: PositiveInt
    star_2: PositiveInt
    star_3: PositiveInt
    day_count: Literal["calendar", "working"]
    warn_days: NonNegativeInt

    def for_star(self, star: int) -> int:
        return {1: self.star_1, 2: self.star_2, 3: self.star_3}[star]


#: the shortest window of each ``per``: a quota cannot ask for more days
_WINDOW_DAYS = {"day": 1, "week": 7, "month": 28}
_PER_WORDS = {"day": "每天", "week": "每周", "month": "每月"}


def reception_modes() -> tuple[str, ...]:
    """The 方式 a reception may have (the 领导接访 schema's enum): what a quota
    counts when it names none."""
    return tuple(str(v) for v in load_schema()["receptions"].field("mode").enum or ())


def _mode(value: str) -> str:
    if value not in reception_modes():
        raise choice("接访方式", reception_modes())
    return value


def _modes(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise problem("是空的", f"请写出算数的方式，例如 modes: [接访, 约访]；"
                      f"不写 modes 则 {'、'.join(reception_modes())} 都算。")
    return tuple(dict.fromkeys(value))  # written twice counts once


def _quota_defaults(value: Any) -> Any:
    """A quota that names no ``modes`` counts every 方式; ``min_days`` is
    checked against the window here, where ``per`` is known."""
    if not isinstance(value, dict):
        return value
    per, days = value.get("per"), value.get("min_days")
    if per in _WINDOW_DAYS and isinstance(days, int) and not isinstance(days, bool) \
            and days > _WINDOW_DAYS[per]:
        raise problem(f"（per: {per}）要求{_PER_WORDS[per]}至少 {days} 天，"
                      f"超过了一个周期最少的 {_WINDOW_DAYS[per]} 天",
                      f"请把 min_days 改为不大于 {_WINDOW_DAYS[per]} 的整数。", sub="min_days")
    if "modes" not in value:
        return {**value, "modes": list(reception_modes())}
    return value


@dataclass(frozen=True, config=RULES)
class Quota:
    """At least ``min_days`` distinct days with a reception of one of
    ``modes`` in every window of one ``per`` (a calendar day, a
    Monday–Sunday week or a calendar month)."""

    per: Literal["day", "week", "month"]
    min_days: PositiveInt
    modes: Annotated[tuple[Annotated[str, Strict(), AfterValidator(_mode)], ...],
                     AfterValidator(_modes)]


def _one_or_many(value: Any, handler: ValidatorFunctionWrapHandler) -> tuple[Quota, ...]:
    """A rank's quotas: one mapping (``{per: month, min_days: 5}``, the
    original form) or a list of them. An error in the one-mapping form is
    reported at the keys the user wrote, without a list position."""
    if isinstance(value, list | tuple):
        if not value:
            raise problem("没有写任何定额", "请至少写一条，例如 {per: month, min_days: 1}。")
        quotas: tuple[Quota, ...] = handler(value)
        return quotas
    try:
        quotas = handler([value])
    except ValidationError as exc:
        raise ValidationError.from_exception_data(
            exc.title, [_unlisted(dict(e)) for e in exc.errors()]) from None
    return quotas


def _unlisted(error: dict[str, Any]) -> Any:
    """One error of a one-item list, as if the item had been written alone."""
    if error["loc"][:1] == (0,):
        error["loc"] = tuple(error["loc"][1:])
    if error["type"] not in ERROR_TYPES:  # our own problem()/choice(): carry it over as is
        template = str(error["msg"]).replace("{", "{{").replace("}", "}}")
        error["type"] = PydanticCustomError(error["type"], template, error.get("ctx"))
    return error


#: every error type pydantic knows by name (the rest are our own)
ERROR_TYPES = frozenset(get_args(ErrorTypeLiteral))

#: a rank's quotas: a leader of the rank complies when every one is met
Quotas = Annotated[tuple[Annotated[Quota, BeforeValidator(_quota_defaults)], ...],
                   WrapValidator(_one_or_many)]


def _blank(value: Any) -> Any:
    return "" if value is None else value


@dataclass(frozen=True, config=RULES)
class SiteConfig:
    title: Text
    months: PositiveInt
    #: the town's own copy of the procedure pages (relative to the config's
    #: folder); empty: the pages that come with fengqiao
    pages: Annotated[AnyText, BeforeValidator(_blank), AfterValidator(str.strip),
                     Field(examples=["site"])]


@dataclass(frozen=True, config=RULES)
class SnapshotRetention:
    """How long stored copies of the ledger (personal data included) are
    kept; see :mod:`fengqiao.sources.retention` for what is always kept."""

    #: every snapshot read within this many days
    keep_days: NonNegativeInt
    #: the last snapshot of each of this many calendar months
    keep_monthly: NonNegativeInt


@dataclass(frozen=True, config=RULES)
class Config:
    """A town's settings, defaults merged in. Open mappings (intervals by
    随访频次, quotas by 职务类别, targets by rate) take any key the domain
    needs, with typed values."""

    town: Annotated[Text, Field(examples=["枫溪镇"])]
    #: the ledger: a path relative to the config file, ``gsheets:<id>`` or a
    #: Google address; empty when none is set
    source: Annotated[AnyText, BeforeValidator(_blank), AfterValidator(str.strip)]
    snapshots_dir: Text
    #: retention of the snapshots (``fengqiao snapshots prune``, and every build)
    snapshots: SnapshotRetention
    deadlines: Deadlines
    backlog_days: PositiveInt
    #: 涉及人数 from which a dispute is a 群体性纠纷 (DOMAIN.md 4.2)
    group_threshold: PositiveInt
    targets: dict[TargetKey, Rate]
    key_person_intervals: dict[Text, PositiveInt]
    #: 类别 → the 方式 a follow-up must have to count for it; a 类别 not
    #: listed accepts any 方式
    key_person_methods: Annotated[dict[PersonCategory, VisitMethods],
                                  Field(examples=[{"三失一偏": ["上门"]}])]
    #: 职务类别 → its quotas; the keys are also the ranks staff may pick
    reception_quotas: dict[Text, Quotas]
    site: SiteConfig
    #: the date the site's "current" month/quarter/year are taken from; None = today
    report_date: Annotated[Day | None, Field(examples=["2024-12-31"])]
    #: the first day the ledger holds every dispute; None = the first 受理日期
    #: in it. An earlier period (环比, 同比) that starts before it is unknown
    ledger_start: Annotated[Day | None, Field(examples=["2023-01-01"])]
    #: path to a Google service-account key file (the env var FENGQIAO_GOOGLE_CREDENTIALS wins)
    google_credentials: Annotated[Text | None,
                                  Field(examples=["/path/to/service-account.json"])]
    #: a Feishu custom app's App ID (the env var FENGQIAO_FEISHU_APP_ID wins)
    feishu_app_id: Annotated[Text | None, Field(examples=["cli_a1b2c3d4e5f6"])]
    #: its App Secret (FENGQIAO_FEISHU_APP_SECRET wins); kept as a secret, so
    #: no repr, log or error ever shows it
    feishu_app_secret: Annotated[SecretStr | None, BeforeValidator(_secret_text)]
    #: write validation marks into the Google Sheet on every validate and build
    annotate_sheet: Annotated[bool, Strict()]
    #: tab id → sheet name, for a workbook whose tab cannot be told by its name
    tabs: Annotated[dict[Text, Annotated[str, PlainValidator(_sheet_name)]],
                    Field(examples=[{"纠纷台账": "矛盾纠纷台账"}]), AfterValidator(_tabs)]
    #: the folder relative paths in the file are taken from (set by the loader)
    base_dir: Path = dataclasses.field(metadata={"internal": True})
    #: the file the settings came from (set by the loader)
    path: Path | None = dataclasses.field(metadata={"internal": True})

    def resolve(self, relative: str) -> Path:
        """Paths in a config file are relative to that file's folder."""
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base_dir / p


#: every top-level setting; each is documented in defaults.yml (a docs test checks)
KNOWN_KEYS = tuple(f.name for f in dataclasses.fields(Config) if not f.metadata.get("internal"))


def defaults() -> dict[str, Any]:
    """The defaults file as written (the only place a default lives)."""
    return read_yaml(DEFAULTS_FILE, "默认设置文件")


def from_dict(data: dict[str, Any], where: Path, base_dir: Path, *,
              from_file: bool = True) -> Config:
    """A typed config from a user's mapping, the defaults laid under it;
    every bad value is named with its key. ``from_file`` False: no town
    file was read (``Config.path`` stays None)."""
    base = defaults()
    return validate(Config, merge(base, data), kind=KIND, where=where, defaults=base,
                    defaults_file=DEFAULTS_FILE,
                    internal={"base_dir": base_dir, "path": where if from_file else None})


def find_config(start: Path) -> Path | None:
    """The town folder's ``fengqiao.yml`` a command run in ``start`` belongs
    to: in that folder or the nearest folder above it (as git finds its
    repository), so every command inside a town folder needs no --config."""
    start = start.resolve()
    for folder in (start, *start.parents):
        candidate = folder / CONFIG_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | str | None = None) -> Config:
    """Defaults, overridden by the town's file when one is given. Without a
    file, relative paths are taken from the current folder and there is no
    source: a command must be told what to read (never the demo)."""
    if path is None:
        return from_dict({}, DEFAULTS_FILE, Path.cwd(), from_file=False)
    path = Path(path)
    return from_dict(read_yaml(path, KIND), path, path.resolve().parent)
