"""The Word report's tables: the copied-row build gives exactly the XML that
python-docx's own cell-by-cell build gives, and a 1,000-row table reads back
whole through python-docx."""

from __future__ import annotations

import io

import docx
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.shared import Cm
from hypothesis import given
from hypothesis import strategies as st

from fengqiao.render import word


def reference_table(doc: docx.document.Document, header: list[str], rows: list[list[str]],
                    widths: list[float] | None) -> docx.table.Table:
    """The build the report used before: every cell through python-docx."""
    table = doc.add_table(rows=1, cols=len(header))
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for cell, text in zip(table.rows[0].cells, header, strict=True):
        cell.text = text
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, text in zip(table.add_row().cells, row, strict=True):
            cell.text = text
    for row_cells in table.rows:
        for cell in row_cells.cells:
            for run in cell.paragraphs[0].runs:
                run.font.size = word.TABLE_SIZE
    if widths is not None:
        table.autofit = False
        for column, width in zip(table.columns, widths, strict=True):
            column.width = Cm(width)
            for cell in column.cells:
                cell.width = Cm(width)
    return table


def both(header: list[str], rows: list[list[str]], widths: list[float] | None) -> tuple[str, str]:
    ours = word._table(docx.Document(), header, rows, widths)  # noqa: SLF001
    theirs = reference_table(docx.Document(), header, rows, widths)
    return ours._tbl.xml, theirs._tbl.xml  # noqa: SLF001


# cell text as a report has it: Chinese, digits, dashes, and the line breaks
# and tabs python-docx turns into <w:br/> and <w:tab/>
TEXT = st.text(alphabet="镇村甲乙 0123456789.%—\n\t-（）", max_size=12)


@given(
    columns=st.integers(min_value=1, max_value=6),
    data=st.data(),
)
def test_the_copied_rows_give_python_docx_own_xml(columns: int, data: st.DataObject) -> None:
    header = data.draw(st.lists(TEXT, min_size=columns, max_size=columns))
    rows = data.draw(st.lists(st.lists(TEXT, min_size=columns, max_size=columns), max_size=6))
    widths = data.draw(st.none() | st.lists(
        st.floats(min_value=0.8, max_value=6.0, allow_nan=False).map(lambda w: round(w, 2)),
        min_size=columns, max_size=columns))
    ours, theirs = both(header, rows, widths)
    assert ours == theirs


def test_a_header_only_table_matches_too() -> None:
    ours, theirs = both(["单位", "受理"], [], [3.0, 2.0])
    assert ours == theirs
    ours, theirs = both(["单位", "受理"], [], None)
    assert ours == theirs


def test_the_copies_are_separate_rows_with_their_own_text() -> None:
    """A copy shares nothing with the row it was made from: 1,000 rows read
    back one by one, each with its own text, after a save and a reload."""
    rows = [[f"单位{i}", str(i), f"{i / 10:.1f}%"] for i in range(1000)]
    doc = docx.Document()
    word._table(doc, ["单位", "受理", "办结率"], rows, [4.0, 2.0, 2.0])  # noqa: SLF001
    buf = io.BytesIO()
    doc.save(buf)
    table = docx.Document(io.BytesIO(buf.getvalue())).tables[0]
    assert len(table.rows) == 1001
    assert [c.text for c in table.rows[0].cells] == ["单位", "受理", "办结率"]
    assert [c.text for c in table.rows[1].cells] == ["单位0", "0", "0.0%"]
    assert [c.text for c in table.rows[1000].cells] == ["单位999", "999", "99.9%"]
    assert round(table.rows[1000].cells[0].width.cm, 2) == 4.0  # stored in twips
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold is True
    assert table.rows[500].cells[0].paragraphs[0].runs[0].bold is None
