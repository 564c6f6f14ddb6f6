"""The loopback HTTP server every network test runs against.

A client that gives up mid-response (a timeout test, a collector stopped
half-way, a browser closing a tab) leaves the handler writing into a closed
socket; the standard server prints that traceback to stderr as "Exception
occurred during processing of request", which reads like a failure in a
passing run. This server stays quiet about a client that went away and
still prints anything else a handler raises.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any

#: what a handler meets when its client has closed the connection
CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server for tests: handler threads never keep the
    process alive, and a client that hung up is not reported."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], CLIENT_GONE):
            return
        super().handle_error(request, client_address)
