"""Publish a site: engine → staging folder → (zip) → swap into place.

The town and the county site end the same way, so they share this step:
the engine builds into a new, marked ``.<out>.new-<pid>-*`` folder beside
``out``; the folder gets its ownership marker; the caller's ``reclaim``
checks once more that ``out`` may be replaced (a file may have appeared
during the build); the zip, if asked for, is written; and only then does
the new folder replace the old one. Any failure removes the staging folder
and leaves the previous site exactly as it was.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import outdir
from . import engine
from .atomic import clean_leftovers, staging_prefix, swap_into_place
from .files import write_site_zip


def _quiet(_: str) -> None:
    return None


def remove_leftovers(out: Path) -> None:
    """What killed builds of ``out`` left beside it (see
    :func:`~fengqiao.publish.atomic.clean_leftovers`); a folder counts as
    ours when it carries our marker."""
    clean_leftovers(out, owned=outdir.is_ours)


def staging_folder(out: Path, kind: str) -> Path:
    """A new, marked ``.<out>.new-<pid>-*`` folder beside ``out`` for the
    engine to build into; the marker is there from the start (MkDocs keeps
    hidden files), so a build killed halfway leaves a folder
    :func:`remove_leftovers` can prove is ours."""
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(out)
    folder = Path(tempfile.mkdtemp(prefix=staging_prefix(out), dir=out.parent))
    outdir.write_marker(folder, kind, files=())
    return folder


def publish_site(config_file: Path, out: Path, kind: str, *, source_epoch: int,
                 reclaim: Callable[[], Any], zip_path: Path | None = None,
                 progress: Callable[[str], None] = _quiet,
                 timings: dict[str, float] | None = None,
                 engine_log: engine.EngineLog | None = None) -> None:
    """Build the site of ``config_file`` and put it at ``out`` atomically.
    ``source_epoch`` dates the sitemap (the data's time, never the clock);
    ``timings["mkdocs"]`` gets the engine's share; ``engine_log`` the
    engine's own log lines (--verbose), which are otherwise not shown."""
    start = time.perf_counter()
    site_dir = staging_folder(out, kind)
    try:
        engine.build(config_file, site_dir, source_epoch=source_epoch, log=engine_log)
        engine.drop_source_maps(site_dir)
        outdir.write_marker(site_dir, kind)
        if timings is not None:
            timings["mkdocs"] = time.perf_counter() - start
        reclaim()
        if zip_path is not None:
            progress(f"打包：{zip_path}")
            write_site_zip(site_dir, Path(zip_path), out.name)
        swap_into_place(site_dir, out)
    except BaseException:
        shutil.rmtree(site_dir, ignore_errors=True)
        raise


__all__ = ["publish_site", "remove_leftovers", "staging_folder"]
