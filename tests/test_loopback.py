"""The tests' loopback server: silent when a client hangs up, loud otherwise."""

from __future__ import annotations

import socket
import struct
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from loopback import LoopbackServer


def serve(body: bytes | None) -> tuple[LoopbackServer, threading.Event]:
    """A server whose handler writes ``body`` in 64 KB pieces, or raises a
    ValueError when ``body`` is None; the event is set when it is done."""
    done = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            try:
                if body is None:
                    raise ValueError("a handler bug")
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for start in range(0, len(body), 65536):
                    self.wfile.write(body[start:start + 65536])
            finally:
                done.set()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = LoopbackServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, done


def test_a_client_that_hangs_up_is_not_reported(capsys: pytest.CaptureFixture[str]) -> None:
    httpd, done = serve(b"x" * 32_000_000)
    try:
        client = socket.create_connection(httpd.server_address)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        client.recv(1024)  # the response has started
        # close with a reset, not a polite FIN: the handler's next writes fail
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        assert done.wait(30)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "Exception occurred" not in capsys.readouterr().err


def test_a_handler_that_fails_is_still_reported(capsys: pytest.CaptureFixture[str]) -> None:
    httpd, done = serve(None)
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/"
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(url, timeout=10)  # noqa: S310 - loopback
        assert done.wait(30)
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capsys.readouterr().err
    assert "Exception occurred during processing of request" in err
    assert "ValueError: a handler bug" in err
