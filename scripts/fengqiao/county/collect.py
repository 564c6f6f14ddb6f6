"""Collect every town's published ``metrics.json`` and keep what arrived.

The county must be able to show, months later, exactly which file a town
sent and when it arrived, so every distinct file received is stored once under
``<collection>/<period>/<town>/<UTC time>-<sha12>.json`` (written to a temp
file, fsynced, then linked into place so an existing copy is never replaced)
and every attempt, good or bad, is appended to ``<collection>/<period>/log.jsonl``.

One town failing never stops the others: a failure becomes a :class:`Receipt`
with a Chinese reason, and the report falls back to that town's last good copy.

Timeliness uses the time *the county received* the first valid copy, never the
``as_of`` or generation time written inside the file: that time is set by the
town's own machine and a late town could simply rebuild with an old date.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import requests

from .. import clock, outdir
from ..config import load_config
from ..errors import FengqiaoError
from ..metrics import compute_metrics
from ..metrics.contract import dumps, is_below, level_of, validate_contract
from ..metrics.periods import Period
from ..publish.atomic import write_atomic
from ..retry import GaveUp, RetryPolicy, send_with_retries
from ..sources import WORKBOOK_SUFFIXES, is_remote, open_source, resolve_spec
from ..validate import require_figures, validate_workbook
from .config import CountyConfig, FetchSettings, TownSource, county_config

SUPPORTED_MAJOR = "1"
ReceiptStatus = Literal["valid", "invalid", "failed"]


class FetchFailed(Exception):
    """Nothing usable arrived; ``reason`` is shown to the county office."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Receipt:
    """One line of the collection log."""

    period: str
    town: str
    received_at: str  # ISO 8601, UTC
    status: ReceiptStatus
    reason: str
    origin: str
    sha256: str | None = None
    file: str | None = None  # relative to the collection folder
    #: the town server's validators, sent back on the next run so an
    #: unchanged file costs a 304 and no body
    etag: str | None = None
    last_modified: str | None = None
    #: the server said the file is the one received last time (304)
    unchanged: bool = False

    @property
    def received(self) -> datetime:
        return datetime.fromisoformat(self.received_at)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- fetching -----------------------------------------------------------------


def metrics_url(base: str, label: str) -> str:
    return f"{base.rstrip('/')}/downloads/{quote(label)}/metrics.json"


def metrics_path(folder: str | Path, label: str) -> Path:
    return Path(folder) / "downloads" / label / "metrics.json"


def fetch_policy(settings: FetchSettings) -> RetryPolicy:
    """The county's ``fetch`` settings as the one retry policy every HTTP call
    follows (see :mod:`fengqiao.retry`): ``retries`` further attempts after
    the first, each wait up to ``backoff × 2^n`` seconds (jittered), and a
    town server's ``Retry-After`` obeyed up to 30 seconds."""
    return RetryPolicy(max_attempts=settings.retries + 1, base_delay=settings.backoff,
                       timeout=(settings.timeout, settings.timeout))


@dataclass(frozen=True)
class Fetched:
    """What one fetch brought: the file's bytes, or ``None`` when the server
    answered 304 (the file is the one received last time), with the
    validators to send next time."""

    data: bytes | None
    etag: str | None = None
    last_modified: str | None = None


def _conditional_headers(known: Receipt | None) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if known is not None and known.file:
        if known.etag:
            headers["If-None-Match"] = known.etag
        if known.last_modified:
            headers["If-Modified-Since"] = known.last_modified
    return headers


def _fetch_http(url: str, settings: FetchSettings, session: requests.Session,
                known: Receipt | None = None) -> Fetched:
    """GET ``metrics.json`` under the retry policy, conditionally when the
    last receipt carries validators. Only failures that may pass (no
    connection, timeout, a broken transfer, 408, 429, 5xx gateway errors)
    are retried; a 404 means "not published"."""
    headers = _conditional_headers(known)

    def send() -> requests.Response:
        return session.get(url, timeout=settings.timeout, stream=True, headers=headers)

    def read(resp: requests.Response) -> Fetched:
        with resp:
            etag, modified = resp.headers.get("ETag"), resp.headers.get("Last-Modified")
            if resp.status_code == 304:
                return Fetched(None, etag or (known.etag if known else None),
                               modified or (known.last_modified if known else None))
            body = bytearray()
            for chunk in resp.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > settings.max_bytes:
                    raise FetchFailed(f"{url} 返回的文件超过 {settings.max_bytes // (1024 * 1024)} MB，不像是指标文件。")
            return Fetched(bytes(body), etag, modified)

    policy = fetch_policy(settings)
    try:
        return send_with_retries(send, method="GET", url=url, policy=policy, read=read,
                                 label="metrics.json")
    except GaveUp as gave:
        if gave.kind == "status" and gave.status == 404:
            raise FetchFailed(f"网站上没有这一期的 metrics.json（{url} 返回 404），可能还没有发布。") from None
        if gave.kind == "status":
            last = f"{url} 返回 HTTP {gave.status}"
        elif gave.kind == "timeout":
            last = f"连接 {url} 超时（{settings.timeout:g} 秒）"
        else:
            last = f"无法连接 {url}"
        if not gave.retried:
            raise FetchFailed(f"{last}，无法取得指标文件。") from None
        raise FetchFailed(f"{last}，共尝试 {gave.attempts} 次仍未成功。") from None
    except requests.RequestException as exc:
        raise FetchFailed(f"读取 {url} 失败：{exc.__class__.__name__}") from exc


def _fetch_path(folder: str, label: str, settings: FetchSettings) -> bytes:
    path = metrics_path(folder, label)
    if not Path(folder).exists():
        raise FetchFailed(f"找不到文件夹 {folder}，请确认共享文件夹已连接。")
    try:
        size = path.stat().st_size
        if size > settings.max_bytes:
            raise FetchFailed(f"{path} 超过 {settings.max_bytes // (1024 * 1024)} MB，不像是指标文件。")
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise FetchFailed(f"文件夹里没有这一期的指标文件 {path}，可能还没有发布。") from exc
    except OSError as exc:
        raise FetchFailed(f"无法读取 {path}：{exc.strerror or exc}") from exc


def metrics_from_workbook(spec: str, period: Period, *, config_path: Path | None,
                          town_name: str | None, today: date) -> dict[str, Any]:
    """A workbook (xlsx, CSV folder, ``gsheets:``) run through open_source →
    validate_workbook → compute_metrics, named as the county knows the town:
    the town's own code, so a county figure is defined as on a town's site.
    ``today`` is the county's report day (:func:`report_day`), never the
    town's own clock."""
    config = load_config(config_path)
    if town_name:
        config = replace(config, town=town_name)
    raw = open_source(spec, config=config)
    ledger = validate_workbook(raw, config=config)
    require_figures(ledger)
    return dict(compute_metrics(ledger, period, config=config, today=today))


def _fetch_workbook(town: TownSource, period: Period, today: date) -> bytes:
    """Run the town pipeline on the workbook itself (for towns without a
    site), as of ``today`` (the county decides it: see :func:`report_day`)."""
    try:
        contract = metrics_from_workbook(town.location, period, config_path=town.config,
                                         town_name=town.name, today=today)
    except FengqiaoError as exc:
        raise FetchFailed(f"无法从台账 {town.location} 计算指标：{exc}") from exc
    return dumps(contract).encode("utf-8")


def report_day(config: CountyConfig, received: datetime) -> date:
    """The day a figure the county computes itself is as of: county.yml's
    ``report_date`` when it sets one, else the county's date at ``received``."""
    return clock.today(config, fallback=received.astimezone(config.tz).date())


def fetch_town(town: TownSource, period: Period, settings: FetchSettings, *,
               session: requests.Session | None = None, today: date | None = None,
               known: Receipt | None = None) -> Fetched:
    """A town's metrics.json for ``period``: fetched from its site (sending
    back the validators of ``known``, the last receipt), read from its
    shared folder, or computed from its workbook as of ``today``."""
    if town.kind == "url":
        own = session is None
        sess = session or requests.Session()
        try:
            return _fetch_http(metrics_url(town.location, period.label), settings, sess, known)
        finally:
            if own:
                sess.close()
    if town.kind == "path":
        return Fetched(_fetch_path(town.location, period.label, settings))
    return Fetched(_fetch_workbook(town, period, today or clock.today()))


def fetch_bytes(town: TownSource, period: Period, settings: FetchSettings, *,
                session: requests.Session | None = None,
                today: date | None = None) -> bytes:
    """A town's metrics.json for ``period``, unconditionally (always a body)."""
    got = fetch_town(town, period, settings, session=session, today=today)
    assert got.data is not None  # no validators were sent, so never a 304
    return got.data


def origin_of(town: TownSource, period: Period) -> str:
    if town.kind == "url":
        return metrics_url(town.location, period.label)
    if town.kind == "path":
        return str(metrics_path(town.location, period.label))
    return town.location


# -- checking -----------------------------------------------------------------


def check_contract(contract: Any, period: Period, town: str | None,
                   level: str = "县") -> list[str]:
    """Every reason, in Chinese, why this file cannot be used for ``period``
    and ``town`` (``town=None`` accepts whatever town the file names) by a
    roll-up of ``level``: the file must lie below it (a town's file under a
    county, a county's under a city …)."""
    if not isinstance(contract, dict):
        return ["文件内容不是 JSON 对象。"]
    version = str(contract.get("schema_version", ""))
    if version.split(".")[0] != SUPPORTED_MAJOR:
        return [f"文件的格式版本是 {version or '（空）'}，县里只能读取 {SUPPORTED_MAJOR}.x 版本。"]
    # the town's own checker, so the county judges a file by the same rules
    # (and the same exact rounding) the town wrote it by
    problems = validate_contract(contract)
    p = contract.get("period")
    if not isinstance(p, dict):
        problems.append("文件里没有统计期（period）。")
    else:
        got = (p.get("label"), p.get("start"), p.get("end"))
        want = (period.label, period.start.isoformat(), period.end.isoformat())
        if got != want:
            problems.append(
                f"文件的统计期是 {p.get('label')}（{p.get('start')} 至 {p.get('end')}），"
                f"要求的是 {period.label}（{want[1]} 至 {want[2]}）。"
            )
    if town is not None and contract.get("town") != town:
        if level == "县":
            problems.append(f"文件里的乡镇名称是“{contract.get('town')}”，县里登记的是“{town}”。")
        else:
            problems.append(f"文件里的单位名称是“{contract.get('town')}”，{level}里登记的是“{town}”。")
    found = level_of(contract)
    if not is_below(found, level):
        problems.append(f"这是{found}级的统计文件，不低于本级（{level}），不能作为下级汇总。"
                        f"{'县级汇总的下级只能是乡镇。' if level == '县' else ''}")
    return list(dict.fromkeys(problems))


def parse_and_check(data: bytes, period: Period, town: str | None,
                    level: str = "县") -> tuple[dict[str, Any] | None, list[str]]:
    try:
        obj = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, [f"文件不是有效的 JSON：{exc.__class__.__name__}。"]
    problems = check_contract(obj, period, town, level)
    return (obj if isinstance(obj, dict) else None), problems


# -- storing ------------------------------------------------------------------

#: the files a collection holds (a store from before the ownership marker
#: existed is recognised by these names and adopted)
_COLLECTION_FILE = re.compile(
    r"^[^/]+/(?:log\.jsonl|[^/]+/\d{8}T\d{6}Z-[0-9a-f]{12}\.json"
    # the temp file of an interrupted write (publish.atomic), or of an older version
    r"|[^/]+/\.\d{8}T\d{6}Z-[0-9a-f]{12}\.json\.[^/]*\.tmp|[^/]+/\.incoming-[^/]*\.tmp)$")
COLLECTION_OPTION = "--collection 或 county.yml 里的 collection_dir"


def local_paths(towns: Iterable[TownSource]) -> list[Path]:
    """The towns' folders and workbooks on this machine: no output folder of
    the county may hold them or sit inside them."""
    return [Path(t.location) for t in towns
            if t.kind != "url" and not is_remote(t.location)]


def claim_collection(collection: Path, towns: Iterable[TownSource]) -> None:
    """The collection only ever adds files, so it may be any folder that is
    new, empty, marked as a collection, or holds nothing but collection
    files; never a folder of other files or one holding a town's data."""
    outdir.claim(collection, "county-collection", sources=local_paths(towns), replacing=False,
                 owned=lambda rel: _COLLECTION_FILE.match(rel) is not None,
                 option=COLLECTION_OPTION)
    outdir.make_own(collection, "county-collection")


def store_copy(folder: Path, data: bytes, received: datetime) -> Path:
    """Keep ``data`` under a name made of the receipt time and its hash.
    The same bytes are stored once; a name that exists is never replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    sha12 = hashlib.sha256(data).hexdigest()[:12]
    existing = sorted(folder.glob(f"*-{sha12}.json"))
    if existing:
        return existing[0]
    stamp = received.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    final = folder / f"{stamp}-{sha12}.json"
    write_atomic(final, data, replace=False)  # a name that exists is kept as it is
    return final


def log_path(collection: Path, label: str) -> Path:
    return collection / label / "log.jsonl"


#: one lock for every append to a collection log in this process: the
#: fetching threads log each town as it finishes, and two lines must never mix
_LOG_LOCK = threading.Lock()


def append_log(collection: Path, receipt: Receipt) -> None:
    """Add one receipt to the period's log, durably, as one write of one whole
    line (under a lock, so threads logging at once never interleave). A last
    line cut short by a killed run is ended first, so the new receipt stays
    readable; :func:`read_log` skips the broken one."""
    path = log_path(collection, receipt.period)
    line = (json.dumps(receipt.as_dict(), ensure_ascii=False) + "\n").encode("utf-8")
    with _LOG_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+b", buffering=0) as fh:
            end = fh.seek(0, os.SEEK_END)
            if end:
                fh.seek(end - 1)
                if fh.read(1) != b"\n":
                    line = b"\n" + line
            view = memoryview(line)
            while view:  # a regular file takes it in one write; the loop is for the rare short write
                view = view[fh.write(view) or 0:]
            os.fsync(fh.fileno())


def read_log(collection: Path, label: str) -> list[Receipt]:
    """Every receipt for a period, town by town (sorted by name), each town's
    in the order they were recorded. Towns are logged as their fetches
    finish, so the lines of different towns interleave however the fetches
    raced; grouping by town makes what a reader sees independent of that.
    A line that cannot be read (a crash mid-write) is skipped rather than
    stopping the report."""
    path = log_path(collection, label)
    if not path.exists():
        return []
    out: list[Receipt] = []
    fields = set(Receipt.__dataclass_fields__)
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            raw = json.loads(line)
            out.append(Receipt(**{k: v for k, v in raw.items() if k in fields}))
        except (json.JSONDecodeError, TypeError, AttributeError):
            continue
    return sorted(out, key=lambda r: r.town)  # stable: each town's own order is kept


def collected_periods(collection: Path) -> list[str]:
    """Labels of every period with a collection log."""
    if not collection.exists():
        return []
    return sorted(p.name for p in collection.iterdir() if (p / "log.jsonl").exists())


# -- the collection run -------------------------------------------------------


def _receipt(config: CountyConfig, town: TownSource, period: Period, got: Fetched | FetchFailed,
             received: datetime, *, known: Receipt | None, check_name: bool = True) -> Receipt:
    """What one fetch amounts to, its copy stored (nothing logged yet).

    The file is the one received last time (``known``, the town's last
    receipt with a file) when the server says so (304) or, for a server that
    sends no validators (so no 304 is possible), when the body's sha256 is
    the one recorded: either way it is logged as unchanged, judged as it was
    then, and no copy is added. A server with validators that answers 200
    says it has a new version; its receipt is a new one, though identical
    bytes still share the stored copy (:func:`store_copy`)."""
    origin = origin_of(town, period)
    base = dict(period=period.label, town=town.name, received_at=received.isoformat(), origin=origin)
    if isinstance(got, FetchFailed):
        return Receipt(status="failed", reason=got.reason, **base)  # type: ignore[arg-type]
    if got.data is None and known is not None:
        return replace(known, received_at=base["received_at"], origin=origin,
                       etag=got.etag, last_modified=got.last_modified, unchanged=True)
    data = got.data or b""
    sha256 = hashlib.sha256(data).hexdigest()
    if got.etag is None and got.last_modified is None and known is not None \
            and known.sha256 == sha256 and known.file is not None \
            and (config.collection_dir / known.file).is_file():
        return replace(known, received_at=base["received_at"], origin=origin,
                       etag=got.etag, last_modified=got.last_modified, unchanged=True)
    _, problems = parse_and_check(data, period, town.name if check_name else None, config.level)
    stored = store_copy(config.collection_dir / period.label / town.folder_name, data, received)
    return Receipt(
        status="invalid" if problems else "valid",
        reason="；".join(problems),
        sha256=sha256,
        file=stored.relative_to(config.collection_dir).as_posix(),
        etag=got.etag,
        last_modified=got.last_modified,
        **base,  # type: ignore[arg-type]
    )


def collect_town(config: CountyConfig, town: TownSource, period: Period, *,
                 now: datetime | None = None, session: requests.Session | None = None,
                 prefetched: Fetched | bytes | FetchFailed | None = None,
                 check_name: bool = True, known: Receipt | None = None) -> Receipt:
    """Fetch, check, store and log one town's file for one period. ``known``
    is the town's last receipt with a file: a server that answers 304 to its
    validators, or sends the very bytes recorded there, is logged as an
    unchanged copy of that file."""
    received = (now or clock.now()).astimezone(UTC)
    got: Fetched | FetchFailed
    if isinstance(prefetched, bytes):
        got = Fetched(prefetched)
    elif prefetched is not None:
        got = prefetched
    else:
        try:
            got = fetch_town(town, period, config.fetch, session=session,
                             today=report_day(config, received), known=known)
        except FetchFailed as exc:
            got = exc
    receipt = _receipt(config, town, period, got, received, known=known, check_name=check_name)
    append_log(config.collection_dir, receipt)
    return receipt


def last_receipts(collection: Path, label: str) -> dict[str, Receipt]:
    """Each town's latest receipt that holds a file, for conditional fetches
    (a run that was stopped half way resumes from what it logged)."""
    out: dict[str, Receipt] = {}
    for receipt in read_log(collection, label):
        if receipt.file is not None:
            out[receipt.town] = receipt
    return out


class _Sessions:
    """One HTTP session per fetching thread (a session is not safe to share
    between threads), all closed when the period is done."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[requests.Session] = []

    def get(self) -> requests.Session:
        sess: requests.Session | None = getattr(self._local, "session", None)
        if sess is None:
            sess = self._local.session = requests.Session()
            with self._lock:
                self._all.append(sess)
        return sess

    def close(self) -> None:
        with self._lock:
            for sess in self._all:
                sess.close()


#: called with each receipt once it is in the log (from the thread that
#: fetched it); what it raises stops the run like Ctrl-C would
OnReceipt = Callable[[Receipt], None]


def _collect_period(config: CountyConfig, period: Period, *, now: datetime | None,
                    today: date, on_receipt: OnReceipt | None) -> list[Receipt]:
    """Every town of one period, each fetched, checked, stored and logged as
    soon as its own fetch is done, town sites ``fetch.concurrency`` at a time
    (each thread with its own HTTP session). A run stopped half way (Ctrl-C,
    a kill, a power cut) has logged every town it finished, so running it
    again asks unconditionally only for the towns it never reached.

    On an interruption no new fetch starts, the ones under way finish and are
    logged, and the interruption is raised again. The receipts come back in
    the configured order whatever order the fetches finished in."""
    known = last_receipts(config.collection_dir, period.label)
    sessions = _Sessions()
    stop = threading.Event()

    def one(town: TownSource) -> Receipt | None:
        if stop.is_set():  # stopping: start nothing new
            return None
        try:
            try:
                got: Fetched | FetchFailed = fetch_town(
                    town, period, config.fetch, session=sessions.get() if town.kind == "url" else None,
                    today=today, known=known.get(town.name))
            except FetchFailed as exc:
                got = exc
            received = (now or clock.now()).astimezone(UTC)
            receipt = _receipt(config, town, period, got, received, known=known.get(town.name))
            append_log(config.collection_dir, receipt)
            if on_receipt is not None:
                on_receipt(receipt)
            return receipt
        except BaseException:
            stop.set()  # the other threads finish what they hold and take nothing more
            raise

    urls = [t for t in config.towns if t.kind == "url"]
    results: dict[str, Receipt | None] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, min(config.fetch.concurrency, len(urls) or 1)))
    try:
        try:
            futures = {t.name: pool.submit(one, t) for t in urls}
            # shared folders and workbooks: read one at a time here (disk- and
            # CPU-bound) while the pool fetches the town sites
            for town in config.towns:
                if town.kind != "url":
                    results[town.name] = one(town)
            wait(futures.values(), return_when=FIRST_EXCEPTION)
            for name, future in futures.items():
                if future.done() and future.exception() is not None:
                    raise future.exception()  # type: ignore[misc]
                results[name] = future.result()
        except BaseException:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
    finally:
        sessions.close()
    return [r for r in (results[t.name] for t in config.towns) if r is not None]


def collect(config: CountyConfig, periods: list[Period], *, now: datetime | None = None,
            session: requests.Session | None = None,
            on_receipt: OnReceipt | None = None) -> list[Receipt]:
    """Collect every configured town for every period; never raises for one
    town's problem. Town sites are fetched concurrently and conditionally:
    a second run costs a 304 per unchanged file (or, from a server without
    validators, a body whose sha256 matches and is not stored again), and a
    run stopped half way is resumed by running it again. ``on_receipt``
    sees each receipt as soon as it is logged (a progress display)."""
    if not config.towns:
        raise FengqiaoError("县级配置里没有登记任何乡镇（towns 为空），无法收取。")
    claim_collection(config.collection_dir, config.towns)
    received = (now or clock.now()).astimezone(UTC)
    receipts: list[Receipt] = []
    for period in periods:
        if session is not None:  # a caller's session: one at a time, on it
            known = last_receipts(config.collection_dir, period.label)
            for town in config.towns:
                receipt = collect_town(config, town, period, now=now, session=session,
                                       known=known.get(town.name))
                if on_receipt is not None:
                    on_receipt(receipt)
                receipts.append(receipt)
        else:
            receipts.extend(_collect_period(config, period, now=now,
                                            today=report_day(config, received),
                                            on_receipt=on_receipt))
    return receipts


def load_copy(collection: Path, receipt: Receipt) -> dict[str, Any]:
    if receipt.file is None:
        raise FengqiaoError(f"{receipt.town} 的收取记录没有对应文件。")
    path = collection / receipt.file
    try:
        obj = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError as exc:
        raise FengqiaoError(f"收取记录里的文件 {path} 不见了，请不要手工删除收取文件夹里的文件。") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FengqiaoError(f"收取文件夹里的 {path} 已损坏：{exc}") from exc
    if not isinstance(obj, dict):
        raise FengqiaoError(f"收取文件夹里的 {path} 已损坏。")
    return obj


def parse_now(text: str | None, config: CountyConfig) -> datetime | None:
    """``--now`` as staff type it; a time without a zone is county time."""
    if not text:
        return None
    value = text.strip().replace(" ", "T", 1)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise FengqiaoError(
            f"无法识别时间“{text}”。",
            hint="请写成 2024-04-12T09:30 或 2024-04-12 这样的时间。",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.tz)
    return moment.astimezone(UTC)


# -- quick use without a county.yml -------------------------------------------


def classify(spec: str) -> TownSource:
    """What a TOWN argument on the command line is: a site URL, a built site
    folder (it has ``downloads/``), or a workbook to compute from. The name is
    provisional until the town's own file names it."""
    text = spec.strip()
    if text.startswith(("http://", "https://")) and not is_remote(text):
        host = text.split("://", 1)[1].split("/", 1)[0]
        return TownSource(name=host, kind="url", location=text)
    target = resolve_spec(text)  # the same rule as every command's SOURCE
    if isinstance(target, str):  # a Google spreadsheet
        return TownSource(name=text, kind="workbook", location=target)
    path = target.resolve()
    if path.is_dir() and (path / "downloads").is_dir():
        return TownSource(name=path.name, kind="path", location=str(path))
    # .et, .ods …: the reader decides by content

    if path.is_dir() or path.suffix.lower() in (*WORKBOOK_SUFFIXES, ".csv", ".zip"):
        return TownSource(name=path.stem, kind="workbook", location=str(path))
    if not path.exists():
        raise FengqiaoError(
            f"找不到“{spec}”。",
            hint="每个乡镇可以是生成好的乡镇网站文件夹、http(s):// 网站地址，或台账文件（.xlsx、CSV 文件夹、gsheets:表格ID）。",
        )
    raise FengqiaoError(
        f"不知道怎样读取“{spec}”。",
        hint="每个乡镇可以是生成好的乡镇网站文件夹、http(s):// 网站地址，或台账文件（.xlsx、CSV 文件夹、gsheets:表格ID）。",
    )


def quick_collect(specs: list[str], period: Period, *, name: str, collection: Path,
                  settings: FetchSettings | None = None,
                  now: datetime | None = None, level: str = "县") -> CountyConfig:
    """Collect the units given on the command line into ``collection`` and
    return the config of a roll-up of ``level`` that describes them, each
    unit named as its own file names it (a county site by its county)."""
    if not specs:
        raise FengqiaoError("没有给出任何乡镇。", hint="请在命令后列出乡镇网站文件夹、网址或台账文件，或用 --config 指定 county.yml。")
    config = county_config(name, collection_dir=collection, judge_timeliness=False, level=level)
    if settings is not None:
        config = replace(config, fetch=settings)
    today = report_day(config, now or clock.now())
    sources = [classify(s) for s in specs]
    claim_collection(collection, sources)
    fetched: list[bytes | FetchFailed | None] = []
    named: list[TownSource] = []
    with requests.Session() as session:
        for src in sources:
            try:
                # a workbook file is named after its file (东湖镇.xlsx → 东湖镇);
                # a Google sheet keeps the default config's town name
                as_named = src if not is_remote(src.location) \
                    else TownSource("", src.kind, src.location)
                data: bytes | FetchFailed = fetch_bytes(as_named, period, config.fetch,
                                                        session=session, today=today)
            except FetchFailed as exc:
                data = exc
            town = src.name
            if isinstance(data, bytes):
                try:
                    obj = json.loads(data.decode("utf-8-sig"))
                    if isinstance(obj, dict) and isinstance(obj.get("town"), str) and obj["town"].strip():
                        town = obj["town"].strip()
                except (UnicodeDecodeError, json.JSONDecodeError):
                    pass
            # a folder's file is read again when it is checked, rather than
            # 1,000 bodies held at once; a fetched or computed one is kept
            fetched.append(None if src.kind == "path" and isinstance(data, bytes) else data)
            named.append(TownSource(town, src.kind, src.location))
    names = [t.name for t in named]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise FengqiaoError(f"给出的乡镇里有重名：{'、'.join(dupes)}。", hint="同一个乡镇只需要列一次。")
    config = replace(config, towns=tuple(named))
    for source, body in zip(named, fetched, strict=True):
        collect_town(config, source, period, now=now, prefetched=body, check_name=False)
    return config
