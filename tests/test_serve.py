"""`fengqiao serve`: an edit to a procedure page shows on the preview server
without re-reading the ledger. Uses a copy of site/, never the repo's pages."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from fengqiao import sitebuild
from fengqiao.sitebuild import build_from_data, serve_site
from site_fixture import fixture_config, site_data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(predicate, seconds: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    return False


def test_serve_rerenders_an_edited_procedure(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pages = tmp_path / "site"
    shutil.copytree(sitebuild.SITE_PAGES, pages)
    monkeypatch.setattr(sitebuild, "SITE_PAGES", pages)
    config = fixture_config(tmp_path)
    out = tmp_path / "public"
    build_from_data(site_data(), config, out=out)

    port = _free_port()
    stop = threading.Event()
    messages: list[str] = []
    server = threading.Thread(target=serve_site, kwargs={
        "config": config, "out": out, "port": port, "rebuild": False,
        "progress": messages.append, "poll_seconds": 0.2, "stop": stop.is_set})
    server.start()
    try:
        url = f"http://127.0.0.1:{port}/procedures/star-grading.html"
        assert _wait_for(lambda: requests.get(url, timeout=5).status_code == 200)
        page = pages / "procedures" / "star-grading.md"
        page.write_text(page.read_text("utf-8") + "\n\n本段为预览测试新增的文字。\n", "utf-8")
        assert _wait_for(lambda: "本段为预览测试新增的文字" in requests.get(url, timeout=5).content.decode("utf-8"))
        assert any(m.startswith("已更新：") and "star-grading.md" in m for m in messages)
    finally:
        stop.set()
        server.join(timeout=30)
    assert not server.is_alive()
