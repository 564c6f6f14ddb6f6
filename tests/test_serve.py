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

from fengqiao.errors import FengqiaoError
from fengqiao.publish import engine
from fengqiao.render import town
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
    shutil.copytree(town.SITE_PAGES, pages)
    monkeypatch.setattr(town, "SITE_PAGES", pages)
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


def _serve_once(config, out: Path, **kwargs) -> None:  # type: ignore[no-untyped-def]
    """Serve ``out`` until its home page answers, then stop."""
    port = _free_port()
    stop = threading.Event()
    server = threading.Thread(target=serve_site, kwargs={
        "config": config, "out": out, "port": port, "rebuild": False, "poll_seconds": 0.2,
        "stop": stop.is_set, **kwargs})
    server.start()
    try:
        assert _wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=5).ok)
    finally:
        stop.set()
        server.join(timeout=30)
    assert not server.is_alive()


def test_serve_keeps_the_engine_log_off_the_terminal(tmp_path: Path,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    config = fixture_config(tmp_path)
    out = tmp_path / "public"
    build_from_data(site_data(), config, out=out)
    capfd.readouterr()
    _serve_once(config, out)
    quiet = capfd.readouterr()
    assert "INFO" not in quiet.err + quiet.out
    assert "Building prefix dict" not in quiet.err + quiet.out
    log = (tmp_path / "public.fengqiao-tmp" / engine.SERVE_LOG).read_text(encoding="utf-8")
    assert "Serving on http://127.0.0.1:" in log  # kept beside the build, not lost

    lines: list[str] = []  # --verbose: the CLI passes a callback that prints them
    _serve_once(config, out, engine_log=lines.append)
    assert any("Serving on http://127.0.0.1:" in line for line in lines)
    assert capfd.readouterr().err == ""


def test_serve_reports_an_engine_that_stops(tmp_path: Path) -> None:
    config = fixture_config(tmp_path)
    out = tmp_path / "public"
    build_from_data(site_data(), config, out=out)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        with pytest.raises(FengqiaoError) as caught:
            serve_site(config, out=out, port=port, rebuild=False, poll_seconds=0.2)
    message = str(caught.value)
    assert message.startswith(f"预览用的网站引擎 MkDocs 意外退出（端口 {port} 可能已被占用）：\n")
    assert message.endswith("可以用 --port 换一个端口再试。")


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux: /proc's children lists)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    """Running, or at least not yet reaped by anyone."""
    status = Path(f"/proc/{pid}/status")
    try:
        state = next(line for line in status.read_text().splitlines() if line.startswith("State:"))
    except (FileNotFoundError, StopIteration):
        return False
    return "zombie" not in state


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
def test_a_terminated_preview_stops_its_engine(tmp_path: Path, signame: str) -> None:
    """``kill`` or ``timeout`` on ``fengqiao serve`` (not only Ctrl+C) stops the
    MkDocs server it started: before, the engine kept serving the port with
    no parent, and a second preview found the port taken."""
    import os
    import signal
    import subprocess
    import sys

    fixture_config(tmp_path)  # writes tmp_path/fengqiao.yml
    out = tmp_path / "public"
    build_from_data(site_data(), fixture_config(tmp_path), out=out)
    port = _free_port()
    fengqiao = Path(sys.executable).with_name("fengqiao")
    proc = subprocess.Popen([str(fengqiao), "serve", "--no-rebuild", "--dir", str(out),
                             "--port", str(port)], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=5).ok)
        engines = _children(proc.pid)
        assert engines, "the preview runs its engine as a child process"
        os.kill(proc.pid, getattr(signal, signame))
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(_alive(pid) for pid in engines)
    with socket.socket() as again:  # the port is free for the next preview
        # as a server binds (MkDocs' too): the test's own closed connections
        # may linger in TIME_WAIT, a listening engine would still refuse it
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen()
