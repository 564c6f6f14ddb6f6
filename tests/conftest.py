"""Shared test fixtures. Each test module owns its own data; this file only
holds what several stages need."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]

# CI must be deterministic: a random failure would block everyone's landing.
# `.ci/run` selects the "ci" profile (the same examples on every run, no
# example database); a local run keeps the random search ("dev"). A failure
# found locally is fixed, then pinned with @example so CI replays it.
settings.register_profile("ci", derandomize=True, database=None, max_examples=100,
                          deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("FENGQIAO_HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", default=False,
                     help="rewrite tests/golden/ from the current output instead of comparing")


CHROMIUM = Path("/usr/bin/chromium")
#: without the background-networking flags Chromium tries Google's hosts at start
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """One Playwright and one Chromium per test process: Playwright's sync API
    refuses to start a second time while the first one's event loop lives, so
    every browser test shares this one."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (Debian package chromium)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


#: the only skips a full CI run may report: they need what CI never has
ALLOWED_SKIPS = ("FENGQIAO_LIVE_SHEET",)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With FENGQIAO_NO_SKIPS=1 (set by .ci/run), a skipped test fails the
    run: a missing package or browser must not turn tests into silent passes."""
    if os.environ.get("FENGQIAO_NO_SKIPS") != "1":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    unexpected = [r for r in reporter.stats.get("skipped", [])
                  if not any(word in str(r.longrepr) for word in ALLOWED_SKIPS)]
    if unexpected:
        for r in unexpected:
            reporter.write_line(f"UNEXPECTED SKIP: {r.nodeid}: {r.longrepr}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
