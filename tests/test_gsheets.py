"""Reading a Google spreadsheet with the real gspread client against the
loopback Sheets server: request counts, values, merges, names, payloads."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from fengqiao.errors import SourceError
from fengqiao.retry import RetryPolicy, parse_retry_after
from fengqiao.sources.gsheets import (
    METADATA_FIELDS,
    read_gsheet,
    read_gsheet_payload,
    spreadsheet_id,
    workbook_from_payload,
)
from sheets_server import (
    FakeSpreadsheet,
    ServiceAccount,
    SheetsServer,
    loopback_session,
    make_service_account,
    sheets_server,  # noqa: F401  (fixture)
    spreadsheet_from_xlsx,
)

SID = "1AbCdEfGhIjKlMnOp_qr-stu"


def rows_of(table) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return table.frame.astype(object).values.tolist()


@pytest.fixture
def account(sheets_server: SheetsServer, tmp_path: Path) -> ServiceAccount:  # noqa: F811
    return make_service_account(sheets_server, tmp_path)


@pytest.fixture
def town(sheets_server: SheetsServer) -> FakeSpreadsheet:  # noqa: F811
    book = sheets_server.add_spreadsheet(SID, "示范镇 矛盾纠纷台账")
    book.add_sheet("纠纷台账", [
        ["示范镇矛盾纠纷调处化解台账"],
        ["编号", "受理日期", "来源", "星级", "首次调解成功", "涉及人数"],
        ["DZ-001", date(2024, 3, 5), "网格排查", 1, True, 2],
        [],
        ["DZ-002", "2024.3.6", "", "二星", "否", 3.5, "多出来的列"],
        ["DZ-003", datetime(2024, 3, 7, 12, 0), "信访", 3, None, "#REF!"],
    ], merges=["A1:F1"])
    book.add_sheet("网格 表", [["网格编号", "村(社区)", "户数"],
                               ["QX-01", "清溪村", 80], ["QX-02", "清溪村", 66]])
    book.add_sheet("It's 走访", [["日期", "走访人"], [date(2024, 3, 1), "王芳"]])
    return book


def read(server: SheetsServer, account: ServiceAccount, spreadsheet: str = SID, **kw):  # type: ignore[no-untyped-def]
    return read_gsheet(spreadsheet, credentials_path=str(account.path),
                       session=loopback_session(server), **kw)


def test_exactly_one_metadata_and_one_batch_get(sheets_server: SheetsServer,  # noqa: F811
                                                account: ServiceAccount,
                                                town: FakeSpreadsheet) -> None:
    read(sheets_server, account)
    assert sheets_server.routes() == ["token", "metadata", "batchGet"]
    meta, batch = sheets_server.requests[1], sheets_server.requests[2]
    assert meta.path == f"/v4/spreadsheets/{SID}"
    assert meta.query == {"includeGridData": ["false"], "fields": [METADATA_FIELDS]}
    assert batch.path == f"/v4/spreadsheets/{SID}/values:batchGet"
    assert batch.query == {
        "ranges": ["'纠纷台账'", "'网格 表'", "'It''s 走访'"],
        "valueRenderOption": ["UNFORMATTED_VALUE"],
        "dateTimeRenderOption": ["SERIAL_NUMBER"],
        "majorDimension": ["ROWS"],
    }
    token = sheets_server.requests[0]
    assert token.body["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    issued = list(sheets_server.tokens)
    assert [r.token for r in sheets_server.requests[1:]] == issued * 2
    assert sheets_server.tokens[issued[0]] == (
        account.email, "https://www.googleapis.com/auth/spreadsheets.readonly")


def test_values_merges_and_names_arrive_as_in_the_sheet(sheets_server: SheetsServer,  # noqa: F811
                                                        account: ServiceAccount,
                                                        town: FakeSpreadsheet) -> None:
    wb = read(sheets_server, account)
    assert list(wb.tables) == ["纠纷台账", "网格 表", "It's 走访"]
    disputes = wb.tables["纠纷台账"]
    assert disputes.name == "纠纷台账"
    assert disputes.first_row == 1
    assert list(disputes.frame.columns) == list(range(7))
    title = "示范镇矛盾纠纷调处化解台账"
    assert rows_of(disputes) == [
        [title, title, title, title, title, title, None],
        ["编号", "受理日期", "来源", "星级", "首次调解成功", "涉及人数", None],
        ["DZ-001", 45356, "网格排查", 1, True, 2, None],
        [None] * 7,
        ["DZ-002", "2024.3.6", None, "二星", "否", 3.5, "多出来的列"],
        ["DZ-003", 45358.5, "信访", 3, None, "#REF!", None],
    ]
    assert rows_of(wb.tables["网格 表"]) == [["网格编号", "村(社区)", "户数"],
                                             ["QX-01", "清溪村", 80], ["QX-02", "清溪村", 66]]
    assert rows_of(wb.tables["It's 走访"]) == [["日期", "走访人"], [45352, "王芳"]]
    assert wb.info.kind == "gsheets"
    assert wb.info.name == "示范镇 矛盾纠纷台账"
    assert wb.info.location == SID
    assert wb.info.read_at is not None
    assert abs(wb.info.read_at - datetime.now(UTC)) < timedelta(minutes=1)


def test_spreadsheet_serial_epoch_matches_excel() -> None:
    # 45356 days after 1899-12-30 is the date the normaliser must recover
    assert date(1899, 12, 30) + timedelta(days=45356) == date(2024, 3, 5)


def test_full_url_and_prefix_are_accepted(sheets_server: SheetsServer,  # noqa: F811
                                          account: ServiceAccount, town: FakeSpreadsheet) -> None:
    url = f"https://docs.google.com/spreadsheets/d/{SID}/edit?usp=sharing#gid=0"
    assert read(sheets_server, account, url).info.location == SID
    assert spreadsheet_id(f"gsheets:{SID}") == SID
    assert spreadsheet_id(f"  {SID} ") == SID


def test_a_bad_address_is_refused_before_any_request(sheets_server: SheetsServer,  # noqa: F811
                                                     account: ServiceAccount) -> None:
    with pytest.raises(SourceError) as err:
        read(sheets_server, account, "https://example.com/my sheet")
    assert str(err.value) == (
        "“https://example.com/my sheet”不是有效的 Google 表格链接或 ID。"
        "请复制浏览器地址栏里形如 https://docs.google.com/spreadsheets/d/…/edit 的完整链接。")
    assert sheets_server.requests == []


def test_empty_tab_and_chart_sheet(sheets_server: SheetsServer,  # noqa: F811
                                   account: ServiceAccount) -> None:
    book = sheets_server.add_spreadsheet(SID, "空表")
    book.add_sheet("纠纷台账", [])
    book.add_sheet("图表", sheet_type="OBJECT")
    wb = read(sheets_server, account)
    assert list(wb.tables) == ["纠纷台账"]
    assert wb.tables["纠纷台账"].frame.shape == (0, 0)
    assert sheets_server.requests[-1].query["ranges"] == ["'纠纷台账'"]


def test_spreadsheet_with_no_grid_sheets_makes_no_batch_get(sheets_server: SheetsServer,  # noqa: F811
                                                            account: ServiceAccount) -> None:
    book = sheets_server.add_spreadsheet(SID, "只有图表")
    book.add_sheet("图表", sheet_type="OBJECT")
    wb = read(sheets_server, account)
    assert wb.tables == {}
    assert sheets_server.routes() == ["token", "metadata"]


def test_merge_wider_than_the_data_is_spread_over_every_cell(sheets_server: SheetsServer,  # noqa: F811
                                                             account: ServiceAccount) -> None:
    book = sheets_server.add_spreadsheet(SID, "合并")
    book.add_sheet("纠纷台账", [["标题"], ["编号", "村(社区)"], ["A-1", "清溪村"], ["A-2"]],
                   merges=["A1:D1", "B3:B4"])
    table = read(sheets_server, account).tables["纠纷台账"]
    assert rows_of(table) == [
        ["标题", "标题", "标题", "标题"],
        ["编号", "村(社区)", None, None],
        ["A-1", "清溪村", None, None],
        ["A-2", "清溪村", None, None],
    ]
    assert list(table.frame.columns) == [0, 1, 2, 3]


def test_a_merge_over_blank_cells_changes_nothing(sheets_server: SheetsServer,  # noqa: F811
                                                  account: ServiceAccount) -> None:
    book = sheets_server.add_spreadsheet(SID, "合并空格")
    book.add_sheet("纠纷台账", [["编号"], ["A-1"]], merges=["C5:D9"])
    assert rows_of(read(sheets_server, account).tables["纠纷台账"]) == [["编号"], ["A-1"]]


def test_sheet_from_an_xlsx_written_by_openpyxl(sheets_server: SheetsServer,  # noqa: F811
                                                account: ServiceAccount, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = "纠纷台账"
    ws.append(["清溪镇台账", None, None])
    ws.append(["案件编号", "受理时间", "星级"])
    ws.append(["QX-1", datetime(2024, 1, 2), "★★"])
    ws.merge_cells("A1:C1")
    path = tmp_path / "town.xlsx"
    book.save(path)
    sheets_server.spreadsheets[SID] = spreadsheet_from_xlsx(path, SID, "清溪镇")
    wb = read(sheets_server, account)
    assert rows_of(wb.tables["纠纷台账"]) == [
        ["清溪镇台账"] * 3, ["案件编号", "受理时间", "星级"], ["QX-1", 45293, "★★"]]


def test_payload_round_trips_through_json(sheets_server: SheetsServer,  # noqa: F811
                                          account: ServiceAccount, town: FakeSpreadsheet) -> None:
    payload = read_gsheet_payload(SID, credentials_path=str(account.path),
                                  session=loopback_session(sheets_server))
    assert sheets_server.routes() == ["token", "metadata", "batchGet"]
    assert payload["kind"] == "fengqiao-gsheets-payload"
    assert payload["version"] == 1
    assert payload["spreadsheetId"] == SID
    assert payload["valueParams"] == {"valueRenderOption": "UNFORMATTED_VALUE",
                                      "dateTimeRenderOption": "SERIAL_NUMBER",
                                      "majorDimension": "ROWS"}
    stored = json.loads(json.dumps(payload, ensure_ascii=False))
    again = workbook_from_payload(stored)
    live = read(sheets_server, account)
    assert list(again.tables) == list(live.tables)
    for name in live.tables:
        assert rows_of(again.tables[name]) == rows_of(live.tables[name])
    assert again.info.read_at == datetime.fromisoformat(payload["readAt"])
    assert (again.info.kind, again.info.name, again.info.location) == (
        "gsheets", "示范镇 矛盾纠纷台账", SID)


def test_payload_without_read_time_is_still_valid(sheets_server: SheetsServer,  # noqa: F811
                                                   account: ServiceAccount,
                                                   town: FakeSpreadsheet) -> None:
    # the snapshot layer drops readAt so an unchanged sheet hashes the same
    payload = read_gsheet_payload(SID, credentials_path=str(account.path),
                                  session=loopback_session(sheets_server))
    del payload["readAt"]
    wb = workbook_from_payload(payload)
    assert wb.info.read_at is None
    assert list(wb.tables) == ["纠纷台账", "网格 表", "It's 走访"]


@pytest.mark.parametrize("payload", [
    {}, {"kind": "something-else"},
    {"kind": "fengqiao-gsheets-payload", "metadata": {}},
    {"kind": "fengqiao-gsheets-payload", "metadata": {"sheets": [{}]}, "values": {},
     "readAt": None},
    {"kind": "fengqiao-gsheets-payload", "metadata": {}, "values": {}, "readAt": "昨天"},
])
def test_a_damaged_payload_is_a_source_error(payload: dict[str, object]) -> None:
    with pytest.raises(SourceError) as err:
        workbook_from_payload(payload)
    assert str(err.value) == ("Google 表格快照的内容格式不对，无法使用。"
                              "快照文件可能被改动过或来自不兼容的版本，请重新读取表格。")


def test_a_value_range_starting_below_a1_keeps_sheet_positions() -> None:
    payload = {
        "kind": "fengqiao-gsheets-payload", "version": 1, "spreadsheetId": "x",
        "readAt": "2024-03-05T08:00:00+00:00",
        "metadata": {"properties": {"title": "t"},
                     "sheets": [{"properties": {"sheetId": 0, "title": "纠纷台账"}}]},
        "values": {"valueRanges": [{"range": "'纠纷台账'!B3:D9", "values": [["编号"], ["", "x"]]}]},
    }
    assert rows_of(workbook_from_payload(payload).tables["纠纷台账"]) == [
        [None, None, None], [None, None, None], [None, "编号", None], [None, None, "x"]]


def test_tab_renamed_between_two_reads(sheets_server: SheetsServer,  # noqa: F811
                                       account: ServiceAccount, town: FakeSpreadsheet) -> None:
    first = read(sheets_server, account)
    town.rename("纠纷台账", "纠纷台账（2024）")
    second = read(sheets_server, account)
    assert list(first.tables) == ["纠纷台账", "网格 表", "It's 走访"]
    assert list(second.tables) == ["纠纷台账（2024）", "网格 表", "It's 走访"]
    assert second.tables["纠纷台账（2024）"].name == "纠纷台账（2024）"
    assert sheets_server.batch_get_ranges() == [
        ["'纠纷台账'", "'网格 表'", "'It''s 走访'"],
        ["'纠纷台账（2024）'", "'网格 表'", "'It''s 走访'"],
    ]


def test_credentials_from_environment(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                                      town: FakeSpreadsheet,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_GOOGLE_CREDENTIALS", str(account.path))
    wb = read_gsheet(SID, credentials_path=None, session=loopback_session(sheets_server))
    assert list(wb.tables)[0] == "纠纷台账"


def test_explicit_credentials_win_over_environment(sheets_server: SheetsServer,  # noqa: F811
                                                   account: ServiceAccount, town: FakeSpreadsheet,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("FENGQIAO_GOOGLE_CREDENTIALS", str(tmp_path / "missing.json"))
    assert read(sheets_server, account).info.location == SID


def test_emulator_variable_routes_without_a_session(sheets_server: SheetsServer,  # noqa: F811
                                                    account: ServiceAccount, town: FakeSpreadsheet,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_SHEETS_EMULATOR", sheets_server.url)
    wb = read_gsheet(SID, credentials_path=str(account.path))
    assert wb.info.name == "示范镇 矛盾纠纷台账"
    assert sheets_server.routes() == ["token", "metadata", "batchGet"]


def test_emulator_variable_must_be_loopback(account: ServiceAccount,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_SHEETS_EMULATOR", "http://sheets.example.com:8080")
    with pytest.raises(SourceError) as err:
        read_gsheet(SID, credentials_path=str(account.path))
    assert str(err.value) == (
        "环境变量 FENGQIAO_SHEETS_EMULATOR 只能指向本机地址（127.0.0.1），"
        "现在是“http://sheets.example.com:8080”。这个变量只用于测试；正常使用时请删除它。")


# --- retry policy arithmetic --------------------------------------------------------------


def test_backoff_is_full_jitter_under_an_exponential_ceiling() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=30.0, random=lambda: 1.0)
    assert [policy.delay(n, None) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    half = RetryPolicy(base_delay=0.5, random=lambda: 0.5)
    assert [half.delay(n, None) for n in (1, 2, 3)] == [0.25, 0.5, 1.0]
    assert RetryPolicy(random=lambda: 0.0).delay(4, None) == 0.0


def test_retry_after_is_obeyed_but_capped() -> None:
    policy = RetryPolicy(retry_after_cap=30.0, random=lambda: 1.0)
    assert policy.delay(1, 7.0) == 7.0
    assert policy.delay(1, 3600.0) == 30.0
    assert policy.delay(3, 0.0) == 0.0


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2024, 3, 5, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("12", now=now) == 12.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("Tue, 05 Mar 2024 08:00:45 GMT", now=now) == 45.0
    assert parse_retry_after("Tue, 05 Mar 2024 07:59:00 GMT", now=now) == 0.0
    assert parse_retry_after("-3", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("") is None


@pytest.mark.live
def test_live_google_read() -> None:
    """Against real Google, when a key and a shared test sheet are provided."""
    import os

    sheet = os.environ.get("FENGQIAO_LIVE_SHEET")
    if not sheet or not os.environ.get("FENGQIAO_GOOGLE_CREDENTIALS"):
        pytest.skip("needs FENGQIAO_LIVE_SHEET and FENGQIAO_GOOGLE_CREDENTIALS")
    wb = read_gsheet(sheet, credentials_path=None)
    assert wb.info.kind == "gsheets"
    assert wb.tables
