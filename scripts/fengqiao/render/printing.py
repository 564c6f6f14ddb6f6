"""What every printed page says at its top: town, page, as-of date.

A printed list or statistics page is handed on without the site around it,
so each sheet of paper must say whose figures they are, for which period
and as of when. Browsers print CSS page-margin boxes but cannot fill them
from the page (Chromium has no ``string-set``), so each generated page
carries its own one-line ``@page`` rule with that text; the stylesheet adds
the page numbers. The text is escaped for CSS, so no town name can end the
style block.
"""

from __future__ import annotations

import re
from datetime import date

from . import fmt

_FRONT_MATTER = re.compile(r"\A---\n.*?\n---\n", re.S)
_HEADING = re.compile(r"^#\s+(.+?)\s*$", re.M)
#: what may not appear raw inside a CSS string in an HTML style element
_CSS_UNSAFE = re.compile(r'[\\"<>\n\r\f\x00-\x1f\x7f]')


def css_string(text: str) -> str:
    """``text`` as the inside of a double-quoted CSS string: quotes,
    backslashes, angle brackets and control characters as hex escapes."""
    return _CSS_UNSAFE.sub(lambda m: f"\\{ord(m.group(0)):x} ", text)


def page_title(markdown: str) -> str:
    match = _HEADING.search(_FRONT_MATTER.sub("", markdown, count=1))
    return match.group(1) if match else ""


def running_head(town: str, title: str, as_of: date) -> str:
    parts = [town if town not in title else "", title, f"数据截至{fmt.cn_date(as_of)}"]
    return "　".join(p for p in parts if p)


def stamp(markdown: str, town: str, as_of: date) -> str:
    """The page with its print header rule added after the front matter."""
    head = running_head(town, page_title(markdown), as_of)
    rule = (f'<style>@page {{ @top-left {{ content: "{css_string(head)}"; }} }}</style>\n\n')
    match = _FRONT_MATTER.match(markdown)
    if match:
        return markdown[:match.end()] + "\n" + rule + markdown[match.end():]
    return rule + markdown


__all__ = ["css_string", "page_title", "running_head", "stamp"]
