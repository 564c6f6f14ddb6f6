"""The one retry policy (fengqiao.retry), against a real HTTP server on 127.0.0.1:
what is retried for a read and for a write, how long it waits, and that the
county's fetch settings and the Sheets reader run by the same rules."""

from __future__ import annotations

import http.server
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from fengqiao.county.collect import fetch_policy
from fengqiao.county.config import FetchSettings
from fengqiao.retry import GaveUp, RetryPolicy, UnusableBody, send_with_retries
from loopback import LoopbackServer


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)
    #: promise more bytes than are sent, then close: a transfer cut short
    cut: bool = False


@dataclass
class Script:
    url: str = ""
    replies: deque[Reply] = field(default_factory=deque)
    hits: list[str] = field(default_factory=list)


@contextmanager
def scripted(*replies: Reply) -> Iterator[Script]:
    """A server answering each request with the next scripted reply (then 200)."""
    script = Script(replies=deque(replies))

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            script.hits.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            reply = script.replies.popleft() if script.replies else Reply()
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply.body) * (2 if reply.cut else 1)))
            self.end_headers()
            self.wfile.write(reply.body)
            if reply.cut:
                self.close_connection = True

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = LoopbackServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    script.url = f"http://127.0.0.1:{httpd.server_address[1]}/x"
    try:
        yield script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def policy(clock: Clock, **kw: Any) -> RetryPolicy:
    return RetryPolicy(**{"max_attempts": 4, "timeout": (2.0, 2.0), "sleep": clock.sleep,
                          "random": lambda: 0.5, **kw})


def call(script: Script, clock: Clock, method: str = "GET", *,
         read: Any = None, **kw: Any) -> bytes:
    with requests.Session() as session:
        return send_with_retries(
            lambda: session.request(method, script.url, timeout=(2.0, 2.0)),
            method=method, url=script.url, policy=policy(clock, **kw),
            read=read or (lambda r: r.content))


def test_a_read_is_retried_with_jittered_exponential_waits() -> None:
    clock = Clock()
    with scripted(Reply(503), Reply(502), Reply(408)) as script:
        assert call(script, clock) == b'{"ok": true}'
    assert script.hits == ["GET"] * 4
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_the_bound_ends_the_call_and_says_how_many_tries() -> None:
    clock = Clock()
    with scripted(*[Reply(503)] * 9) as script, pytest.raises(GaveUp) as gave:
        call(script, clock)
    assert script.hits == ["GET"] * 4
    assert (gave.value.kind, gave.value.status, gave.value.attempts, gave.value.retried) == (
        "status", 503, 4, True)


def test_a_status_that_retrying_cannot_mend_is_not_retried() -> None:
    clock = Clock()
    with scripted(Reply(404), Reply(200)) as script, pytest.raises(GaveUp) as gave:
        call(script, clock)
    assert script.hits == ["GET"]
    assert (gave.value.status, gave.value.attempts, gave.value.retried) == (404, 1, False)
    assert clock.sleeps == []


@pytest.mark.parametrize(("header", "waited"), [("7", 7.0), ("600", 30.0), ("1.5", 1.5)])
def test_retry_after_is_obeyed_up_to_the_cap(header: str, waited: float) -> None:
    clock = Clock()
    with scripted(Reply(429, headers={"Retry-After": header})) as script:
        call(script, clock)
    assert clock.sleeps == [waited]


def test_a_write_is_replayed_only_when_the_server_did_nothing() -> None:
    clock = Clock()
    with scripted(Reply(503), Reply(429)) as script:
        call(script, clock, "POST")
    assert script.hits == ["POST"] * 3
    with scripted(Reply(500), Reply(200)) as script, pytest.raises(GaveUp) as gave:
        call(script, clock, "POST")
    assert script.hits == ["POST"]
    assert (gave.value.status, gave.value.retried) == (500, False)


def test_a_transfer_cut_short_is_retried_for_a_read_but_not_for_a_write() -> None:
    clock = Clock()
    with scripted(Reply(cut=True)) as script:
        assert call(script, clock) == b'{"ok": true}'
    assert script.hits == ["GET", "GET"]
    with scripted(Reply(cut=True)) as script, pytest.raises(GaveUp) as gave:
        call(script, clock, "POST")
    assert script.hits == ["POST"]
    assert (gave.value.kind, gave.value.attempts, gave.value.retried) == ("network", 1, False)


def test_an_unusable_body_is_retried_like_a_broken_transfer() -> None:
    def strict(response: requests.Response) -> bytes:
        if not response.content.startswith(b"{"):
            raise UnusableBody()
        return response.content

    clock = Clock()
    with scripted(Reply(body=b"<html>"), Reply(body=b"<html>")) as script:
        assert call(script, clock, read=strict) == b'{"ok": true}'
    assert script.hits == ["GET"] * 3
    with scripted(*[Reply(body=b"<html>")] * 9) as script, pytest.raises(GaveUp) as gave:
        call(script, clock, read=strict, max_attempts=2)
    assert (gave.value.kind, gave.value.attempts) == ("bad-body", 2)


def test_no_server_is_a_network_failure_after_every_attempt() -> None:
    clock = Clock()
    with scripted() as script:
        pass  # the port is closed again
    with pytest.raises(GaveUp) as gave:
        call(script, clock, max_attempts=3)
    assert (gave.value.kind, gave.value.attempts, gave.value.retried) == ("network", 3, True)
    assert clock.sleeps == [0.5, 1.0]


def test_the_policy_is_a_urllib3_retry_that_can_be_mounted_on_an_adapter() -> None:
    clock = Clock()
    retry = policy(clock).retry()
    assert isinstance(retry, Retry)
    with scripted(Reply(503), Reply(429, headers={"Retry-After": "3"})) as script, \
            requests.Session() as session:
        session.mount("http://", HTTPAdapter(max_retries=retry))
        response = session.get(script.url, timeout=2)
    assert response.status_code == 200
    assert script.hits == ["GET"] * 3
    assert clock.sleeps == [0.5, 3.0]


def test_county_fetch_settings_are_the_same_policy() -> None:
    settings = FetchSettings(timeout=4.0, retries=2, backoff=1.5, concurrency=8)
    county = fetch_policy(settings)
    assert (county.max_attempts, county.base_delay, county.timeout) == (3, 1.5, (4.0, 4.0))
    assert (county.max_delay, county.retry_after_cap) == (
        RetryPolicy().max_delay, RetryPolicy().retry_after_cap)
