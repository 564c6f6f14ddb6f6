"""Progress on a terminal: a spinner for a step that takes a while.

The library reports its steps through a ``progress(message)`` callback and
the CLI prints each as a line ("· 读取台账：…"). A read or an engine run can
take several seconds with nothing moving, so on a terminal a step that has
run for more than a second also gets a spinner with its name under the
lines. In a pipe, a CI log or a test, stderr is not a terminal and only the
plain lines appear, exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

import click
from rich.console import Console
from rich.status import Status

#: a step shorter than this shows no spinner (it would only flicker)
DELAY_SECONDS = 1.0


class StepProgress:
    """A ``progress`` callback: prints each step as a line on stderr and, on
    a terminal, spins while a step runs longer than :data:`DELAY_SECONDS`.
    Use it as a context manager so the spinner is gone before the summary."""

    def __init__(self, *, console: Console | None = None, delay: float = DELAY_SECONDS) -> None:
        self.console = console or Console(stderr=True, highlight=False)
        self.delay = delay
        self.spinning = self.console.is_terminal
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._status: Status | None = None

    def __call__(self, message: str) -> None:
        if not self.spinning:
            click.echo(f"· {message}", err=True)
            return
        self.console.print(f"· {message}", markup=False)
        self.spin_after_delay(message)

    def spin_after_delay(self, message: str) -> None:
        """Replace the current spinner by one for ``message``, shown only if
        nothing else happens within the delay (and only on a terminal)."""
        self._stop()
        if not self.spinning:
            return
        self._timer = threading.Timer(self.delay, self._start, args=(message,))
        self._timer.daemon = True
        self._timer.start()

    def _start(self, message: str) -> None:
        with self._lock:
            if self._status is None:
                self._status = self.console.status(f"{message}……", spinner="dots")
                self._status.start()

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._lock:
            if self._status is not None:
                self._status.stop()
                self._status = None

    @property
    def spinner_shown(self) -> bool:
        """Whether the spinner is on the terminal right now."""
        return self._status is not None

    def finish(self) -> None:
        """No spinner from now on (``serve`` once the preview runs: its later
        messages are events, not steps that end)."""
        self._stop()
        self.spinning = False

    def __enter__(self) -> StepProgress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.finish()


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner for one long call without steps of its own (reading and
    checking a ledger), on a terminal only and after :data:`DELAY_SECONDS`;
    prints nothing otherwise."""
    with StepProgress() as progress:
        progress.spin_after_delay(message)
        yield
