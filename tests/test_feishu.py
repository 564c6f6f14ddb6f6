"""Reading a Feishu spreadsheet with the real ``lark-oapi`` client against the
loopback Feishu server: request counts, the token cache, values, merges,
rich cells, names, payloads, and how a spec names a Feishu sheet."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from feishu_server import (
    FeishuServer,
    FeishuSpreadsheet,
    feishu_server,  # noqa: F401  (fixture)
    serial,
)
from fengqiao import clock
from fengqiao.config import from_dict
from fengqiao.errors import SourceError
from fengqiao.sources import is_remote, source_location
from fengqiao.sources.feishu import (
    VALUE_PARAMS,
    api_domain,
    app_credentials,
    read_feishu,
    read_feishu_payload,
    spreadsheet_token,
    workbook_from_payload,
)
from fengqiao.sources.fetched import workbook_from_bytes
from fengqiao.sources.remote import SERVICES, remote_of
from fengqiao.sources.spec import gsheets_id

TOKEN = "shtcnFengXi0001"
APP, SECRET = "cli_fengxi_test", "fengxi-secret-value-0001"


def rows_of(table) -> list[list[object]]:  # type: ignore[no-untyped-def]
    return table.frame.astype(object).values.tolist()


@pytest.fixture
def town(feishu_server: FeishuServer) -> FeishuSpreadsheet:  # noqa: F811
    feishu_server.add_app(APP, SECRET)
    book = feishu_server.add_spreadsheet(TOKEN, apps={APP})
    book.add_sheet("纠纷台账", [
        ["示范镇矛盾纠纷调处化解台账"],
        ["编号", "受理日期", "来源", "星级", "首次调解成功", "涉及人数"],
        ["DZ-001", serial(date(2024, 3, 5)), "网格排查", 1, True, 2],
        [],
        ["DZ-002", "2024.3.6", None, "二星", "否", 3.5, "多出来的列"],
        ["DZ-003", serial(datetime(2024, 3, 7, 12, 0)),
         [{"type": "text", "text": "信"}, {"type": "text", "text": "访"}], 3, None,
         {"type": "url", "text": "见附件", "link": "https://example.cn/a"}],
    ], merges=[(0, 0, 0, 5)])
    book.add_sheet("网格 表", [["网格编号", "村(社区)", "户数"],
                               ["QX-01", "清溪村", 80], ["QX-02", "清溪村", 66]])
    book.add_sheet("旧表", [["编号"], ["X-1"]], hidden=True)
    book.add_sheet("多维表格", [["不是表格"]], resource_type="bitable")
    return book


def read(server: FeishuServer, spreadsheet: str = TOKEN, **kw):  # type: ignore[no-untyped-def]
    return read_feishu(spreadsheet, app_id=APP, app_secret=SECRET, domain=server.url, **kw)


def test_one_token_one_sheet_list_one_batch_read(feishu_server: FeishuServer,  # noqa: F811
                                                 town: FeishuSpreadsheet) -> None:
    read(feishu_server)
    assert feishu_server.routes() == ["token", "sheets", "values"]
    token, sheets, values = feishu_server.requests
    assert token.method == "POST" and token.body == {"app_id": APP, "app_secret": SECRET}
    assert sheets.path == f"/open-apis/sheets/v3/spreadsheets/{TOKEN}/sheets/query"
    assert values.path == f"/open-apis/sheets/v2/spreadsheets/{TOKEN}/values_batch_get"
    grid_ids = [s.sheet_id for s in town.sheets if s.resource_type == "sheet"]
    assert values.query == {"ranges": [",".join(grid_ids)],
                            "valueRenderOption": ["UnformattedValue"]}
    assert VALUE_PARAMS == {"valueRenderOption": "UnformattedValue"}
    issued = list(feishu_server.tokens)
    assert [sheets.token, values.token] == issued * 2


def test_the_token_is_cached_while_valid_and_fetched_again_after(
        feishu_server: FeishuServer, town: FeishuSpreadsheet,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    start = datetime(2024, 12, 1, 8, 0, tzinfo=UTC)
    now = [start]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    read(feishu_server)
    now[0] = start + timedelta(minutes=114)  # 2 h minus the 5-minute margin, not yet
    read(feishu_server)
    assert feishu_server.routes() == ["token", "sheets", "values", "sheets", "values"]
    feishu_server.clear()
    now[0] = start + timedelta(minutes=116)  # inside the margin: a new token
    read(feishu_server)
    assert feishu_server.routes() == ["token", "sheets", "values"]


def test_a_new_secret_never_reuses_the_old_token(feishu_server: FeishuServer,  # noqa: F811
                                                 town: FeishuSpreadsheet) -> None:
    read(feishu_server)
    feishu_server.add_app(APP, "a-reset-secret")
    read_feishu(TOKEN, app_id=APP, app_secret="a-reset-secret", domain=feishu_server.url)
    assert feishu_server.routes() == ["token", "sheets", "values"] * 2


def test_values_merges_rich_cells_and_names(feishu_server: FeishuServer,  # noqa: F811
                                            town: FeishuSpreadsheet) -> None:
    wb = read(feishu_server)
    assert list(wb.tables) == ["纠纷台账", "网格 表", "旧表"]  # the bitable holds no cells
    title = "示范镇矛盾纠纷调处化解台账"
    assert rows_of(wb.tables["纠纷台账"]) == [
        [title] * 6 + [None],
        ["编号", "受理日期", "来源", "星级", "首次调解成功", "涉及人数", None],
        ["DZ-001", 45356, "网格排查", 1, True, 2, None],
        [None] * 7,
        ["DZ-002", "2024.3.6", None, "二星", "否", 3.5, "多出来的列"],
        ["DZ-003", 45358.5, "信访", 3, None, "见附件", None],
    ]
    assert rows_of(wb.tables["网格 表"]) == [["网格编号", "村(社区)", "户数"],
                                             ["QX-01", "清溪村", 80], ["QX-02", "清溪村", 66]]
    assert wb.tables["旧表"].hidden and not wb.tables["纠纷台账"].hidden
    assert wb.tables["纠纷台账"].first_row == 1
    assert (wb.info.kind, wb.info.location) == ("feishu", f"feishu:{TOKEN}")
    assert wb.info.name == f"飞书表格 {TOKEN}"
    assert wb.info.read_at is not None


def test_a_tab_renamed_between_the_list_and_the_values_is_still_read(
        feishu_server: FeishuServer, town: FeishuSpreadsheet) -> None:  # noqa: F811
    from feishu_server import Fault

    feishu_server.fault("values", Fault("action", action=lambda: town.rename("网格 表", "网格")))
    first = read(feishu_server)
    assert list(first.tables) == ["纠纷台账", "网格 表", "旧表"]  # the name the list gave
    assert rows_of(first.tables["网格 表"])[1] == ["QX-01", "清溪村", 80]
    second = read(feishu_server)
    assert list(second.tables) == ["纠纷台账", "网格", "旧表"]
    assert feishu_server.routes() == ["token", "sheets", "values", "sheets", "values"]


@pytest.mark.parametrize("spec", [
    TOKEN, f"feishu:{TOKEN}", f"  feishu: {TOKEN} ",
    f"https://fengxi.feishu.cn/sheets/{TOKEN}?sheet=a1b2c3",
    f"https://fengxi.feishu.cn/sheets/{TOKEN}",
])
def test_token_url_and_prefix_are_accepted(spec: str) -> None:
    assert spreadsheet_token(spec) == TOKEN


def test_a_bad_address_is_refused_before_any_request(feishu_server: FeishuServer,  # noqa: F811
                                                     town: FeishuSpreadsheet) -> None:
    with pytest.raises(SourceError) as err:
        read(feishu_server, "feishu:不是token")
    assert str(err.value) == (
        "“feishu:不是token”不是有效的飞书表格链接或 token。请在浏览器里打开这张表格，复制地址栏里形如 "
        "https://xxx.feishu.cn/sheets/… 的完整链接，或写成 feishu:表格token。")
    assert feishu_server.requests == []


def test_a_spreadsheet_with_no_grid_tab_makes_no_values_read(
        feishu_server: FeishuServer) -> None:  # noqa: F811
    feishu_server.add_app(APP, SECRET)
    feishu_server.add_spreadsheet("shtcnEmpty").add_sheet("多维", [["x"]], resource_type="bitable")
    wb = read(feishu_server, "shtcnEmpty")
    assert wb.tables == {}
    assert feishu_server.routes() == ["token", "sheets"]


def test_payload_round_trips_through_json_and_names_no_secret(
        feishu_server: FeishuServer, town: FeishuSpreadsheet) -> None:  # noqa: F811
    payload = read_feishu_payload(TOKEN, app_id=APP, app_secret=SECRET, domain=feishu_server.url)
    text = json.dumps(payload, ensure_ascii=False)
    for secret in (APP, SECRET, *feishu_server.tokens):
        assert secret not in text
    assert payload["kind"] == "fengqiao-feishu-payload" and payload["version"] == 1
    again = workbook_from_payload(json.loads(text))
    live = workbook_from_payload(payload)
    assert {n: rows_of(t) for n, t in again.tables.items()} == \
        {n: rows_of(t) for n, t in live.tables.items()}
    # the snapshot layer finds the adapter from the payload's kind
    replay = workbook_from_bytes(text.encode(), "json", name="x.json", location=f"feishu:{TOKEN}")
    assert replay.info.kind == "feishu"
    assert list(replay.tables) == ["纠纷台账", "网格 表", "旧表"]


@pytest.mark.parametrize("payload", [
    {"kind": "fengqiao-feishu-payload"},
    {"kind": "fengqiao-feishu-payload", "spreadsheetToken": "x", "sheets": "no", "values": {}},
    {"kind": "fengqiao-gsheets-payload", "spreadsheetToken": "x", "sheets": [], "values": {}},
])
def test_a_damaged_payload_is_a_source_error(payload: dict[str, object]) -> None:
    with pytest.raises(SourceError, match="飞书表格快照的内容格式不对"):
        workbook_from_payload(payload)


def test_a_payload_of_no_known_service_is_refused() -> None:
    with pytest.raises(SourceError, match="不是 fengqiao 保存的在线表格快照"):
        workbook_from_bytes(b'{"kind": "something-else"}', "json", name="x.json", location="x")


# --- credentials and where the API is -------------------------------------------------------


def _config(tmp_path: Path, **keys: object):  # type: ignore[no-untyped-def]
    return from_dict({"town": "枫溪镇", **keys}, tmp_path / "fengqiao.yml", tmp_path)


def test_credentials_from_the_environment_win(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FENGQIAO_FEISHU_APP_ID", "cli_env")
    monkeypatch.setenv("FENGQIAO_FEISHU_APP_SECRET", "env-secret")
    config = _config(tmp_path, feishu_app_id="cli_file", feishu_app_secret="file-secret")
    assert app_credentials(config) == ("cli_env", "env-secret")
    monkeypatch.delenv("FENGQIAO_FEISHU_APP_SECRET")
    assert app_credentials(config) == ("cli_env", "file-secret")
    assert "file-secret" not in repr(config)


@pytest.mark.parametrize(("keys", "missing"), [
    ({}, "App ID 和 App Secret"),
    ({"feishu_app_id": "cli_file"}, "App Secret"),
    ({"feishu_app_secret": "file-secret"}, "App ID"),
])
def test_missing_credentials_say_which_and_where_to_put_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str],
        missing: str) -> None:
    monkeypatch.delenv("FENGQIAO_FEISHU_APP_ID", raising=False)
    monkeypatch.delenv("FENGQIAO_FEISHU_APP_SECRET", raising=False)
    with pytest.raises(SourceError) as err:
        app_credentials(_config(tmp_path, **keys))
    assert str(err.value) == (
        f"没有提供飞书应用的 {missing}，无法读取飞书表格。请设置环境变量 FENGQIAO_FEISHU_APP_ID 和 "
        "FENGQIAO_FEISHU_APP_SECRET，或在 fengqiao.yml 里写 feishu_app_id 和 feishu_app_secret"
        "（建立飞书应用的步骤见 README 的「飞书表格」一节）。")
    assert "file-secret" not in str(err.value)


def test_the_emulator_variable_must_be_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGQIAO_FEISHU_EMULATOR", raising=False)
    assert api_domain() == "https://open.feishu.cn"
    monkeypatch.setenv("FENGQIAO_FEISHU_EMULATOR", "http://127.0.0.1:8123/")
    assert api_domain() == "http://127.0.0.1:8123"
    monkeypatch.setenv("FENGQIAO_FEISHU_EMULATOR", "https://evil.example.com")
    with pytest.raises(SourceError, match="只能指向本机地址"):
        api_domain()


# --- how a spec names a Feishu sheet ---------------------------------------------------------


def test_the_registry_tells_feishu_from_google_and_from_a_path(tmp_path: Path) -> None:
    assert [s.kind for s in SERVICES] == ["gsheets", "feishu"]
    url = f"https://fengxi.feishu.cn/sheets/{TOKEN}?sheet=x"
    for spec in (f"feishu:{TOKEN}", url):
        found = remote_of(spec)
        assert found is not None and found[0].kind == "feishu" and found[1] == TOKEN
        assert is_remote(spec) and gsheets_id(spec) is None
        assert source_location(spec) == f"feishu:{TOKEN}"
    assert source_location("gsheets:abc") == "abc"  # Google's stores keep their bare ids
    assert remote_of(tmp_path / "台账.xlsx") is None and not is_remote(tmp_path / "台账.xlsx")


def test_a_wiki_address_is_refused_with_the_way_to_the_sheet() -> None:
    with pytest.raises(SourceError) as err:
        remote_of("https://fengxi.feishu.cn/wiki/wikcnAbCdEf")
    assert str(err.value).startswith("这是飞书知识库页面的链接，不是表格本身的链接。")
    assert "feishu:表格token" in str(err.value)
