"""The county office's own config: which towns, where to fetch, when reports are due.

It is separate from a town's ``fengqiao.yml`` because the county never sees a
ledger: it only knows where each town publishes its ``metrics.json``. Every
bad value is named with its key so the office can fix the file without help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..catalogue import RANKED, TARGET_KEYS
from ..config import load_config, read_yaml
from ..errors import FengqiaoError
from ..metrics.periods import Period

TownKind = Literal["url", "path", "workbook"]

#: days after the period's last day by which the town must have published
DEFAULT_DUE_DAYS: dict[str, int] = {"month": 5, "quarter": 10, "half": 15, "year": 20, "custom": 10}

#: the rates towns are ranked by (the metric catalogue decides)
RANKED_RATES = RANKED

_UNSAFE_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 1.0
    max_bytes: int = 20 * 1024 * 1024


@dataclass(frozen=True)
class CountyConfig:
    name: str
    collection_dir: Path
    towns: tuple[TownSource, ...]
    due_days: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_DUE_DAYS))
    timezone: str = "Asia/Shanghai"
    fetch: FetchSettings = field(default_factory=FetchSettings)
    #: towns whose denominator is below this are listed as 样本不足, not ranked
    min_denominator: int = 10
    targets: dict[str, float] = field(default_factory=lambda: dict(load_config().targets))
    title: str = ""
    #: quick builds from towns given on the command line have no reporting
    #: deadline to judge: their files count as 已报, timeliness shows "—"
    judge_timeliness: bool = True
    path: Path | None = None

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


def _err(where: Path | str, key: str, what: str) -> FengqiaoError:
    return FengqiaoError(f"县级配置文件 {where} 中 {key} {what}")


def _non_negative_int(value: Any, key: str, where: Path | str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _err(where, key, f"应为不小于 0 的整数，实际是 {value!r}。")
    return value


def _positive_number(value: Any, key: str, where: Path | str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        raise _err(where, key, f"应为{'不小于 0' if allow_zero else '大于 0'} 的数字，实际是 {value!r}。")
    return float(value)


def _town_from_dict(raw: Any, index: int, where: Path | str, base: Path) -> TownSource:
    key = f"towns[{index + 1}]"
    if not isinstance(raw, dict):
        raise _err(where, key, "应写成“name: 镇名”加 url、path 或 workbook 之一。")
    unknown = sorted(set(raw) - {"name", "url", "path", "workbook", "config"})
    if unknown:
        raise _err(where, key, f"有不认识的设置：{'、'.join(unknown)}（可用 name、url、path、workbook、config）。")
    name = str(raw.get("name") or "").strip()
    if not name:
        raise _err(where, f"{key}.name", "没有填写乡镇名称。")
    given = [k for k in ("url", "path", "workbook") if raw.get(k)]
    if len(given) != 1:
        raise _err(where, key, f"（{name}）必须且只能填写 url、path、workbook 中的一项。")
    kind: TownKind = given[0]  # type: ignore[assignment]
    location = str(raw[kind]).strip()
    if kind == "url" and not re.match(r"^https?://[^/\s]+", location):
        raise _err(where, f"{key}.url", f"（{name}）应以 http:// 或 https:// 开头，实际是 {location!r}。")
    if kind in ("path", "workbook") and not location.startswith("gsheets:"):
        p = Path(location).expanduser()
        location = str(p if p.is_absolute() else (base / p))
    town_config = None
    if raw.get("config"):
        if kind != "workbook":
            raise _err(where, f"{key}.config", f"（{name}）只有用 workbook 直接统计的乡镇才需要 config。")
        c = Path(str(raw["config"])).expanduser()
        town_config = c if c.is_absolute() else base / c
    return TownSource(name=name, kind=kind, location=location, config=town_config)


KNOWN_KEYS = {"county", "collection_dir", "towns", "due_days", "timezone", "fetch",
              "ranking", "targets", "title"}


def county_from_dict(data: dict[str, Any], where: Path | str, base: Path) -> CountyConfig:
    """Build a typed county config; every bad value is named with its key."""
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise FengqiaoError(
            f"县级配置文件 {where} 中有不认识的设置：{'、'.join(unknown)}。",
            hint=f"可用的设置有：{'、'.join(sorted(KNOWN_KEYS))}。",
        )
    name = str(data.get("county") or "").strip()
    if not name:
        raise _err(where, "county", "没有填写县（旗）名称。")
    towns_raw = data.get("towns")
    if towns_raw is None:
        towns_raw = []
    if not isinstance(towns_raw, list):
        raise _err(where, "towns", "应是乡镇列表（每项以“- name:”开头）。")
    towns = tuple(_town_from_dict(t, i, where, base) for i, t in enumerate(towns_raw))
    seen: set[str] = set()
    for t in towns:
        if t.name in seen:
            raise _err(where, "towns", f"中乡镇“{t.name}”出现了不止一次。")
        seen.add(t.name)

    due = dict(DEFAULT_DUE_DAYS)
    due_raw = data.get("due_days") or {}
    if not isinstance(due_raw, dict):
        raise _err(where, "due_days", "应写成“month: 5”这样的形式。")
    for kind, value in due_raw.items():
        if kind not in DEFAULT_DUE_DAYS:
            raise _err(where, f"due_days.{kind}", f"不是统计期类型（可用 {'、'.join(DEFAULT_DUE_DAYS)}）。")
        due[kind] = _non_negative_int(value, f"due_days.{kind}", where)

    tz = str(data.get("timezone") or "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _err(where, "timezone", f"不是有效的时区名（例如 Asia/Shanghai），实际是 {tz!r}。") from exc

    f = data.get("fetch") or {}
    if not isinstance(f, dict):
        raise _err(where, "fetch", "应写成“timeout: 10”这样的形式。")
    unknown_f = sorted(set(f) - {"timeout", "retries", "backoff"})
    if unknown_f:
        raise _err(where, "fetch", f"中有不认识的设置：{'、'.join(unknown_f)}（可用 timeout、retries、backoff）。")
    fetch = FetchSettings(
        timeout=_positive_number(f.get("timeout", 10), "fetch.timeout", where),
        retries=_non_negative_int(f.get("retries", 2), "fetch.retries", where),
        backoff=_positive_number(f.get("backoff", 1.0), "fetch.backoff", where, allow_zero=True),
    )
    if fetch.retries > 10:
        raise _err(where, "fetch.retries", f"最多为 10，实际是 {fetch.retries}。")

    r = data.get("ranking") or {}
    if not isinstance(r, dict):
        raise _err(where, "ranking", "应写成“min_denominator: 10”这样的形式。")
    min_den = _non_negative_int(r.get("min_denominator", 10), "ranking.min_denominator", where)

    targets = dict(load_config().targets)
    t_raw = data.get("targets") or {}
    if not isinstance(t_raw, dict):
        raise _err(where, "targets", "应写成“closure_rate: 0.9”这样的形式。")
    for key, value in t_raw.items():
        if key not in TARGET_KEYS:
            raise FengqiaoError(
                f"县级配置文件 {where} 中 targets.{key} 不是可以设目标的指标。",
                hint=f"可以设目标的有：{'、'.join(TARGET_KEYS)}。")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise _err(where, f"targets.{key}", f"应是 0 到 1 之间的小数（如 0.9 表示 90%），实际是 {value!r}。")
        targets[str(key)] = float(value)

    coll = Path(str(data.get("collection_dir") or "collection")).expanduser()
    return CountyConfig(
        name=name,
        collection_dir=coll if coll.is_absolute() else base / coll,
        towns=towns,
        due_days=due,
        timezone=tz,
        fetch=fetch,
        min_denominator=min_den,
        targets=targets,
        title=str(data.get("title") or ""),
        path=Path(where) if isinstance(where, Path) else None,
    )


def load_county_config(path: Path | str) -> CountyConfig:
    """Read ``county.yml``; relative paths in it are relative to its folder."""
    path = Path(path)
    data = read_yaml(path, "县级配置文件")
    return county_from_dict(data, path, path.resolve().parent)
