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
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, PlainValidator, Strict
from pydantic.dataclasses import dataclass

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
from .schema import SCHEMA_DIR, load_schema

DEFAULTS_FILE = SCHEMA_DIR / "defaults.yml"
PROJECT_ROOT = SCHEMA_DIR.parent
KIND = "配置文件"

#: the rates a ``targets:`` key may name (the metric catalogue decides)
RATE_TITLES_FOR_TARGETS = TARGET_KEYS

__all__ = ["DEFAULTS_FILE", "KNOWN_KEYS", "PROJECT_ROOT", "RATE_TITLES_FOR_TARGETS", "Config",
           "Deadlines", "Quota", "SiteConfig", "defaults", "from_dict", "load_config"]


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


@dataclass(frozen=True, config=RULES)
class Quota:
    """At least ``min_days`` distinct days with a reception per ``per``."""

    per: Literal["day", "week", "month"]
    min_days: PositiveInt


@dataclass(frozen=True, config=RULES)
class SiteConfig:
    title: Text
    months: PositiveInt


def _no_source(value: Any) -> Any:
    return "" if value is None else value


@dataclass(frozen=True, config=RULES)
class Config:
    """A town's settings, defaults merged in. Open mappings (intervals by
    随访频次, quotas by 职务类别, targets by rate) take any key the domain
    needs, with typed values."""

    town: Text
    #: the ledger: a path relative to the config file, ``gsheets:<id>`` or a
    #: Google address; empty when none is set
    source: Annotated[AnyText, BeforeValidator(_no_source), AfterValidator(str.strip)]
    snapshots_dir: Text
    deadlines: Deadlines
    backlog_days: PositiveInt
    targets: dict[TargetKey, Rate]
    key_person_intervals: dict[Text, PositiveInt]
    reception_quotas: dict[Text, Quota]
    site: SiteConfig
    #: the date the site's "current" month/quarter/year are taken from; None = today
    report_date: Annotated[Day | None, Field(examples=["2024-12-31"])]
    #: path to a Google service-account key file (the env var FENGQIAO_GOOGLE_CREDENTIALS wins)
    google_credentials: Annotated[Text | None,
                                  Field(examples=["/path/to/service-account.json"])]
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


def from_dict(data: dict[str, Any], where: Path, base_dir: Path) -> Config:
    """A typed config from a user's mapping, the defaults laid under it;
    every bad value is named with its key."""
    base = defaults()
    return validate(Config, merge(base, data), kind=KIND, where=where, defaults=base,
                    defaults_file=DEFAULTS_FILE,
                    internal={"base_dir": base_dir, "path": where})


def load_config(path: Path | str | None = None) -> Config:
    """Defaults, overridden by the town's file when one is given."""
    if path is None:
        return from_dict({}, DEFAULTS_FILE, PROJECT_ROOT)
    path = Path(path)
    return from_dict(read_yaml(path, KIND), path, path.resolve().parent)
