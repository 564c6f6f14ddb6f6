"""`fengqiao pages refresh`: a newer fengqiao's pages reach a town's copy,
and nothing the town wrote is overwritten or brought back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.resources import DEFAULT_PAGES
from fengqiao.townfolder import create_town_folder
from fengqiao.townpages import MANIFEST, default_pages, record_pages, refresh_pages


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def upgrade(tmp_path: Path) -> tuple[Path, Path]:
    """A town's copy made from an "old" fengqiao's pages, then the town's own
    changes, and a "new" fengqiao's pages: about.md changed, one page new,
    one procedure changed."""
    old = tmp_path / "old"
    shutil.copytree(DEFAULT_PAGES, old)
    town = tmp_path / "town" / "site"
    shutil.copytree(old, town)
    record_pages(town, old)
    procedures = sorted(p for p in default_pages(old) if p.startswith("procedures/"))
    edited, dropped = procedures[0], procedures[1]
    (town / edited).write_text("# 本镇自己的流程\n", encoding="utf-8")
    (town / dropped).unlink()
    new = tmp_path / "new"
    shutil.copytree(old, new)
    (new / "about.md").write_text("# 关于（新版）\n", encoding="utf-8")
    (new / edited).write_text("# 新版流程\n", encoding="utf-8")
    (new / dropped).write_text("# 新版的另一流程\n", encoding="utf-8")
    (new / "procedures" / "新增规程.md").write_text("# 新增规程\n", encoding="utf-8")
    return town, new


def test_untouched_pages_are_updated_and_the_towns_are_kept(upgrade: tuple[Path, Path]) -> None:
    town, new = upgrade
    before = _snapshot(town)
    edited = next(rel for rel, data in before.items() if data == "# 本镇自己的流程\n".encode())
    r = refresh_pages(town, defaults=new)
    assert r.recorded
    assert r.updated == ["about.md"] and r.added == ["procedures/新增规程.md"]
    assert r.edited == [edited] and len(r.deleted) == 1
    after = _snapshot(town)
    assert after["about.md"] == "# 关于（新版）\n".encode()
    assert after["procedures/新增规程.md"] == "# 新增规程\n".encode()
    assert after[edited] == before[edited]  # the town's text, untouched
    assert r.deleted[0] not in after  # what the town removed stays removed
    # every other page is as it was, and counted as current
    others = set(before) - {"about.md", edited, MANIFEST}
    assert all(after[rel] == before[rel] for rel in others)
    assert r.current == len(others)
    # a second run has nothing left to do, and still keeps the town's page
    again = refresh_pages(town, defaults=new)
    assert (again.updated, again.added, again.edited) == ([], [], [edited])


def test_a_dry_run_changes_nothing(upgrade: tuple[Path, Path]) -> None:
    town, new = upgrade
    before = _snapshot(town)
    r = refresh_pages(town, defaults=new, dry_run=True)
    assert r.updated == ["about.md"] and r.added == ["procedures/新增规程.md"]
    assert _snapshot(town) == before


def test_without_a_record_a_different_page_is_kept_and_a_missing_one_added(
        upgrade: tuple[Path, Path]) -> None:
    town, new = upgrade
    (town / MANIFEST).unlink()
    missing = sorted(set(default_pages(new)) - set(_snapshot(town)))
    assert len(missing) == 2  # the page the town dropped and the new one
    r = refresh_pages(town, defaults=new)
    assert not r.recorded
    # about.md was never edited, but without the record nobody can tell
    assert "about.md" in r.edited and (town / "about.md").read_bytes() != (new / "about.md").read_bytes()
    # nothing is known to have been deleted: both missing pages are added
    assert sorted(r.added) == missing and r.deleted == [] and r.updated == []
    assert json.loads((town / MANIFEST).read_text("utf-8"))["format"] == 1


def test_a_damaged_record_is_named(upgrade: tuple[Path, Path]) -> None:
    from fengqiao.errors import FengqiaoError

    town, new = upgrade
    (town / MANIFEST).write_text("{not json", encoding="utf-8")
    before = _snapshot(town)
    with pytest.raises(FengqiaoError) as err:
        refresh_pages(town, defaults=new)
    assert str(err.value).startswith(f"页面记录 {town / MANIFEST} 无法读取")
    assert _snapshot(town) == before


def test_init_records_its_copy_and_the_command_reports_in_chinese(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = create_town_folder(tmp_path / "东湖镇", town="东湖镇").folder
    record = json.loads((folder / "site" / MANIFEST).read_text("utf-8"))
    assert set(record["pages"]) == set(default_pages())
    (folder / "site" / "about.md").write_text("# 关于东湖镇\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(cli, ["pages", "refresh"], prog_name="fengqiao")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"页面文件夹：{(folder / 'site').resolve()}"
    assert lines[1] == f"  本镇改过，保持不动：about.md（新版在 {DEFAULT_PAGES / 'about.md'}）"
    assert lines[-1] == f"0 个页面已更新，{len(record['pages']) - 1} 个已是新版，1 个本镇改过。"
    assert (folder / "site" / "about.md").read_text("utf-8") == "# 关于东湖镇\n"


def test_a_town_on_fengqiaos_own_pages_has_nothing_to_refresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fengqiao.yml").write_text("town: 西山镇\nsource: 台账.xlsx\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["pages", "refresh"], prog_name="fengqiao")
    assert result.exit_code == 0
    assert result.output == "本镇的网站使用 fengqiao 自带的页面，升级后就是新版，不需要更新。\n"
