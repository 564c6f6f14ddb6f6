"""Every way a Google read can fail: retried where right, bounded, counted,
and told to the user in Chinese without leaking a secret."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from fengqiao.errors import SourceError
from fengqiao.sources.gsheets import RetryPolicy, read_gsheet
from sheets_server import (
    FakeSpreadsheet,
    Fault,
    LoopbackAdapter,
    ServiceAccount,
    SheetsServer,
    loopback_session,
    make_service_account,
    sheets_server,  # noqa: F401  (fixture)
    status_fault,
)

SID = "town-sheet-0001"
EMAIL = "fengqiao-test@demo-project.iam.gserviceaccount.com"


class Clock:
    """Records the waits instead of sleeping them."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def policy(clock: Clock, *, max_attempts: int = 5,
           timeout: tuple[float, float] = (2.0, 2.0)) -> RetryPolicy:
    return RetryPolicy(max_attempts=max_attempts, base_delay=1.0, max_delay=30.0,
                       retry_after_cap=30.0, timeout=timeout, sleep=clock.sleep,
                       random=lambda: 0.5)


@pytest.fixture
def account(sheets_server: SheetsServer, tmp_path: Path) -> ServiceAccount:  # noqa: F811
    return make_service_account(sheets_server, tmp_path)


@pytest.fixture
def town(sheets_server: SheetsServer) -> FakeSpreadsheet:  # noqa: F811
    book = sheets_server.add_spreadsheet(SID, "示范镇台账", shared_with={EMAIL: "reader"})
    book.add_sheet("纠纷台账", [["编号", "受理日期"], ["DZ-001", 45356]])
    book.add_sheet("网格", [["网格编号"], ["QX-01"]])
    return book


def read(server: SheetsServer, account: ServiceAccount, clock: Clock, **kw):  # type: ignore[no-untyped-def]
    retry = policy(clock, **kw)
    return read_gsheet(SID, credentials_path=str(account.path),
                       session=loopback_session(server), retry=retry)


def failure(server: SheetsServer, account: ServiceAccount, clock: Clock, **kw) -> str:
    with pytest.raises(SourceError) as err:
        read(server, account, clock, **kw)
    return str(err.value)


# --- retried, then fine --------------------------------------------------------------


def test_503_twice_then_ok(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                           town: FakeSpreadsheet, clock: Clock) -> None:
    sheets_server.fault("metadata", status_fault(503), times=2)
    wb = read(sheets_server, account, clock)
    assert list(wb.tables) == ["纠纷台账", "网格"]
    assert sheets_server.routes() == ["token", "metadata", "metadata", "metadata", "batchGet"]
    assert clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408])
def test_server_errors_on_batch_get_are_retried(sheets_server: SheetsServer,  # noqa: F811
                                                account: ServiceAccount, town: FakeSpreadsheet,
                                                clock: Clock, code: int) -> None:
    sheets_server.fault("batchGet", status_fault(code))
    wb = read(sheets_server, account, clock)
    assert wb.tables["网格"].frame.iat[1, 0] == "QX-01"
    assert sheets_server.routes() == ["token", "metadata", "batchGet", "batchGet"]
    assert clock.sleeps == [0.5]


@pytest.mark.parametrize(("header", "waited"), [("7", 7.0), ("600", 30.0), ("0", 0.0)])
def test_429_honours_retry_after_up_to_the_cap(sheets_server: SheetsServer,  # noqa: F811
                                               account: ServiceAccount, town: FakeSpreadsheet,
                                               clock: Clock, header: str, waited: float) -> None:
    sheets_server.fault("metadata", status_fault(429, retry_after=header))
    read(sheets_server, account, clock)
    assert clock.sleeps == [waited]
    assert sheets_server.count("metadata") == 2


def test_429_retry_after_as_http_date(sheets_server: SheetsServer,  # noqa: F811
                                      account: ServiceAccount, town: FakeSpreadsheet,
                                      clock: Clock) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    sheets_server.fault("batchGet", status_fault(429, retry_after=when))
    read(sheets_server, account, clock)
    assert len(clock.sleeps) == 1
    assert 17.0 < clock.sleeps[0] <= 20.0


def test_delay_beyond_the_read_timeout_is_retried(sheets_server: SheetsServer,  # noqa: F811
                                                  account: ServiceAccount, town: FakeSpreadsheet,
                                                  clock: Clock) -> None:
    sheets_server.fault("metadata", Fault("delay", delay=1.0))
    wb = read(sheets_server, account, clock, timeout=(2.0, 0.25))
    assert list(wb.tables) == ["纠纷台账", "网格"]
    assert sheets_server.routes() == ["token", "metadata", "metadata", "batchGet"]


@pytest.mark.parametrize("kind", ["reset", "truncate", "drop"])
def test_broken_responses_are_retried(sheets_server: SheetsServer,  # noqa: F811
                                      account: ServiceAccount, town: FakeSpreadsheet,
                                      clock: Clock, kind: str) -> None:
    sheets_server.fault("batchGet", Fault(kind))
    wb = read(sheets_server, account, clock)
    assert wb.tables["纠纷台账"].frame.iat[1, 0] == "DZ-001"
    assert sheets_server.routes() == ["token", "metadata", "batchGet", "batchGet"]
    assert clock.sleeps == [0.5]


# --- retried, but bounded ------------------------------------------------------------------


def test_thirty_429s_mean_five_requests_not_thirty(sheets_server: SheetsServer,  # noqa: F811
                                                   account: ServiceAccount, town: FakeSpreadsheet,
                                                   clock: Clock) -> None:
    sheets_server.fault("metadata", status_fault(429), times=30)
    message = failure(sheets_server, account, clock)
    assert sheets_server.count("metadata") == 5
    assert sheets_server.count("batchGet") == 0
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert message == (f"Google 表格的访问次数超过了限额，已尝试 5 次仍被拒绝（表格 {SID}）。"
                       "请过几分钟再运行；如果经常出现，请减少同时读取这张表格的任务。")


def test_server_error_after_the_bound(sheets_server: SheetsServer,  # noqa: F811
                                      account: ServiceAccount, town: FakeSpreadsheet,
                                      clock: Clock) -> None:
    sheets_server.fault("batchGet", status_fault(503), times=10)
    message = failure(sheets_server, account, clock, max_attempts=3)
    assert sheets_server.routes() == ["token", "metadata", "batchGet", "batchGet", "batchGet"]
    assert message == (f"Google 表格服务暂时出错（HTTP 503），已尝试 3 次仍未成功（表格 {SID}）。"
                       "请稍后再试；上一次成功读取的快照不受影响。")


def test_timeouts_after_the_bound(sheets_server: SheetsServer,  # noqa: F811
                                  account: ServiceAccount, town: FakeSpreadsheet,
                                  clock: Clock) -> None:
    sheets_server.fault("metadata", Fault("delay", delay=1.0), times=2)
    message = failure(sheets_server, account, clock, max_attempts=2, timeout=(2.0, 0.2))
    assert sheets_server.count("metadata") == 2
    assert message == (f"连接 Google 表格超时，已尝试 2 次仍未成功（表格 {SID}）。"
                       "请检查网络是否通畅，或稍后再试。")


def test_truncated_json_after_the_bound(sheets_server: SheetsServer,  # noqa: F811
                                        account: ServiceAccount, town: FakeSpreadsheet,
                                        clock: Clock) -> None:
    sheets_server.fault("batchGet", Fault("truncate"), times=3)
    message = failure(sheets_server, account, clock, max_attempts=3)
    assert sheets_server.count("batchGet") == 3
    assert message == (f"Google 表格返回的数据不完整，已尝试 3 次仍未成功（表格 {SID}）。"
                       "请稍后再试；上一次成功读取的快照不受影响。")


def test_connection_resets_after_the_bound(sheets_server: SheetsServer,  # noqa: F811
                                           account: ServiceAccount, town: FakeSpreadsheet,
                                           clock: Clock) -> None:
    sheets_server.fault("metadata", Fault("reset"), times=4)
    message = failure(sheets_server, account, clock, max_attempts=4)
    assert sheets_server.count("metadata") == 4
    assert message == (f"无法连接 Google 表格服务器，已尝试 4 次仍未成功（表格 {SID}）。"
                       "请检查网络连接和代理设置，或稍后再试。")


def test_unreachable_server(account: ServiceAccount, clock: Clock) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    probe.close()
    session = requests.Session()
    session.mount("https://oauth2.googleapis.com", LoopbackAdapter(dead))
    session.mount("https://sheets.googleapis.com", LoopbackAdapter(dead))
    with pytest.raises(SourceError) as err:
        read_gsheet(SID, credentials_path=str(account.path), session=session,
                    retry=policy(clock, max_attempts=3))
    assert str(err.value) == (f"无法连接 Google 表格服务器，已尝试 3 次仍未成功（表格 {SID}）。"
                              "请检查网络连接和代理设置，或稍后再试。")
    assert clock.sleeps == [0.5, 1.0]


# --- not retried ---------------------------------------------------------------------------------


def test_403_not_shared_names_the_service_account(sheets_server: SheetsServer,  # noqa: F811
                                                  account: ServiceAccount,
                                                  town: FakeSpreadsheet, clock: Clock) -> None:
    town.shared_with = {"someone-else@example.com": "writer"}
    message = failure(sheets_server, account, clock)
    assert sheets_server.routes() == ["token", "metadata"]
    assert clock.sleeps == []
    assert message == (
        f"服务账号 {EMAIL} 没有权限打开表格 {SID}。"
        f"请在 Google 表格右上角点“共享”，把表格共享给 {EMAIL}，权限选“查看者”，然后重试。")


def test_scripted_403_permission_denied(sheets_server: SheetsServer,  # noqa: F811
                                        account: ServiceAccount, town: FakeSpreadsheet,
                                        clock: Clock) -> None:
    sheets_server.fault("batchGet", status_fault(403), times=5)
    message = failure(sheets_server, account, clock)
    assert sheets_server.count("batchGet") == 1
    assert "共享给 fengqiao-test@demo-project.iam.gserviceaccount.com，权限选“查看者”" in message


def test_403_sheets_api_disabled(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                                 town: FakeSpreadsheet, clock: Clock) -> None:
    sheets_server.fault("metadata", Fault(
        "status", status=403, reason="PERMISSION_DENIED",
        message="Google Sheets API has not been used in project 1234 before or it is disabled."))
    message = failure(sheets_server, account, clock)
    assert sheets_server.count("metadata") == 1
    assert message == ("服务账号所在的 Google Cloud 项目还没有启用 Google Sheets API。"
                       "请在 Google Cloud 控制台“API 和服务”里启用 Google Sheets API，几分钟后重试。")


def test_404_deleted_or_wrong_id(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                                 clock: Clock) -> None:
    message = failure(sheets_server, account, clock)
    assert sheets_server.routes() == ["token", "metadata"]
    assert message == (f"找不到表格 {SID}：表格可能已被删除，或者表格 ID、链接抄错了。"
                       "请在浏览器里打开这张表格，复制地址栏里的完整链接重新填写。")


def test_scripted_404_is_not_retried(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                                     town: FakeSpreadsheet, clock: Clock) -> None:
    sheets_server.fault("metadata", status_fault(404), times=3)
    assert failure(sheets_server, account, clock).startswith(f"找不到表格 {SID}：")
    assert sheets_server.count("metadata") == 1


def test_400_shows_googles_reason(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                                  town: FakeSpreadsheet, clock: Clock) -> None:
    sheets_server.fault("batchGet", status_fault(400), times=3)
    message = failure(sheets_server, account, clock)
    assert sheets_server.count("batchGet") == 1
    assert message == (f"Google 表格拒绝了对表格 {SID} 的请求（Google 的说明：Invalid request.）。"
                       "如果刚刚有人改了工作表名称或删除了工作表，请稍后重试。")


def test_tab_renamed_between_metadata_and_values(sheets_server: SheetsServer,  # noqa: F811
                                                 account: ServiceAccount, town: FakeSpreadsheet,
                                                 clock: Clock) -> None:
    sheets_server.fault("batchGet", Fault("action", action=lambda: town.rename("网格", "网格表")))
    message = failure(sheets_server, account, clock)
    assert sheets_server.count("batchGet") == 1
    assert message == (f"Google 表格拒绝了对表格 {SID} 的请求"
                       "（Google 的说明：Unable to parse range: '网格'）。"
                       "如果刚刚有人改了工作表名称或删除了工作表，请稍后重试。")
    # the next read sees the new name
    assert list(read(sheets_server, account, clock).tables) == ["纠纷台账", "网格表"]


REJECTED = (f"Google 拒绝了服务账号 {EMAIL} 的凭据（密钥可能已被删除、停用或过期）。"
            "请在 Google Cloud 控制台为这个服务账号新建 JSON 密钥，替换旧文件后重试。")


def test_401_refreshes_once_then_gives_up(sheets_server: SheetsServer,  # noqa: F811
                                          account: ServiceAccount, town: FakeSpreadsheet,
                                          clock: Clock) -> None:
    sheets_server.fault("metadata", status_fault(401), times=5)
    assert failure(sheets_server, account, clock) == REJECTED
    assert sheets_server.routes() == ["token", "metadata", "token", "metadata"]


def test_401_once_is_an_expired_token_and_recovers(sheets_server: SheetsServer,  # noqa: F811
                                                   account: ServiceAccount,
                                                   town: FakeSpreadsheet, clock: Clock) -> None:
    sheets_server.fault("metadata", status_fault(401))
    assert list(read(sheets_server, account, clock).tables) == ["纠纷台账", "网格"]
    assert sheets_server.routes() == ["token", "metadata", "token", "metadata", "batchGet"]


def test_key_unknown_to_google(sheets_server: SheetsServer, town: FakeSpreadsheet,  # noqa: F811
                               tmp_path: Path, clock: Clock) -> None:
    unknown = make_service_account(sheets_server, tmp_path, register=False)
    with pytest.raises(SourceError) as err:
        read_gsheet(SID, credentials_path=str(unknown.path),
                    session=loopback_session(sheets_server), retry=policy(clock))
    assert str(err.value) == REJECTED
    assert sheets_server.routes() == ["token"]


def test_key_signed_by_another_private_key(sheets_server: SheetsServer,  # noqa: F811
                                           town: FakeSpreadsheet, tmp_path: Path,
                                           clock: Clock) -> None:
    make_service_account(sheets_server, tmp_path)  # registers the real public key
    forged = make_service_account(None, tmp_path, key_label="forged")
    with pytest.raises(SourceError) as err:
        read_gsheet(SID, credentials_path=str(forged.path),
                    session=loopback_session(sheets_server), retry=policy(clock))
    assert str(err.value) == REJECTED
    assert sheets_server.routes() == ["token"]


def test_revoked_account(sheets_server: SheetsServer, account: ServiceAccount,  # noqa: F811
                         town: FakeSpreadsheet, clock: Clock) -> None:
    sheets_server.revoked.add(account.email)
    assert failure(sheets_server, account, clock) == REJECTED
    assert sheets_server.routes() == ["token"]


# --- secrets never leak ----------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["401", "403", "429", "reset", "revoked"])
def test_no_secret_in_messages_or_logs(sheets_server: SheetsServer,  # noqa: F811
                                       account: ServiceAccount, town: FakeSpreadsheet,
                                       clock: Clock, scenario: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="fengqiao")
    if scenario == "401":
        sheets_server.fault("metadata", status_fault(401), times=5)
    elif scenario == "403":
        town.shared_with = {}
    elif scenario == "429":
        sheets_server.fault("batchGet", status_fault(429), times=5)
    elif scenario == "reset":
        sheets_server.fault("batchGet", Fault("reset"), times=5)
    else:
        sheets_server.revoked.add(account.email)
    message = failure(sheets_server, account, clock)
    key_body = account.private_key.splitlines()[5]
    secrets_seen = [key_body, "PRIVATE KEY", account.info["private_key_id"], "Bearer",
                    "Authorization", *sheets_server.tokens]
    logged = caplog.text
    for secret in secrets_seen:
        assert secret not in message
        assert secret not in logged
    if scenario in ("429", "reset"):
        assert "retrying" in logged


# --- the key file ----------------------------------------------------------------------------------

HOW = ("请在 Google Cloud 控制台的“服务账号”页面为服务账号新建一个 JSON 密钥，"
       "下载后用 --credentials 指定，或设置环境变量 FENGQIAO_GOOGLE_CREDENTIALS。")


def _write(tmp_path: Path, name: str, content: object) -> Path:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return path


def _credential_error(path: Path | str | None) -> str:
    with pytest.raises(SourceError) as err:
        read_gsheet(SID, credentials_path=None if path is None else str(path))
    return str(err.value)


def test_no_key_given_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGQIAO_GOOGLE_CREDENTIALS", raising=False)
    assert _credential_error(None) == "没有提供 Google 服务账号密钥，无法读取 Google 表格。" + HOW


def test_key_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    assert _credential_error(path) == f"找不到 Google 服务账号密钥文件 {path}。请检查路径是否写错；" + HOW


def test_key_path_is_a_folder(tmp_path: Path) -> None:
    assert _credential_error(tmp_path) == (
        f"无法读取 Google 服务账号密钥文件 {tmp_path}。"
        "请确认它是一个可读的文件（不是文件夹），并且当前用户有读取权限。")


def test_key_file_not_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "key.json", "-----BEGIN PRIVATE KEY-----\nabc\n")
    message = _credential_error(path)
    assert message == f"{path} 不是有效的 JSON 文件，不像是 Google 服务账号密钥。" + HOW
    assert "abc" not in message


def test_key_file_is_an_oauth_client_secret(tmp_path: Path) -> None:
    path = _write(tmp_path, "client.json", {"installed": {"client_id": "x", "client_secret": "s3cr3t"}})
    message = _credential_error(path)
    assert message == (f"{path} 是 OAuth 客户端密钥，不是服务账号密钥。"
                       "请在“服务账号”页面（不是“OAuth 客户端”）创建并下载 JSON 密钥。")
    assert "s3cr3t" not in message


def test_key_file_of_another_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "user.json", {"type": "authorized_user", "refresh_token": "r"})
    assert _credential_error(path) == (
        f"{path} 不是 Google 服务账号密钥（type 应为 service_account）。" + HOW)


def test_key_file_missing_fields(tmp_path: Path) -> None:
    path = _write(tmp_path, "half.json", {"type": "service_account", "client_email": "a@b"})
    assert _credential_error(path) == (
        f"Google 服务账号密钥 {path} 缺少字段：private_key、token_uri。文件可能被改动过，请重新下载密钥。")


def test_key_file_with_a_broken_private_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.json", {
        "type": "service_account", "client_email": "a@b.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
        "private_key": "-----BEGIN PRIVATE KEY-----\nnotakeyatall\n-----END PRIVATE KEY-----\n"})
    message = _credential_error(path)
    assert message == (f"Google 服务账号密钥 {path} 里的私钥无法识别，文件可能已损坏。请重新下载密钥。")
    assert "notakeyatall" not in message
