from __future__ import annotations

from html.parser import HTMLParser

import markdown
import pandas as pd
import pytest

from fengqiao.privacy import (
    REDACTED,
    csv_safe,
    escape_html,
    escape_md,
    escape_md_series,
    publishable_columns,
    publishable_frame,
    scrub,
    scrub_series,
)
from fengqiao.schema import load_schema


@pytest.mark.parametrize("text, expected", [
    ("联系电话13812345678", f"联系电话{REDACTED}"),
    ("手机 138-1234-5678 白天", f"手机 {REDACTED} 白天"),
    ("+86 13912345678", REDACTED),
    ("１３８１２３４５６７８", REDACTED),  # full-width digits from an input method
    ("座机0571-87654321", f"座机{REDACTED}"),
    ("（010）62345678", REDACTED),
    ("身份证110101199003071234", f"身份证{REDACTED}"),
    ("证号11010119900307123X。", f"证号{REDACTED}。"),
    ("老证110101900307123", f"老证{REDACTED}"),
])
def test_scrub_hides_numbers(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize("text", [
    "编号DZ2024-0001",
    "2024年3月5日受理",
    "拨打12345热线",
    "涉及人数 12 人",
    "1381234567890",  # 13 digits: not a mobile number
    "订单号 20240305123456",
])
def test_scrub_keeps_other_numbers(text: str) -> None:
    assert scrub(text) == text


def test_scrub_series_is_columnwise_and_keeps_missing() -> None:
    s = pd.Series(["电话13812345678", None, "无号码"], dtype="string")
    out = scrub_series(s)
    assert out.tolist()[0] == f"电话{REDACTED}"
    assert out.isna().tolist() == [False, True, False]
    assert out.tolist()[2] == "无号码"


def _html(md_text: str) -> str:
    return markdown.markdown(md_text, extensions=["tables", "attr_list", "md_in_html"])


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.cells: list[str] = []
        self._in = False

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags.add(tag)
        if tag == "td":
            self._in, self.cells = True, [*self.cells, ""]

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.cells[-1] += data


def test_escape_md_renders_as_text_in_a_table() -> None:
    nasty = "<script>alert(1)</script> | [x](http://evil) *b* `c` {: .x} _u_ ~~s~~ \\"
    page = "| a | b |\n|---|---|\n| " + escape_md(nasty) + " | 2 |\n"
    parser = _Cells()
    parser.feed(_html(page))
    # exactly two cells, the first reads as the original text, and no markup appeared
    assert parser.cells == [nasty, "2"]
    assert parser.tags == {"table", "thead", "tbody", "tr", "th", "td"}


def test_unescaped_text_would_become_markup() -> None:
    """The failing case: the same text without escape_md turns into tags."""
    parser = _Cells()
    parser.feed(_html("| a | b |\n|---|---|\n| [x](http://evil) *b* | 2 |\n"))
    assert {"a", "em"} <= parser.tags


def test_escape_md_plain_text_unchanged_and_missing_empty() -> None:
    assert escape_md("东村 土地林草") == "东村 土地林草"
    assert escape_md("两行\n文字") == "两行 文字"
    assert escape_md(None) == ""
    assert escape_md(pd.NA) == ""
    assert escape_html('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def test_escape_md_series_matches_scalar() -> None:
    s = pd.Series(["a|b", None, "*x*"], dtype="string")
    assert escape_md_series(s).tolist() == [escape_md("a|b"), "", escape_md("*x*")]


def test_csv_safe_prefixes_formulas_only() -> None:
    s = pd.Series(["=1+1", "+86", "-x", "@SUM(A1)", "\tcmd", "\rx", "正常", None, "a=b"],
                  dtype=object)
    assert csv_safe(s).tolist() == ["'=1+1", "'+86", "'-x", "'@SUM(A1)", "'\tcmd", "'\rx",
                                    "正常", None, "a=b"]


def test_csv_safe_leaves_numbers() -> None:
    nums = pd.Series([-3, 5], dtype="Int64")
    assert csv_safe(nums).tolist() == [-3, 5]
    mixed = pd.Series([-3, "-3"], dtype=object)
    assert csv_safe(mixed).tolist() == [-3, "'-3"]


def test_publishable_columns_drop_sensitive_fields_and_tabs() -> None:
    schema = load_schema()
    cols = publishable_columns(schema["disputes"])
    assert "parties" not in cols and "summary" not in cols and "notes" not in cols
    assert cols[:3] == ["id", "received_date", "source"]
    assert publishable_columns(schema["key_persons"]) == []
    assert publishable_columns(schema["key_person_visits"]) == []
    assert "household" not in publishable_columns(schema["visits"])


def test_publishable_frame_scrubs_redact_fields() -> None:
    tab = load_schema()["needs"]
    frame = pd.DataFrame({"id": ["N1"], "content": ["修路，电话13812345678"],
                          "village": ["东村"], "_row": [5]})
    out = publishable_frame(frame, tab)
    assert list(out.columns) == ["id", "village", "content"]
    assert out.loc[0, "content"] == f"修路，电话{REDACTED}"
