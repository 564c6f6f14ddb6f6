"""Faults end to end: a Google source on the loopback Sheets server through
``build_site`` and the ``fengqiao build`` command.

Nothing is lost: when Google fails after a good read, the build falls back to
the last good snapshot, says on the home page since when the data is stale,
and leaves the snapshots byte for byte as they were; with no snapshot the
build stops with a Chinese message (exit code 2) and the previous site stays.
A build killed with SIGKILL while MkDocs runs leaves the previous site
byte-identical, and the next build clears its leftovers. Nothing leaks: a
rejected credential never puts the key, the token or "Bearer" in output,
logs or the site.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from fengqiao import demo, sitebuild
from fengqiao.cli import cli
from fengqiao.config import Config, load_config
from fengqiao.outdir import work_dir
from fengqiao.publish.stage import remove_leftovers
from fengqiao.sources import gsheets
from fengqiao.sources.gsheets import RetryPolicy
from fengqiao.sources.snapshots import list_snapshots, read_store, verify_snapshots
from sheets_server import (
    FakeSpreadsheet,
    Fault,
    ServiceAccount,
    SheetsServer,
    make_service_account,
    spreadsheet_from_xlsx,
    status_fault,
)

SID = "fengqiao-town-sheet-0001"
EMAIL = "fengqiao-test@demo-project.iam.gserviceaccount.com"
REPORT_DATE = "2024-12-15"
CHINA = timezone(timedelta(hours=8))
FENGQIAO = Path(sys.executable).with_name("fengqiao")
STALE_TITLE = "数据不是最新的"


@dataclass
class Town:
    root: Path
    workbook: Path
    book: FakeSpreadsheet
    server: SheetsServer
    account: ServiceAccount
    config_file: Path
    snapshots: Path
    site: Path
    first_routes: list[str]

    @property
    def config(self) -> Config:
        return load_config(self.config_file)


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def write_config(path: Path, source: str, snapshots: str, credentials: Path | None) -> Path:
    lines = ["town: 枫溪镇", f"source: {source}", f"snapshots_dir: {snapshots}",
             f"report_date: {REPORT_DATE}", "site:", "  months: 1"]
    if credentials is not None:
        lines.append(f"google_credentials: {credentials.name}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Clock:
    def __init__(self) -> None:
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """The demo town served as a Google spreadsheet, and a first good build
    from ``gsheets:<id>`` (which stores the snapshot every later test uses)."""
    root = tmp_path_factory.mktemp("faults")
    workbook = demo.write_workbook(demo.generate_town(scale=0.3, defects=False),
                                   root / "示范 台账.xlsx")
    server = SheetsServer().start()
    book = spreadsheet_from_xlsx(workbook, SID, "枫溪镇台账")
    book.shared_with = {EMAIL: "reader"}
    server.spreadsheets[SID] = book
    account = make_service_account(server, root, email=EMAIL)
    config_file = write_config(root / "fengqiao.yml", f"gsheets:{SID}", "snapshots", account.path)
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(gsheets.CREDENTIALS_ENV, raising=False)
        mp.setenv(gsheets.EMULATOR_ENV, server.url)
        result = sitebuild.build_site(load_config(config_file), out=root / "public")
    assert not result.stale
    town = Town(root=root, workbook=workbook, book=book, server=server, account=account,
                config_file=config_file, snapshots=root / "snapshots", site=root / "public",
                first_routes=server.routes())
    try:
        yield town
    finally:
        server.stop()


@pytest.fixture
def emulated(town: Town, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    """Route the real client to the loopback server, record the backoff
    waits instead of sleeping them, and start each test with a clean log."""
    clock = Clock()
    monkeypatch.delenv(gsheets.CREDENTIALS_ENV, raising=False)
    monkeypatch.setenv(gsheets.EMULATOR_ENV, town.server.url)
    monkeypatch.setattr(gsheets, "RetryPolicy", functools.partial(
        RetryPolicy, sleep=clock.sleep, random=lambda: 0.5))
    town.server.clear()
    yield clock
    town.server._faults.clear()  # a fault a test did not use up must not leak into the next


def the_record(town: Town):  # type: ignore[no-untyped-def]
    records = [r for r in list_snapshots(town.snapshots) if r.location == SID]
    assert len(records) == 1
    return records[0]


def cn_time(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


# --- the first build --------------------------------------------------------------


def test_first_build_reads_once_and_stores_a_snapshot(town: Town) -> None:
    assert town.first_routes == ["token", "metadata", "batchGet"]
    record = the_record(town)
    assert record.kind == "gsheets" and record.name == "枫溪镇台账"
    assert record.file.endswith(".json")
    assert verify_snapshots(town.snapshots) == []
    home = (town.site / "index.html").read_text(encoding="utf-8")
    assert STALE_TITLE not in home
    assert f"台账“枫溪镇台账”于 {cn_time(record.read_at)} 读取" in home


# --- Google fails after a good read: the snapshot is used ------------------------------

#: name → (route, fault, times, restore-needed setup, exact requests the read makes)
FAULTS = {
    # 503 beyond the retry bound: 5 attempts (the default policy), then give up
    "503-burst": ("metadata", status_fault(503), 8, ["token"] + ["metadata"] * 5),
    # the truncated body is retried like a network error, up to the bound
    "truncated-json": ("batchGet", Fault("truncate"), 8,
                       ["token", "metadata"] + ["batchGet"] * 5),
    "connection-reset": ("metadata", Fault("reset"), 8, ["token"] + ["metadata"] * 5),
    # not retried: asking again cannot help
    "403-unshared": (None, None, 0, ["token", "metadata"]),
    "404-deleted": (None, None, 0, ["token", "metadata"]),
}


@pytest.fixture
def fault(request: pytest.FixtureRequest, town: Town, emulated: Clock) -> Iterator[list[str]]:
    name = request.param
    route, what, times, expected = FAULTS[name]
    if route is not None:
        town.server.fault(route, what, times=times)
    if name == "403-unshared":
        town.book.shared_with = {"someone-else@example.com": "writer"}
    if name == "404-deleted":
        del town.server.spreadsheets[SID]
    try:
        yield expected
    finally:
        town.book.shared_with = {EMAIL: "reader"}
        town.server.spreadsheets[SID] = town.book


@pytest.mark.parametrize("fault", list(FAULTS), indirect=True)
def test_failed_read_falls_back_to_the_last_good_snapshot(town: Town, fault: list[str]) -> None:
    """The read stage of a build (``sitebuild.collect``) under each fault."""
    before = tree_hashes(town.snapshots)
    record = the_record(town)
    data = sitebuild.collect(town.config)
    assert town.server.routes() == fault  # retries bounded, counted exactly
    assert data.source["kind"] == "gsheets"
    assert data.source["sha256"] == record.sha256
    assert data.source["stale_since"] == record.last_read_at.isoformat()
    assert data.source["read_at"] == record.read_at.isoformat()
    assert tree_hashes(town.snapshots) == before
    assert verify_snapshots(town.snapshots) == []


def test_fallback_build_says_since_when_the_data_is_stale(town: Town, emulated: Clock) -> None:
    """The whole command under a 503 burst: the site is built from the
    snapshot and its home page says so, with the time of the last good read."""
    out = town.root / "stale-site"
    shutil.copytree(town.site, out)
    before = tree_hashes(town.snapshots)
    town.server.fault("metadata", status_fault(503), times=8)
    result = CliRunner().invoke(cli, ["build", "--config", str(town.config_file),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert town.server.routes() == ["token"] + ["metadata"] * 5
    assert emulated.sleeps == [0.5, 1.0, 2.0, 4.0]
    assert "注意：最新一次读取台账失败，网站使用的是上次保存的数据。" in result.stderr
    assert "Traceback" not in result.output
    record = the_record(town)
    home = (out / "index.html").read_text(encoding="utf-8")
    assert STALE_TITLE in home
    assert (f"最近一次读取台账失败，页面上的数字仍是 {cn_time(record.last_read_at)} "
            "最后一次成功读取的结果。") in home
    # the snapshot files are untouched; the manifest gains only which snapshot
    # the new site publishes from (so retention keeps it)
    after = tree_hashes(town.snapshots)
    assert {k: v for k, v in after.items() if k != "manifest.json"} == \
        {k: v for k, v in before.items() if k != "manifest.json"}
    published = read_store(town.snapshots).published
    assert {p.sha256 for p in published if p.out == str(out.resolve())} == {record.sha256}
    assert verify_snapshots(town.snapshots) == []
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".stale-site.")] == []


# --- no snapshot at all: a clear stop, the old site untouched ------------------------------

NOT_FOUND = (f"错误：找不到表格 {SID}：表格可能已被删除，或者表格 ID、链接抄错了。"
             "请在浏览器里打开这张表格，复制地址栏里的完整链接重新填写。")


def test_no_snapshot_stops_with_exit_2_and_keeps_the_site(town: Town, tmp_path: Path) -> None:
    """A real ``fengqiao build`` process against a deleted spreadsheet."""
    root = tmp_path / "新 镇"
    root.mkdir()
    shutil.copy(town.account.path, root / town.account.path.name)
    config_file = write_config(root / "fengqiao.yml", f"gsheets:{SID}", "快照", town.account.path)
    site = root / "public"
    shutil.copytree(town.site, site)
    before = tree_hashes(site)
    town.server.clear()
    del town.server.spreadsheets[SID]
    env = {k: v for k, v in os.environ.items() if k != gsheets.CREDENTIALS_ENV}
    env[gsheets.EMULATOR_ENV] = town.server.url
    try:
        proc = subprocess.run([str(FENGQIAO), "build", "--config", str(config_file),
                               "--out", str(site)], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    finally:
        town.server.spreadsheets[SID] = town.book
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == NOT_FOUND
    assert town.server.routes() == ["token", "metadata"]
    assert tree_hashes(site) == before
    # nothing new beside it: no snapshot folder, no build folder, no temporary site
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["fengqiao.yml", town.account.path.name, "public"])


@pytest.mark.parametrize(("name", "message", "routes"), [
    ("503-burst", f"错误：Google 表格服务暂时出错（HTTP 503），已尝试 5 次仍未成功（表格 {SID}）。"
                  "请稍后再试；上一次成功读取的快照不受影响。", ["token"] + ["metadata"] * 5),
    ("truncated-json", f"错误：Google 表格返回的数据不完整，已尝试 5 次仍未成功（表格 {SID}）。"
                       "请稍后再试；上一次成功读取的快照不受影响。",
     ["token", "metadata"] + ["batchGet"] * 5),
    ("connection-reset", f"错误：无法连接 Google 表格服务器，已尝试 5 次仍未成功（表格 {SID}）。"
                         "请检查网络连接和代理设置，或稍后再试。", ["token"] + ["metadata"] * 5),
    ("403-unshared", f"错误：服务账号 {EMAIL} 没有权限打开表格 {SID}。"
                     f"请在 Google 表格右上角点“共享”，把表格共享给 {EMAIL}，权限选“查看者”，然后重试。",
     ["token", "metadata"]),
])
def test_no_snapshot_each_fault_is_a_clean_error(town: Town, emulated: Clock, tmp_path: Path,
                                                 name: str, message: str,
                                                 routes: list[str]) -> None:
    shutil.copy(town.account.path, tmp_path / town.account.path.name)
    config_file = write_config(tmp_path / "fengqiao.yml", f"gsheets:{SID}", "snaps",
                               town.account.path)
    route, what, times, _ = FAULTS[name]
    if route is not None:
        town.server.fault(route, what, times=times)
    else:
        town.book.shared_with = {}
    try:
        result = CliRunner().invoke(cli, ["build", "--config", str(config_file),
                                          "--out", str(tmp_path / "public")])
    finally:
        town.book.shared_with = {EMAIL: "reader"}
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # the CLI's own exit, not a crash
    assert result.stderr.strip().splitlines()[-1] == message
    assert town.server.routes() == routes
    assert not (tmp_path / "public").exists()


# --- SIGKILL while MkDocs runs -----------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return state[state.rindex(")") + 2] == "Z"


def test_sigkill_during_mkdocs_keeps_the_previous_site(town: Town) -> None:
    root = town.root
    config_file = write_config(root / "xlsx.yml", town.workbook.name, "snapshots-xlsx", None)
    out = root / "kill-site"
    shutil.copytree(town.site, out)
    before = tree_hashes(out)
    proc = subprocess.Popen([str(FENGQIAO), "build", "--config", str(config_file), "--out",
                             str(out)], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    engine: int | None = None
    temp: list[Path] = []
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            temp = list(root.glob(".kill-site.new-*"))
            engine = next((c for c in _children(proc.pid) if b"mkdocs" in _cmdline(c)), None)
            # MkDocs is running and has started writing into the temporary folder
            if engine is not None and temp and any(temp[0].iterdir()):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the build finished before it could be killed"
        assert engine is not None and temp, "MkDocs never started"
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL
    waited = time.monotonic() + 30
    while not _gone(engine) and time.monotonic() < waited:
        time.sleep(0.01)
    assert _gone(engine), "the MkDocs child outlived the kill"

    # the previous site is byte for byte what it was; the snapshot made before
    # the engine ran is complete
    assert tree_hashes(out) == before
    assert verify_snapshots(root / "snapshots-xlsx") == []
    assert [r.name for r in list_snapshots(root / "snapshots-xlsx")] == [town.workbook.name]
    leftovers = sorted(p.name for p in root.iterdir() if p.name.startswith(".kill-site."))
    assert leftovers == [temp[0].name]

    # the next build succeeds and clears what the killed one left behind
    result = CliRunner().invoke(cli, ["build", "--config", str(config_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in root.iterdir() if p.name.startswith(".kill-site.")) == []
    assert (out / "index.html").is_file()
    assert f"台账“{town.workbook.name}”于" in (out / "index.html").read_text(encoding="utf-8")
    assert verify_snapshots(root / "snapshots-xlsx") == []


def test_leftovers_of_a_live_build_are_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "public"
    out.mkdir()
    mine = tmp_path / f".public.new-{os.getpid()}-abc"
    mine.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale_new = tmp_path / f".public.new-{dead.pid}-xyz"
    stale_old = tmp_path / f".public.old-{dead.pid}"
    stale_new.mkdir()
    stale_old.mkdir()
    other = tmp_path / ".other.new-1-x"
    other.mkdir()
    remove_leftovers(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [".other.new-1-x", mine.name, "public"])
    # killed between the two renames: the old site is put back
    out.rename(tmp_path / f".public.old-{dead.pid}")
    (tmp_path / f".public.old-{dead.pid}" / "index.html").write_text("旧", encoding="utf-8")
    remove_leftovers(out)
    assert (out / "index.html").read_text(encoding="utf-8") == "旧"


# --- secrets never leak ----------------------------------------------------------------------


def _secrets(town: Town) -> list[str]:
    key_lines = [line for line in town.account.private_key.splitlines()
                 if line and not line.startswith("-----")]
    return [*key_lines, "PRIVATE KEY", town.account.info["private_key_id"], "Bearer",
            "Authorization", *town.server.tokens]


def _scan_tree(folder: Path, secrets: list[str]) -> list[tuple[str, str]]:
    found = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        for s in secrets:
            if s.encode() in data:
                found.append((path.relative_to(folder).as_posix(), s))
    return found


@pytest.mark.parametrize("with_snapshot", [True, False], ids=["fallback", "no-snapshot"])
def test_rejected_credential_leaks_nothing(town: Town, emulated: Clock, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture,
                                           with_snapshot: bool) -> None:
    caplog.set_level(logging.DEBUG)
    if with_snapshot:
        config_file, out = town.config_file, town.root / "401-site"
    else:
        shutil.copy(town.account.path, tmp_path / town.account.path.name)
        config_file = write_config(tmp_path / "fengqiao.yml", f"gsheets:{SID}", "snaps",
                                   town.account.path)
        out = tmp_path / "public"
    town.server.fault("metadata", status_fault(401), times=2)
    result = CliRunner().invoke(cli, ["build", "--config", str(config_file), "--out", str(out)])
    # a token was issued and sent (twice: the refresh after the first 401)
    assert town.server.routes() == ["token", "metadata", "token", "metadata"]
    assert len(town.server.tokens) >= 2
    rejected = (f"Google 拒绝了服务账号 {EMAIL} 的凭据（密钥可能已被删除、停用或过期）。"
                "请在 Google Cloud 控制台为这个服务账号新建 JSON 密钥，替换旧文件后重试。")
    if with_snapshot:
        assert result.exit_code == 0, result.output
        assert STALE_TITLE in (out / "index.html").read_text(encoding="utf-8")
    else:
        assert result.exit_code == 2
        assert result.stderr.strip().splitlines()[-1] == "错误：" + rejected
    secrets = _secrets(town)
    logged = caplog.text
    for s in secrets:
        assert s not in result.stdout, s
        assert s not in result.stderr, s
        assert s not in logged, s
    if with_snapshot:
        assert _scan_tree(out, secrets) == []
        assert work_dir(out).is_dir() and _scan_tree(work_dir(out), secrets) == []
