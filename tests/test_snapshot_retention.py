"""Snapshot retention and permissions: two simulated years of daily reads
and builds on a fake clock keep exactly what the policy says, every
published period's source survives, and the store is owner-only."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.sitebuild import published_periods
from fengqiao.sources import FetchedSource, list_snapshots, save_snapshot, verify_snapshots
from fengqiao.sources.base import RawWorkbook, SourceInfo
from fengqiao.sources.retention import (
    plan_retention,
    prune_snapshots,
    publish_and_prune,
    record_publication,
)
from fengqiao.sources.snapshots import read_store

START = date(2023, 1, 1)
END = date(2024, 12, 31)
SITE = Path("/srv/枫溪镇/public")


def read_on(store: Path, day: date, text: str | None = None, location: str = "SHEET") -> str:
    """One read of a (fake Google) ledger at 06:00 UTC that day; returns its sha256."""
    moment = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
    info = SourceInfo("gsheets", "枫溪镇台账", location, read_at=moment)
    data = json.dumps({"day": text or day.isoformat()}).encode()
    record = save_snapshot(FetchedSource(RawWorkbook(info), data, "json"), store)
    return record.sha256


def days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def test_two_years_of_daily_builds_keep_what_the_policy_says(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # durability is not under test here: 1,400 fsyncs would only make it slow
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    store = tmp_path / "snapshots"
    keep_days, keep_monthly = 90, 6
    sha_of: dict[date, str] = {}
    last_published: dict[str, date] = {}  # period label → last day a build published it
    for day in days(START, END):
        sha_of[day] = read_on(store, day)
        labels = [p.label for p in published_periods(day, 12)]
        at = datetime(day.year, day.month, day.day, 6, 5, tzinfo=UTC)
        # what every successful build does after publishing (sitebuild.keep_snapshots)
        publish_and_prune(store, out=SITE, periods=labels, sha256=sha_of[day], at=at,
                          keep_days=keep_days, keep_monthly=keep_monthly)
        last_published.update(dict.fromkeys(labels, day))

    def month_end(d: date) -> bool:
        return (d + timedelta(days=1)).day == 1

    recent = set(days(END - timedelta(days=keep_days - 1), END))
    monthly = {d for d in days(date(2024, 7, 1), END) if month_end(d)} | {END}
    published = set(last_published.values())
    expected = {sha_of[d] for d in recent | monthly | published}
    kept = list_snapshots(store)
    assert {r.sha256 for r in kept} == expected
    # by hand: a month stays on the site for 12 months, so from the first
    # month-end on, each month-end was the last build of some month (or
    # quarter, or year): the 90 days from 3 October, plus the month-ends of
    # January 2023 to September 2024 (21)
    assert published == {d for d in days(START, END) if month_end(d)} | {END}
    assert len(kept) == 90 + 21
    # every published period's source is kept, on disk, with its bytes
    manifest = read_store(store)
    assert {p.sha256 for p in manifest.published} <= {r.sha256 for r in kept}
    assert len(manifest.published) == len(last_published)
    assert verify_snapshots(store) == []
    # nothing went silently: each removed file is in the history, and is gone
    removed = [item for entry in manifest.history if entry["action"] == "prune"
               for item in entry["removed"]]
    assert len(removed) == len(sha_of) - len(kept)
    assert {item["sha256"] for item in removed} == set(sha_of.values()) - expected
    assert not any((store / item["file"]).exists() for item in removed)
    assert manifest.history[0]["policy"] == {"keep_days": 90, "keep_monthly": 6}
    assert sorted(p.name for p in store.iterdir() if not p.name.startswith(".")) == \
        sorted([r.file for r in kept] + ["manifest.json"])


def test_each_reason_alone_keeps_a_snapshot(tmp_path: Path) -> None:
    store = tmp_path / "snaps"
    old = read_on(store, date(2024, 1, 10), "old")
    published = read_on(store, date(2024, 2, 10), "published")
    month_end = read_on(store, date(2024, 5, 31), "may")
    read_on(store, date(2024, 6, 2), "june-early")
    other_source = read_on(store, date(2024, 3, 1), "b", location="OTHER")
    latest = read_on(store, date(2024, 6, 20), "latest")
    record_publication(store, out=SITE, periods=["2024-01"], sha256=published,
                       at=datetime(2024, 2, 10, tzinfo=UTC))
    now = datetime(2024, 6, 21, tzinfo=UTC)
    plan = plan_retention(read_store(store), keep_days=5, keep_monthly=2, now=now)
    by_sha = {r.sha256: plan.keep.get(r.file, ()) for r in read_store(store).records}
    assert by_sha[old] == ()
    assert by_sha[published] == ("published",)
    assert by_sha[month_end] == ("monthly",)  # the last read of May
    assert by_sha[other_source] == ("latest",)  # the newest of its source, however old
    assert by_sha[latest] == ("latest", "recent", "monthly")
    assert len(plan.remove) == 2  # January's and early June's
    # a dry run changes nothing; the real run removes the same files
    before = sorted(p.name for p in store.iterdir())
    assert prune_snapshots(store, keep_days=5, keep_monthly=2, now=now,
                           dry_run=True).removed_files == plan.removed_files
    assert sorted(p.name for p in store.iterdir()) == before
    assert prune_snapshots(store, keep_days=5, keep_monthly=2,
                           now=now).removed_files == plan.removed_files
    assert len(list_snapshots(store)) == 4 and verify_snapshots(store) == []


def test_a_new_build_of_the_same_site_replaces_its_publications(tmp_path: Path) -> None:
    store = tmp_path / "snaps"
    a = read_on(store, date(2024, 3, 1), "a")
    b = read_on(store, date(2024, 3, 2), "b")
    at = datetime(2024, 3, 2, tzinfo=UTC)
    record_publication(store, out=SITE, periods=["2024-02", "2024-Q1"], sha256=a, at=at)
    record_publication(store, out=tmp_path / "other", periods=["2024-02"], sha256=a, at=at)
    record_publication(store, out=SITE, periods=["2024-Q1", "2024-03"], sha256=b, at=at)
    got = {(Path(p.out).name, p.period, p.sha256) for p in read_store(store).published}
    assert got == {("public", "2024-02", a), ("other", "2024-02", a),
                   ("public", "2024-Q1", b), ("public", "2024-03", b)}


def test_an_interrupted_prune_is_finished_by_the_next(tmp_path: Path) -> None:
    store = tmp_path / "snaps"
    read_on(store, date(2024, 1, 1), "a")
    read_on(store, date(2024, 6, 1), "b")
    now = datetime(2024, 6, 2, tzinfo=UTC)
    plan = plan_retention(read_store(store), keep_days=5, keep_monthly=1, now=now)
    (gone,) = plan.removed_files
    kept = (store / gone).read_bytes()
    prune_snapshots(store, keep_days=5, keep_monthly=1, now=now)
    (store / gone).write_bytes(kept)  # as if the process died before deleting it
    assert verify_snapshots(store) == [f"文件 {gone} 不在快照清单里。"]
    prune_snapshots(store, keep_days=5, keep_monthly=1, now=now)
    assert not (store / gone).exists() and verify_snapshots(store) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_the_store_is_owner_only(tmp_path: Path) -> None:
    store = tmp_path / "snaps"
    read_on(store, date(2024, 1, 1))
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in store.iterdir()}
    assert len(modes) == 4  # snapshot, manifest, lock, marker
    assert set(modes.values()) == {0o600}
    # a store made by an older version (or copied loosely) is tightened on the next write
    store.chmod(0o755)
    for p in store.iterdir():
        p.chmod(0o644)
    read_on(store, date(2024, 1, 2))
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in store.iterdir()} == {0o600}


def test_cli_prune_and_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "snapshots"
    today = datetime.now(UTC).date()
    read_on(store, today - timedelta(days=800), "ancient")
    read_on(store, today - timedelta(days=1), "yesterday")
    (tmp_path / "fengqiao.yml").write_text(
        "snapshots:\n  keep_days: 30\n  keep_monthly: 3\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    listed = runner.invoke(cli, ["snapshots", "list"])
    assert listed.exit_code == 0, listed.output
    oldest = today - timedelta(days=800)
    assert listed.output.splitlines()[-1].endswith(
        f"（2 个快照文件）；其中最早的台账（含个人信息）读取于 {oldest:%Y-%m-%d}。")
    assert listed.output.splitlines()[-1].startswith("占用空间 ")
    (ancient,) = [r.file for r in list_snapshots(store) if r.last_read_at.date() == oldest]
    dry = runner.invoke(cli, ["snapshots", "prune", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines() == [
        "保留规则：最近 30 天的快照全部保留，最近 3 个月每月保留最后一份，"
        "已发布统计所用的快照和每个数据源最新的快照始终保留。",
        f"将删除：{ancient}",
        f"将删除 1 个快照，保留 1 个（该数据源最新的快照 1 个；保留期内 1 个；每月保留一份 1 个），"
        f"目录：{store}",
    ]
    assert (store / ancient).exists()
    done = runner.invoke(cli, ["snapshots", "prune"])
    assert done.exit_code == 0, done.output
    assert f"已删除：{ancient}" in done.output and not (store / ancient).exists()
    bad = runner.invoke(cli, ["snapshots", "prune", "--dir", str(tmp_path / "无此目录")])
    assert bad.exit_code == 2
    assert bad.output.startswith(f"错误：快照目录“{tmp_path / '无此目录'}”不存在。")


def test_retention_settings_are_typed(tmp_path: Path) -> None:
    (tmp_path / "fengqiao.yml").write_text("snapshots:\n  keep_days: -1\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["snapshots", "prune", "--config",
                                      str(tmp_path / "fengqiao.yml")])
    assert result.exit_code == 2
    assert "snapshots.keep_days" in result.output and "Traceback" not in result.output
