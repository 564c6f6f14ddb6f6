"""Pages as Markdown: the only module that imports jinja2.

Two kinds of page come out of here. Hand-written procedure pages under
``site/`` are jinja2 templates too, so every deadline, target and quota they
state is read from the same :class:`~fengqiao.config.Config` the figures use.
Generated pages (home, lists, statistics, quality, guide, downloads) are
rendered from the metrics contract dicts and small public frames. Output is
plain Markdown plus a little HTML, so the site engine stays replaceable.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from ..catalogue import METRICS
from ..config import Config
from ..privacy import escape_html, escape_md
from . import fmt

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _env(loader: jinja2.BaseLoader) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # Markdown, not HTML: cell text goes through |md explicitly
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        md=escape_md,
        html=escape_html,
        pct=fmt.pct,
        num=fmt.num,
        days=fmt.days,
        change=fmt.change,
        target_pct=fmt.target_pct,
        cn_date=fmt.cn_date,
        cn_datetime=fmt.cn_datetime,
    )
    env.globals.update(fmt=fmt)
    return env


@cache
def generated_env() -> jinja2.Environment:
    return _env(jinja2.FileSystemLoader(str(TEMPLATES)))


def config_context(config: Config) -> dict[str, Any]:
    """What a hand-written page may use: the config itself plus a few words
    derived from it (so a page says 自然日/工作日 the way the figures count)."""
    d = config.deadlines
    return {
        "config": config,
        "town": config.town,
        "site_title": config.site.title,
        "day_unit": "个工作日" if d.day_count == "working" else "天（自然日）",
        "day_mode": "工作日（按国家法定节假日和调休安排计算）" if d.day_count == "working"
        else "自然日（节假日照常计算）",
        "period_words": {"month": "每月", "week": "每周", "day": "每天"},
        # the metric catalogue: a page states a figure's rule in the
        # catalogue's own words ({{ metrics.reception_compliance.definition() }})
        "metrics": METRICS,
    }


def render_site_page(path: Path, config: Config, extra: Mapping[str, Any] | None = None) -> str:
    """Render one hand-written page; a typo in a placeholder is an error that
    names the page, not a silently empty number."""
    env = _env(jinja2.FileSystemLoader(str(path.parent)))
    context = config_context(config) | dict(extra or {})
    try:
        return env.get_template(path.name).render(context)
    except jinja2.TemplateError as exc:
        from ..errors import FengqiaoError

        where = f"{path}"
        line = getattr(exc, "lineno", None)
        if line:
            where += f" 第 {line} 行"
        raise FengqiaoError(
            f"页面 {where} 的模板写法有误：{exc}。",
            hint="配置里的数字请写成 {{ config.deadlines.star_2 }} 这样的形式。",
        ) from exc


def render_generated(template: str, context: Mapping[str, Any]) -> str:
    return generated_env().get_template(template).render(dict(context))
