"""What may leave the ledger: scrubbing, escaping and spreadsheet-safe cells.

Everything published (pages, CSV, xlsx, metrics files) goes through these
helpers, so the rules for personal data live in one place: sensitive fields
and wholly sensitive tabs are dropped, free-text fields marked ``redact`` lose
phone and ID-card numbers, cell text is escaped so a ledger entry can never
become markup on the site, and CSV cells cannot start a spreadsheet formula.
"""

from __future__ import annotations

import html
import re

import pandas as pd

from .schema import TabSpec

REDACTED = "[已隐去]"

# Full-width digits come from Chinese input methods; match them like ASCII.
_D = "[0-9０-９]"
_SEP = "[- －‐—]?"
_ID_18 = (
    rf"[1-9１-９]{_D}{{5}}(?:18|19|20|１８|１９|２０){_D}{{2}}"
    rf"(?:[0０][1-9１-９]|[1１][0-2０-２])(?:[0０][1-9１-９]|[12１２]{_D}|[3３][01０１]){_D}{{3}}[0-9０-９XxＸｘ]"
)
_ID_15 = (
    rf"[1-9１-９]{_D}{{7}}(?:[0０][1-9１-９]|[1１][0-2０-２])"
    rf"(?:[0０][1-9１-９]|[12１２]{_D}|[3３][01０１]){_D}{{3}}"
)
_MOBILE = rf"(?:(?:\+|＋)?(?:86|８６)[- ]?)?[1１][3-9３-９]{_D}{_SEP}{_D}{{4}}{_SEP}{_D}{{4}}"
_LANDLINE = (
    rf"(?:[(（][0０]{_D}{{2,3}}[)）]\s?|[0０]{_D}{{2,3}}{_SEP})"
    rf"[2-9２-９]{_D}{{6,7}}"
)
_NUMBERS = re.compile(
    rf"(?<![0-9０-９])(?:{_ID_18}|{_ID_15}|{_LANDLINE}|{_MOBILE})(?![0-9０-９XxＸｘ])"
)


def scrub(text: str) -> str:
    """Hide phone and ID-card numbers that staff type into free text (需求内容,
    备注) even though the template asks them not to."""
    return _NUMBERS.sub(REDACTED, text)


def scrub_series(series: pd.Series) -> pd.Series:
    """Column-wise :func:`scrub`; missing cells stay missing."""
    text = series.astype("string")
    return text.str.replace(_NUMBERS, REDACTED, regex=True)


# Characters that Markdown (tables, emphasis, links, code, attr_list) or HTML
# would interpret. Numeric entities work both in Markdown table cells (the row
# is split on a literal "|" before entities are read) and in raw HTML blocks,
# and render as the plain character in every Markdown engine.
_MD_ENTITIES = {ch: f"&#{ord(ch)};" for ch in "\\`*_{}[]()#|~<>&"}
_MD_TABLE = str.maketrans(_MD_ENTITIES)


def escape_md(text: object) -> str:
    """Cell text as literal text on a page: ``<script>``, ``|``, ``[x](y)``,
    ``*``, backticks never turn into markup. Line breaks become spaces so a
    table row stays one line."""
    if text is None or text is pd.NA or (isinstance(text, float) and text != text):
        return ""
    value = " ".join(str(text).split())
    return value.translate(_MD_TABLE)


def escape_html(text: object) -> str:
    """For attributes and raw HTML where Markdown is not processed."""
    if text is None or text is pd.NA or (isinstance(text, float) and text != text):
        return ""
    return html.escape(" ".join(str(text).split()), quote=True)


_FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def csv_safe(series: pd.Series) -> pd.Series:
    """Prefix ``'`` to text cells a spreadsheet would run as a formula
    (CSV injection). Numbers are left alone: -3 is a number, not a formula."""
    if not (pd.api.types.is_string_dtype(series) or series.dtype == object):
        return series
    is_text = series.map(lambda v: isinstance(v, str), na_action="ignore")
    is_text = is_text.astype("boolean").fillna(False).astype(bool)
    text = series.where(is_text).astype("string")
    risky = text.str.contains(_FORMULA_START, regex=True).fillna(False).astype(bool)
    out = series.astype(object).copy()
    out[risky] = "'" + text[risky]
    return out


def publishable_columns(tab: TabSpec) -> list[str]:
    """Fields of ``tab`` that may be published; none for a sensitive tab."""
    if tab.sensitive:
        return []
    return [f.name for f in tab.fields if not f.sensitive]


def publishable_frame(frame: pd.DataFrame, tab: TabSpec) -> pd.DataFrame:
    """The ledger table as it may be shown: sensitive fields dropped, redact
    fields scrubbed, in schema order (other helper columns such as ``_row``
    are dropped too)."""
    columns = [c for c in publishable_columns(tab) if c in frame.columns]
    out = frame.loc[:, columns].copy()
    for name in columns:
        if tab.field(name).redact:
            out[name] = scrub_series(out[name])
    return out


def escape_md_series(series: pd.Series) -> pd.Series:
    """Column-wise :func:`escape_md` for whole table columns; missing → ''."""
    text = series.astype("string").fillna("")
    text = text.str.split().str.join(" ").fillna("")
    return text.str.translate(_MD_TABLE)


def escape_html_series(series: pd.Series) -> pd.Series:
    text = series.astype("string").fillna("")
    text = text.str.split().str.join(" ").fillna("")
    for ch, ent in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
        text = text.str.replace(ch, ent, regex=False)
    return text
