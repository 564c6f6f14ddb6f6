"""Snapshots: exact bytes stored atomically, a manifest that can be
verified, and the stale fallback for an unreachable Google spreadsheet."""

from __future__ import annotations

import hashlib
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.errors import FengqiaoError, SourceError
from fengqiao.sources import (
    FetchedSource,
    fetch_source,
    latest_snapshot,
    list_snapshots,
    open_snapshot,
    open_source,
    read_source,
    save_snapshot,
    verify_snapshots,
)
from fengqiao.sources.gsheets import PAYLOAD_KIND, workbook_from_payload
from fengqiao.sources.guard import size_text

T0 = datetime(2024, 3, 5, 1, 2, 3, tzinfo=UTC)


class Clock:
    """Each call is one minute after the previous one."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start - timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


def write_book(path: Path, value: str = "007") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "纠纷台账"
    ws.append(["编号", "状态"])
    ws.append([value, "调处中"])
    ws.append(["008", "已化解"])
    wb.save(path)
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(directory: Path) -> dict[str, object]:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def visible_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def test_xlsx_read_is_stored_byte_for_byte(tmp_path: Path) -> None:
    book = write_book(tmp_path / "东村 台账.xlsx")
    snaps = tmp_path / "快照"
    wb = read_source(book, config=None, snapshot_dir=snaps, clock=Clock())
    digest = sha(book.read_bytes())
    name = f"20240305T010203Z-{digest[:12]}.xlsx"
    assert visible_files(snaps) == [name, "manifest.json"]
    assert (snaps / name).read_bytes() == book.read_bytes()
    assert wb.info.sha256 == digest
    assert wb.info.snapshot_path == str(snaps / name)
    assert manifest(snaps) == {
        "format": 1,
        "snapshots": [{
            "file": name, "sha256": digest, "size": book.stat().st_size, "kind": "xlsx",
            "location": str(book.resolve()), "name": "东村 台账.xlsx",
            "read_at": "2024-03-05T01:02:03Z", "last_read_at": "2024-03-05T01:02:03Z",
            "rows": {"纠纷台账": 3},
        }],
    }


def test_identical_content_reuses_the_file(tmp_path: Path) -> None:
    book = write_book(tmp_path / "台账.xlsx")
    snaps = tmp_path / "snaps"
    clock = Clock()
    read_source(book, config=None, snapshot_dir=snaps, clock=clock)
    first = visible_files(snaps)
    stored = snaps / first[0]
    mtime = stored.stat().st_mtime_ns
    read_source(book, config=None, snapshot_dir=snaps, clock=clock)
    assert visible_files(snaps) == first
    assert stored.stat().st_mtime_ns == mtime
    (record,) = list_snapshots(snaps)
    assert record.read_at == T0
    assert record.last_read_at == T0 + timedelta(minutes=1)


def test_changed_content_adds_a_snapshot_and_leaves_the_old_one(tmp_path: Path) -> None:
    book = write_book(tmp_path / "台账.xlsx")
    snaps = tmp_path / "snaps"
    clock = Clock()
    read_source(book, config=None, snapshot_dir=snaps, clock=clock)
    old = snaps / visible_files(snaps)[0]
    old_bytes = old.read_bytes()
    write_book(book, value="009")
    wb = read_source(book, config=None, snapshot_dir=snaps, clock=clock)
    records = list_snapshots(snaps)
    assert [r.read_at for r in records] == [T0, T0 + timedelta(minutes=1)]
    assert records[1].file.startswith("20240305T010303Z-")
    assert old.read_bytes() == old_bytes
    assert wb.info.snapshot_path == str(records[1].path)
    assert latest_snapshot(snaps, str(book)) == records[1]
    assert open_snapshot(records[0].path).tables["纠纷台账"].frame.iat[1, 0] == "007"
    assert verify_snapshots(snaps) == []


def test_csv_folder_snapshot_is_a_reproducible_zip(tmp_path: Path) -> None:
    folder = tmp_path / "CSV 台账"
    folder.mkdir()
    (folder / "纠纷台账.csv").write_bytes("编号\n007\n".encode("gbk"))
    (folder / "网格.csv").write_bytes("网格编号\nW01\n".encode())
    first = fetch_source(folder, clock=Clock())
    second = fetch_source(folder)
    assert first.data == second.data
    assert first.ext == "zip"
    snaps = tmp_path / "snaps"
    record = save_snapshot(first, snaps, clock=Clock())
    with zipfile.ZipFile(record.path) as zf:
        assert zf.namelist() == ["纠纷台账.csv", "网格.csv"]
        assert zf.read("纠纷台账.csv") == "编号\n007\n".encode("gbk")
    again = open_snapshot(record.path)
    assert again.info.kind == "csv"
    assert again.info.location == str(folder.resolve())
    assert again.info.read_at == T0
    assert again.info.sha256 == record.sha256
    assert again.info.encodings == {"纠纷台账": "gb18030", "网格": "utf-8"}
    assert again.tables["纠纷台账"].frame[0].tolist() == ["编号", "007"]
    # a snapshot path is also a valid source spec
    via_spec = open_source(record.path)
    assert via_spec.info.kind == "csv"
    assert via_spec.info.snapshot_path == str(record.path)
    assert via_spec.info.read_at == T0


def test_never_overwrites_a_different_file_with_the_same_name(tmp_path: Path) -> None:
    book = write_book(tmp_path / "台账.xlsx")
    fetched = fetch_source(book, clock=Clock())
    snaps = tmp_path / "snaps"
    snaps.mkdir()
    squatter = snaps / f"20240305T010203Z-{sha(fetched.data)[:12]}.xlsx"
    squatter.write_bytes(b"something else")
    with pytest.raises(FengqiaoError) as err:
        save_snapshot(fetched, snaps)
    assert str(err.value) == (
        f"快照目录里已经有同名文件“{squatter}”，但内容不同，不会覆盖它。"
        "请运行 fengqiao snapshots verify 检查快照目录。"
    )
    assert squatter.read_bytes() == b"something else"


def test_verify_reports_every_kind_of_problem(tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    clock = Clock()
    a = read_source(write_book(tmp_path / "a.xlsx"), config=None, snapshot_dir=snaps,
                    clock=clock)
    b = read_source(write_book(tmp_path / "b.xlsx", "x"), config=None, snapshot_dir=snaps,
                    clock=clock)
    assert verify_snapshots(snaps) == []
    a_path, b_path = Path(a.info.snapshot_path or ""), Path(b.info.snapshot_path or "")
    a_path.unlink()
    b_path.write_bytes(b_path.read_bytes() + b"tampered")
    (snaps / "外来文件.xlsx").write_bytes(b"x")
    b_sha = b.info.sha256 or ""
    assert verify_snapshots(snaps) == [
        f"清单里记录的快照 {a_path.name} 不见了。",
        f"快照 {b_path.name} 的内容与清单记录不一致（应为 sha256 {b_sha[:12]}…，"
        f"实际是 {sha(b_path.read_bytes())[:12]}…），文件可能被改动或损坏。",
        "文件 外来文件.xlsx 不在快照清单里。",
    ]
    assert latest_snapshot(snaps) is None
    with pytest.raises(SourceError):
        open_snapshot(b_path)


def test_verify_unreadable_manifest_and_missing_directory(tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    assert verify_snapshots(snaps) == [f"快照目录“{snaps}”不存在。"]
    snaps.mkdir()
    assert verify_snapshots(snaps) == []
    (snaps / "manifest.json").write_text("{not json", encoding="utf-8")
    problems = verify_snapshots(snaps)
    assert len(problems) == 1
    assert problems[0].startswith("快照清单 manifest.json 无法读取：不是有效的 JSON（")
    with pytest.raises(FengqiaoError) as err:
        list_snapshots(snaps)
    assert str(err.value).startswith(f"快照清单“{snaps / 'manifest.json'}”无法读取：")


def test_no_snapshot_dir_still_sets_sha(tmp_path: Path) -> None:
    book = write_book(tmp_path / "a.xlsx")
    wb = read_source(book, config=None, snapshot_dir=None)
    assert wb.info.sha256 == sha(book.read_bytes())
    assert wb.info.snapshot_path is None


SID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc"


def _payload(value: str) -> dict[str, object]:
    return {
        "kind": PAYLOAD_KIND,
        "version": 1,
        "spreadsheetId": SID,
        "metadata": {
            "spreadsheetId": SID,
            "properties": {"title": "东村台账"},
            "sheets": [{"properties": {"title": "纠纷台账", "sheetType": "GRID"}}],
        },
        "values": {"spreadsheetId": SID, "valueRanges": [
            {"range": "'纠纷台账'!A1:B2", "values": [["编号", "状态"], [value, "调处中"]]}]},
    }


def _store_gsheets(snaps: Path, value: str, clock: Clock) -> None:
    payload = _payload(value)
    wb = workbook_from_payload(payload)
    wb.info.read_at = clock()
    data = json.dumps(payload, ensure_ascii=False).encode()
    save_snapshot(FetchedSource(wb, data, "json"), snaps)


def test_unreachable_spreadsheet_falls_back_to_latest_snapshot(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGQIAO_GOOGLE_CREDENTIALS", raising=False)
    snaps = tmp_path / "snaps"
    clock = Clock()
    _store_gsheets(snaps, "A-1", clock)
    _store_gsheets(snaps, "A-2", clock)
    url = f"https://docs.google.com/spreadsheets/d/{SID}/edit#gid=0"
    config = load_config()
    # without fallback the read error reaches the caller unchanged
    with pytest.raises(SourceError) as err:
        read_source(url, config=config, snapshot_dir=snaps)
    assert str(err.value).startswith("没有提供 Google 服务账号密钥，无法读取 Google 表格。")
    wb = read_source(url, config=config, snapshot_dir=snaps, fallback=True)
    assert wb.info.kind == "gsheets"
    assert wb.info.location == SID
    assert wb.info.stale_since == T0 + timedelta(minutes=1)
    assert wb.tables["纠纷台账"].frame.values.tolist() == [["编号", "状态"], ["A-2", "调处中"]]
    assert latest_snapshot(snaps, f"gsheets:{SID}") == latest_snapshot(snaps, url)


def test_fallback_without_snapshot_or_for_local_files_reraises(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FENGQIAO_GOOGLE_CREDENTIALS", raising=False)
    snaps = tmp_path / "snaps"
    with pytest.raises(SourceError) as err:
        read_source(f"gsheets:{SID}", config=None, snapshot_dir=snaps, fallback=True)
    assert str(err.value).startswith("没有提供 Google 服务账号密钥")
    book = write_book(tmp_path / "a.xlsx")
    read_source(book, config=None, snapshot_dir=snaps)
    book.unlink()
    with pytest.raises(SourceError) as err:
        read_source(book, config=None, snapshot_dir=snaps, fallback=True)
    assert str(err.value).startswith(f"找不到数据源“{book}”。")


def test_cli_list_and_verify(tmp_path: Path) -> None:
    snaps = tmp_path / "snaps"
    book = write_book(tmp_path / "台账.xlsx")
    wb = read_source(book, config=None, snapshot_dir=snaps, clock=Clock())
    runner = CliRunner()
    result = runner.invoke(cli, ["snapshots", "list", "--dir", str(snaps)])
    assert result.exit_code == 0, result.output
    file = Path(wb.info.snapshot_path or "").name
    assert result.output.splitlines() == [
        "读取时间（UTC）      类型   来源       各表行数    快照文件",
        f"2024-03-05 01:02:03  Excel  台账.xlsx  纠纷台账 3  {file}",
        f"共 1 条快照记录，目录：{snaps}",
        f"占用空间 {size_text((snaps / file).stat().st_size)}（1 个快照文件）；"
        "其中最早的台账（含个人信息）读取于 2024-03-05。",
    ]
    result = runner.invoke(cli, ["snapshots", "verify", "--dir", str(snaps)])
    assert result.exit_code == 0
    assert result.output == f"快照目录 {snaps} 完好：1 个快照文件都与清单记录一致。\n"
    (snaps / file).write_bytes(b"x")
    result = runner.invoke(cli, ["snapshots", "verify", "--dir", str(snaps)])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == f"发现 1 个问题，快照目录：{snaps}"
    (snaps / "manifest.json").write_text("[]", encoding="utf-8")
    result = runner.invoke(cli, ["snapshots", "list", "--dir", str(snaps)])
    assert result.exit_code == 2
    assert "快照清单" in result.output and "缺少 snapshots 列表" in result.output


def test_cli_default_dir_comes_from_config(tmp_path: Path) -> None:
    (tmp_path / "fengqiao.yml").write_text("snapshots_dir: 我的快照\n", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["snapshots", "list", "--config", str(tmp_path / "fengqiao.yml")])
    assert result.exit_code == 0
    assert result.output == f"快照目录 {tmp_path / '我的快照'} 里还没有快照。\n"
