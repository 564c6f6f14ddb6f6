"""The one project config: deadlines, targets, quotas, town and source.

``sheets_schema/defaults.yml`` holds the defaults; a town's ``fengqiao.yml``
overrides any key. Metrics, the overdue list and the procedures pages all read
the same :class:`Config`, so the site can never state a deadline the figures
do not use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml

from .catalogue import TARGET_KEYS
from .errors import FengqiaoError
from .schema import SCHEMA_DIR, load_schema

DEFAULTS_FILE = SCHEMA_DIR / "defaults.yml"
PROJECT_ROOT = SCHEMA_DIR.parent

#: every top-level setting; each is documented in defaults.yml (a docs test checks)
KNOWN_KEYS = (
    "town", "source", "snapshots_dir", "deadlines", "backlog_days", "targets",
    "key_person_intervals", "reception_quotas", "site", "report_date", "google_credentials",
    "tabs",
)

#: the rates a ``targets:`` key may name (the metric catalogue decides)
RATE_TITLES_FOR_TARGETS = TARGET_KEYS


@dataclass(frozen=True)
class Deadlines:
    star_1: int = 5
    star_2: int = 15
    star_3: int = 60
    day_count: Literal["calendar", "working"] = "calendar"
    warn_days: int = 2

    def for_star(self, star: int) -> int:
        return {1: self.star_1, 2: self.star_2, 3: self.star_3}[star]


@dataclass(frozen=True)
class Quota:
    per: Literal["month", "week"]
    min_days: int


@dataclass(frozen=True)
class SiteConfig:
    title: str = "矛盾纠纷调处化解工作平台"
    months: int = 12


@dataclass(frozen=True)
class Config:
    town: str
    source: str
    snapshots_dir: str
    deadlines: Deadlines
    backlog_days: int
    targets: dict[str, float]
    key_person_intervals: dict[str, int]
    reception_quotas: dict[str, Quota]
    site: SiteConfig
    #: the date the site's "current" month/quarter/year are taken from; None = today
    report_date: date | None = None
    #: path to a Google service-account key file (the env var FENGQIAO_GOOGLE_CREDENTIALS wins)
    google_credentials: str | None = None
    #: tab id → sheet name, for a workbook whose tab cannot be told by its name
    tabs: dict[str, str] = field(default_factory=dict)
    base_dir: Path = field(default=PROJECT_ROOT)
    path: Path | None = None

    def resolve(self, relative: str) -> Path:
        """Paths in a config file are relative to that file's folder."""
        p = Path(relative)
        return p if p.is_absolute() else self.base_dir / p


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def read_yaml(path: Path, kind: str = "配置文件") -> dict[str, Any]:
    """A YAML mapping, or a Chinese error naming the file (town and county
    configs share this)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise FengqiaoError(f"找不到{kind} {path}。") from exc
    except yaml.YAMLError as exc:
        raise FengqiaoError(f"{kind} {path} 格式有误：{exc}") from exc
    if not isinstance(data, dict):
        raise FengqiaoError(f"{kind} {path} 应该是“键: 值”的形式。")
    return data


def _positive_int(value: Any, name: str, where: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise FengqiaoError(f"配置文件 {where} 中 {name} 应为正整数，实际是 {value!r}。")
    return value


def _tabs(value: Any, where: Path) -> dict[str, str]:
    """``tabs:`` keyed by tab id or Chinese title → tab id → sheet name. The
    keys are checked here, against the schema, so that a typo is a config
    error and not a mapping that silently does nothing."""
    if value is None:
        return {}
    schema = load_schema()
    ids = {tab.title: tab.name for tab in schema} | {tab.name: tab.name for tab in schema}
    example = "tabs:\n  纠纷台账: 矛盾纠纷台账"
    if not isinstance(value, dict):
        raise FengqiaoError(f"配置文件 {where} 中 tabs 应写成“表名: 工作表名”的形式，"
                            f"实际是 {value!r}。", hint=f"例如：\n{example}")
    out: dict[str, str] = {}
    for key, sheet in value.items():
        tab = ids.get(str(key).strip())
        if tab is None:
            raise FengqiaoError(
                f"配置文件 {where} 中 tabs 下的“{key}”不是台账里的表。",
                hint=f"可以写的表有：{'、'.join(t.title for t in schema)}。")
        if not isinstance(sheet, str | int) or isinstance(sheet, bool) or not str(sheet).strip():
            raise FengqiaoError(
                f"配置文件 {where} 中 tabs.{key} 应是一个工作表名，实际是 {sheet!r}。",
                hint=f"例如：\n{example}")
        if tab in out:
            raise FengqiaoError(f"配置文件 {where} 中 tabs 把“{schema[tab].title}”写了两次。",
                                hint="请只保留一行。")
        out[tab] = str(sheet)
    sheets = list(out.values())
    repeated = sorted({s for s in sheets if sheets.count(s) > 1})
    if repeated:
        raise FengqiaoError(
            f"配置文件 {where} 中 tabs 把工作表“{'、'.join(repeated)}”指定给了不止一张表。",
            hint="每张工作表只能当作一张表来读，请改正。")
    return out


def from_dict(data: dict[str, Any], where: Path, base_dir: Path) -> Config:
    """Build a typed config; every bad value is named with its key."""
    known = set(KNOWN_KEYS)
    unknown = sorted(set(data) - known)
    if unknown:
        raise FengqiaoError(
            f"配置文件 {where} 中有不认识的设置：{'、'.join(unknown)}。",
            hint=f"可用的设置有：{'、'.join(sorted(known))}。",
        )
    d = data.get("deadlines") or {}
    day_count = d.get("day_count", "calendar")
    if day_count not in ("calendar", "working"):
        raise FengqiaoError(
            f"配置文件 {where} 中 deadlines.day_count 只能是 calendar（自然日）或 working（工作日），"
            f"实际是 {day_count!r}。"
        )
    deadlines = Deadlines(
        star_1=_positive_int(d.get("star_1", 5), "deadlines.star_1", where),
        star_2=_positive_int(d.get("star_2", 15), "deadlines.star_2", where),
        star_3=_positive_int(d.get("star_3", 60), "deadlines.star_3", where),
        day_count=day_count,
        warn_days=int(d.get("warn_days", 2)),
    )
    targets: dict[str, float] = {}
    for key, value in (data.get("targets") or {}).items():
        if key not in RATE_TITLES_FOR_TARGETS:
            raise FengqiaoError(f"配置文件 {where} 中 targets.{key} 不是可设目标的指标。")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise FengqiaoError(
                f"配置文件 {where} 中 targets.{key} 应是 0 到 1 之间的小数（如 0.85 表示 85%），"
                f"实际是 {value!r}。"
            )
        targets[key] = float(value)
    quotas: dict[str, Quota] = {}
    for rank, q in (data.get("reception_quotas") or {}).items():
        per = (q or {}).get("per")
        if per not in ("month", "week"):
            raise FengqiaoError(
                f"配置文件 {where} 中 reception_quotas.{rank}.per 只能是 month 或 week。"
            )
        quotas[rank] = Quota(per=per, min_days=_positive_int(
            q.get("min_days"), f"reception_quotas.{rank}.min_days", where))
    intervals = {
        str(k): _positive_int(v, f"key_person_intervals.{k}", where)
        for k, v in (data.get("key_person_intervals") or {}).items()
    }
    s = data.get("site") or {}
    report_date = data.get("report_date")
    if report_date is not None and not isinstance(report_date, date):
        raise FengqiaoError(
            f"配置文件 {where} 中 report_date 应写成 2024-12-31 这样的日期，实际是 {report_date!r}。"
        )
    return Config(
        town=str(data.get("town", "示范镇")),
        source=str(data.get("source", "")),
        snapshots_dir=str(data.get("snapshots_dir", "snapshots")),
        deadlines=deadlines,
        backlog_days=_positive_int(data.get("backlog_days", 90), "backlog_days", where),
        targets=targets,
        key_person_intervals=intervals,
        reception_quotas=quotas,
        site=SiteConfig(title=str(s.get("title", SiteConfig.title)),
                        months=_positive_int(s.get("months", 12), "site.months", where)),
        report_date=report_date,
        google_credentials=data.get("google_credentials"),
        tabs=_tabs(data.get("tabs"), where),
        base_dir=base_dir,
        path=where,
    )


def load_config(path: Path | str | None = None) -> Config:
    """Defaults, overridden by the town's file when one is given."""
    data = read_yaml(DEFAULTS_FILE)
    where = DEFAULTS_FILE
    base_dir = PROJECT_ROOT
    if path is not None:
        path = Path(path)
        data = _deep_merge(data, read_yaml(path))
        where = path
        base_dir = path.resolve().parent
    return from_dict(data, where, base_dir)
