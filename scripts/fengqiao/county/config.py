"""The county office's own config: which towns, where to fetch, when reports are due.

It is separate from a town's ``fengqiao.yml`` because the county never sees a
ledger: it only knows where each town publishes its ``metrics.json``. The
same file serves a city or a province (``level: 市`` / ``省``): its
``towns:`` are then the direct units, county sites among them, each read
exactly like a town site.
``sheets_schema/county_defaults.yml`` holds every default (targets come from
the town defaults); ``county.yml`` is laid over it and validated as
:class:`CountyFile`, a typed model with no defaults of its own, so every bad
key or value stops with a Chinese message naming it. The rest of the county
code reads the :class:`CountyConfig` built from it, with paths resolved.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator
from pydantic.dataclasses import dataclass as model

from ..catalogue import RANKED
from ..config import Rate, TargetKey
from ..config import defaults as town_defaults
from ..configfile import (
    RULES,
    AnyText,
    Day,
    MustWrite,
    NonNegativeInt,
    NonNegativeNumber,
    PositiveNumber,
    Text,
    merge,
    problem,
    read_yaml,
    validate,
)
from ..metrics.contract import units_are_towns, units_word
from ..metrics.periods import Period
from ..resources import SCHEMA_DIR
from ..sources.spec import in_folder

TownKind = Literal["url", "path", "workbook"]
#: the levels a roll-up may have (a town is 镇; see metrics.contract.LEVELS)
RollupLevel = Literal["县", "市", "省"]
KIND = "县级配置文件"
COUNTY_DEFAULTS_FILE = SCHEMA_DIR / "county_defaults.yml"

#: the rates towns are ranked by (the metric catalogue decides)
RANKED_RATES = RANKED

_UNSAFE_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")
_SITE_URL = re.compile(r"^https?://[^/\s]+")


# -- what county.yml may say --------------------------------------------------------


def _site_url(value: str) -> str:
    if not _SITE_URL.match(value):
        raise problem("应以 http:// 或 https:// 开头")
    return value


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise problem("不是有效的时区名", "例如 timezone: Asia/Shanghai。") from None
    return value


@model(frozen=True, config=RULES)
class TownEntry:
    """One ``- name: …`` item of ``towns:``."""

    name: Annotated[Text, MustWrite(), Field(examples=["东湖镇"])]
    url: Annotated[Text, AfterValidator(_site_url), Field(examples=["http://127.0.0.1:8001/"])] \
        | None = None
    path: Text | None = None
    workbook: Text | None = None
    config: Text | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_place(cls, raw: Any) -> Any:
        """Where the town's figures come from is judged first: a second
        place is the mistake to name, not the form of either."""
        if not isinstance(raw, dict):
            return raw
        name = raw.get("name") or "未填名称"
        given = [k for k in ("url", "path", "workbook") if raw.get(k)]
        if len(given) != 1:
            raise problem(f"（{name}）必须且只能填写 url、path、workbook 中的一项")
        if raw.get("config") and given != ["workbook"]:
            raise problem(f"（{name}）只有用 workbook 直接统计的乡镇才需要 config")
        return raw


def _unique_towns(towns: list[TownEntry]) -> list[TownEntry]:
    names = [t.name for t in towns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise problem(f"中乡镇“{'、'.join(repeated)}”出现了不止一次", "同一个乡镇只需要列一次。")
    return towns


@model(frozen=True, config=RULES)
class DueDays:
    """Days after a period's last day by which a town must have published."""

    month: NonNegativeInt
    quarter: NonNegativeInt
    half: NonNegativeInt
    year: NonNegativeInt
    custom: NonNegativeInt


@model(frozen=True, config=RULES)
class FetchSettings:
    """How the county fetches a town's file over HTTP."""

    timeout: PositiveNumber
    retries: Annotated[int, Field(strict=True, ge=0, le=10)]
    backoff: NonNegativeNumber
    #: town sites fetched at the same time (a province collects 1,000)
    concurrency: Annotated[int, Field(strict=True, ge=1, le=64)]
    #: a larger file is not a metrics file (not a setting: a safety bound)
    max_bytes: ClassVar[int] = 20 * 1024 * 1024


@model(frozen=True, config=RULES)
class Ranking:
    #: towns whose denominator is below this are listed as 样本不足, not ranked
    min_denominator: NonNegativeInt


@model(frozen=True, config=RULES)
class CountyFile:
    """``county.yml`` with the defaults laid under it, as written."""

    county: Annotated[Text, MustWrite(), Field(examples=["示范县"])]
    level: RollupLevel
    title: AnyText
    collection_dir: Text
    timezone: Annotated[Text, AfterValidator(_zone)]
    report_date: Annotated[Day | None, Field(examples=["2024-12-31"])]
    due_days: DueDays
    fetch: FetchSettings
    ranking: Ranking
    targets: dict[TargetKey, Rate]
    towns: Annotated[list[TownEntry], AfterValidator(_unique_towns),
                     Field(examples=[[{"name": "东湖镇", "url": "http://127.0.0.1:8001/"}]])]


# -- what the county code reads ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TownSource:
    """Where one town's figures come from: its published site (``url``), a
    copy of that site in a shared folder (``path``), or its workbook, which
    the county then runs through the town pipeline itself (``workbook``)."""

    name: str
    kind: TownKind
    location: str
    #: the town's own fengqiao.yml (deadlines, targets) for ``workbook`` towns
    config: Path | None = None

    @property
    def folder_name(self) -> str:
        """A town name safe to use as a folder in the collection."""
        return _UNSAFE_NAME.sub("_", self.name).strip(". ") or "_"


@dataclasses.dataclass(frozen=True)
class CountyConfig:
    name: str
    collection_dir: Path
    towns: tuple[TownSource, ...]
    due_days: dict[str, int]
    timezone: str
    fetch: FetchSettings
    #: towns whose denominator is below this are listed as 样本不足, not ranked
    min_denominator: int
    targets: dict[str, float]
    title: str
    #: the as-of day for figures the county computes from a workbook; None = the clock
    report_date: date | None
    #: quick builds from towns given on the command line have no reporting
    #: deadline to judge: their files count as 已报, timeliness shows "—"
    judge_timeliness: bool = True
    path: Path | None = None
    #: 县 (units are towns), 市 or 省 (units are roll-ups or towns below it)
    level: str = "县"
    #: the levels the units' files state, once collected (``with_units``)
    unit_levels: tuple[str, ...] = ()

    @property
    def unit_word(self) -> str:
        """What the direct units are called on pages and in messages: by
        their files' levels once known, else by the level below this one."""
        return units_word(self.level, self.unit_levels)

    @property
    def units_are_towns(self) -> bool:
        """Whether the direct units are towns (no separate "towns underneath")."""
        return units_are_towns(self.level, self.unit_levels)

    def with_units(self, levels: Iterable[str | None]) -> CountyConfig:
        """This config knowing the levels of the units it collected."""
        return dataclasses.replace(self, unit_levels=tuple(sorted({lv for lv in levels if lv})))

    @property
    def area(self) -> str:
        """The whole roll-up in a phrase: 全县, 全市, 全省."""
        return f"全{self.level}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def site_title(self) -> str:
        return self.title or f"{self.name}矛盾纠纷调处化解汇总"

    def town(self, name: str) -> TownSource | None:
        for t in self.towns:
            if t.name == name:
                return t
        return None

    def due_at(self, period: Period) -> datetime:
        """The last moment a report for ``period`` counts as on time: the end
        of the due day in the county's own time zone (returned in UTC)."""
        day: date = period.end + timedelta(days=self.due_days[period.kind])
        local = datetime.combine(day, time(23, 59, 59), tzinfo=self.tz)
        return local.astimezone(ZoneInfo("UTC"))


KNOWN_KEYS = tuple(f.name for f in dataclasses.fields(CountyFile))


def _town_source(entry: TownEntry, base: Path) -> TownSource:
    if entry.url:
        return TownSource(name=entry.name, kind="url", location=entry.url)
    if entry.path:
        return TownSource(name=entry.name, kind="path", location=str(in_folder(entry.path, base)))
    assert entry.workbook is not None  # the model allows exactly one of the three
    config = None if entry.config is None else Path(in_folder(entry.config, base))
    return TownSource(name=entry.name, kind="workbook",
                      location=str(in_folder(entry.workbook, base)), config=config)


def defaults() -> dict[str, Any]:
    """The county defaults as written, with the town defaults' targets under
    the county's own (a target is written once, in defaults.yml)."""
    county = read_yaml(COUNTY_DEFAULTS_FILE, "默认设置文件")
    return merge({"targets": town_defaults().get("targets") or {}}, county)


def county_from_dict(data: dict[str, Any], where: Path | str, base: Path) -> CountyConfig:
    """A typed county config from a mapping, the defaults laid under it;
    every bad value is named with its key."""
    base_data = defaults()
    f = validate(CountyFile, merge(base_data, data), kind=KIND, where=where,
                 defaults=base_data, defaults_file=COUNTY_DEFAULTS_FILE)
    return CountyConfig(
        name=f.county,
        collection_dir=Path(in_folder(f.collection_dir, base)),
        towns=tuple(_town_source(t, base) for t in f.towns),
        due_days=dataclasses.asdict(f.due_days),
        timezone=f.timezone,
        fetch=f.fetch,
        min_denominator=f.ranking.min_denominator,
        targets=dict(f.targets),
        title=f.title.strip(),
        report_date=f.report_date,
        path=Path(where) if isinstance(where, Path) else None,
        level=f.level,
    )


def load_county_config(path: Path | str) -> CountyConfig:
    """Read ``county.yml``; relative paths in it are relative to its folder."""
    path = Path(path)
    data = read_yaml(path, KIND)
    return county_from_dict(data, path, path.resolve().parent)


def county_config(name: str, *, collection_dir: Path, towns: Iterable[TownSource] = (),
                  **changes: Any) -> CountyConfig:
    """A county config from the defaults alone, for a county that has no
    county.yml (a quick build from towns named on the command line, tests),
    with ``changes`` applied."""
    config = county_from_dict({"county": name}, COUNTY_DEFAULTS_FILE, Path.cwd())
    return dataclasses.replace(config, collection_dir=collection_dir, towns=tuple(towns),
                               **changes)
