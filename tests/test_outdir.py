"""Output folders are fengqiao's alone: every command that writes a folder
refuses one it did not write, before reading or writing anything, and every
file that was there before survives byte for byte.

Only three full site builds run here (a town site twice, a county site
once); every refusal stops before the ledger is read, so it is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from fengqiao import demo, outdir
from fengqiao.cli import cli
from fengqiao.county.collect import claim_collection
from fengqiao.county.config import TownSource
from fengqiao.errors import FengqiaoError
from fengqiao.publish.files import write_site_zip
from fengqiao.publish.stage import remove_leftovers
from fengqiao.sources.snapshots import MANIFEST, list_snapshots, read_source
from test_county_data import town_contract, write_site

NOT_OURS_HINT = ("请用 --out 另选一个新的或空的文件夹；如果这里确实是以前生成的内容，"
                 "请先把它改名或移走，再重新运行。")


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` → its sha256 (symlinks are not followed)."""
    out = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def last_line(result: Result) -> str:
    return result.output.strip().splitlines()[-1]


@dataclass
class Town:
    root: Path
    ledger: Path
    config: Path
    site: Path
    #: every file under root before the first build
    before: dict[str, str]
    first: Result


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """A small ledger in its own folder, the config in another, an unrelated
    ``build/docs/`` beside the output; built once with a relative --source
    typed from the ledger's folder."""
    root = tmp_path_factory.mktemp("outdir").resolve()
    (root / "台账").mkdir()
    ledger = demo.write_workbook(demo.generate_town(scale=0.1, defects=False),
                                 root / "台账" / "枫溪镇台账.xlsx")
    (root / "配置").mkdir()
    config = root / "配置" / "fengqiao.yml"
    config.write_text("town: 枫溪镇\nreport_date: 2024-12-15\nsnapshots_dir: 快照\n"
                      "site:\n  months: 1\n", encoding="utf-8")
    (root / "build" / "docs").mkdir(parents=True)
    (root / "build" / "docs" / "index.md").write_text("我自己的笔记\n", encoding="utf-8")
    before = tree(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root / "台账")
        first = run("build", "--config", str(config), "--source", "枫溪镇台账.xlsx",
                    "--out", str(root / "public"))
    yield Town(root=root, ledger=ledger, config=config, site=root / "public", before=before,
               first=first)


def refused_build(out: Path, town: Town, *extra: str) -> Result:
    return run("build", "--config", str(town.config), "--source", str(town.ledger),
               "--out", str(out), *extra)


# --- the town site -----------------------------------------------------------------


def test_first_build_marks_its_folders_and_leaves_build_docs_alone(town: Town) -> None:
    assert town.first.exit_code == 0, town.first.output
    after = tree(town.root)
    assert {rel: after.get(rel) for rel in town.before} == town.before
    marker = outdir.read_marker(town.site)
    assert marker is not None and marker.kind == "town-site"
    site_files = set(tree(town.site)) - {outdir.MARKER}
    assert set(marker.files) == site_files and "index.html" in site_files
    assert all(marker.files[rel] == tree(town.site)[rel] for rel in site_files)
    work = outdir.read_marker(town.root / "public.fengqiao-tmp")
    assert work is not None and work.kind == "work"
    assert not (town.root / "build" / "mkdocs.yml").exists()


def test_a_relative_source_on_the_command_line_is_relative_to_the_current_folder(
        town: Town) -> None:
    """The config lives in 配置/, the ledger in 台账/: only the current
    folder finds it. The snapshot folder still follows the config file."""
    assert town.first.exit_code == 0, town.first.output
    records = list_snapshots(town.root / "配置" / "快照")
    assert [r.name for r in records] == ["枫溪镇台账.xlsx"]
    assert outdir.read_marker(town.root / "配置" / "快照").kind == "snapshots"  # type: ignore[union-attr]


def test_second_build_into_the_same_folder_with_a_zip(town: Town) -> None:
    result = refused_build(town.site, town, "--zip")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(town.root / "public.zip") as zf:
        names = zf.namelist()
    assert "public/index.html" in names and all(n.startswith("public/") for n in names)
    assert f"public/{outdir.MARKER}" not in names
    assert tree(town.root / "build") == {"docs/index.md": town.before["build/docs/index.md"]}
    assert sorted(p.name for p in town.root.iterdir()) == [
        "build", "public", "public.fengqiao-tmp", "public.zip", "台账", "配置"]


def test_a_folder_of_documents_is_refused(town: Town, tmp_path: Path) -> None:
    folder = tmp_path / "材料"
    folder.mkdir()
    (folder / "台账.xlsx").write_bytes(town.ledger.read_bytes())
    (folder / "通知.docx").write_bytes(b"PK\x03\x04 a document")
    before = tree(tmp_path)
    result = refused_build(folder, town)
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：“{folder}”里已经有其他文件（台账.xlsx、通知.docx），不是 fengqiao 生成的乡镇网站文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。" + NOT_OURS_HINT)
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["材料"]


def test_out_equal_to_the_ledgers_folder_is_refused(town: Town, tmp_path: Path) -> None:
    """The reported case: --source 某文件夹/台账.xlsx --out 某文件夹."""
    folder = tmp_path / "某文件夹"
    folder.mkdir()
    ledger = folder / "台账.xlsx"
    ledger.write_bytes(town.ledger.read_bytes())
    (folder / "通知.docx").write_bytes(b"PK\x03\x04 a document")
    before = tree(tmp_path)
    result = run("build", "--config", str(town.config), "--source", str(ledger),
                 "--out", str(folder))
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：不能使用“{folder}”存放乡镇网站：台账数据来源“{ledger}”就在这个文件夹里，"
        "写入时可能把它替换或删除。请用 --out 另选一个新的文件夹（例如台账旁边新建的 public 文件夹）。")
    assert tree(tmp_path) == before


def test_a_non_empty_unmarked_folder_is_refused(town: Town, tmp_path: Path) -> None:
    folder = tmp_path / "网站"
    (folder / "旧版").mkdir(parents=True)
    (folder / "旧版" / "说明.txt").write_text("手写的说明", encoding="utf-8")
    before = tree(tmp_path)
    result = refused_build(folder, town)
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：“{folder}”里已经有其他文件（旧版），不是 fengqiao 生成的乡镇网站文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。" + NOT_OURS_HINT)
    assert tree(tmp_path) == before


def test_a_built_site_with_a_users_file_added_is_refused(town: Town, tmp_path: Path) -> None:
    site = tmp_path / "public"
    shutil.copytree(town.site, site)
    (site / "我的总结.docx").write_bytes(b"PK\x03\x04 mine")
    (site / "downloads" / "附件.pdf").write_bytes(b"%PDF-1.4 mine")
    before = tree(tmp_path)
    result = refused_build(site, town)
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：“{site}”是以前生成的乡镇网站，但里面多了不是 fengqiao 生成的文件："
        "downloads/附件.pdf、我的总结.docx。生成时整个文件夹会被替换，这些文件会丢失，所以没有继续。"
        "请先把这些文件移到别处，或用 --out 另选一个文件夹。")
    assert tree(tmp_path) == before


def test_the_disk_root_is_refused(town: Town, tmp_path: Path) -> None:
    before = tree(tmp_path)
    result = refused_build(Path("/"), town)
    assert result.exit_code == 2
    assert last_line(result) == ("错误：不能使用“/”：这是磁盘的根目录，fengqiao 只往自己专用的文件夹里写。"
                                 "请用 --out 另选一个新的或空的文件夹。")
    assert tree(tmp_path) == before


def test_the_home_folder_is_refused(town: Town, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "家"
    (home / "文档").mkdir(parents=True)
    (home / "文档" / "工作.docx").write_bytes(b"PK\x03\x04 work")
    (home / ".bashrc").write_text("export A=1\n", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    before = tree(tmp_path)
    result = refused_build(home, town)
    assert result.exit_code == 2
    assert last_line(result) == (f"错误：不能使用“{home}”：这是您的主文件夹，fengqiao 只往自己专用的文件夹里写。"
                                 "请用 --out 另选一个新的或空的文件夹。")
    assert tree(tmp_path) == before


def test_a_folder_holding_the_current_folder_is_refused(town: Town, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "public"
    out.mkdir()
    monkeypatch.chdir(out)
    result = run("build", "--config", str(town.config), "--source", str(town.ledger),
                 "--out", ".")
    assert result.exit_code == 2
    assert last_line(result) == (f"错误：不能使用“{out}”：当前所在的文件夹就在它里面，生成时整个文件夹都会被替换。"
                                 "请用 --out 指定当前文件夹之外的一个新文件夹，例如 public。")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["public"]
    assert list(out.iterdir()) == []


def test_a_zip_fengqiao_did_not_write_is_refused(town: Town, tmp_path: Path) -> None:
    site = tmp_path / "public"
    shutil.copytree(town.site, site)
    with zipfile.ZipFile(tmp_path / "public.zip", "w") as zf:
        zf.writestr("账目/2024.xlsx", b"not ours")
    before = tree(tmp_path)
    result = refused_build(site, town, "--zip")
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：压缩包位置“{tmp_path / 'public.zip'}”已经有一个不是 fengqiao 为“public”生成的文件，"
        "为免覆盖，没有继续。请把这个文件改名或移走，或用 --out 换一个输出文件夹名。")
    assert tree(tmp_path) == before
    # not a zip at all: the same refusal
    (tmp_path / "public.zip").write_text("我的文字", encoding="utf-8")
    with pytest.raises(FengqiaoError, match="不是 fengqiao 为“public”生成的文件"):
        outdir.claim_zip(tmp_path / "public.zip", "public")
    # a zip of ours may be replaced
    write_site_zip(town.site, tmp_path / "ours.zip", "ours")
    outdir.claim_zip(tmp_path / "ours.zip", "ours")


def test_a_foreign_folder_named_like_the_working_folder_is_refused(town: Town,
                                                                   tmp_path: Path) -> None:
    work = tmp_path / "public.fengqiao-tmp"
    (work / "docs").mkdir(parents=True)
    (work / "docs" / "笔记.md").write_text("别人的", encoding="utf-8")
    before = tree(tmp_path)
    result = refused_build(tmp_path / "public", town)
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：“{work}”里已经有其他文件（docs），不是 fengqiao 生成的生成网站用的中间文件文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。" + NOT_OURS_HINT)
    assert tree(tmp_path) == before


def test_leftovers_without_our_marker_are_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "public"
    theirs = tmp_path / f".public.new-{dead.pid}-x"
    theirs.mkdir()
    (theirs / "备份.xlsx").write_bytes(b"someone's")
    ours = tmp_path / f".public.new-{dead.pid}-y"
    ours.mkdir()
    outdir.write_marker(ours, "town-site", files=())
    (ours / "index.html").write_text("半成品", encoding="utf-8")
    remove_leftovers(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [theirs.name]
    assert (theirs / "备份.xlsx").read_bytes() == b"someone's"


# --- outdir itself ------------------------------------------------------------------


def test_claim_accepts_new_empty_and_marked_folders(tmp_path: Path) -> None:
    outdir.claim(tmp_path / "新", "town-site")
    (tmp_path / "空").mkdir()
    outdir.claim(tmp_path / "空", "town-site")
    site = tmp_path / "站"
    site.mkdir()
    (site / "index.html").write_text("x", encoding="utf-8")
    outdir.write_marker(site, "town-site")
    outdir.claim(site, "town-site")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["空", "站"]


def test_claim_refuses_a_folder_of_another_kind(tmp_path: Path) -> None:
    site = tmp_path / "站"
    site.mkdir()
    outdir.write_marker(site, "town-site")
    with pytest.raises(FengqiaoError) as info:
        outdir.claim(site, "county-site")
    assert str(info.value) == (f"“{site}”是 fengqiao 生成的乡镇网站文件夹，不能用来存放县级网站。"
                               "请用 --out 另选一个新的或空的文件夹。")


def test_claim_refuses_a_folder_inside_a_csv_source(tmp_path: Path) -> None:
    csv_dir = tmp_path / "csv台账"
    csv_dir.mkdir()
    (csv_dir / "纠纷台账.csv").write_text("编号\n", encoding="utf-8")
    with pytest.raises(FengqiaoError) as info:
        outdir.claim(csv_dir / "public", "town-site", sources=[csv_dir])
    assert str(info.value) == (f"不能使用“{csv_dir / 'public'}”存放乡镇网站：它在台账数据文件夹“{csv_dir}”里面。"
                               "请用 --out 另选一个台账数据文件夹以外的文件夹。")


def test_an_unreadable_marker_proves_nothing(tmp_path: Path) -> None:
    site = tmp_path / "站"
    site.mkdir()
    (site / outdir.MARKER).write_text("{不是 JSON", encoding="utf-8")
    with pytest.raises(FengqiaoError, match="不是 fengqiao 生成的乡镇网站文件夹"):
        outdir.claim(site, "town-site")


# --- schema export ------------------------------------------------------------------


def test_schema_export_refuses_a_non_empty_unmarked_folder(tmp_path: Path) -> None:
    folder = tmp_path / "导出"
    folder.mkdir()
    (folder / "disputes.schema.json").write_text('{"mine": true}\n', encoding="utf-8")
    before = tree(tmp_path)
    result = run("schema", "export", "--out", str(folder))
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：“{folder}”里已经有其他文件（disputes.schema.json），不是 fengqiao 生成的表结构导出文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。" + NOT_OURS_HINT)
    assert tree(tmp_path) == before


def test_schema_export_writes_again_into_its_own_folder(tmp_path: Path) -> None:
    folder = tmp_path / "导出"
    assert run("schema", "export", "--out", str(folder)).exit_code == 0
    (folder / "说明.txt").write_text("我加的", encoding="utf-8")  # an add-only writer keeps it
    result = run("schema", "export", "--out", str(folder), "--by-title")
    assert result.exit_code == 0, result.output
    assert (folder / "说明.txt").read_text(encoding="utf-8") == "我加的"
    marker = outdir.read_marker(folder)
    assert marker is not None and marker.kind == "schema-export"
    assert "datapackage.json" in marker.files and "说明.txt" not in marker.files


# --- county -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def county(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    root = tmp_path_factory.mktemp("county").resolve()
    write_site(root / "东湖镇", town_contract(11, "东湖镇", "2024-Q1"))
    result = run("county", "build", str(root / "东湖镇"), "--period", "2024-Q1",
                 "--out", str(root / "县网站"), "--now", "2024-04-02T08:00")
    return root, result


def test_county_build_marks_its_site(county: tuple[Path, Result]) -> None:
    root, result = county
    assert result.exit_code == 0, result.output
    marker = outdir.read_marker(root / "县网站")
    assert marker is not None and marker.kind == "county-site"
    assert set(marker.files) == set(tree(root / "县网站")) - {outdir.MARKER}
    assert outdir.read_marker(root / "县网站-collection").kind == "county-collection"  # type: ignore[union-attr]
    assert sorted(p.name for p in root.iterdir()) == [
        "东湖镇", "县网站", "县网站-collection", "县网站.fengqiao-tmp"]


def test_county_build_refuses_a_site_with_a_users_file(county: tuple[Path, Result]) -> None:
    root, _ = county
    site = root / "县网站"
    (site / "汇报.docx").write_bytes(b"PK\x03\x04 mine")
    before = tree(root)
    try:
        result = run("county", "build", str(root / "东湖镇"), "--period", "2024-Q1",
                     "--out", str(site), "--now", "2024-04-03T08:00")
        assert result.exit_code == 2
        assert last_line(result) == (
            f"错误：“{site}”是以前生成的县级网站，但里面多了不是 fengqiao 生成的文件：汇报.docx。"
            "生成时整个文件夹会被替换，这些文件会丢失，所以没有继续。"
            "请先把这些文件移到别处，或用 --out 另选一个文件夹。")
        assert tree(root) == before  # nothing collected either
    finally:
        (site / "汇报.docx").unlink()


def test_county_build_refuses_a_folder_of_documents(tmp_path: Path) -> None:
    write_site(tmp_path / "东湖镇", town_contract(11, "东湖镇", "2024-Q1"))
    folder = tmp_path / "材料"
    folder.mkdir()
    (folder / "通知.docx").write_bytes(b"PK\x03\x04 a document")
    before = tree(tmp_path)
    result = run("county", "build", str(tmp_path / "东湖镇"), "--period", "2024-Q1",
                 "--out", str(folder))
    assert result.exit_code == 2
    assert last_line(result) == (
        f"错误：“{folder}”里已经有其他文件（通知.docx），不是 fengqiao 生成的县级网站文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。" + NOT_OURS_HINT)
    assert tree(tmp_path) == before
    assert not (tmp_path / "材料-collection").exists()


def test_collection_refuses_a_folder_of_documents(tmp_path: Path) -> None:
    folder = tmp_path / "收取"
    folder.mkdir()
    (folder / "名单.xlsx").write_bytes(b"PK\x03\x04 list")
    before = tree(tmp_path)
    with pytest.raises(FengqiaoError) as info:
        claim_collection(folder, [TownSource("东湖镇", "url", "https://east.example/")])
    assert str(info.value) == (
        f"“{folder}”里已经有其他文件（名单.xlsx），不是 fengqiao 生成的县级收取存档文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。请用 --collection 或 county.yml 里的 collection_dir"
        " 另选一个新的或空的文件夹；如果这里确实是以前生成的内容，请先把它改名或移走，再重新运行。")
    assert tree(tmp_path) == before


def test_collection_from_before_markers_is_adopted(tmp_path: Path) -> None:
    folder = tmp_path / "收取"
    (folder / "2024-Q1" / "东湖镇").mkdir(parents=True)
    (folder / "2024-Q1" / "log.jsonl").write_text("{}\n", encoding="utf-8")
    (folder / "2024-Q1" / "东湖镇" / "20240402T000000Z-0123456789ab.json").write_text(
        "{}", encoding="utf-8")
    before = tree(folder)
    claim_collection(folder, [TownSource("东湖镇", "url", "https://east.example/")])
    assert {k: v for k, v in tree(folder).items() if k != outdir.MARKER} == before
    assert outdir.read_marker(folder).kind == "county-collection"  # type: ignore[union-attr]


# --- snapshots ----------------------------------------------------------------------


def test_snapshots_refuse_a_folder_that_is_not_a_store(town: Town, tmp_path: Path) -> None:
    folder = tmp_path / "资料"
    folder.mkdir()
    (folder / "通知.docx").write_bytes(b"PK\x03\x04 a document")
    before = tree(tmp_path)
    with pytest.raises(FengqiaoError) as info:
        read_source(town.ledger, config=None, snapshot_dir=folder)
    assert str(info.value) == (
        f"“{folder}”里已经有其他文件（通知.docx），不是 fengqiao 生成的台账快照文件夹。"
        "为免误删或覆盖这些文件，没有写入任何内容。请用 fengqiao.yml 里的 snapshots_dir"
        " 另选一个新的或空的文件夹；如果这里确实是以前生成的内容，请先把它改名或移走，再重新运行。")
    assert tree(tmp_path) == before


def test_snapshots_refuse_the_ledgers_own_folder(town: Town, tmp_path: Path) -> None:
    ledger = tmp_path / "台账.xlsx"
    ledger.write_bytes(town.ledger.read_bytes())
    with pytest.raises(FengqiaoError, match="它就是台账数据来源本身|就在这个文件夹里"):
        read_source(ledger, config=None, snapshot_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["台账.xlsx"]


def test_snapshot_store_from_before_markers_is_adopted(town: Town, tmp_path: Path) -> None:
    store = tmp_path / "快照"
    read_source(town.ledger, config=None, snapshot_dir=store)
    (store / outdir.MARKER).unlink()  # as an older fengqiao left it
    before = tree(store)
    read_source(town.ledger, config=None, snapshot_dir=store)
    after = tree(store)
    assert {k: after[k] for k in before if k != MANIFEST} == {
        k: v for k, v in before.items() if k != MANIFEST}
    assert outdir.read_marker(store).kind == "snapshots"  # type: ignore[union-attr]
    assert json.loads((store / MANIFEST).read_text(encoding="utf-8"))["snapshots"]
