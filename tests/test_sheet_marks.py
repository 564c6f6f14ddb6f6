"""Findings written into a Google Sheet through the real gspread client,
against the loopback Sheets server: marks, notes, the results tab, what is
left alone, request counts and faults."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from fengqiao import sheet_marks
from fengqiao.annotate import annotate_workbook
from fengqiao.errors import FengqiaoError, Finding
from fengqiao.marks import ERROR_COLOR, NOTE_PREFIX, RESULT_SHEET, WARNING_COLOR, rgb
from fengqiao.retry import RetryPolicy
from fengqiao.sheet_marks import RESULT_NOTE, RULE_MARK, annotate_sheet, split
from fengqiao.sources.gsheets import read_gsheet
from fengqiao.validate import validate_workbook
from sheets_server import (
    FakeSheet,
    FakeSpreadsheet,
    Fault,
    ServiceAccount,
    SheetsServer,
    loopback_session,
    make_service_account,
    sheets_server,  # noqa: F401  (fixture)
    status_fault,
)

SID = "town-marks-0001"
EMAIL = "fengqiao-test@demo-project.iam.gserviceaccount.com"
CHECKED = datetime(2024, 12, 31, 1, 30, tzinfo=UTC)
HEADER = ["编号", "受理日期", "来源", "村(社区)", "纠纷类型", "星级", "调处层级", "状态",
          "首次调解成功", "办结日期"]


class Waits:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def _policy(waits: Waits) -> RetryPolicy:
    return RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=30.0, retry_after_cap=30.0,
                       timeout=(2.0, 2.0), sleep=waits.sleep, random=lambda: 0.5)


@pytest.fixture
def account(sheets_server: SheetsServer, tmp_path: Path) -> ServiceAccount:  # noqa: F811
    return make_service_account(sheets_server, tmp_path)


def _rows() -> list[list[Any]]:
    return [
        ["枫溪镇矛盾纠纷台账"],
        HEADER,
        ["D1", date(2024, 10, 2), "网格排查", "东村", "邻里", 1, "村级", "已化解", "是",
         date(2024, 10, 5)],
        ["D2", "2024-02-30", "群众来访", "东村", "邻里", 2, "村级", "调处中", "", ""],   # B4 bad date
        ["D3", date(2024, 10, 9), "群众来访", "西村", "邻里", "五星", "村级", "调处中", "", ""],  # F5
        ["D4", date(2024, 10, 9), "群众来访", "西村", "邻里", 1, "村级", "已化解", "",
         date(2024, 10, 12)],  # I6: closed without first-try (warning)
    ]


@pytest.fixture
def town(sheets_server: SheetsServer) -> FakeSpreadsheet:  # noqa: F811
    book = sheets_server.add_spreadsheet(SID, "枫溪镇台账", shared_with={EMAIL: "writer"})
    sheet = book.add_sheet("纠纷台账", _rows(), merges=["A1:J1"])
    sheet.notes[(3, 1)] = "王书记说这个日期要再核实"      # the user's note on a wrong cell (B4)
    sheet.notes[(2, 0)] = "第一件"                      # the user's note on a right cell (A3)
    sheet.conditional.append({"ranges": [{"sheetId": sheet.sheet_id, "startRowIndex": 2,
                                          "endRowIndex": 6, "startColumnIndex": 7,
                                          "endColumnIndex": 8}],
                              "booleanRule": {"condition": {"type": "TEXT_EQ",
                                                            "values": [{"userEnteredValue": "调处中"}]},
                                              "format": {"backgroundColor": {"red": 1}}}})
    sheet.formats[(4, 5)] = {"backgroundColor": {"green": 1}}  # the user's own fill on F5
    return book


def _findings(server: SheetsServer, account: ServiceAccount) -> list[Finding]:
    workbook = read_gsheet(SID, credentials_path=str(account.path),
                           session=loopback_session(server))
    return validate_workbook(workbook).findings


def _run(server: SheetsServer, account: ServiceAccount, findings: list[Finding],
         waits: Waits | None = None) -> sheet_marks.SheetMarkReport:
    return annotate_sheet(SID, findings, credentials_path=str(account.path),
                          source_name="枫溪镇台账", checked_at=CHECKED,
                          session=loopback_session(server), retry=_policy(waits or Waits()))


def _own_rules(sheet: FakeSheet) -> list[dict[str, Any]]:
    return [r for r in sheet.conditional
            if RULE_MARK in str(r["booleanRule"]["condition"].get("values"))]


def _ranges(rule: dict[str, Any]) -> set[tuple[int, int]]:
    return {(g["startRowIndex"], g["startColumnIndex"]) for g in rule["ranges"]}


def _marked(book: FakeSpreadsheet) -> dict[str, set[tuple[int, int]]]:
    sheet = book.sheet("纠纷台账")
    out: dict[str, set[tuple[int, int]]] = {}
    for rule in _own_rules(sheet):
        color = rule["booleanRule"]["format"]["backgroundColor"]
        key = "error" if color == rgb(ERROR_COLOR) else "warning"
        out[key] = _ranges(rule)
    return out


def test_first_run_marks_notes_and_results_tab(sheets_server: SheetsServer,  # noqa: F811
                                               account: ServiceAccount,
                                               town: FakeSpreadsheet) -> None:
    findings = _findings(sheets_server, account)
    keys = {f.key() for f in findings}
    assert {("纠纷台账", "B4", "bad-date"), ("纠纷台账", "F5", "not-in-enum"),
            ("纠纷台账", "I6", "first-try-missing")} <= keys
    data_before = copy.deepcopy(town.sheet("纠纷台账").rows)
    sheets_server.clear()

    report = _run(sheets_server, account, findings)

    # one metadata read (no values), one batchUpdate
    assert [r for r in sheets_server.routes() if r != "token"] == ["metadata", "batchUpdate"]
    assert sheets_server.requests[-2].query["fields"] == [sheet_marks.MARKS_FIELDS]
    assert report.batch_updates == 1
    sheet = town.sheet("纠纷台账")
    assert sheet.rows == data_before  # not one value changed
    marked = _marked(town)
    assert {(3, 1), (4, 5)} <= marked["error"]          # B4, F5
    assert (5, 8) in marked["warning"]                  # I6
    assert not marked["error"] & marked["warning"]
    # the error rule sits before the warning rule, so it wins; the user's rule stays
    own = _own_rules(sheet)
    assert own[0]["booleanRule"]["format"]["backgroundColor"] == rgb(ERROR_COLOR)
    assert own[1]["booleanRule"]["format"]["backgroundColor"] == rgb(WARNING_COLOR)
    assert sheet.conditional[2]["booleanRule"]["condition"]["type"] == "TEXT_EQ"
    assert sheet.formats == {(4, 5): {"backgroundColor": {"green": 1}}}
    # notes: ours on the wrong cells, the user's untouched (B4 keeps theirs only)
    assert sheet.notes[(3, 1)] == "王书记说这个日期要再核实"
    assert sheet.notes[(2, 0)] == "第一件"
    assert sheet.notes[(4, 5)].startswith(NOTE_PREFIX + "\n【错误】纠纷台账!F5（星级）")
    assert sheet.notes[(5, 8)].startswith(NOTE_PREFIX + "\n【提醒】纠纷台账!I6")
    assert report.user_notes_kept == 1
    # the results tab: first, summary line, headers, one row per finding, links
    result = town.sheets[0]
    assert result.title == RESULT_SHEET and result.frozen_rows == 2
    assert result.notes[(0, 0)] == RESULT_NOTE
    assert result.rows[0][0].startswith("2024-12-31 09:30（北京时间） 检查“枫溪镇台账”：错误 ")
    assert result.rows[1] == ["序号", "工作表", "单元格", "列名", "类别", "代码", "说明", "修改方法"]
    assert len(result.rows) == 2 + len(findings)
    row = next(r for r in result.rows[2:] if r[5] == "bad-date")
    assert row[2] == f'=HYPERLINK("#gid={sheet.sheet_id}&range=B4","B4")'
    assert row[6] == "纠纷台账!B4（受理日期）的“2024-02-30”不是有效日期。"
    assert row[7] == "请写成 2024-03-05、2024/3/5 或 2024年3月5日 这样的日期。"


def test_second_run_after_fixing_two_cells(sheets_server: SheetsServer,  # noqa: F811
                                           account: ServiceAccount,
                                           town: FakeSpreadsheet) -> None:
    _run(sheets_server, account, _findings(sheets_server, account))
    sheet = town.sheet("纠纷台账")
    # the clerk fixes F5 and I6 in the sheet
    sheet.rows[4][5] = 2
    sheet.rows[5][8] = "是"
    data_before = copy.deepcopy(sheet.rows)
    sheets_server.clear()
    report = _run(sheets_server, account, _findings(sheets_server, account))

    assert sheets_server.count("batchUpdate") == 1
    assert sheet.rows == data_before
    marked = _marked(town)
    assert (3, 1) in marked["error"] and (4, 5) not in marked["error"]
    assert "warning" not in marked or (5, 8) not in marked["warning"]
    assert (4, 5) not in sheet.notes and (5, 8) not in sheet.notes  # our notes cleared
    assert sheet.notes[(3, 1)] == "王书记说这个日期要再核实"
    assert sheet.notes[(2, 0)] == "第一件"
    assert report.notes_cleared == 2
    assert len(_own_rules(sheet)) == len(marked)  # the old rules were replaced, not stacked
    assert sheet.conditional[-1]["booleanRule"]["condition"]["type"] == "TEXT_EQ"
    results = [s for s in town.sheets if s.notes.get((0, 0)) == RESULT_NOTE]
    assert [s.title for s in results] == [RESULT_SHEET]
    assert not any(r[5] == "not-in-enum" for r in results[0].rows[2:])


def test_a_users_own_results_tab_is_left_alone(sheets_server: SheetsServer,  # noqa: F811
                                               account: ServiceAccount,
                                               town: FakeSpreadsheet) -> None:
    mine = town.add_sheet(RESULT_SHEET, [["我自己的记录"]])
    _run(sheets_server, account, _findings(sheets_server, account))
    assert town.sheet(RESULT_SHEET).rows == [["我自己的记录"]]
    assert town.sheet(RESULT_SHEET) is mine
    assert town.sheet(sheet_marks.FALLBACK_RESULT_SHEET).notes[(0, 0)] == RESULT_NOTE


def test_viewer_access_says_how_to_fix_and_changes_nothing(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        town: FakeSpreadsheet) -> None:
    findings = _findings(sheets_server, account)
    town.shared_with = {EMAIL: "reader"}
    before = copy.deepcopy(town.sheets)
    with pytest.raises(FengqiaoError) as err:
        _run(sheets_server, account, findings)
    assert err.value.message.startswith("没能把检查结果写进 Google 表格：")
    assert "编辑者" in err.value.hint and "--annotate 检查结果.xlsx" in err.value.hint
    assert [s.__dict__ for s in town.sheets] == [s.__dict__ for s in before]


def test_429_and_503_mid_write_are_retried_within_the_bound(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        town: FakeSpreadsheet) -> None:
    findings = _findings(sheets_server, account)
    sheets_server.clear()
    sheets_server.fault("batchUpdate", status_fault(429, retry_after=2))
    sheets_server.fault("batchUpdate", status_fault(503))
    waits = Waits()
    report = _run(sheets_server, account, findings, waits)
    assert sheets_server.count("batchUpdate") == 3
    assert waits.sleeps == [2.0, 1.0]
    assert report.marked == len(_marked(town)["error"]) + len(_marked(town)["warning"])


def test_a_write_that_keeps_failing_leaves_the_sheet_as_it_was(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        town: FakeSpreadsheet) -> None:
    findings = _findings(sheets_server, account)
    before = copy.deepcopy(town.sheets)
    sheets_server.fault("batchUpdate", status_fault(503), times=3)
    with pytest.raises(FengqiaoError, match="没能把检查结果写进 Google 表格"):
        _run(sheets_server, account, findings)
    assert [s.__dict__ for s in town.sheets] == [s.__dict__ for s in before]


def test_a_split_write_that_fails_half_way_says_which_part_is_in(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        town: FakeSpreadsheet, monkeypatch: pytest.MonkeyPatch) -> None:
    findings = _findings(sheets_server, account)
    monkeypatch.setattr(sheet_marks, "MAX_BODY_BYTES", 2_000)
    sheets_server.clear()
    sheets_server.fault("batchUpdate", status_fault(400))
    with pytest.raises(FengqiaoError, match="请求") as err:
        _run(sheets_server, account, findings)
    assert sheets_server.count("batchUpdate") == 1  # a 400 is not retried
    # now let the first batch through and fail the second
    sheets_server.clear()

    # the first batch goes through (a no-op action), the second gets a 400
    sheets_server.fault("batchUpdate", Fault("action", action=lambda: None))
    sheets_server.fault("batchUpdate", status_fault(400))
    with pytest.raises(FengqiaoError) as err:
        _run(sheets_server, account, findings)
    assert "前 1 批已写入，第 2 批失败" in err.value.message
    assert err.value.message.startswith("没能把检查结果写进 Google 表格：检查结果只写进了一部分：共 ")


def test_split_keeps_order_and_stays_under_the_limit() -> None:
    reqs = [{"n": "x" * 100, "i": i} for i in range(50)]
    batches = split(reqs, limit=1_000)
    assert [r for b in batches for r in b] == reqs
    assert len(batches) > 1
    assert split(reqs) == [reqs]


def test_the_xlsx_copy_and_the_google_sheet_carry_the_same_marks(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        town: FakeSpreadsheet, tmp_path: Path) -> None:
    findings = _findings(sheets_server, account)
    _run(sheets_server, account, findings)
    # the same ledger as an xlsx file, the same findings, annotated as a copy
    src = tmp_path / "台账.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "纠纷台账"
    for row in _rows():
        ws.append(row)
    ws.merge_cells("A1:J1")
    wb.save(src)
    out = tmp_path / "标注.xlsx"
    annotate_workbook(src, findings, out)
    copy_ws = openpyxl.load_workbook(out)["纠纷台账"]
    xlsx_marks = {(c.row - 1, c.column - 1): (c.fill.start_color.rgb, c.comment.text)
                  for row in copy_ws.iter_rows() for c in row if c.comment is not None}
    sheet = town.sheet("纠纷台账")
    colours = {cell: rgb(ERROR_COLOR) for cell in _marked(town).get("error", set())}
    colours |= {cell: rgb(WARNING_COLOR) for cell in _marked(town).get("warning", set())}
    assert set(xlsx_marks) == set(colours)
    for cell, (argb, text) in xlsx_marks.items():
        assert rgb(argb) == colours[cell]
        if cell in sheet.notes and sheet.notes[cell].startswith(NOTE_PREFIX):
            assert text == sheet.notes[cell]
    result = openpyxl.load_workbook(out)[RESULT_SHEET]
    google = town.sheets[0].rows
    xlsx_rows = [list(r) for r in result.iter_rows(min_row=3, values_only=True)]
    assert [r[5:] for r in xlsx_rows] == [r[5:] for r in google[2:]]
    assert [r[:2] for r in xlsx_rows] == [r[:2] for r in google[2:]]


# --- the command ------------------------------------------------------------------------------


@pytest.fixture
def emulated(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
             monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("FENGQIAO_SHEETS_EMULATOR", sheets_server.url)
    monkeypatch.setenv("FENGQIAO_GOOGLE_CREDENTIALS", str(account.path))
    config = tmp_path / "fengqiao.yml"
    config.write_text(f"town: 枫溪镇\nsource: gsheets:{SID}\nsnapshots_dir: snaps\n",
                      encoding="utf-8")
    return config


def _cli(args: list[str]) -> Any:
    from click.testing import CliRunner

    from fengqiao.cli import cli

    return CliRunner().invoke(cli, args, prog_name="fengqiao")


def test_validate_annotate_sheet_keeps_validates_exit_code(
        sheets_server: SheetsServer, town: FakeSpreadsheet,  # noqa: F811
        emulated: Path) -> None:
    result = _cli(["validate", "--config", str(emulated), "--annotate-sheet"])
    assert result.exit_code == 1, result.output  # the ledger has errors
    assert "已把检查结果写进 Google 表格：“校验结果”工作表，" in result.output
    assert town.sheets[0].title == RESULT_SHEET
    # viewer access: the marks cannot be written; said, and the exit code stays 1
    town.shared_with = {EMAIL: "reader"}
    result = _cli(["validate", "--config", str(emulated), "--annotate-sheet"])
    assert result.exit_code == 1
    assert "提醒：没能把检查结果写进 Google 表格：" in result.output
    assert "Traceback" not in result.output


def test_annotate_sheet_in_the_config_marks_on_every_validate(
        sheets_server: SheetsServer, town: FakeSpreadsheet,  # noqa: F811
        emulated: Path) -> None:
    emulated.write_text(emulated.read_text(encoding="utf-8") + "annotate_sheet: true\n",
                        encoding="utf-8")
    result = _cli(["validate", "--config", str(emulated)])
    assert result.exit_code == 1
    assert sheets_server.count("batchUpdate") == 1
    assert town.sheets[0].notes[(0, 0)] == RESULT_NOTE


def test_annotate_sheet_on_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.xlsx").write_bytes(b"")
    result = _cli(["validate", str(tmp_path / "a.xlsx"), "--annotate-sheet"])
    assert result.exit_code == 2
    assert "--annotate-sheet 只能用于 Google 表格" in result.output


def test_the_scheduled_build_marks_the_sheet_too(
        sheets_server: SheetsServer, town: FakeSpreadsheet,  # noqa: F811
        emulated: Path, tmp_path: Path) -> None:
    emulated.write_text(emulated.read_text(encoding="utf-8")
                        + "annotate_sheet: true\nreport_date: 2024-12-31\n", encoding="utf-8")
    result = _cli(["build", "--config", str(emulated), "--out", str(tmp_path / "public")])
    assert result.exit_code == 0, result.output
    assert "已把检查结果写进 Google 表格：“校验结果”工作表，" in result.output
    assert (tmp_path / "public" / "index.html").is_file()
    assert town.sheets[0].notes[(0, 0)] == RESULT_NOTE
    # no write access: the site is still published, the failure is told
    town.shared_with = {EMAIL: "reader"}
    result = _cli(["build", "--config", str(emulated), "--out", str(tmp_path / "public")])
    assert result.exit_code == 0, result.output
    assert "提醒：没能把检查结果写进 Google 表格：" in result.output
