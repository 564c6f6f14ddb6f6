"""A town's own copy of the procedure pages, kept up to date without
overwriting what the town wrote.

``fengqiao init`` copies fengqiao's pages into the town folder (``site/``)
so the town can edit them. A later fengqiao may bring changed or new pages;
``fengqiao pages refresh`` brings them in. To tell a page the town edited
from one it never touched, ``init`` records each copied page's sha256 in
``site/.fengqiao-pages.json`` (:data:`MANIFEST`; the build reads only
``*.md``, so the record is never published). A refresh then:

- replaces a page whose bytes are still those recorded (never edited);
- adds a page fengqiao has and the record does not know (new);
- keeps a page the town edited, and lists it with where the new version is;
- leaves a recorded page the town deleted deleted (a town may drop a
  procedure), and lists it.

A folder without the record (made by hand, or by fengqiao 0.1) cannot say
which pages were edited: a page that differs from fengqiao's is kept as
edited, and a missing one is added. Each write is atomic; the record is
written last, so a refresh stopped half-way is simply run again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FengqiaoError
from .publish.atomic import write_atomic
from .resources import DEFAULT_PAGES

#: the record of the pages ``init`` copied, inside the town's pages folder
MANIFEST = ".fengqiao-pages.json"
FORMAT = 1


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def default_pages(defaults: Path = DEFAULT_PAGES) -> dict[str, Path]:
    """fengqiao's own pages by their path inside the folder (posix)."""
    return {p.relative_to(defaults).as_posix(): p for p in sorted(defaults.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and "__pycache__" not in p.parts}


def record_pages(folder: Path, defaults: Path = DEFAULT_PAGES) -> None:
    """Write the record of a fresh copy of ``defaults`` in ``folder``."""
    _write_record(folder, {rel: _digest(p) for rel, p in default_pages(defaults).items()})


def _write_record(folder: Path, pages: dict[str, str]) -> None:
    text = json.dumps({"format": FORMAT, "pages": dict(sorted(pages.items()))},
                      ensure_ascii=False, indent=2) + "\n"
    write_atomic(folder / MANIFEST, text.encode("utf-8"))


def _read_record(folder: Path) -> dict[str, str] | None:
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pages = data["pages"]
        if data.get("format") != FORMAT or not isinstance(pages, dict) \
                or not all(isinstance(k, str) and isinstance(v, str) for k, v in pages.items()):
            raise ValueError("unexpected shape")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FengqiaoError(f"页面记录 {path} 无法读取（{exc}）。",
                            hint="这个文件由 fengqiao 生成；删除它后再运行，与新版不同的页面"
                                 "都会当作本镇改过的页面保留。") from exc
    return pages


@dataclass
class Refresh:
    """What a refresh did (or, with ``dry_run``, would do), by page path."""

    folder: Path
    recorded: bool  # the folder had a record of the copied pages
    updated: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    current: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.updated or self.added)


def refresh_pages(folder: Path, *, defaults: Path = DEFAULT_PAGES, dry_run: bool = False) -> Refresh:
    """Bring ``defaults`` into the town's pages ``folder`` (see the module)."""
    if not folder.is_dir():
        raise FengqiaoError(f"找不到页面文件夹 {folder}。",
                            hint="请检查 fengqiao.yml 的 site: pages: 一项。")
    record = _read_record(folder)
    result = Refresh(folder=folder, recorded=record is not None)
    new_record = dict(record or {})
    for rel, source in default_pages(defaults).items():
        target = folder / rel
        new = _digest(source)
        if target.is_file():
            mine = _digest(target)
            if mine == new:
                result.current += 1
                new_record[rel] = new
                continue
            if record is None or record.get(rel) != mine:
                # edited by the town (or unknown): kept, and the record keeps
                # what was copied, so the page stays "edited" next time too
                result.edited.append(rel)
                continue
            result.updated.append(rel)
        elif target.exists():  # a folder where the page would be: the town's
            result.edited.append(rel)
            continue
        elif record is not None and rel in record:
            result.deleted.append(rel)
            continue
        else:
            result.added.append(rel)
        if not dry_run:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(target, source.read_bytes())
        new_record[rel] = new
    if not dry_run:
        _write_record(folder, new_record)
    return result


__all__ = ["MANIFEST", "Refresh", "default_pages", "record_pages", "refresh_pages"]
