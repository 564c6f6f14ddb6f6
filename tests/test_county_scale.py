"""County collection at scale: many town sites fetched a bounded number at a
time, and a second run that asks only for what changed (304 Not Modified)."""

from __future__ import annotations

import http.server
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from fengqiao.county import collect, read_log
from fengqiao.county.config import CountyConfig, FetchSettings, TownSource, county_config
from fengqiao.metrics import parse_period
from loopback import LoopbackServer
from test_county_data import town_contract, write_site

Q1 = parse_period("2024-Q1")
NOW = datetime(2024, 4, 8, 9, 0, tzinfo=UTC)
TOWNS = 40
CONCURRENCY = 4


@dataclass
class Site:
    url: str
    bodies: int = 0
    not_modified: int = 0
    conditional: int = 0
    in_flight: int = 0
    requests: int = 0
    most_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def town_sites(root: Path, *, etags: dict[str, str] | None = None) -> Iterator[Site]:
    """Every town's site under ``root/<town>/``. The first two requests wait
    for each other (up to 5 s), so a collector that fetches one at a time is
    caught; with ``etags`` (path → tag), ETag / If-None-Match are used
    instead of the file time."""
    site = Site(url="")
    meet = threading.Barrier(2)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            with site.lock:
                site.in_flight += 1
                site.most_in_flight = max(site.most_in_flight, site.in_flight)
                if self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"):
                    site.conditional += 1
                site.requests += 1
                first_two = site.requests <= 2
            try:
                if first_two:
                    with suppress(threading.BrokenBarrierError):
                        meet.wait(timeout=5)
                if etags is not None:
                    self._with_etag(etags)
                else:
                    super().do_GET()
            finally:
                with site.lock:
                    site.in_flight -= 1

        def _with_etag(self, tags: dict[str, str]) -> None:
            path = unquote(self.path)
            tag = tags[path]
            if self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.end_headers()
                return
            body = (root / path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("ETag", tag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def send_response(self, code: int, message: str | None = None) -> None:
            with site.lock:
                if code == 304:
                    site.not_modified += 1
                elif code == 200:
                    site.bodies += 1
            super().send_response(code, message)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = LoopbackServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    site.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield site
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return town_contract(1, "镇", "2024-Q1")


def _publish(root: Path, contract: dict[str, Any], n: int) -> list[str]:
    names = [f"第{i:02d}镇" for i in range(n)]
    for name in names:
        write_site(root / name, {**contract, "town": name})
    return names


def _county(tmp_path: Path, url: str, names: list[str]) -> CountyConfig:
    towns = [TownSource(name, "url", f"{url}/{name}") for name in names]
    return county_config("示范县", collection_dir=tmp_path / "collection", towns=towns,
                         fetch=FetchSettings(timeout=10, retries=1, backoff=0,
                                             concurrency=CONCURRENCY))


def _stored(cfg: CountyConfig) -> list[Path]:
    return sorted(p for p in (cfg.collection_dir / Q1.label).rglob("*.json"))


def test_many_towns_are_fetched_a_bounded_number_at_a_time(
        tmp_path: Path, contract: dict[str, Any]) -> None:
    names = _publish(tmp_path / "sites", contract, TOWNS)
    with town_sites(tmp_path / "sites") as site:
        cfg = _county(tmp_path, site.url, names)
        receipts = collect(cfg, [Q1], now=NOW)
    assert [r.town for r in receipts] == names  # the log keeps the configured order
    assert all(r.status == "valid" and not r.unchanged for r in receipts)
    assert site.bodies == TOWNS
    assert 2 <= site.most_in_flight <= CONCURRENCY
    assert [r.town for r in read_log(cfg.collection_dir, Q1.label)] == names


def test_a_second_run_fetches_only_what_changed(tmp_path: Path,
                                                 contract: dict[str, Any]) -> None:
    names = _publish(tmp_path / "sites", contract, TOWNS)
    with town_sites(tmp_path / "sites") as site:
        cfg = _county(tmp_path, site.url, names)
        first = collect(cfg, [Q1], now=NOW)
        stored = _stored(cfg)
        site.bodies = 0
        # one town republishes (a newer file); the others are as they were
        changed = write_site(tmp_path / "sites" / names[3],
                             {**contract, "town": names[3], "generated_at": "2024-04-09T00:00:00Z"})
        later = os.stat(changed).st_mtime + 60
        os.utime(changed, (later, later))
        second = collect(cfg, [Q1], now=NOW)
    assert site.conditional == TOWNS      # every request carried the last validators
    assert site.bodies == 1               # only the changed file came with a body
    assert site.not_modified == TOWNS - 1
    unchanged = [r for r in second if r.unchanged]
    assert len(unchanged) == TOWNS - 1
    for before, after in zip(first, second, strict=True):
        if after.unchanged:
            assert (after.file, after.sha256, after.status) == (before.file, before.sha256, "valid")
    assert second[3].file != first[3].file and not second[3].unchanged
    assert len(_stored(cfg)) == len(stored) + 1  # one new copy, nothing replaced
    assert set(stored) <= set(_stored(cfg))


def test_a_run_stopped_half_way_resumes(tmp_path: Path, contract: dict[str, Any]) -> None:
    names = _publish(tmp_path / "sites", contract, 10)
    with town_sites(tmp_path / "sites") as site:
        half = _county(tmp_path, site.url, names[:5])  # as if stopped after 5 towns
        collect(half, [Q1], now=NOW)
        site.bodies = 0
        full = _county(tmp_path, site.url, names)
        receipts = collect(full, [Q1], now=NOW)
    assert [r.unchanged for r in receipts] == [True] * 5 + [False] * 5
    assert site.bodies == 5
    assert all(r.status == "valid" for r in receipts)


def test_etag_and_if_none_match(tmp_path: Path, contract: dict[str, Any]) -> None:
    names = _publish(tmp_path / "sites", contract, 3)
    tags = {f"/{n}/downloads/2024-Q1/metrics.json": f'"v1-{i}"' for i, n in enumerate(names)}
    with town_sites(tmp_path / "sites", etags=tags) as site:
        cfg = _county(tmp_path, site.url, names)
        first = collect(cfg, [Q1], now=NOW)
        assert [r.etag for r in first] == ['"v1-0"', '"v1-1"', '"v1-2"']
        tags[f"/{names[1]}/downloads/2024-Q1/metrics.json"] = '"v2-1"'
        second = collect(cfg, [Q1], now=NOW)
    assert [r.unchanged for r in second] == [True, False, True]
    assert second[1].etag == '"v2-1"'
    assert site.bodies == 3 + 1 and site.not_modified == 2
    # the log on disk carries the validators for the next run (towns are
    # logged as their fetches finish, so the second run's lines in any order)
    lines = (cfg.collection_dir / Q1.label / "log.jsonl").read_text(encoding="utf-8").splitlines()
    last = {json.loads(line)["town"]: json.loads(line)["etag"] for line in lines}
    assert last == {names[0]: '"v1-0"', names[1]: '"v2-1"', names[2]: '"v1-2"'}


def test_concurrency_is_a_checked_setting(tmp_path: Path) -> None:
    from fengqiao.county.config import load_county_config
    from fengqiao.errors import FengqiaoError

    path = tmp_path / "county.yml"
    path.write_text("county: 示范县\nfetch:\n  concurrency: 0\ntowns: []\n", encoding="utf-8")
    with pytest.raises(FengqiaoError, match="concurrency"):
        load_county_config(path)
    path.write_text("county: 示范县\nfetch:\n  concurrency: 16\n", encoding="utf-8")
    assert load_county_config(path).fetch.concurrency == 16
