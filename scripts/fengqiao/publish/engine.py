"""The site engine: the only module that names MkDocs.

Pages arrive as plain Markdown in ``<build>/docs``; this module writes
``<build>/mkdocs.yml`` from the repository's ``mkdocs.yml`` (one writer for
the town and the county site, so both get the same theme, offline mode and
Chinese search with the jieba dictionary), runs ``mkdocs build`` in a
subprocess, and runs ``mkdocs serve`` for the preview. Paths in the written
config are relative to the build folder: Zensical, meant to replace MkDocs,
refuses an absolute ``docs_dir``, and a relative config does not change when
the folder is moved. Replacing the engine means replacing this module.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import yaml

from .. import catalogue
from ..errors import FengqiaoError
from ..resources import DEFAULT_PAGES, ENGINE_BASE
from ..schema import load_schema

#: the repository's engine settings every generated config starts from
MKDOCS_BASE = ENGINE_BASE
ASSETS = Path(__file__).resolve().parents[1] / "assets"

#: names inside the build folder, which the written config refers to relatively
CONFIG_FILE = "mkdocs.yml"
DOCS_DIR = "docs"
SITE_DIR = "site"
JIEBA_DICT = "jieba_user_dict.txt"
#: the preview engine's own log (English: MkDocs and jieba), in the build folder
SERVE_LOG = "engine-serve.log"

#: where the engine's log lines go when a person asked to see them (--verbose);
#: otherwise they are kept out of the terminal, which speaks Chinese only
EngineLog = Callable[[str], None]

#: the words staff type into the search box: jieba must cut the pages into
#: exactly these tokens, or the search (which matches whole tokens) misses
#: them; they carry a frequency far above the compounds that contain them,
#: so 首次调解成功率 is cut into 首次 / 调解 / 成功率 and 调解 is found
SEARCH_WORDS = frozenset({
    "调解", "调处", "化解", "时限", "限期", "期限", "督办", "销号", "星级", "一星", "二星", "三星",
    "回访", "满意度", "走访", "随访", "接访", "下访", "约访", "网格", "网格员", "包案", "重点人员",
    "积案", "逾期", "办结", "受理", "台账", "清单", "纠纷", "矛盾", "信访", "土地", "邻里", "婚姻",
    "家庭", "劳资", "物业", "上传", "下传", "专传", "交办", "反馈", "五步", "三级"})
#: how much more likely a search word is than anything in jieba's own dictionary
SEARCH_FREQUENCY = 10_000_000
#: domain names kept whole too (titles, tab names), after the search words
DOMAIN_FREQUENCY = 1_000


def jieba_words() -> str:
    """The user dictionary: the search words (far above everything), then
    the tab titles, the schema's choices, the metric titles and the
    procedure headings at a low frequency, so each is one token when it
    stands alone but never swallows a search word inside a longer phrase."""
    words: dict[str, int] = {w: SEARCH_FREQUENCY for w in SEARCH_WORDS}
    domain: set[str] = set()
    for tab in load_schema():
        domain.add(tab.title)
        for f in tab.fields:
            if f.enum:
                domain.update(str(v) for v in f.enum if isinstance(v, str) and len(v) > 1)
    domain.update(catalogue.title(m) for m in catalogue.ids())
    domain.update(_headings(DEFAULT_PAGES))
    for word in domain:
        if len(word) > 1 and not any(s in word for s in SEARCH_WORDS if s != word):
            words.setdefault(word, DOMAIN_FREQUENCY)
    return "".join(f"{w} {n}\n" for w, n in sorted(words.items()))


def _headings(pages: Path) -> set[str]:
    """The procedure pages' headings, Chinese only (a heading with a
    placeholder or punctuation is cut at it)."""
    found: set[str] = set()
    for path in pages.rglob("*.md"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("#"):
                found.update(re.findall(r"[\u4e00-\u9fff]{2,}", line))
    return found


def copy_assets(docs: Path) -> None:
    """Our stylesheet and script (the list filters), and the offline plugin's
    iframe-worker polyfill, where mkdocs.yml's ``extra_css``,
    ``extra_javascript`` and ``polyfills`` expect them."""
    assets = docs / "assets"
    (assets / "javascripts").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ASSETS / "fengqiao.css", assets / "fengqiao.css")
    shutil.copyfile(ASSETS / "fengqiao.js", assets / "fengqiao.js")
    shutil.copyfile(ASSETS / "iframe-worker-shim.js", assets / "javascripts" / "iframe-worker-shim.js")


def write_config(build_dir: Path, *, site_name: str, nav: list[Any], command: str) -> Path:
    """``<build>/mkdocs.yml``: the repository's settings with this site's
    name and navigation, ``docs_dir``/``site_dir`` relative to the build
    folder, and the jieba user dictionary written beside it. ``command``
    names what generated it, in the file's first line."""
    base = yaml.safe_load(MKDOCS_BASE.read_text(encoding="utf-8"))
    base["site_name"] = site_name
    base["docs_dir"] = DOCS_DIR
    base["site_dir"] = SITE_DIR
    base["nav"] = nav
    (build_dir / JIEBA_DICT).write_text(jieba_words(), encoding="utf-8")
    for plugin in base.get("plugins", []):
        if isinstance(plugin, dict) and "search" in plugin:
            # read by the search plugin relative to the current folder: the
            # engine always runs in the build folder
            plugin["search"]["jieba_dict_user"] = JIEBA_DICT
    path = build_dir / CONFIG_FILE
    path.write_text(f"# generated by {command} from the repository's mkdocs.yml\n"
                    + yaml.safe_dump(base, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["NO_MKDOCS_2_WARNING"] = "1"
    return env


def _relay(stream: IO[str], tail: deque[str], log: EngineLog | None,
           keep: IO[str] | None = None) -> None:
    """Read the engine's merged output to its end: the last lines kept for
    an error message, every line to ``log`` (--verbose) and to ``keep``."""
    for raw in stream:
        line = raw.rstrip("\n")
        tail.append(line)
        if log is not None:
            log(line)
        if keep is not None:
            keep.write(raw)
            keep.flush()


def build(config_file: Path, site_dir: Path, *, source_epoch: int,
          log: EngineLog | None = None) -> None:
    """Run ``mkdocs build`` into ``site_dir``; a failure is a
    :class:`FengqiaoError` with the engine's last lines. The engine's log
    goes to ``log`` as it comes (its INFO lines too), or nowhere."""
    env = _env()
    env["SOURCE_DATE_EPOCH"] = str(source_epoch)  # sitemap dates follow the data, not the clock
    env.setdefault("PYTHONHASHSEED", "0")
    quiet = [] if log is not None else ["-q"]
    tail: deque[str] = deque(maxlen=15)
    with subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "build", *quiet, "-f", str(config_file),
             "-d", str(site_dir)],
            cwd=config_file.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, encoding="utf-8", errors="replace") as proc:
        assert proc.stdout is not None
        _relay(proc.stdout, tail, log)
    if proc.returncode != 0:
        shown = "" if log is not None else "\n" + "\n".join(tail).strip()
        raise FengqiaoError(f"网站引擎 MkDocs 生成失败，原来的网站保持不变。{shown}",
                            hint="请根据上面的提示检查 site/ 里的页面或 mkdocs.yml。")


def drop_source_maps(site_dir: Path) -> None:
    """The theme's .map files only help debugging its JavaScript; they are
    large and full of upstream URLs, so they are not published (the same goes
    for language files the search never loads)."""
    for path in site_dir.rglob("*.map"):
        path.unlink()
    # Stemmers and segmenters for other languages: search runs with lang en
    # over a jieba-segmented index, so the worker never loads any of them.
    shutil.rmtree(site_dir / "assets" / "javascripts" / "lunr", ignore_errors=True)


class PreviewServer(subprocess.Popen[str]):
    """The running ``mkdocs serve``, with its log relayed by a thread."""

    relay: threading.Thread
    tail: deque[str]

    def log_tail(self) -> str:
        """The engine's last lines (after it has stopped), for an error message."""
        self.relay.join(timeout=5)
        return "\n".join(self.tail).strip()


def serve(build_dir: Path, port: int, *, log: EngineLog | None = None) -> PreviewServer:
    """Start ``mkdocs serve`` with live reload on the build folder's config,
    bound to 127.0.0.1; the caller stops it. The engine's log is written to
    :data:`SERVE_LOG` in the build folder and, with ``log``, relayed line by
    line; it never reaches the terminal otherwise."""
    config_file = build_dir / CONFIG_FILE
    if not config_file.exists():
        raise FengqiaoError(f"找不到 {config_file}，还没有生成过网站。",
                            hint="请先运行 fengqiao build，或去掉 --no-rebuild。")
    proc = PreviewServer(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(config_file),
         "-a", f"127.0.0.1:{port}", "--livereload"],
        cwd=build_dir, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, encoding="utf-8", errors="replace")
    assert proc.stdout is not None
    stream = proc.stdout
    keep = (build_dir / SERVE_LOG).open("w", encoding="utf-8")
    proc.tail = deque(maxlen=15)

    def relay() -> None:
        with keep:
            _relay(stream, proc.tail, log, keep)

    proc.relay = threading.Thread(target=relay, name="engine-log", daemon=True)
    proc.relay.start()
    return proc


__all__ = ["ASSETS", "CONFIG_FILE", "DOCS_DIR", "JIEBA_DICT", "MKDOCS_BASE", "SEARCH_WORDS", "SERVE_LOG",
           "SITE_DIR", "EngineLog", "PreviewServer", "build", "copy_assets", "drop_source_maps",
           "jieba_words", "serve", "write_config"]
