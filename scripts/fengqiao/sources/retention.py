"""How long snapshots are kept: the retention policy and ``snapshots prune``.

Every read stores a full copy of the ledger, personal data included; a town
that builds every morning would otherwise keep one a day for ever. Personal
information should be kept no longer than its purpose needs (PIPL art. 19),
and the purpose here is to reproduce what was published. So a snapshot is
kept when at least one of these holds, and removed otherwise:

* ``recent``: it was last read within the last ``keep_days`` days;
* ``monthly``: it is the last one read in one of the last ``keep_monthly``
  calendar months (UTC; the current month counts as one), the state a
  monthly report was made from;
* ``published``: a period's published metrics.json names it as its source.
  The store cannot see the site (the config knows nothing of ``--out``), so
  every successful build records in the manifest which snapshot each period
  it published was computed from (:func:`publish_and_prune`, one entry per
  site folder and period, the latest build's); an erased snapshot is found by
  the hashes it had before (``previous_sha256``);
* ``latest``: it is the newest snapshot of its source, the one a build falls
  back to when Google cannot be reached.

:func:`plan_retention` decides (a pure function of the manifest and a
moment); :func:`prune_snapshots` applies the plan under the store's lock and
records every removed file, with the policy and the date, in the manifest's
``history``: nothing disappears silently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .manifest import Manifest, Publication, SnapshotRecord
from .snapshots import read_store, update_store

#: why a snapshot is kept, in the order :func:`plan_retention` reports them
REASONS = ("published", "latest", "recent", "monthly")
REASON_TITLES = {"published": "已发布统计的来源", "latest": "该数据源最新的快照",
                 "recent": "保留期内", "monthly": "每月保留一份"}


@dataclass(frozen=True)
class RetentionPlan:
    """What a prune keeps (file → its reasons) and removes (the records)."""

    keep: dict[str, tuple[str, ...]]
    remove: list[SnapshotRecord] = field(default_factory=list)

    def reason_counts(self) -> dict[str, int]:
        """How many kept files each reason holds (a file may have several)."""
        counts = {why: sum(why in reasons for reasons in self.keep.values()) for why in REASONS}
        return {why: n for why, n in counts.items() if n}

    @property
    def removed_files(self) -> list[str]:
        """The files a prune deletes: those no kept record still names."""
        return sorted({r.file for r in self.remove} - set(self.keep))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _month(moment: datetime) -> int:
    m = moment.astimezone(UTC)
    return m.year * 12 + m.month - 1


def published_hashes(published: Iterable[Publication]) -> set[str]:
    """The sha256 every published period currently names."""
    return {p.sha256 for p in published}


def plan_retention(manifest: Manifest, *, keep_days: int, keep_monthly: int,
                   now: datetime) -> RetentionPlan:
    """Which snapshots the policy keeps at ``now`` and which it removes
    (see the module docstring for the four reasons)."""
    records = manifest.records
    reasons: dict[int, list[str]] = {i: [] for i in range(len(records))}
    published = published_hashes(manifest.published)
    cutoff = now - timedelta(days=keep_days)
    this_month = _month(now)
    last_of_month: dict[int, int] = {}
    latest_of_location: dict[str, int] = {}
    for i, r in enumerate(records):
        key = (r.last_read_at, r.read_at, r.file)
        month = _month(r.last_read_at)
        if this_month - keep_monthly < month <= this_month:
            j = last_of_month.get(month)
            if j is None or key > (records[j].last_read_at, records[j].read_at, records[j].file):
                last_of_month[month] = i
        j = latest_of_location.get(r.location)
        if j is None or key > (records[j].last_read_at, records[j].read_at, records[j].file):
            latest_of_location[r.location] = i
        if published.intersection(r.hashes):
            reasons[i].append("published")
        if r.last_read_at > cutoff:
            reasons[i].append("recent")
    for i in latest_of_location.values():
        reasons[i].append("latest")
    for i in last_of_month.values():
        reasons[i].append("monthly")
    by_file: dict[str, set[str]] = {}
    for i, r in enumerate(records):
        if reasons[i]:
            by_file.setdefault(r.file, set()).update(reasons[i])
    keep = {file: tuple(x for x in REASONS if x in why) for file, why in by_file.items()}
    return RetentionPlan(keep=keep, remove=[r for i, r in enumerate(records) if not reasons[i]])


def prune_snapshots(directory: Path, *, keep_days: int, keep_monthly: int, now: datetime,
                    dry_run: bool = False) -> RetentionPlan:
    """Apply the policy to a store: remove every snapshot it does not keep,
    and record each removed file (with its hash and read times), the policy
    and ``now`` in the manifest's history. ``dry_run`` changes nothing and
    returns the same plan. A file is deleted after the manifest no longer
    lists it, so an interruption leaves at worst a stray file that the next
    prune removes (``verify`` names it meanwhile)."""
    directory = Path(directory)
    if dry_run:
        return plan_retention(read_store(directory), keep_days=keep_days,
                              keep_monthly=keep_monthly, now=now)
    with update_store(directory) as manifest:
        plan, doomed = _prune(manifest, directory, keep_days, keep_monthly, now)
    _delete(directory, doomed)
    return plan


def publish_and_prune(directory: Path, *, out: Path, periods: Iterable[str], sha256: str,
                      at: datetime, keep_days: int, keep_monthly: int) -> RetentionPlan:
    """What a successful build does, in one locked manifest update:
    :func:`record_publication`, then :func:`prune_snapshots` at ``at``."""
    directory = Path(directory)
    with update_store(directory) as manifest:
        _publish(manifest, out, periods, sha256, at)
        plan, doomed = _prune(manifest, directory, keep_days, keep_monthly, at)
    _delete(directory, doomed)
    return plan


def _prune(manifest: Manifest, directory: Path, keep_days: int, keep_monthly: int,
           now: datetime) -> tuple[RetentionPlan, list[str]]:
    """Drop what the plan removes from ``manifest``; the files to delete once
    the manifest is written (with strays an interrupted run left)."""
    plan = plan_retention(manifest, keep_days=keep_days, keep_monthly=keep_monthly, now=now)
    stray = _stray_files(directory, manifest)
    if plan.remove:
        manifest.records = [r for r in manifest.records if r not in plan.remove]
        manifest.history.append(_prune_entry(plan, keep_days, keep_monthly, now))
    return plan, [*plan.removed_files, *stray]


def _delete(directory: Path, names: Iterable[str]) -> None:
    for name in names:
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()


def _prune_entry(plan: RetentionPlan, keep_days: int, keep_monthly: int,
                 now: datetime) -> dict[str, Any]:
    return {
        "action": "prune",
        "at": _iso(now),
        "policy": {"keep_days": keep_days, "keep_monthly": keep_monthly},
        "removed": [{"file": r.file, "sha256": r.sha256, "location": r.location,
                     "read_at": _iso(r.read_at), "last_read_at": _iso(r.last_read_at)}
                    for r in plan.remove],
    }


def _stray_files(directory: Path, manifest: Manifest) -> list[str]:
    """Files the history says were removed or replaced but that are still
    there (a prune or an erasure interrupted after writing the manifest),
    and no current record lists."""
    listed = {r.file for r in manifest.records}
    gone: set[str] = set()
    for entry in manifest.history:
        for item in entry.get("removed", ()):
            if isinstance(item, dict):
                gone.add(str(item.get("file", "")))
        for item in entry.get("files", ()):
            if isinstance(item, dict):
                gone.add(str(item.get("old_file", "")))
    return sorted(n for n in gone - listed if n and "/" not in n and (directory / n).is_file())


def record_publication(directory: Path, *, out: Path, periods: Iterable[str], sha256: str,
                       at: datetime) -> None:
    """Remember that the site in ``out`` now publishes ``periods`` computed
    from the snapshot ``sha256`` (called after a successful build); the
    entries of that folder's earlier build for the same periods are
    replaced, so the list stays one entry per folder and period."""
    with update_store(directory) as manifest:
        _publish(manifest, out, periods, sha256, at)


def _publish(manifest: Manifest, out: Path, periods: Iterable[str], sha256: str,
             at: datetime) -> None:
    key = str(Path(out).resolve())
    labels = list(dict.fromkeys(periods))
    kept = [p for p in manifest.published if not (p.out == key and p.period in labels)]
    manifest.published = kept + [Publication(out=key, period=label, sha256=sha256, at=at)
                                 for label in labels]
