"""Every way a Feishu read can fail: retried where right (the one policy
Google reads use), bounded, counted, and told in Chinese without a secret."""

from __future__ import annotations

import logging

import pytest

from feishu_server import (
    Fault,
    FeishuServer,
    FeishuSpreadsheet,
    feishu_server,  # noqa: F401  (fixture)
    rate_limited,
    status_fault,
)
from fengqiao.errors import SourceError
from fengqiao.retry import RetryPolicy
from fengqiao.sources.feishu import read_feishu

TOKEN = "shtcnTownSheet0001"
APP, SECRET = "cli_town_test", "town-secret-never-shown"


class Clock:
    """Records the waits instead of sleeping them."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def town(feishu_server: FeishuServer) -> FeishuSpreadsheet:  # noqa: F811
    feishu_server.add_app(APP, SECRET)
    book = feishu_server.add_spreadsheet(TOKEN, apps={APP})
    book.add_sheet("纠纷台账", [["编号", "受理日期"], ["DZ-001", 45356]])
    book.add_sheet("网格", [["网格编号"], ["QX-01"]])
    return book


def read(server: FeishuServer, clock: Clock, *, secret: str = SECRET,
         timeout: tuple[float, float] = (2.0, 2.0)):  # type: ignore[no-untyped-def]
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=30.0, retry_after_cap=30.0,
                         timeout=timeout, sleep=clock.sleep, random=lambda: 0.5)
    return read_feishu(TOKEN, app_id=APP, app_secret=secret, domain=server.url, retry=policy)


def failure(server: FeishuServer, clock: Clock, **kw: object) -> str:
    with pytest.raises(SourceError) as err:
        read(server, clock, **kw)  # type: ignore[arg-type]
    return str(err.value)


# --- retried, then fine ----------------------------------------------------------------------


@pytest.mark.parametrize(("reset", "waited"), [(7, 7.0), (600, 30.0), (0, 0.0)])
def test_429_waits_for_the_rate_limit_reset_up_to_the_cap(
        feishu_server: FeishuServer, town: FeishuSpreadsheet, clock: Clock,  # noqa: F811
        reset: int, waited: float) -> None:
    feishu_server.fault("values", rate_limited(reset=reset))
    assert list(read(feishu_server, clock).tables) == ["纠纷台账", "网格"]
    assert feishu_server.routes() == ["token", "sheets", "values", "values"]
    assert clock.sleeps == [waited]


def test_429_on_the_token_request_is_retried_too(feishu_server: FeishuServer,  # noqa: F811
                                                 town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("token", rate_limited(reset=3), times=2)
    read(feishu_server, clock)
    assert feishu_server.routes() == ["token", "token", "token", "sheets", "values"]
    assert clock.sleeps == [3.0, 3.0]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_jittered_backoff(
        feishu_server: FeishuServer, town: FeishuSpreadsheet, clock: Clock,  # noqa: F811
        status: int) -> None:
    feishu_server.fault("sheets", status_fault(status), times=2)
    read(feishu_server, clock)
    assert feishu_server.routes() == ["token", "sheets", "sheets", "sheets", "values"]
    assert clock.sleeps == [0.5, 1.0]


def test_a_500_on_the_token_request_is_retried(feishu_server: FeishuServer,  # noqa: F811
                                               town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("token", status_fault(500))
    read(feishu_server, clock)
    assert feishu_server.routes() == ["token", "token", "sheets", "values"]


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_broken_bodies_are_retried(feishu_server: FeishuServer, town: FeishuSpreadsheet,  # noqa: F811
                                   clock: Clock, kind: str) -> None:
    feishu_server.fault("values", Fault(kind))
    assert read(feishu_server, clock).tables["网格"].frame.iat[1, 0] == "QX-01"
    assert feishu_server.routes() == ["token", "sheets", "values", "values"]


def test_a_delay_beyond_the_read_timeout_is_retried(feishu_server: FeishuServer,  # noqa: F811
                                                    town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("sheets", Fault("delay", delay=1.0))
    read(feishu_server, clock, timeout=(2.0, 0.25))
    assert feishu_server.routes() == ["token", "sheets", "sheets", "values"]


def test_a_token_expiring_mid_read_is_fetched_again_once(feishu_server: FeishuServer,  # noqa: F811
                                                         town: FeishuSpreadsheet,
                                                         clock: Clock) -> None:
    feishu_server.fault("values", Fault("action", action=feishu_server.expire_tokens))
    wb = read(feishu_server, clock)
    assert list(wb.tables) == ["纠纷台账", "网格"]
    assert feishu_server.routes() == ["token", "sheets", "values", "token", "values"]
    first, second = (r.token for r in feishu_server.requests if r.route == "values")
    assert first != second
    assert clock.sleeps == []  # a refresh is not a retry: no wait


# --- the bound ------------------------------------------------------------------------------------


def test_thirty_429s_mean_five_requests_and_a_clear_message(
        feishu_server: FeishuServer, town: FeishuSpreadsheet, clock: Clock) -> None:  # noqa: F811
    feishu_server.fault("sheets", rate_limited(reset=2), times=30)
    assert failure(feishu_server, clock) == (
        f"飞书接口的调用次数超过了频率限制，已尝试 5 次仍被拒绝（表格 {TOKEN}）。"
        "请过几分钟再运行；同一个应用的所有任务共用一个限额，经常出现时请把它们错开。")
    assert feishu_server.routes() == ["token"] + ["sheets"] * 5
    assert clock.sleeps == [2.0] * 4


def test_server_errors_after_the_bound(feishu_server: FeishuServer,  # noqa: F811
                                       town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("values", status_fault(503), times=8)
    assert failure(feishu_server, clock) == (
        f"飞书表格服务暂时出错（HTTP 503），已尝试 5 次仍未成功（表格 {TOKEN}）。"
        "请稍后再试；上一次成功读取的快照不受影响。")
    assert feishu_server.routes() == ["token", "sheets"] + ["values"] * 5


def test_truncated_bodies_after_the_bound(feishu_server: FeishuServer,  # noqa: F811
                                          town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("sheets", Fault("truncate"), times=8)
    assert failure(feishu_server, clock) == (
        f"飞书表格返回的数据不完整，已尝试 5 次仍未成功（表格 {TOKEN}）。"
        "请稍后再试；上一次成功读取的快照不受影响。")
    assert feishu_server.count("sheets") == 5


def test_timeouts_after_the_bound(feishu_server: FeishuServer,  # noqa: F811
                                  town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("sheets", Fault("delay", delay=0.6), times=3)
    policy = RetryPolicy(max_attempts=3, timeout=(2.0, 0.2), sleep=clock.sleep,
                         random=lambda: 0.5)
    with pytest.raises(SourceError) as err:
        read_feishu(TOKEN, app_id=APP, app_secret=SECRET, domain=feishu_server.url, retry=policy)
    assert str(err.value) == (f"连接飞书开放平台超时，已尝试 3 次仍未成功（表格 {TOKEN}）。"
                              "请检查网络是否通畅，或稍后再试。")
    assert feishu_server.count("sheets") == 3


def test_an_unreachable_server(clock: Clock) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = RetryPolicy(max_attempts=2, timeout=(0.5, 0.5), sleep=clock.sleep, random=lambda: 0.5)
    with pytest.raises(SourceError) as err:
        read_feishu(TOKEN, app_id=APP, app_secret=SECRET, domain=f"http://127.0.0.1:{port}",
                    retry=policy)
    assert str(err.value) == (f"无法连接飞书开放平台，已尝试 2 次仍未成功（表格 {TOKEN}）。"
                              "请检查网络连接和代理设置（需要能访问 open.feishu.cn），或稍后再试。")


# --- not retried: asking again cannot help ----------------------------------------------------------


def test_a_token_rejected_twice_stops(feishu_server: FeishuServer,  # noqa: F811
                                      town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("sheets", status_fault(400, 99991663, "Invalid access token"), times=5)
    assert failure(feishu_server, clock) == (
        "飞书不接受本应用的访问令牌（已重新获取过一次）。应用可能刚被停用，或 App Secret 刚被重置；"
        "请在开发者后台确认应用已启用、凭据是新的，然后重试。")
    assert feishu_server.routes() == ["token", "sheets", "token", "sheets"]


def test_a_wrong_secret(feishu_server: FeishuServer, town: FeishuSpreadsheet,  # noqa: F811
                        clock: Clock) -> None:
    assert failure(feishu_server, clock, secret="not-the-secret") == (
        "飞书拒绝了本应用的凭据（飞书的说明：app secret invalid）：App ID 或 App Secret 不对，"
        "或应用已被停用。请到飞书开放平台的开发者后台，在应用的「凭证与基础信息」里核对 App ID 和 "
        "App Secret，改正后重试。")
    assert feishu_server.routes() == ["token"]


def test_the_sheet_scope_not_granted(feishu_server: FeishuServer,  # noqa: F811
                                     town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.scoped.clear()
    message = failure(feishu_server, clock)
    assert message.startswith("本应用还没有读取飞书电子表格的权限。")
    assert "sheets:spreadsheet:readonly" in message and "发布新版本" in message
    assert feishu_server.routes() == ["token", "sheets"]


def test_the_app_not_added_to_the_sheet(feishu_server: FeishuServer,  # noqa: F811
                                        town: FeishuSpreadsheet, clock: Clock) -> None:
    town.apps = {"cli_someone_else"}
    assert failure(feishu_server, clock) == (
        f"本应用没有权限打开飞书表格 {TOKEN}。请表格的所有者打开这张表格，点右上角「…」→「更多」→"
        "「添加文档应用」，搜索并加入本应用（可阅读即可），然后重试。")
    assert feishu_server.routes() == ["token", "sheets"]


def test_a_deleted_spreadsheet(feishu_server: FeishuServer,  # noqa: F811
                               town: FeishuSpreadsheet, clock: Clock) -> None:
    del feishu_server.spreadsheets[TOKEN]
    assert failure(feishu_server, clock) == (
        f"找不到飞书表格 {TOKEN}：表格可能已被删除、移进了回收站，或者链接抄错了。"
        "请在浏览器里打开这张表格，复制地址栏里的完整链接（…/sheets/…）重新填写。")
    assert feishu_server.routes() == ["token", "sheets"]


def test_a_tab_deleted_between_the_list_and_the_values(feishu_server: FeishuServer,  # noqa: F811
                                                       town: FeishuSpreadsheet,
                                                       clock: Clock) -> None:
    gone = town.sheet("网格").sheet_id
    feishu_server.fault("values", Fault("action", action=lambda: town.delete("网格")))
    assert failure(feishu_server, clock) == (
        f"飞书拒绝了读取表格 {TOKEN} 各工作表内容的请求（飞书的说明：wrong sheet id: {gone}）。"
        "如果刚才有人删除或改动了工作表，请稍后重试；如果台账特别大，可能超过了飞书一次能返回的"
        "数据量，请把往年的记录移到另一张表格。上一次成功读取的快照不受影响。")
    assert feishu_server.routes() == ["token", "sheets", "values"]
    assert list(read(feishu_server, clock).tables) == ["纠纷台账"]  # the next read is fine


def test_an_unknown_error_code_shows_feishus_words(feishu_server: FeishuServer,  # noqa: F811
                                                   town: FeishuSpreadsheet, clock: Clock) -> None:
    feishu_server.fault("sheets", status_fault(409, 1234567, "something odd"))
    assert failure(feishu_server, clock) == (
        f"飞书表格返回了意外的错误（HTTP 409，错误码 1234567）（飞书的说明：something odd），"
        f"表格 {TOKEN}。请稍后再试；上一次成功读取的快照不受影响。")
    assert feishu_server.count("sheets") == 1


# --- secrets never leak ------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["wrong-secret", "token-rejected", "not-added", "429",
                                      "reset", "echo"])
def test_no_secret_in_messages_or_logs(feishu_server: FeishuServer,  # noqa: F811
                                       town: FeishuSpreadsheet, clock: Clock, scenario: str,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, the SDK's included
    secret = SECRET
    if scenario == "wrong-secret":
        secret = "a-wrong-secret-also-private"
    elif scenario == "token-rejected":
        feishu_server.fault("values", status_fault(400, 99991663, "token bad"), times=5)
    elif scenario == "not-added":
        town.apps = set()
    elif scenario == "429":
        feishu_server.fault("sheets", rate_limited(), times=5)
    elif scenario == "reset":
        feishu_server.fault("values", Fault("reset"), times=5)
    else:  # a server that repeats the credentials back in its error text
        feishu_server.fault("sheets", status_fault(400, 7777, f"bad app {APP} with {SECRET}"))
    message = failure(feishu_server, clock, secret=secret)
    for private in (APP, SECRET, secret, "Bearer", "Authorization", *feishu_server.tokens):
        assert private not in message
        assert private not in caplog.text
    if scenario in ("429", "reset"):
        assert "Feishu request failed" in caplog.text
