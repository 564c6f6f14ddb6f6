"""County collection at scale (issue 16) against a real loopback
ThreadingHTTPServer: hundreds of town sites fetched a bounded number at a
time, a run stopped half way (Ctrl-C or a kill) that keeps every town it
finished and resumes with only the rest, a second run that costs a 304 (or,
from a server without validators, no new copy) per unchanged file, and the
one retry policy for every town.

No mocks of requests, no timing asserts: the server counts what it saw, and
where a race could decide an outcome it is pinned by a barrier or a gate.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import pytest

from fengqiao.county import Receipt, collect, read_log
from fengqiao.county.collect import append_log, log_path
from fengqiao.county.config import CountyConfig, FetchSettings, TownSource, county_config
from fengqiao.metrics import dumps, parse_period
from loopback import LoopbackServer
from test_county_data import town_contract

Q1 = parse_period("2024-Q1")
NOW = datetime(2024, 4, 8, 9, 0, tzinfo=UTC)
LATER = datetime(2024, 4, 9, 9, 0, tzinfo=UTC)


@dataclass
class Request:
    town: str
    conditional: bool
    status: int


@dataclass
class Farm:
    """What the town sites were asked and how they answered."""

    url: str = ""
    server: http.server.HTTPServer | None = None
    bodies: dict[str, bytes] = field(default_factory=dict)
    #: town → 503s still to give before the file (-1: never give it)
    failures: dict[str, int] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    #: answer this many requests, then hold every later one until ``gate`` opens
    answer_first: int | None = None
    answered: int = 0
    gate: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        """How many requests so far: ``since(mark)`` is what came after."""
        with self.lock:
            return len(self.seen)

    def since(self, mark: int) -> list[Request]:
        with self.lock:
            return list(self.seen[mark:])


def _tag(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:16]}"'


@contextmanager
def town_farm(bodies: dict[str, bytes], *, validators: Literal["etag", "none"] = "etag",
              meet: int = 0, delay: float = 0.0, answer_first: int | None = None) -> Iterator[Farm]:
    """Every town's site, ``/<town>/downloads/<period>/metrics.json`` from
    memory, on one ThreadingHTTPServer. ``meet``: the first ``meet`` requests
    wait for each other (up to 5 s), so a collector that never has that many
    in flight is caught. ``delay``: seconds each answer takes, so requests
    overlap. ``validators="none"``: no ETag or Last-Modified, so no 304."""
    farm = Farm(bodies=bodies, answer_first=answer_first)
    barrier = threading.Barrier(meet) if meet > 1 else None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            town = unquote(self.path).split("/")[1]
            conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
            with farm.lock:
                farm.in_flight += 1
                farm.most_in_flight = max(farm.most_in_flight, farm.in_flight)
                first = farm.answered < meet
                hold = farm.answer_first is not None and farm.answered >= farm.answer_first
                farm.answered += 1
            try:
                if first and barrier is not None:
                    with suppress(threading.BrokenBarrierError):
                        barrier.wait(timeout=5)
                if hold:
                    farm.gate.wait(timeout=120)
                if delay:
                    time.sleep(delay)
                status = self._answer(town, conditional)
            finally:
                with farm.lock:
                    farm.in_flight -= 1
            with farm.lock:
                farm.seen.append(Request(town, conditional, status))

        def _answer(self, town: str, conditional: bool) -> int:
            with farm.lock:
                left = farm.failures.get(town, 0)
                if left > 0:
                    farm.failures[town] = left - 1
                body = farm.bodies.get(town)
            if left or body is None:
                status = 503 if left else 404
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return status
            tag = _tag(body)
            if validators == "etag" and self.headers.get("If-None-Match") == tag:
                self.send_response(304)
                self.send_header("ETag", tag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return 304
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            if validators == "etag":
                self.send_header("ETag", tag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return 200

        def log_message(self, *args: Any) -> None:
            pass

    httpd = LoopbackServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    farm.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    farm.server = httpd
    try:
        yield farm
    finally:
        farm.gate.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def contract() -> dict[str, Any]:
    return town_contract(1, "镇", "2024-Q1")


def _names(n: int) -> list[str]:
    return [f"第{i:03d}镇" for i in range(n)]


def _bodies(contract: dict[str, Any], names: list[str]) -> dict[str, bytes]:
    return {name: dumps({**contract, "town": name}).encode("utf-8") for name in names}


#: what the county's check of a real file costs (about 30 ms of the JSON
#: Schema check per town, under the GIL) would make the tests of hundreds of
#: towns slow; they are about fetching and logging, so their towns publish a
#: small file the check turns down at once. Each is still received, stored
#: and logged like any other.
STUB_REASON = "文件的格式版本是 （空），县里只能读取 1.x 版本。"


def _stubs(names: list[str]) -> dict[str, bytes]:
    return {name: json.dumps({"town": name}, ensure_ascii=False).encode("utf-8") for name in names}


def _county(tmp_path: Path, url: str, names: list[str], *, concurrency: int,
            retries: int = 0, timeout: float = 10) -> CountyConfig:
    towns = [TownSource(name, "url", f"{url}/{name}") for name in names]
    return county_config("示范县", collection_dir=tmp_path / "collection", towns=towns,
                         fetch=FetchSettings(timeout=timeout, retries=retries, backoff=0,
                                             concurrency=concurrency))


def _stored(cfg: CountyConfig) -> set[Path]:
    return set((cfg.collection_dir / Q1.label).rglob("*.json"))


def _latest(cfg: CountyConfig) -> dict[str, Receipt]:
    out: dict[str, Receipt] = {}
    for r in read_log(cfg.collection_dir, Q1.label):
        out[r.town] = r
    return out


# -- bounded concurrency -------------------------------------------------------


def test_hundreds_of_towns_never_more_than_concurrency_at_once(tmp_path: Path) -> None:
    concurrency = 8
    names = _names(320)
    # the first `concurrency` requests wait for each other: reaching the bound
    # is certain, not luck; 2 ms per answer keeps the workers overlapping
    with town_farm(_stubs(names), meet=concurrency, delay=0.002) as farm:
        assert isinstance(farm.server, http.server.ThreadingHTTPServer)
        cfg = _county(tmp_path, farm.url, names, concurrency=concurrency)
        receipts = collect(cfg, [Q1], now=NOW)
    assert farm.most_in_flight == concurrency > 1
    assert len(farm.seen) == len(names)
    assert [r.town for r in receipts] == names  # the configured order, however they raced
    assert all(r.status == "invalid" and r.reason == STUB_REASON and r.file for r in receipts)
    assert sorted(_latest(cfg)) == names
    assert len(_stored(cfg)) == len(names)


# -- a run stopped half way ------------------------------------------------------


def test_ctrl_c_keeps_every_finished_town_and_the_rerun_fetches_the_rest(
        tmp_path: Path) -> None:
    concurrency, stop_at = 4, 60
    names = _names(200)
    logged: list[str] = []
    lock = threading.Lock()

    def interrupt(receipt: Receipt) -> None:
        # already in the log when this runs; "Ctrl-C" from the 60th on, so a
        # thread that finishes a town after it stops too (the bound is exact)
        with lock:
            logged.append(receipt.town)
            if len(logged) >= stop_at:
                raise KeyboardInterrupt

    with town_farm(_stubs(names)) as farm:
        cfg = _county(tmp_path, farm.url, names, concurrency=concurrency)
        with pytest.raises(KeyboardInterrupt):
            collect(cfg, [Q1], now=NOW, on_receipt=interrupt)
        first = farm.since(0)
        served = {q.town for q in first if q.status == 200}
        # every town the server answered is in the log, and nothing else: the
        # fetches under way finished and were logged, none started after
        assert set(_latest(cfg)) == served == set(logged)
        assert stop_at <= len(served) <= stop_at + concurrency - 1
        assert len(first) == len(served)
        assert all(r.file for r in _latest(cfg).values())

        mark = farm.mark()
        receipts = collect(cfg, [Q1], now=LATER)
        second = farm.since(mark)
    assert {q.town for q in second if not q.conditional} == set(names) - served
    assert {q.town for q in second if q.conditional} == served
    assert all(q.status == 304 for q in second if q.conditional)
    assert all(q.status == 200 for q in second if not q.conditional)
    assert [r.town for r in receipts] == names
    assert {r.town for r in receipts if r.unchanged} == served
    latest = _latest(cfg)
    assert sorted(latest) == names and all(r.file for r in latest.values())
    assert len(_stored(cfg)) == len(names)  # one copy per town, none twice


_CHILD = """
import json, sys
from pathlib import Path
from fengqiao.county import collect
from fengqiao.county.config import FetchSettings, TownSource, county_config
from fengqiao.metrics import parse_period
job = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
towns = [TownSource(n, "url", f"{job['url']}/{n}") for n in job["names"]]
cfg = county_config("示范县", collection_dir=Path(job["collection"]), towns=towns,
                    fetch=FetchSettings(timeout=120, retries=0, backoff=0, concurrency=4))
collect(cfg, [parse_period("2024-Q1")])
"""


def test_a_killed_run_keeps_every_finished_town_and_the_rerun_fetches_the_rest(
        tmp_path: Path) -> None:
    """A collector killed outright (SIGKILL, a power cut) while 4 requests
    hang: the 80 towns answered before are in the log, and the next run asks
    unconditionally only for the other 120."""
    answered = 80
    names = _names(200)
    with town_farm(_stubs(names), answer_first=answered) as farm:
        cfg = _county(tmp_path, farm.url, names, concurrency=4)
        job = tmp_path / "job.json"
        job.write_text(json.dumps({"url": farm.url, "names": names,
                                   "collection": str(cfg.collection_dir)}), encoding="utf-8")
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(job)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        log = log_path(cfg.collection_dir, Q1.label)
        try:
            deadline = time.monotonic() + 120  # a bound for a stuck run, not a timing assert
            while time.monotonic() < deadline and child.poll() is None:
                if log.exists() and log.read_bytes().count(b"\n") >= answered:
                    break
                time.sleep(0.05)
            assert child.poll() is None, child.communicate()[1].decode("utf-8", "replace")
            assert log.read_bytes().count(b"\n") == answered
        finally:
            child.kill()  # SIGKILL: no handler, no finally, no flush
            child.communicate()
        served = {q.town for q in farm.since(0) if q.status == 200}
        assert len(served) == answered
        assert set(_latest(cfg)) == served
        with farm.lock:  # from now on answer everything (the held four stay held)
            farm.answer_first = None

        mark = farm.mark()
        receipts = collect(cfg, [Q1], now=LATER)
        second = farm.since(mark)
    assert {q.town for q in second if not q.conditional} == set(names) - served
    assert {q.town for q in second if q.conditional} == served
    assert all(q.status == 304 for q in second if q.conditional)
    assert all(r.status == "invalid" and r.file for r in receipts)
    assert sorted(_latest(cfg)) == names
    assert len(_stored(cfg)) == len(names)


# -- the second run ----------------------------------------------------------------


def test_second_run_with_etags_is_all_304_and_a_change_is_exactly_what_comes(
        tmp_path: Path, contract: dict[str, Any]) -> None:
    names = _names(60)
    bodies = _bodies(contract, names)
    with town_farm(bodies) as farm:
        cfg = _county(tmp_path, farm.url, names, concurrency=6)
        first = collect(cfg, [Q1], now=NOW)
        stored = _stored(cfg)
        assert all(q.status == 200 and not q.conditional for q in farm.since(0))

        mark = farm.mark()
        second = collect(cfg, [Q1], now=LATER)
        asked = farm.since(mark)
        assert len(asked) == len(names)
        assert all(q.conditional and q.status == 304 for q in asked)
        assert all(r.unchanged and r.status == "valid" for r in second)
        assert [(r.file, r.sha256) for r in second] == [(r.file, r.sha256) for r in first]
        assert _stored(cfg) == stored

        changed = {names[4], names[31], names[59]}
        for name in changed:
            bodies[name] = dumps({**contract, "town": name,
                                  "generator": "fengqiao 0.2.1"}).encode("utf-8")
        mark = farm.mark()
        third = collect(cfg, [Q1], now=LATER)
        asked = farm.since(mark)
    assert all(q.conditional for q in asked)
    assert Counter(q.status for q in asked) == {200: 3, 304: len(names) - 3}
    assert {q.town for q in asked if q.status == 200} == changed
    assert {r.town for r in third if not r.unchanged} == changed
    assert all(r.status == "valid" for r in third)
    new = _stored(cfg) - stored
    assert len(new) == 3 and stored <= _stored(cfg)  # three new copies, none replaced
    for r in third:
        if r.town in changed:
            assert r.sha256 == hashlib.sha256(bodies[r.town]).hexdigest()
            assert cfg.collection_dir / str(r.file) in new


def test_second_run_without_validators_compares_sha256(
        tmp_path: Path, contract: dict[str, Any]) -> None:
    names = _names(40)
    bodies = _bodies(contract, names)
    with town_farm(bodies, validators="none") as farm:
        cfg = _county(tmp_path, farm.url, names, concurrency=4)
        first = collect(cfg, [Q1], now=NOW)
        stored = _stored(cfg)
        assert all(r.etag is None and r.last_modified is None for r in first)

        changed = {names[7], names[22]}
        for name in changed:
            bodies[name] = dumps({**contract, "town": name,
                                  "generator": "fengqiao 0.2.1"}).encode("utf-8")
        mark = farm.mark()
        second = collect(cfg, [Q1], now=LATER)
        asked = farm.since(mark)
    # nothing to send back, so every request is plain and every answer a body
    assert len(asked) == len(names)
    assert all(not q.conditional and q.status == 200 for q in asked)
    for before, after in zip(first, second, strict=True):
        if after.town in changed:
            assert not after.unchanged and after.sha256 != before.sha256
        else:  # the same bytes: logged unchanged, judged as before, no new copy
            assert after.unchanged
            assert (after.file, after.sha256, after.status) == (before.file, before.sha256, "valid")
            assert after.received_at == LATER.isoformat()
    assert len(_stored(cfg) - stored) == 2 and stored <= _stored(cfg)


# -- the one retry policy ------------------------------------------------------------


def test_retry_policy_is_shared_and_a_failure_stays_with_its_town(
        tmp_path: Path, contract: dict[str, Any]) -> None:
    names = _names(30)
    flaky, down = names[5], names[9]
    with town_farm(_bodies(contract, names)) as farm:
        farm.failures = {flaky: 2, down: -1}
        cfg = _county(tmp_path, farm.url, names, concurrency=4, retries=2)
        receipts = collect(cfg, [Q1], now=NOW)
        asked = farm.since(0)
    per_town = Counter(q.town for q in asked)
    assert per_town[flaky] == 3 and per_town[down] == 3  # 1 try + 2 retries each
    assert all(per_town[n] == 1 for n in names if n not in (flaky, down))
    by_town = {r.town: r for r in receipts}
    assert by_town[flaky].status == "valid"
    failed = by_town[down]
    assert failed.status == "failed" and failed.file is None
    assert failed.reason == (f"{farm.url}/{down}/downloads/2024-Q1/metrics.json"
                             " 返回 HTTP 503，共尝试 3 次仍未成功。")
    assert [n for n, r in by_town.items() if r.status != "valid"] == [down]
    assert {r.town for r in read_log(cfg.collection_dir, Q1.label)} == set(names)


# -- the log itself ------------------------------------------------------------------


def _receipt(town: str, i: int = 0) -> Receipt:
    return Receipt(period=Q1.label, town=town, received_at=NOW.isoformat(), status="failed",
                   reason=f"第 {i} 次：无法连接", origin=f"http://127.0.0.1/{town}")


def test_log_appends_from_many_threads_are_whole_lines(tmp_path: Path) -> None:
    threads, each = 16, 50
    start = threading.Barrier(threads)

    def work(t: int) -> None:
        start.wait(timeout=10)
        for i in range(each):
            append_log(tmp_path, _receipt(f"第{t:02d}镇", i))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    lines = log_path(tmp_path, Q1.label).read_text(encoding="utf-8").splitlines()
    assert len(lines) == threads * each
    assert all(json.loads(line)["period"] == Q1.label for line in lines)
    got = read_log(tmp_path, Q1.label)
    # grouped by town, each town's receipts in the order they were written
    assert [(r.town, r.reason) for r in got] == [
        (f"第{t:02d}镇", f"第 {i} 次：无法连接") for t in range(threads) for i in range(each)]


def test_log_readers_do_not_depend_on_line_order(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    order = [("乙镇", 0), ("甲镇", 0), ("乙镇", 1), ("甲镇", 1)]
    for town, i in order:
        append_log(a, _receipt(town, i))
    for town, i in sorted(order, key=lambda x: (x[0] != "甲镇", x[1])):
        append_log(b, _receipt(town, i))
    assert read_log(a, Q1.label) == read_log(b, Q1.label)


def test_a_line_cut_short_by_a_kill_does_not_swallow_the_next(tmp_path: Path) -> None:
    append_log(tmp_path, _receipt("甲镇", 0))
    path = log_path(tmp_path, Q1.label)
    whole = json.dumps(_receipt("乙镇", 0).as_dict(), ensure_ascii=False).encode("utf-8")
    with path.open("ab") as fh:
        fh.write(whole[: len(whole) // 2 + 1])  # killed mid-line, maybe mid-character
    append_log(tmp_path, _receipt("丙镇", 0))
    assert [r.town for r in read_log(tmp_path, Q1.label)] == ["丙镇", "甲镇"]
    assert os.path.getsize(path) > 0
