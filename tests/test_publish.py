"""The publish stage: atomic writes and swaps, byte-stable files, and one
engine config for the town and the county site."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from fengqiao import sitebuild
from fengqiao.cli import cli
from fengqiao.county import site as county_site
from fengqiao.publish import atomic, engine, files
from fengqiao.publish.atomic import atomic_path, swap_into_place, write_atomic
from fengqiao.publish.files import EPOCH, ZIP_TIME, csv_bytes, xlsx_bytes, zip_bytes
from site_fixture import fixture_config, site_data
from test_county_data import town_contract, write_site


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- write_atomic ------------------------------------------------------------------------------


def test_write_atomic_replaces_the_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "清单.json"
    target.write_bytes(b"old")
    assert write_atomic(target, b"new") is True
    assert target.read_bytes() == b"new"
    assert names(tmp_path) == ["清单.json"]


def test_a_failure_mid_write_keeps_the_old_file_and_no_temp(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "清单.json"
    target.write_bytes(b"old")

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["清单.json"]


def test_a_block_that_refuses_its_copy_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "标注.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="half"), atomic_path(target) as tmp:
        tmp.write_bytes(b"half a file")
        assert tmp.parent == tmp_path and tmp.name.startswith(".标注.xlsx.")
        raise ValueError("half written")
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["标注.xlsx"]


def test_replace_false_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "20240405T020000Z-abc.json"
    assert write_atomic(target, b"first", replace=False) is True
    assert write_atomic(target, b"second", replace=False) is False
    assert target.read_bytes() == b"first"
    assert names(tmp_path) == [target.name]


def test_mode_makes_a_shared_copy(tmp_path: Path) -> None:
    private, shared = tmp_path / "a", tmp_path / "b"
    write_atomic(private, b"x")
    write_atomic(shared, b"x", mode=0o644)
    assert private.stat().st_mode & 0o777 == 0o600
    assert shared.stat().st_mode & 0o777 == 0o644


# --- swap_into_place -------------------------------------------------------------------------


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "index.html").write_text(text, encoding="utf-8")
    return path


def test_swap_replaces_the_folder_and_removes_the_old_one(tmp_path: Path) -> None:
    out = _folder(tmp_path / "public", "旧")
    new = _folder(tmp_path / ".public.new-1-x", "新")
    swap_into_place(new, out)
    assert (out / "index.html").read_text(encoding="utf-8") == "新"
    assert names(tmp_path) == ["public"]
    # a first build: nothing to move aside
    swap_into_place(_folder(tmp_path / ".other.new-1-y", "一"), tmp_path / "other")
    assert names(tmp_path) == ["other", "public"]


def test_a_failed_swap_puts_the_old_folder_back(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = _folder(tmp_path / "public", "旧")
    new = _folder(tmp_path / ".public.new-1-x", "新")
    real_rename = Path.rename

    def rename(self: Path, target: Any) -> Path:
        if self == new:
            raise OSError(13, "Permission denied")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="Permission denied"):
        swap_into_place(new, out)
    assert (out / "index.html").read_text(encoding="utf-8") == "旧"
    assert names(tmp_path) == [".public.new-1-x", "public"]


# --- byte-stable files ---------------------------------------------------------------------------


LEDGER = "编号,天数,村\r\n" + "".join(f"D{i},{i * 7919 % 1000},村{i % 13}\r\n" for i in range(2000))
MEMBERS = [("纠纷台账.csv", LEDGER.encode("utf-8-sig")), ("网格.csv", b"a\r\n1\r\n"),
           ("a.csv", b"x")]


def test_zip_bytes_depend_only_on_the_members() -> None:
    one = zip_bytes(MEMBERS)
    assert zip_bytes(list(reversed(MEMBERS))) == one
    assert zip_bytes([*MEMBERS[:2], ("a.csv", b"y")]) != one
    with zipfile.ZipFile(io.BytesIO(one)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["a.csv", "纠纷台账.csv", "网格.csv"]
    assert {i.date_time for i in infos} == {ZIP_TIME} == {(1980, 1, 1, 0, 0, 0)}
    assert {i.external_attr >> 16 for i in infos} == {0o644}


def test_csv_snapshot_zips_keep_their_bytes() -> None:
    """The snapshot of a CSV folder is this zip: its bytes (and so every stored
    snapshot's sha256) are those of the writer before the publish stage."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in sorted(MEMBERS):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=1)
    assert zip_bytes(MEMBERS, compresslevel=1) == buf.getvalue()
    assert zip_bytes(MEMBERS) != buf.getvalue()  # the default level is another file


def test_xlsx_bytes_are_stable_and_dated_at_the_epoch() -> None:
    frame = pd.DataFrame({"id": ["D1", "D2"], "note": ["=1+1", "好"],
                          "day": pd.to_datetime(["2024-03-05", None])})
    one = xlsx_bytes(frame, {"id": "编号"}, "问题清单")
    assert xlsx_bytes(frame.copy(), {"id": "编号"}, "问题清单") == one
    assert xlsx_bytes(frame.iloc[:1], {"id": "编号"}, "问题清单") != one
    with zipfile.ZipFile(io.BytesIO(one)) as zf:
        assert {i.date_time for i in zf.infolist()} == {ZIP_TIME}
        core = zf.read("docProps/core.xml").decode("utf-8")
    assert core.count(EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ")) == 2
    text = csv_bytes(frame, {"id": "编号"}).decode("utf-8-sig")
    assert text.splitlines() == ["编号,note,day", "D1,'=1+1,2024-03-05", "D2,好,"]


def test_the_site_zip_leaves_the_marker_out(tmp_path: Path) -> None:
    site = _folder(tmp_path / "public", "首页")
    (site / ".fengqiao-output.json").write_text("{}", encoding="utf-8")
    files.write_site_zip(site, tmp_path / "public.zip", "public")
    with zipfile.ZipFile(tmp_path / "public.zip") as zf:
        assert zf.namelist() == ["public/index.html"]
    assert sorted(names(tmp_path)) == ["public", "public.zip"]


# --- one engine config for both sites ----------------------------------------------------------


def _engine_config(build_dir: Path) -> dict[str, Any]:
    config = yaml.safe_load((build_dir / engine.CONFIG_FILE).read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_town_and_county_engine_configs_are_relative_and_search_alike(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[Path] = []

    def no_engine(config_file: Path, out: Path, kind: str, **_: Any) -> None:
        ran.append(config_file)

    monkeypatch.setattr(sitebuild, "publish_site", no_engine)
    monkeypatch.setattr(county_site, "publish_site", no_engine)
    sitebuild.build_from_data(site_data(), fixture_config(tmp_path), out=tmp_path / "town")
    town_site = tmp_path / "东湖镇"
    write_site(town_site, town_contract(11, "东湖镇", "2024-Q1"))
    result = CliRunner().invoke(cli, ["county", "build", str(town_site), "--period", "2024-Q1",
                                      "--out", str(tmp_path / "county")])
    assert result.exit_code == 0, result.output
    town_dir, county_dir = (p.parent for p in ran)
    assert (town_dir.name, county_dir.name) == ("town.fengqiao-tmp", "county.fengqiao-tmp")
    town, county = _engine_config(town_dir), _engine_config(county_dir)
    for config, build_dir in ((town, town_dir), (county, county_dir)):
        assert (config["docs_dir"], config["site_dir"]) == ("docs", "site")
        assert (build_dir / config["docs_dir"] / "index.md").is_file()
        search = next(p["search"] for p in config["plugins"] if isinstance(p, dict) and "search" in p)
        assert search["jieba_dict_user"] == "jieba_user_dict.txt"
        assert (build_dir / search["jieba_dict_user"]).read_text(encoding="utf-8") \
            == engine.jieba_words()
        assert not [v for v in _strings(config) if os.path.isabs(v)]
    assert town["plugins"] == county["plugins"]
    assert {k: v for k, v in town.items() if k not in ("site_name", "nav")} \
        == {k: v for k, v in county.items() if k not in ("site_name", "nav")}
    words = engine.jieba_words().splitlines()
    # a search word outranks everything; a compound holding one is left out
    assert "限期 10000000" in words and "调解 10000000" in words
    assert not [w for w in words if w.startswith(("星级评定 ", "首次调解 "))]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def test_the_absolute_path_check_would_catch_an_absolute_docs_dir(tmp_path: Path) -> None:
    """The failing case of the check above."""
    assert [v for v in _strings({"docs_dir": str(tmp_path / "docs"), "site_dir": "site"})
            if os.path.isabs(v)] == [str(tmp_path / "docs")]
