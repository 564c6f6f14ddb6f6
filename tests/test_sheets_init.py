"""``sheets init`` against the loopback Sheets server: what it writes, what it
never touches, and how few requests it needs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.errors import SourceError
from fengqiao.retry import RetryPolicy
from fengqiao.schema import Schema, TabSpec, load_schema
from fengqiao.sheets_init import InitReport, TabInit, init_spreadsheet
from fengqiao.sources.base import RawTable, RawWorkbook, SourceInfo
from fengqiao.validate import validate_workbook
from sheets_server import (
    WRITE_SCOPE,
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

SID = "new-town-sheet"
EMAIL = "fengqiao-test@demo-project.iam.gserviceaccount.com"


@pytest.fixture
def schema() -> Schema:
    return load_schema()


@pytest.fixture
def account(sheets_server: SheetsServer, tmp_path: Path) -> ServiceAccount:  # noqa: F811
    return make_service_account(sheets_server, tmp_path)


@pytest.fixture
def blank(sheets_server: SheetsServer) -> FakeSpreadsheet:  # noqa: F811
    book = sheets_server.add_spreadsheet(SID, "清溪镇台账", shared_with={EMAIL: "writer"})
    book.add_sheet("Sheet1", [])
    return book


def run_init(server: SheetsServer, account: ServiceAccount, schema: Schema,
             **kw: object) -> InitReport:
    return init_spreadsheet(SID, credentials_path=str(account.path), schema=schema,
                            session=loopback_session(server),
                            retry=RetryPolicy(sleep=lambda s: None, random=lambda: 0.0,
                                              timeout=(2.0, 0.5)),
                            **kw)  # type: ignore[arg-type]


def col(tab: TabSpec, name: str) -> int:
    return tab.field_names.index(name)


def validations_by_column(sheet: FakeSheet) -> dict[int, dict[str, object]]:
    out = {}
    for v in sheet.validations:
        rng = v["range"]
        assert rng["startRowIndex"] == 1 and "endRowIndex" not in rng
        assert rng["endColumnIndex"] == rng["startColumnIndex"] + 1
        out[rng["startColumnIndex"]] = v["rule"]
    return out


def test_fresh_spreadsheet_gets_every_tab_in_one_batch_update(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        blank: FakeSpreadsheet, schema: Schema) -> None:
    report = run_init(sheets_server, account, schema)
    assert sheets_server.routes() == ["token", "metadata", "batchUpdate"]
    token = sheets_server.requests[1].token
    assert token is not None
    assert sheets_server.tokens[token] == (EMAIL, WRITE_SCOPE)
    assert report.batch_updates == 1
    assert report.requests == len(sheets_server.requests[-1].body["requests"])
    assert report.options_sheet == "created"
    assert [(t.tab, t.sheet, t.action) for t in report.tabs] == [
        (tab.name, tab.title, "created") for tab in schema]
    assert [s.title for s in blank.sheets] == ["Sheet1", "选项", *(t.title for t in schema)]


def test_headers_notes_freeze_and_protection(sheets_server: SheetsServer,  # noqa: F811
                                             account: ServiceAccount, blank: FakeSpreadsheet,
                                             schema: Schema) -> None:
    run_init(sheets_server, account, schema)
    disputes = schema["disputes"]
    sheet = blank.sheet("纠纷台账")
    assert sheet.rows == [[f.title for f in disputes.fields]]
    assert sheet.rows[0][:3] == ["编号", "受理日期", "来源"]
    assert sheet.frozen_rows == 1
    assert sheet.notes[(0, 0)] == "每起纠纷唯一的编号，例如 DZ2024-0001，登记后不要再改。（必填）"
    assert sheet.notes[(0, col(disputes, "grid_id"))] == "发生地所属网格的编号，须与“网格”表一致。"
    assert sheet.formats[(0, 0)]["textFormat"] == {"bold": True}
    assert sheet.protected == [{
        "range": {"sheetId": sheet.sheet_id, "startRowIndex": 0, "endRowIndex": 1},
        "description": "表头行：改动列名会导致台账无法识别",
        "warningOnly": True,
        "protectedRangeId": sheet.protected[0]["protectedRangeId"],
    }]


def test_dropdowns_short_inline_long_on_the_hidden_options_sheet(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        blank: FakeSpreadsheet, schema: Schema) -> None:
    run_init(sheets_server, account, schema)
    disputes = schema["disputes"]
    rules = validations_by_column(blank.sheet("纠纷台账"))
    enum_cols = {col(disputes, n) for n in ("source", "dispute_type", "star", "level", "status",
                                            "first_try_success", "satisfaction", "initial_level",
                                            "mediation_force")}
    assert set(rules) == enum_cols

    def listed(name: str) -> list[str]:
        cond = rules[col(disputes, name)]["condition"]
        assert cond["type"] == "ONE_OF_LIST"  # type: ignore[index]
        return [v["userEnteredValue"] for v in cond["values"]]  # type: ignore[index]

    assert listed("source") == ["网格排查", "群众来访", "12345热线", "信访", "110转办",
                                "网上舆情", "上级交办", "其他"]
    assert listed("star") == ["1", "2", "3"]
    assert listed("first_try_success") == ["是", "否"]
    assert listed("satisfaction") == ["满意", "基本满意", "不满意"]
    assert rules[col(disputes, "dispute_type")]["condition"] == {
        "type": "ONE_OF_RANGE", "values": [{"userEnteredValue": "='选项'!$A$2:$A$12"}]}
    assert {r["strict"] for r in rules.values()} == {False}
    assert {r["showCustomUi"] for r in rules.values()} == {True}
    options = blank.sheet("选项")
    assert options.hidden is True
    assert options.rows == [["纠纷台账·纠纷类型"], *([v] for v in disputes.field("dispute_type").enum or ())]
    assert len(options.rows) == 12
    assert options.protected[0]["warningOnly"] is True
    visits = validations_by_column(blank.sheet("走访记录"))
    assert [r["condition"] for r in visits.values()] == [
        {"type": "ONE_OF_LIST", "values": [{"userEnteredValue": "是"}, {"userEnteredValue": "否"}]}]


def test_date_columns_get_a_date_format(sheets_server: SheetsServer,  # noqa: F811
                                        account: ServiceAccount, blank: FakeSpreadsheet,
                                        schema: Schema) -> None:
    run_init(sheets_server, account, schema)
    disputes = schema["disputes"]
    repeats = blank.sheet("纠纷台账").repeats
    assert sorted(r["range"]["startColumnIndex"] for r in repeats) == sorted(
        col(disputes, n) for n in ("received_date", "closed_date", "followup_date",
                                   "assigned_date", "feedback_date"))
    assert {str(r["cell"]) for r in repeats} == {
        str({"userEnteredFormat": {"numberFormat": {"type": "DATE", "pattern": "yyyy-mm-dd"}}})}
    assert {r["fields"] for r in repeats} == {"userEnteredFormat.numberFormat"}
    assert blank.sheet("网格").repeats == []


def test_second_run_changes_nothing(sheets_server: SheetsServer,  # noqa: F811
                                    account: ServiceAccount, blank: FakeSpreadsheet,
                                    schema: Schema) -> None:
    run_init(sheets_server, account, schema)
    sheets_server.clear()
    report = run_init(sheets_server, account, schema)
    assert sheets_server.routes() == ["token", "metadata", "batchGet"]
    assert sheets_server.batch_get_ranges() == [
        [f"'{t.title}'!1:20" for t in schema] + ["'选项'"]]
    assert report.batch_updates == 0
    assert report.options_sheet == "unchanged"
    assert {(t.action, t.header_row, t.missing_required, t.missing_optional)
            for t in report.tabs} == {("verified", 1, (), ())}
    assert report.summary_lines()[-1] == "没有需要修改的地方。"


def test_existing_data_is_never_touched(sheets_server: SheetsServer,  # noqa: F811
                                        account: ServiceAccount, blank: FakeSpreadsheet,
                                        schema: Schema) -> None:
    rows: list[list[object]] = [["清溪镇矛盾纠纷台账"],
            ["案件编号", "受理时间", "来源", "村(社区)", "纠纷类型", "涉及人数", "星级", "状态"],
            ["QX-1", 45356, "信访", "清溪村", "邻里", 2, 1, "调处中"]]
    ledger = blank.add_sheet("矛盾纠纷台账", [list(r) for r in rows])
    report = run_init(sheets_server, account, schema, tabs=["disputes", "grids"])
    assert report.tabs[0] == TabInit(
        "disputes", "矛盾纠纷台账", "verified", header_row=2,
        missing_required=(),
        missing_optional=tuple(f.title for f in schema["disputes"].fields
                               if f.warn_if_missing  # not the quiet loop columns (交办日期…)
                               and f.title not in ("编号", "受理日期", "来源", "村(社区)",
                                                   "纠纷类型", "涉及人数", "星级", "状态")))
    assert ledger.rows == rows
    assert ledger.validations == [] and ledger.protected == [] and ledger.repeats == []
    assert ledger.frozen_rows == 0
    assert report.tabs[1].action == "created"
    assert [s.title for s in blank.sheets] == ["Sheet1", "矛盾纠纷台账", "网格"]
    assert report.options_sheet == "none"
    lines = report.summary_lines()
    assert lines[1].startswith("  工作表“矛盾纠纷台账”已存在（表头在第 2 行），未改动；缺少可选列：网格编号、")


def test_missing_required_columns_are_reported(sheets_server: SheetsServer,  # noqa: F811
                                               account: ServiceAccount, blank: FakeSpreadsheet,
                                               schema: Schema) -> None:
    blank.add_sheet("网格", [["网格编号", "网格长"], ["QX-01", "李明"]])
    report = run_init(sheets_server, account, schema, tabs=["grids"])
    assert report.tabs == [TabInit("grids", "网格", "verified", header_row=1,
                                   missing_required=("村(社区)", "户数"),
                                   missing_optional=("网格员",))]
    assert report.batch_updates == 0
    assert report.summary_lines()[1] == (
        "  工作表“网格”已存在（表头在第 1 行），未改动；缺少必填列：村(社区)、户数；缺少可选列：网格员。")


def test_content_without_a_header_is_left_alone(sheets_server: SheetsServer,  # noqa: F811
                                                account: ServiceAccount, blank: FakeSpreadsheet,
                                                schema: Schema) -> None:
    notes = blank.add_sheet("网格", [["这里记的是别的东西"], ["随手记"]])
    report = run_init(sheets_server, account, schema, tabs=["grids"])
    assert report.tabs == [TabInit("grids", "网格", "no-header")]
    assert notes.rows == [["这里记的是别的东西"], ["随手记"]]
    assert sheets_server.count("batchUpdate") == 0
    assert report.summary_lines()[1] == (
        "  工作表“网格”已有内容，但前 20 行里找不到表头，没有改动，请对照模板检查。")


#: a clerk's own ledger: a title row, blank rows, then a header (row 12, below
#: the first ten) written with stars, a note in brackets, full-width brackets
#: and aliases (案件编号 for 编号, 纠纷类别 for 纠纷类型)
CLERK_ROWS: list[list[object]] = [
    ["清溪镇矛盾纠纷登记台账（2024年）"], *[[] for _ in range(10)],
    ["*案件编号", "受理日期（必填）", "来源", "村（社区）", "纠纷类别", "星级★", "状态"],
    ["QX-1", 45356, "信访", "清溪村", "邻里", 1, "调处中"],
]


def test_a_clerks_header_is_found_as_validate_finds_it(sheets_server: SheetsServer,  # noqa: F811
                                                       account: ServiceAccount,
                                                       blank: FakeSpreadsheet,
                                                       schema: Schema) -> None:
    ledger = blank.add_sheet("矛盾纠纷台账", [list(r) for r in CLERK_ROWS])
    report = run_init(sheets_server, account, schema, tabs=["disputes"])
    assert ledger.rows == CLERK_ROWS and sheets_server.count("batchUpdate") == 0
    # validate, reading the same cells, finds the header on the same row and
    # misses exactly the columns init reports missing
    table = RawTable("矛盾纠纷台账", pd.DataFrame(CLERK_ROWS, dtype=object), 1)
    checked = validate_workbook(RawWorkbook(SourceInfo("gsheets", "清溪镇台账", SID),
                                            {"矛盾纠纷台账": table}))
    missing = {code: tuple(f.column for f in checked.findings
                           if f.tab == "disputes" and f.code == code)
               for code in ("missing-column", "missing-optional-column")}
    assert checked.tables["disputes"]["_row"].tolist() == [13]
    assert report.tabs == [TabInit("disputes", "矛盾纠纷台账", "verified", header_row=12,
                                   missing_required=missing["missing-column"],
                                   missing_optional=missing["missing-optional-column"])]
    assert report.tabs[0].missing_required == ("涉及人数",)


def test_a_sheet_validate_reads_is_not_created_again(sheets_server: SheetsServer,  # noqa: F811
                                                     account: ServiceAccount,
                                                     blank: FakeSpreadsheet,
                                                     schema: Schema) -> None:
    blank.add_sheet("2024年纠纷台账", [list(r) for r in CLERK_ROWS])
    report = run_init(sheets_server, account, schema, tabs=["disputes"])
    assert [(t.sheet, t.action, t.header_row) for t in report.tabs] == [
        ("2024年纠纷台账", "verified", 12)]
    assert [s.title for s in blank.sheets] == ["Sheet1", "2024年纠纷台账"]


def test_two_sheets_that_could_be_the_tab_are_left_alone(sheets_server: SheetsServer,  # noqa: F811
                                                         account: ServiceAccount,
                                                         blank: FakeSpreadsheet,
                                                         schema: Schema) -> None:
    blank.add_sheet("纠纷台账", [list(r) for r in CLERK_ROWS])
    blank.add_sheet("纠纷台账 (2)", [list(r) for r in CLERK_ROWS])
    report = run_init(sheets_server, account, schema, tabs=["disputes"])
    assert report.tabs == [TabInit("disputes", "纠纷台账", "ambiguous",
                                   candidates=("纠纷台账", "纠纷台账 (2)"))]
    assert [s.title for s in blank.sheets] == ["Sheet1", "纠纷台账", "纠纷台账 (2)"]
    assert sheets_server.count("batchUpdate") == 0
    assert report.summary_lines()[1] == (
        "  工作表“纠纷台账”、“纠纷台账 (2)”都像是“纠纷台账”，没有改动，也没有新建；"
        "请删除或改名多余的那张，只留一张后再运行。")


def test_empty_existing_tab_gets_its_header_and_more_columns(
        sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
        blank: FakeSpreadsheet, schema: Schema) -> None:
    narrow = blank.add_sheet("纠纷台账", [])
    narrow.column_count = 5
    report = run_init(sheets_server, account, schema, tabs=["disputes"])
    assert report.tabs == [TabInit("disputes", "纠纷台账", "header-written", header_row=1)]
    assert narrow.column_count == len(schema["disputes"].fields)
    assert narrow.rows == [[f.title for f in schema["disputes"].fields]]
    assert narrow.frozen_rows == 1
    assert sheets_server.routes() == ["token", "metadata", "batchGet", "batchUpdate"]
    assert report.summary_lines()[1] == "  工作表“纠纷台账”原来是空的，已写好表头、下拉选项和日期格式。"


def test_stale_options_sheet_is_rewritten(sheets_server: SheetsServer,  # noqa: F811
                                          account: ServiceAccount, blank: FakeSpreadsheet,
                                          schema: Schema) -> None:
    stale = blank.add_sheet("选项", [["旧的选项", "多余"], ["婚姻家庭", "x"], ["邻里"], ["a"], ["b"],
                                     ["c"], ["d"], ["e"], ["f"], ["g"], ["h"], ["i"], ["j"], ["k"]],
                            hidden=True)
    report = run_init(sheets_server, account, schema, tabs=["disputes"])
    assert report.options_sheet == "updated"
    enum = list(schema["disputes"].field("dispute_type").enum or ())
    assert [r[0] for r in stale.rows[:12]] == ["纠纷台账·纠纷类型", *enum]
    assert all(v is None for r in stale.rows for v in r[1:])
    assert all(v is None for r in stale.rows[12:] for v in r)
    assert report.summary_lines()[-2] == "  已更新隐藏工作表“选项”里的下拉选项。"


def test_read_only_share_is_refused_with_the_right_role(sheets_server: SheetsServer,  # noqa: F811
                                                        account: ServiceAccount,
                                                        blank: FakeSpreadsheet,
                                                        schema: Schema) -> None:
    blank.shared_with = {EMAIL: "reader"}
    with pytest.raises(SourceError) as err:
        run_init(sheets_server, account, schema)
    assert str(err.value) == (
        f"服务账号 {EMAIL} 没有权限打开表格 {SID}。"
        f"请在 Google 表格右上角点“共享”，把表格共享给 {EMAIL}，权限选“编辑者”，然后重试。")
    assert sheets_server.count("batchUpdate") == 1
    assert [s.title for s in blank.sheets] == ["Sheet1"]


def test_write_retried_when_google_says_it_did_nothing(sheets_server: SheetsServer,  # noqa: F811
                                                       account: ServiceAccount,
                                                       blank: FakeSpreadsheet,
                                                       schema: Schema) -> None:
    sheets_server.fault("batchUpdate", status_fault(503))
    report = run_init(sheets_server, account, schema, tabs=["grids"])
    assert sheets_server.count("batchUpdate") == 2
    assert report.tabs[0].action == "created"
    assert [s.title for s in blank.sheets] == ["Sheet1", "网格"]


@pytest.mark.parametrize(("fault", "message"), [
    (status_fault(500), f"Google 表格服务暂时出错（HTTP 500）（表格 {SID}）。"
                        "请稍后再试；上一次成功读取的快照不受影响。"),
    (Fault("delay", delay=1.0), f"连接 Google 表格超时（表格 {SID}）。请检查网络是否通畅，或稍后再试。"),
])
def test_write_not_replayed_when_it_may_have_run(sheets_server: SheetsServer,  # noqa: F811
                                                 account: ServiceAccount, blank: FakeSpreadsheet,
                                                 schema: Schema, fault: Fault,
                                                 message: str) -> None:
    sheets_server.fault("batchUpdate", fault, times=3)
    with pytest.raises(SourceError) as err:
        run_init(sheets_server, account, schema, tabs=["grids"])
    assert str(err.value) == message
    assert sheets_server.count("batchUpdate") == 1


# --- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def emulated(sheets_server: SheetsServer, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("FENGQIAO_SHEETS_EMULATOR", sheets_server.url)
    monkeypatch.delenv("FENGQIAO_GOOGLE_CREDENTIALS", raising=False)


def test_cli_prints_a_chinese_summary(sheets_server: SheetsServer,  # noqa: F811
                                      account: ServiceAccount, blank: FakeSpreadsheet,
                                      emulated: None) -> None:
    blank.add_sheet("网格", [["网格编号", "村(社区)", "户数", "网格长", "网格员"]])
    url = f"https://docs.google.com/spreadsheets/d/{SID}/edit"
    result = CliRunner().invoke(cli, ["sheets", "init", url, "--credentials", str(account.path),
                                      "--tab", "disputes", "--tab", "grids"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"表格“清溪镇台账”（{SID}）：",
        "  新建工作表“纠纷台账”，已写好表头、下拉选项和日期格式。",
        "  工作表“网格”已存在（表头在第 1 行），未改动。",
        "  新建隐藏工作表“选项”，存放较长的下拉选项。",
        f"共提交 {sheets_server.requests[-1].body and len(sheets_server.requests[-1].body['requests'])} 项修改。",
    ]


def test_cli_uses_the_key_from_the_environment(sheets_server: SheetsServer,  # noqa: F811
                                               account: ServiceAccount, blank: FakeSpreadsheet,
                                               emulated: None,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_GOOGLE_CREDENTIALS", str(account.path))
    result = CliRunner().invoke(cli, ["sheets", "init", SID, "--tab", "grids"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "  新建工作表“网格”，已写好表头、下拉选项和日期格式。"


def test_cli_reports_errors_in_chinese_with_exit_2(sheets_server: SheetsServer,  # noqa: F811
                                                   account: ServiceAccount,
                                                   emulated: None) -> None:
    result = CliRunner().invoke(cli, ["sheets", "init", "no-such-sheet",
                                      "--credentials", str(account.path)])
    assert result.exit_code == 2
    assert result.stderr == (
        "错误：找不到表格 no-such-sheet：表格可能已被删除，或者表格 ID、链接抄错了。"
        "请在浏览器里打开这张表格，复制地址栏里的完整链接重新填写。\n")
    assert "Traceback" not in result.output


def test_cli_rejects_an_unknown_tab_id(account: ServiceAccount, emulated: None) -> None:
    result = CliRunner().invoke(cli, ["sheets", "init", SID, "--credentials", str(account.path),
                                      "--tab", "cases"])
    assert result.exit_code == 2
    assert result.stderr.startswith("错误：不认识的工作表 id：cases。可用的 id 有：disputes、supervisions、transfers、grids、")
