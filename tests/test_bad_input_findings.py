"""The hostile inputs of the bad-file corpus, through the real commands.

``tests/test_bad_files.py`` proves what the source layer keeps of each file;
here the same kinds of file go through ``fengqiao validate --format json``
and ``fengqiao metrics --format json``: the exact findings (sheet, cell,
code), never a traceback, and no silent drop: every data row is either
counted (received) or listed as excluded, and the excluded rows are exactly
the rows whose key fields have error findings.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner, Result

from fengqiao.cli import cli
from fengqiao.schema import load_schema
from test_bad_files import N_BIG, inline, replace_sheet_data, small_book

SHEET = "纠纷台账"
HEADERS = [f.title for f in load_schema()["disputes"].fields]
COL = {h: chr(ord("A") + i) for i, h in enumerate(HEADERS)}
#: a period that holds every date the validator accepts (1990–2100)
ALL_TIME = "1990-01-01..2100-12-31"
#: key fields: an error in one of these excludes the row (DOMAIN.md §4)
KEY_COLUMNS = {"编号", "受理日期", "星级"}
OPTIONAL_TABS = {"网格", "走访记录", "重点人员", "重点人员随访", "领导接访", "责任清单",
                 "需求清单"}


def record(i: int, **values: Any) -> list[Any]:
    """One open dispute with every required field filled in."""
    base: dict[str, Any] = {"编号": f"D-{i:03d}", "受理日期": date(2024, 3, 1 + i % 28),
                            "来源": "群众来访", "村(社区)": "东村", "纠纷类型": "邻里",
                            "涉及人数": 2, "星级": 1, "状态": "调处中"}
    base.update(values)
    return [base.get(h) for h in HEADERS]


@dataclass
class Outcome:
    validate: Result
    findings: list[dict[str, Any]]
    metrics: Result
    contract: dict[str, Any] | None

    def cells(self, *, include_tab_warnings: bool = False) -> set[tuple[str, str, str]]:
        return {(f["sheet"], f["cell"], f["code"]) for f in self.findings
                if include_tab_warnings or f["code"] != "missing-optional-tab"}


def run(source: Path | str) -> Outcome:
    runner = CliRunner()
    v = runner.invoke(cli, ["validate", str(source), "--format", "json"])
    assert v.exception is None or isinstance(v.exception, SystemExit), v.exception
    assert "Traceback" not in v.output
    findings = json.loads(v.stdout)
    m = runner.invoke(cli, ["metrics", str(source), "--period", ALL_TIME, "--as-of", "2100-12-31",
                            "--format", "json"])
    assert m.exception is None or isinstance(m.exception, SystemExit), m.exception
    assert "Traceback" not in m.output
    contract = json.loads(m.stdout) if m.exit_code == 0 else None
    # optional tabs absent from these one-tab files: a warning each, never an error
    tabs = {f["sheet"] for f in findings if f["code"] == "missing-optional-tab"}
    assert tabs <= OPTIONAL_TABS
    return Outcome(v, findings, m, contract)


def assert_nothing_dropped(outcome: Outcome, data_rows: int) -> None:
    """received + excluded == data rows, and the excluded rows are exactly
    the rows with an error in a key column."""
    c = outcome.contract
    assert c is not None, outcome.metrics.output
    excluded = c["excluded_rows"]["disputes"]
    assert c["metrics"]["received"] + excluded["count"] == data_rows
    key_rows = {f["row"] for f in outcome.findings if f["sheet"] == SHEET
                and f["severity"] == "error" and f["column"] in KEY_COLUMNS}
    assert {r["row"] for r in excluded["rows"]} == key_rows
    if excluded["count"]:
        assert f"注意：有 {excluded['count']} 行因编号、日期或星级有误没有计入统计" in \
            outcome.metrics.stderr


def save(rows: list[list[Any]], path: Path, *, title_rows: int = 0) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    if title_rows:
        ws["A1"] = "东村矛盾纠纷调处化解台账"
        ws["A2"] = "填报单位：东村村委会"
        ws["A4"] = "（2024年第一季度）"
    for r, row in enumerate(rows, start=title_rows + 1):
        for c, value in enumerate(row, start=1):
            ws.cell(r, c, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


# --- layouts ---------------------------------------------------------------------------


def test_header_in_row_7_under_title_rows(tmp_path: Path) -> None:
    path = save([HEADERS, record(1), record(2), record(3, 星级="一星")], tmp_path / "标题行.xlsx",
                title_rows=6)
    out = run(path)
    assert out.validate.exit_code == 0
    assert out.cells() == set()
    assert out.cells(include_tab_warnings=True) == {(t, t, "missing-optional-tab")
                                                   for t in OPTIONAL_TABS}
    assert_nothing_dropped(out, 3)
    assert out.contract is not None and out.contract["metrics"]["received"] == 3


def test_merged_cells_across_the_header(tmp_path: Path) -> None:
    headers = [*HEADERS[:7], "当事人", *HEADERS[7:]]  # 当事人 merged over two columns
    rows = [[*r[:7], "乙", *r[7:]] for r in (record(1, 当事人="甲"), record(2, 当事人="丙"))]
    path = tmp_path / "合并.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = "东村矛盾纠纷台账"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    for c, h in enumerate(headers, start=1):
        ws.cell(2, c, h if c != 8 else None)
    ws.merge_cells("G2:H2")
    for r, row in enumerate(rows, start=3):
        for c, value in enumerate(row, start=1):
            ws.cell(r, c, value if not (r == 4 and c == 4) else None)
    ws.merge_cells("D3:D4")  # the village typed once for both cases
    wb.save(path)
    out = run(path)
    assert out.validate.exit_code == 0
    assert out.cells() == {(SHEET, f"{SHEET}!H2", "duplicate-column")}
    assert_nothing_dropped(out, 2)
    assert out.contract is not None
    assert out.contract["breakdowns"]["village"]["东村"]["received"] == 2


# --- values a formula or a typo leaves ---------------------------------------------------------


def _xml_row(r: int, values: list[Any], errors: dict[str, str] | None = None) -> str:
    cells = []
    for h, v in zip(HEADERS, values, strict=True):
        ref = f"{COL[h]}{r}"
        if errors and h in errors:
            cells.append(f'<c r="{ref}" t="e"><f>#REF!+1</f><v>{errors[h]}</v></c>')
        elif isinstance(v, date):
            cells.append(f'<c r="{ref}"><v>{(v - date(1899, 12, 30)).days}</v></c>')
        elif isinstance(v, int):
            cells.append(f'<c r="{ref}"><v>{v}</v></c>')
        elif v is not None:
            cells.append(inline(ref, str(v)))
    return f'<row r="{r}">' + "".join(cells) + "</row>"


def test_formulas_with_cached_ref_errors(tmp_path: Path) -> None:
    path = small_book(tmp_path / "公式.xlsx")
    rows = ['<row r="1">' + "".join(inline(f"{COL[h]}1", h) for h in HEADERS) + "</row>",
            _xml_row(2, record(1)),
            _xml_row(3, record(2), {"受理日期": "#REF!"}),
            _xml_row(4, record(3), {"涉及人数": "#REF!"}),
            _xml_row(5, record(4), {"办结日期": "#DIV/0!"})]
    replace_sheet_data(path, "<sheetData>" + "".join(rows) + "</sheetData>")
    out = run(path)
    assert out.validate.exit_code == 1
    assert out.cells() == {(SHEET, f"{SHEET}!B3", "formula-error"),
                           (SHEET, f"{SHEET}!H4", "formula-error"),
                           (SHEET, f"{SHEET}!P5", "formula-error")}
    assert_nothing_dropped(out, 4)
    assert out.contract is not None and out.contract["metrics"]["received"] == 3


def test_dates_far_in_the_past_and_future(tmp_path: Path) -> None:
    path = save([HEADERS, record(1, 受理日期=date(1900, 1, 1)),
                 record(2, 受理日期=date(2199, 12, 31)),
                 record(3, 状态="已化解", 首次调解成功="是", 办结日期=date(2199, 1, 1)),
                 record(4)], tmp_path / "日期.xlsx")
    out = run(path)
    assert out.validate.exit_code == 1
    assert out.cells() == {(SHEET, f"{SHEET}!B2", "date-out-of-range"),
                           (SHEET, f"{SHEET}!B3", "date-out-of-range"),
                           (SHEET, f"{SHEET}!P4", "date-out-of-range")}
    assert_nothing_dropped(out, 4)
    m = out.contract["metrics"]  # type: ignore[index]
    # the case "closed" in 2199 counts as received and is not closed
    assert (m["received"], m["closed"], m["pending_end"]) == (2, 0, 2)


def test_a_numeric_column_all_text(tmp_path: Path) -> None:
    words = ["两人", "三户", "若干", "约10人", "未知"]
    path = save([HEADERS, *(record(i, 涉及人数=w) for i, w in enumerate(words, 1))],
                tmp_path / "人数.xlsx")
    out = run(path)
    assert out.validate.exit_code == 1
    assert out.cells() == {(SHEET, f"{SHEET}!H{r}", "bad-integer") for r in range(2, 7)}
    assert_nothing_dropped(out, 5)  # a bad 涉及人数 never drops a case
    assert out.contract is not None and out.contract["metrics"]["received"] == 5


def test_a_cell_of_50000_characters_and_control_characters(tmp_path: Path) -> None:
    long = ("调解经过：" + "双方因宅基地边界发生争执，" * 4000)[:50_000]
    path = small_book(tmp_path / "长文本.xlsx")
    rows = ['<row r="1">' + "".join(inline(f"{COL[h]}1", h) for h in HEADERS) + "</row>",
            _xml_row(2, record(1, 简要情况=long)),
            _xml_row(3, record(2, **{"村(社区)": "东\x07村"})),
            _xml_row(4, record(3, 责任单位=long))]
    replace_sheet_data(path, "<sheetData>" + "".join(rows) + "</sheetData>")
    out = run(path)
    assert out.cells() == {(SHEET, f"{SHEET}!I2", "text-too-long"),
                           (SHEET, f"{SHEET}!D3", "control-characters"),
                           (SHEET, f"{SHEET}!L4", "text-too-long")}
    # the sensitive 简要情况 is never echoed, not even a slice of it
    assert "宅基地" not in out.validate.stdout
    assert len(out.validate.stdout) < 20_000
    assert_nothing_dropped(out, 3)


# --- CSV encodings, names with spaces ------------------------------------------------------------


CSV_TEXT = ("编号,受理日期,来源,村(社区),纠纷类型,涉及人数,星级,状态\n"
            "D-001,2024.3.5,群众来访,东村,邻里,2,1,调处中\n"
            "D-002,2024年3月6日,网格排查,西村（二组）,劳资,３,二星,调处中\n"
            "D-003,20240307,信访,东村,邻里,1,4,调处中\n")


@pytest.mark.parametrize(("encoding", "prefix"), [("gbk", b""), ("utf-8", b"\xef\xbb\xbf")])
def test_csv_in_gbk_and_utf8_with_bom(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    folder = tmp_path / f"导出 {encoding}"
    folder.mkdir()
    (folder / f"{SHEET}.csv").write_bytes(prefix + CSV_TEXT.encode(encoding))
    out = run(folder)
    assert out.validate.exit_code == 1
    assert out.cells() == {(SHEET, f"{SHEET}!G4", "not-in-enum")} | {
        (SHEET, SHEET, "missing-optional-column")}
    assert_nothing_dropped(out, 3)
    assert out.contract is not None
    assert sorted(out.contract["breakdowns"]["village"]) == ["东村", "西村（二组）"]


def test_chinese_file_and_folder_names_with_spaces(tmp_path: Path) -> None:
    path = save([HEADERS, record(1), record(2, 编号="D-001")],
                tmp_path / "东村 2024年 台账" / "纠纷 台账（最终版 2）.xlsx")
    out = run(path)
    assert out.cells() == {(SHEET, f"{SHEET}!A3", "duplicate-id")}
    assert_nothing_dropped(out, 2)
    table = CliRunner().invoke(cli, ["validate", str(path)])
    assert table.output.splitlines()[0] == "校验“纠纷 台账（最终版 2）.xlsx”：发现 1 个错误、7 个提醒。"
    missing = CliRunner().invoke(cli, ["validate", str(path.with_name("没有 这个.xlsx"))])
    assert missing.exit_code == 2
    assert missing.output.startswith(f"错误：找不到数据源“{path.with_name('没有 这个.xlsx')}”。")


# --- a 200,000-row tab -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_200000_row_tab(tmp_path: Path) -> None:
    folder = tmp_path / "大 表"
    folder.mkdir()
    lines = ["编号,受理日期,来源,村(社区),纠纷类型,涉及人数,星级,状态,首次调解成功,办结日期"]
    for i in range(N_BIG):
        day = date(2023, 1, 1).toordinal() + i % 700
        d = date.fromordinal(day).isoformat()
        closed = date.fromordinal(day + 3).isoformat()
        lines.append(f"D{i:06d},{d},群众来访,村{i % 40},邻里,2,{1 + i % 3},已化解,是,{closed}")
    lines[1001] = lines[1001].replace("D001000,", ",")          # no id: excluded
    lines[2002] = lines[2002].replace(",2,1,", ",2,5,")          # star 5: excluded
    lines[3001] = lines[3001].replace("D003000", "D000001")     # repeated id: excluded
    lines[4001] = lines[4001].replace(",2,", ",两人,")          # text in a number: counted
    (folder / f"{SHEET}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    out = run(folder)
    assert time.perf_counter() - started < 90
    assert out.cells() - {(SHEET, SHEET, "missing-optional-column")} == {
        (SHEET, f"{SHEET}!A1002", "required-missing"),
        (SHEET, f"{SHEET}!G2003", "not-in-enum"),
        (SHEET, f"{SHEET}!A3002", "duplicate-id"),
        (SHEET, f"{SHEET}!F4002", "bad-integer"),
    }
    assert_nothing_dropped(out, N_BIG)
    assert out.contract is not None
    assert out.contract["excluded_rows"]["disputes"]["count"] == 3
