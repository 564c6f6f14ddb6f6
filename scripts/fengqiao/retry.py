"""One retry policy for every HTTP call: the Google Sheets reader and county collect.

A failed request is tried again only when trying again can help, a bounded
number of times, with waits that grow and are jittered (twenty towns
retrying at once must not march in step), and a server's ``Retry-After`` is
obeyed up to a cap. Which failures are worth a retry is urllib3's
:class:`~urllib3.util.Retry`, the rules requests itself runs by:

* a request that never reached the server (no connection, connect timeout)
  is retried whatever its method;
* a failure after it was sent (read timeout, reset, a truncated body) is
  retried for reads only: replaying a write that did run would do it twice;
* a status is retried when it says "try later": 408, 429 and 5xx gateway
  errors for reads, but for writes only 429 and 503, which promise that
  nothing was done.

:class:`PolicyRetry` is that ``Retry`` with our waits (full jitter, a
capped ``Retry-After``, an injectable ``sleep`` so tests run instantly), so
it can also be mounted on a requests ``HTTPAdapter``. The calls themselves
go through :func:`send_with_retries` instead, one loop over one ``Retry``,
because two things happen where an adapter cannot see them: a body that
arrives cut short or is not the JSON promised (urllib3 decides before the
body is read), and Google's token request, which shares the transport and
would multiply the attempts if the adapter retried as well.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Self, TypeVar

import requests
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util import Retry

from . import clock

log = logging.getLogger(__name__)

#: statuses that say "try again later" to a read
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
#: statuses that also promise nothing was done, so even a write may be replayed
WRITE_RETRY_STATUSES = frozenset({429, 503})
#: methods that change nothing on the server, so a read failure may be replayed
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

T = TypeVar("T")
FailureKind = Literal["status", "timeout", "network", "bad-body"]


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` is either delta-seconds or an HTTP date (RFC 9110).

    More lenient than urllib3's parser, which refuses "1.5" and "-3": a
    server that sends them still means "wait", so we wait (0 for a past
    or negative value); ``None`` when the text means nothing."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or clock.now())).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the user a server cannot be reached.

    ``max_attempts`` counts every request sent, the first included. The wait
    before attempt ``n + 1`` is uniform in ``[0, min(max_delay, base_delay *
    2**(n-1))]`` (full jitter, so twenty towns retrying at once do not march
    in step), unless the server sent ``Retry-After``, which is obeyed up to
    ``retry_after_cap`` seconds. ``timeout`` is (connect, read) seconds per
    request. ``sleep`` and ``random`` are injectable so tests run instantly
    and deterministically.
    """

    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 30.0
    retry_after_cap: float = 30.0
    timeout: tuple[float, float] = (10, 60)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_cap))
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return self.random() * ceiling

    def retry(self) -> PolicyRetry:
        """A fresh urllib3 ``Retry`` carrying this policy (one per call)."""
        return PolicyRetry(
            total=max(1, self.max_attempts) - 1,
            allowed_methods=READ_METHODS,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=self.base_delay,
            backoff_max=self.max_delay,
            respect_retry_after_header=True,
            retry_after_max=int(self.retry_after_cap),
            raise_on_status=False,
            policy=self,
        )


class PolicyRetry(Retry):
    """urllib3's ``Retry`` with the waits of a :class:`RetryPolicy`.

    urllib3 waits nothing before the first retry, adds its jitter on top of
    the exponential wait, accepts only whole seconds in ``Retry-After`` and
    sleeps with ``time.sleep``; each of those is replaced here, and a write
    is retried on the statuses that promise nothing was done."""

    def __init__(self, *args: Any, policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.policy = policy or RetryPolicy()

    def new(self, **kw: Any) -> Self:
        kw.setdefault("policy", self.policy)
        return super().new(**kw)

    def get_backoff_time(self) -> float:
        return self.policy.delay(max(1, len(self.history)), None)

    def get_retry_after(self, response: Any) -> float | None:
        after = parse_retry_after(response.headers.get("Retry-After"))
        return None if after is None else min(after, self.policy.retry_after_cap)

    def wait(self, response: Any = None) -> float:
        """Seconds before the next attempt: the server's ``Retry-After``
        (capped) when the last response had one, else the jittered backoff."""
        if self.respect_retry_after_header and response is not None:
            after = self.get_retry_after(response)
            if after is not None:
                return after
        return self.get_backoff_time()

    def sleep(self, response: Any = None) -> None:
        self.policy.sleep(self.wait(response))

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        if self._is_method_retryable(method):
            return status_code in self.status_forcelist
        return status_code in WRITE_RETRY_STATUSES


class GaveUp(Exception):
    """A call failed for good. ``kind`` says how (a status, a timeout, the
    network, an unusable body), ``attempts`` how many requests were sent and
    ``retried`` whether the failure was of a kind worth retrying (so the
    bound, not the failure itself, ended the call). The caller words it."""

    def __init__(self, kind: FailureKind, *, attempts: int, retried: bool,
                 response: requests.Response | None = None) -> None:
        super().__init__(kind)
        self.kind: FailureKind = kind
        self.attempts = attempts
        self.retried = retried
        self.response = response

    @property
    def status(self) -> int | None:
        return self.response.status_code if self.response is not None else None


class NotSent(Exception):
    """Raised by a ``send`` callback when the request never left (e.g. the
    access token could not be fetched first): safe to retry for any method."""

    def __init__(self, *, timeout: bool) -> None:
        super().__init__("timeout" if timeout else "network")
        self.timeout = timeout


class UnusableBody(Exception):
    """Raised by a ``read`` callback when a 2xx body cannot be used (not the
    JSON promised): retried like a broken connection, reads only."""


def _transport_error(exc: requests.RequestException) -> Exception | None:
    """The urllib3 (or socket) error under a requests exception; ``None`` for
    a mistake no retry can mend (a malformed URL, too many redirects)."""
    for inner in (*exc.args[:1], exc.__cause__, exc.__context__):
        if isinstance(inner, MaxRetryError):
            inner = inner.reason
        if isinstance(inner, HTTPError | OSError):
            return inner
    return None


def _kind(error: Exception) -> FailureKind:
    timeout = isinstance(error, ReadTimeoutError) or (
        isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError))
    return "timeout" if timeout else "network"


def _next(retry: PolicyRetry, method: str, url: str, *, response: Any = None,
          error: Exception | None = None) -> tuple[PolicyRetry | None, bool]:
    """The ``Retry`` for the next attempt, or ``None`` when urllib3's rules
    say stop; the flag is true when the bound stopped it (the failure itself
    was worth retrying), false when the error is not safe to replay."""
    try:
        return retry.increment(method, url, response=response, error=error), True
    except MaxRetryError:
        return None, True
    except Exception as exc:
        if error is not None and exc is error:  # urllib3 re-raises what it will not retry
            return None, False
        raise


def send_with_retries(send: Callable[[], requests.Response], *, method: str, url: str,
                      policy: RetryPolicy, read: Callable[[requests.Response], T],
                      label: str = "HTTP", replayable: bool = False) -> T:
    """Call ``send`` until ``read`` accepts a 2xx response or the policy says stop.

    ``send`` makes one request; ``read`` turns a 2xx response into the result
    (raising :class:`UnusableBody` for a bad body; any other exception it
    raises ends the call as is). The end of the road is a :class:`GaveUp`.
    ``label`` names the service in the log, which never shows headers or
    bodies, so no token can leak through it. ``replayable`` marks a request
    that changes nothing whatever its verb (a POST that fetches an access
    token): it is retried like a read.
    """
    method = "GET" if replayable else method.upper()
    retry = policy.retry()
    while True:
        attempt = len(retry.history) + 1
        response: requests.Response | None = None
        error: Exception | None = None
        try:
            response = send()
            if response.ok:
                return read(response)
            kind: FailureKind = "status"
        except UnusableBody:
            kind, error = "bad-body", ProtocolError("unusable response body")
        except NotSent as exc:
            kind, error = ("timeout" if exc.timeout else "network"), ConnectTimeoutError(str(exc))
        except requests.RequestException as exc:
            cause = _transport_error(exc)
            if cause is None:
                raise
            kind = _kind(cause)
            # urllib3 tells connect failures (safe to replay) from read
            # failures (the server may have acted); anything else it cannot
            # place is taken as the latter
            error = cause if isinstance(cause, ConnectTimeoutError | ReadTimeoutError
                                        | ProtocolError) else ProtocolError(str(cause))
            response = None
        if error is None:
            assert response is not None
            if not retry.is_retry(method, response.status_code):
                raise GaveUp(kind, attempts=attempt, retried=False, response=response)
            nxt, retried = _next(retry, method, url, response=response.raw)
        else:
            nxt, retried = _next(retry, method, url, error=error)
        if nxt is None:
            raise GaveUp(kind, attempts=attempt, retried=retried, response=response)
        wait = nxt.wait(response.raw if response is not None and error is None else None)
        log.info("%s request failed (%s, HTTP %s), attempt %d/%d, retrying in %.2fs",
                 label, kind, response.status_code if response is not None else None,
                 attempt, max(1, policy.max_attempts), wait)
        if response is not None:
            response.close()
        policy.sleep(wait)
        retry = nxt
