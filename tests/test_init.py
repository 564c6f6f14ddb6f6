"""``fengqiao init``: a town folder that works on its first command, and
commands that find it without --config (and never fall back to the demo)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from fengqiao import townfolder
from fengqiao.cli import cli
from fengqiao.config import find_config, load_config
from fengqiao.errors import FengqiaoError
from fengqiao.render.town import pages_dir, procedures_nav, rerender_site_pages
from fengqiao.resources import DEFAULT_PAGES
from fengqiao.townfolder import create_town_folder

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _run(args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    result = CliRunner().invoke(cli, args, prog_name="fengqiao")
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def _hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_init_makes_a_town_folder_that_validates_clean(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(["init", "东湖镇台账", "--town", "东湖镇"], tmp_path, monkeypatch)
    assert code == 0, out
    folder = tmp_path / "东湖镇台账"
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["fengqiao.yml", "site", "使用说明.md", "台账.xlsx"])
    config = load_config(folder / "fengqiao.yml")
    assert (config.town, config.source, config.site.pages) == ("东湖镇", "台账.xlsx", "site")
    assert config.site.title == "东湖镇矛盾纠纷调处化解工作平台"
    assert config.report_date is None
    # the ledger's start is explained and left to the town (a blank ledger
    # may still be given last year's cases): its first 受理日期 until then
    assert config.ledger_start is None
    assert "\n# ledger_start: 2024-01-01\n" in (folder / "fengqiao.yml").read_text(encoding="utf-8")
    # the pages are a full copy of fengqiao's own
    assert sorted(p.relative_to(folder / "site").as_posix() for p in (folder / "site").rglob("*.md")) \
        == sorted(p.relative_to(DEFAULT_PAGES).as_posix() for p in DEFAULT_PAGES.rglob("*.md"))
    book = openpyxl.load_workbook(folder / "台账.xlsx")
    assert "纠纷台账" in book.sheetnames
    readme = (folder / "使用说明.md").read_text(encoding="utf-8")
    assert "fengqiao validate" in readme and "fengqiao build" in readme
    # run inside the folder (and in a folder below it): no --config needed
    code, out = _run(["validate"], folder, monkeypatch)
    assert (code, out) == (0, "校验“台账.xlsx”：没有发现问题。\n")
    (folder / "记录").mkdir()
    code, out = _run(["validate"], folder / "记录", monkeypatch)
    assert code == 0, out
    assert find_config(folder / "记录") == (folder / "fengqiao.yml").resolve()


def test_outside_a_town_folder_a_command_without_source_names_init(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert find_config(tmp_path) is None
    for args in (["validate"], ["metrics", "--period", "2024-Q4"], ["overdue"],
                 ["build", "--out", "public"]):
        code, out = _run(args, tmp_path, monkeypatch)
        assert code == 2, (args, out)
        assert "找不到 fengqiao.yml" in out and "fengqiao init" in out, out
    assert not (tmp_path / "public").exists()


def test_a_town_file_with_an_empty_source_says_which_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fengqiao.yml").write_text("town: 东湖镇\n", encoding="utf-8")
    code, out = _run(["validate"], tmp_path, monkeypatch)
    assert code == 2
    assert f"配置文件 {tmp_path / 'fengqiao.yml'} 里的 source 是空的" in out


def test_demo_folder_has_the_demo_ledger_and_report_date(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(["init", "演示", "--demo"], tmp_path, monkeypatch)
    assert code == 0, out
    config = load_config(tmp_path / "演示" / "fengqiao.yml")
    assert config.town == "枫溪镇" and str(config.report_date) == "2024-12-31"
    # complete from 2023 as the repository's demo says, so 2024 compares with 2023
    assert str(config.ledger_start) == "2023-01-01"
    assert config.ledger_start == load_config(EXAMPLES / "fengqiao.yml").ledger_start
    code, out = _run(["validate"], tmp_path / "演示", monkeypatch)
    assert code == 1  # the planted defects
    code, out = _run(["overdue"], tmp_path / "演示", monkeypatch)
    assert code == 0 and out.startswith("枫溪镇截至 2024-12-31："), out


def test_with_a_source_the_ledger_stays_where_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(["init", "t", "--source", "gsheets:abc123"], tmp_path, monkeypatch)
    assert code == 0, out
    folder = tmp_path / "t"
    assert load_config(folder / "fengqiao.yml").source == "gsheets:abc123"
    assert (folder / "台账模板.xlsx").is_file() and not (folder / "台账.xlsx").exists()
    assert load_config(folder / "fengqiao.yml").town == "t"


def test_a_folder_with_anything_in_it_is_refused_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "笔记.txt").write_text("我的文件", encoding="utf-8")
    before = _hashes(tmp_path)
    code, out = _run(["init", "mine"], tmp_path, monkeypatch)
    assert code == 2 and "已经有文件" in out
    assert _hashes(tmp_path) == before
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    code, out = _run(["init", "a-file"], tmp_path, monkeypatch)
    assert code == 2 and "已有的文件" in out
    # an empty folder is fine
    (tmp_path / "empty").mkdir()
    assert _run(["init", "empty", "--town", "西山镇"], tmp_path, monkeypatch)[0] == 0


def test_demo_and_source_together_are_refused(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    code, out = _run(["init", "x", "--demo", "--source", "a.xlsx"], tmp_path, monkeypatch)
    assert code == 2 and "--demo 和 --source" in out
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("town", ["东湖镇: 一区", "#3 镇", "'引号'镇", "yes", "- 列表"])
def test_any_town_name_reads_back_exactly(tmp_path: Path, town: str) -> None:
    made = create_town_folder(tmp_path / "f", town=town)
    assert load_config(made.folder / "fengqiao.yml").town == town
    assert yaml.safe_load((made.folder / "fengqiao.yml").read_text(encoding="utf-8"))["town"] == town


def test_a_failure_half_way_leaves_nothing_behind(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(townfolder, "DEFAULT_PAGES", tmp_path / "no-such-pages")
    with pytest.raises(FengqiaoError, match="无法建立文件夹"):
        create_town_folder(tmp_path / "t", town="东湖镇")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_towns_own_pages_are_published(tmp_path: Path) -> None:
    made = create_town_folder(tmp_path / "t", town="东湖镇")
    config = load_config(made.folder / "fengqiao.yml")
    assert pages_dir(config) == made.folder / "site"
    page = made.folder / "site" / "procedures" / "intake.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n本镇补充：周六上午也受理。\n",
                    encoding="utf-8")
    (made.folder / "site" / "procedures" / "receptions.md").unlink()
    (made.folder / "site" / "procedures" / "night-duty.md").write_text(
        "# 夜间值班\n", encoding="utf-8")
    docs = tmp_path / "docs"
    rerender_site_pages(config, docs)
    assert "本镇补充：周六上午也受理。" in (docs / "procedures" / "intake.md").read_text(encoding="utf-8")
    nav = procedures_nav(pages_dir(config))
    assert {"受理登记": "procedures/intake.md"} in nav
    assert all("procedures/receptions.md" not in item.values() for item in nav)
    assert nav[-1] == {"night-duty": "procedures/night-duty.md"}


def test_a_missing_pages_folder_is_named_not_replaced_by_the_defaults(tmp_path: Path) -> None:
    (tmp_path / "fengqiao.yml").write_text("site:\n  pages: 我的页面\n", encoding="utf-8")
    config = load_config(tmp_path / "fengqiao.yml")
    with pytest.raises(FengqiaoError, match="找不到页面文件夹"):
        pages_dir(config)
    assert pages_dir(load_config()) == DEFAULT_PAGES
