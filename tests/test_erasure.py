"""Erasing one case from every stored snapshot: no byte of its personal data
is left under snapshots/ (zips unpacked), the store still verifies, and the
figures of every period are the same before and after."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from fengqiao import demo
from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.errors import FengqiaoError
from fengqiao.metrics import compute_metrics
from fengqiao.metrics.periods import Period
from fengqiao.sitebuild import published_periods
from fengqiao.sources import (
    FetchedSource,
    list_snapshots,
    open_snapshot,
    open_source,
    read_source,
    save_snapshot,
    verify_snapshots,
)
from fengqiao.sources.gsheets import PAYLOAD_KIND, workbook_from_payload
from fengqiao.sources.retention import plan_retention, record_publication
from fengqiao.sources.snapshots import read_store
from fengqiao.validate import validate_workbook

NAMES = ["欧阳思齐", "司马望舒"]
PHONES = ["13900001111", "13900002222"]
ID_NUMBER = "110101199001011234"
PERIODS = [*published_periods(date(2024, 12, 31), 12), Period.year(2023)]


@dataclass
class Store:
    root: Path
    snaps: Path
    case: str
    household_rows: list[int]  # 走访记录 frame rows holding the case's household


def _plant(tables: dict[str, pd.DataFrame]) -> tuple[str, list[int]]:
    """Personal data of one case that occurs nowhere else: the parties, the
    summary, a note, and the household of its visit logged by the head's name
    (as some grid workers do), on that visit and on an unrelated one."""
    d, v = tables["disputes"], tables["visits"]
    case = str(v["关联纠纷编号"].dropna().iloc[0])
    i = d.index[d["案件编号"] == case][0]
    d.loc[i, "当事人"] = f"{NAMES[0]}（{PHONES[0]}）与{NAMES[1]}"
    d.loc[i, "简要情况"] = f"{NAMES[0]}（身份证号{ID_NUMBER}）反映邻居{NAMES[1]}占用通道"
    d.loc[i, "备注"] = f"联系电话{PHONES[1]}"
    linked = v.index[v["关联纠纷编号"] == case][0]
    other = v.index[(v["网格编号"] == v.loc[linked, "网格编号"]) & v["关联纠纷编号"].isna()][0]
    v.loc[[linked, other], "户编号"] = f"{NAMES[0]}户"
    # a chase of the case whose explanation names the party: erased to a
    # placeholder, so "an explanation exists" (逾期说明率) stays true
    s = tables["supervisions"]
    chase = {c: None for c in s.columns} | {
        "纠纷编号": case, "督办日期": d.loc[i, "受理日期"], "方式": "电话督办",
        "逾期说明": f"{NAMES[0]}外出务工，联系不上"}
    tables["supervisions"] = pd.concat([s, pd.DataFrame([chase])], ignore_index=True)
    return case, [int(linked), int(other)]


def _payload(book: Path) -> dict[str, Any]:
    """The workbook as a Google read stores it: every cell as text."""
    tables = open_snapshot(book).tables
    sheets, ranges = [], []
    for title, table in tables.items():
        sheets.append({"properties": {"title": title, "sheetType": "GRID"},
                       "merges": [{"startRowIndex": 0, "endRowIndex": 1, "startColumnIndex": 0,
                                   "endColumnIndex": 3}]})
        rows = [["" if v is None else (v.date().isoformat() if isinstance(v, datetime)
                                       else str(v)) for v in row]
                for row in table.frame.astype(object).where(table.frame.notna(), None)
                .itertuples(index=False, name=None)]
        ranges.append({"range": f"'{title}'!A1:Z{len(rows)}", "values": rows})
    return {"kind": PAYLOAD_KIND, "version": 1, "spreadsheetId": "SHEET1",
            "metadata": {"spreadsheetId": "SHEET1", "properties": {"title": "枫溪镇台账"},
                         "sheets": sheets},
            "values": {"spreadsheetId": "SHEET1", "valueRanges": ranges}}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """Every kind the store holds: two reads of an .xlsx (the ledger changed
    between them), a CSV folder (纠纷台账 in GB18030) and a Google read."""
    tables = demo.generate_town(3, scale=0.15, defects=False, personal_data=True)
    case, household_rows = _plant(tables)
    snaps = tmp_path / "snapshots"
    config = load_config()
    book = demo.write_workbook(tables, tmp_path / "台账.xlsx")
    read_source(book, config=config, snapshot_dir=snaps)
    tables["disputes"].loc[0, "备注"] = "第二天补记"
    demo.write_workbook(tables, book)
    read_source(book, config=config, snapshot_dir=snaps)
    folder = tmp_path / "csv"
    demo.write_csv_folder(tables, folder)
    ledger_csv = folder / "纠纷台账.csv"
    ledger_csv.write_bytes(ledger_csv.read_bytes().decode("utf-8-sig").encode("gb18030"))
    read_source(folder, config=config, snapshot_dir=snaps)
    payload = _payload(book)
    workbook = workbook_from_payload(payload)
    workbook.info.read_at = datetime(2025, 1, 1, tzinfo=UTC)
    save_snapshot(FetchedSource(workbook, json.dumps(payload, ensure_ascii=False).encode(),
                                "json"), snaps)
    return Store(tmp_path, snaps, case, household_rows)


def figures(path: Path) -> list[dict[str, Any]]:
    config = load_config()
    ledger = validate_workbook(open_snapshot(path), config=config)
    out = []
    for p in PERIODS:
        contract = compute_metrics(ledger, p, as_of=p.end, config=config)
        out.append({k: v for k, v in contract.items() if k not in ("source", "generated_at")})
    return out


def stored_bytes(folder: Path) -> list[bytes]:
    """Every file under the folder, and every member of every zip in it."""
    out = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        data = path.read_bytes()
        out.append(data)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                out += [zf.read(n) for n in zf.namelist()]
    return out


def leaks(folder: Path) -> list[str]:
    secrets = [*NAMES, *PHONES, ID_NUMBER]
    return sorted({s for data in stored_bytes(folder) for s in secrets
                   for enc in ("utf-8", "gb18030", "utf-16-le") if s.encode(enc) in data})


def test_erasing_a_case_leaves_no_byte_and_the_same_figures(store: Store) -> None:
    records = list_snapshots(store.snaps)
    assert sorted(r.kind for r in records) == ["csv", "gsheets", "xlsx", "xlsx"]
    assert leaks(store.snaps) == sorted([*NAMES, *PHONES, ID_NUMBER])  # planted everywhere
    before = {r.location + r.read_at.isoformat(): figures(r.path) for r in records}
    old = {r.file: r.sha256 for r in records}

    runner = CliRunner()
    dry = runner.invoke(cli, ["snapshots", "erase", "--case", store.case, "--dry-run",
                              "--dir", str(store.snaps)])
    assert dry.exit_code == 0, dry.output
    assert dry.output.count("将改写：") == 4
    assert {r.file: r.sha256 for r in list_snapshots(store.snaps)} == old  # nothing changed

    result = runner.invoke(cli, ["snapshots", "erase", "--case", store.case, "--reason",
                                 "当事人来信申请删除", "--dir", str(store.snaps)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # 当事人, 简要情况, 备注 on 纠纷台账, the household code on two 走访记录
    # rows and the 逾期说明 of the chase
    assert all(line.endswith("（6 个单元格）") for line in lines[:4])
    assert lines[-1] == (f"已改写 4 个快照（共 4 个，4 个含有编号“{store.case}”），"
                         "改写前后的 sha256 已记入快照清单。")

    assert leaks(store.snaps) == []
    assert verify_snapshots(store.snaps) == []
    verify = runner.invoke(cli, ["snapshots", "verify", "--dir", str(store.snaps)])
    assert verify.exit_code == 0, verify.output
    after_records = list_snapshots(store.snaps)
    after = {r.location + r.read_at.isoformat(): figures(r.path) for r in after_records}
    assert after == before
    erased = [r for r in after_records if r.kind == "xlsx"][0]
    chases = open_source(erased.path).tables["督办记录"].frame.astype(object)
    assert "（已删除）" in chases.to_numpy().ravel().tolist()

    # the chain of reproducibility: each record names the hash it had before
    manifest = read_store(store.snaps)
    assert sorted(h for r in manifest.records for h in r.previous) == sorted(old.values())
    (entry,) = manifest.history
    assert entry["action"] == "erase" and entry["case"] == store.case
    assert entry["reason"] == "当事人来信申请删除"
    assert {(f["old_file"], f["old_sha256"]) for f in entry["files"]} == set(old.items())
    assert {f["new_sha256"] for f in entry["files"]} == {r.sha256 for r in after_records}
    assert not any((store.snaps / f).exists() for f in old)


def test_the_household_is_renamed_everywhere_it_occurs(store: Store) -> None:
    xlsx = next(r for r in list_snapshots(store.snaps) if r.kind == "xlsx")
    CliRunner().invoke(cli, ["snapshots", "erase", "--case", store.case, "--dir",
                             str(store.snaps)])
    record = next(r for r in list_snapshots(store.snaps) if xlsx.sha256 in r.previous)
    visits = open_snapshot(record.path).tables["走访记录"].frame
    header = demo.header_row("visits") - 1
    column = list(visits.iloc[header]).index("户编号")
    codes = visits.iloc[header + 1:, column].reset_index(drop=True)
    assert [codes[i] for i in store.household_rows] == ["已删除-1", "已删除-1"]
    assert (codes == "已删除-1").sum() == 2
    disputes = open_snapshot(record.path).tables["纠纷台账"].frame
    row = disputes.index[disputes.eq(store.case).any(axis=1)][0]
    assert disputes.loc[row].astype(str).str.contains("欧阳|1390000").sum() == 0


def test_a_published_source_stays_kept_after_its_erasure(store: Store) -> None:
    first = list_snapshots(store.snaps)[0]
    record_publication(store.snaps, out=store.root / "public", periods=["2024-Q4"],
                       sha256=first.sha256, at=datetime(2025, 1, 1, tzinfo=UTC))
    CliRunner().invoke(cli, ["snapshots", "erase", "--case", store.case, "--dir",
                             str(store.snaps)])
    manifest = read_store(store.snaps)
    (replaced,) = [r for r in manifest.records if first.sha256 in r.previous]
    plan = plan_retention(manifest, keep_days=0, keep_monthly=0,
                          now=datetime(2030, 1, 1, tzinfo=UTC))
    assert "published" in plan.keep[replaced.file]


def test_erasing_again_or_an_unknown_case(store: Store) -> None:
    runner = CliRunner()
    args = ["--dir", str(store.snaps)]
    assert runner.invoke(cli, ["snapshots", "erase", "--case", store.case, *args]).exit_code == 0
    files = sorted(p.name for p in store.snaps.iterdir())
    again = runner.invoke(cli, ["snapshots", "erase", "--case", store.case, *args])
    assert again.exit_code == 0, again.output
    assert again.output == (f"编号“{store.case}”在 4 个快照里的个人信息都已经删除过，"
                            "没有需要改写的快照。\n")
    assert sorted(p.name for p in store.snaps.iterdir()) == files
    unknown = runner.invoke(cli, ["snapshots", "erase", "--case", "DZ1999-9999", *args])
    assert unknown.exit_code == 2
    assert unknown.output.startswith(
        f"错误：在快照目录 {store.snaps} 的 4 个快照里都没有找到编号为“DZ1999-9999”的纠纷，"
        "没有改动任何快照。")


def test_a_store_that_does_not_verify_is_not_rewritten(store: Store) -> None:
    victim = list_snapshots(store.snaps)[0].path
    victim.write_bytes(victim.read_bytes() + b"x")
    files = {p.name: p.read_bytes() for p in store.snaps.iterdir()}
    result = CliRunner().invoke(cli, ["snapshots", "erase", "--case", store.case,
                                      "--dir", str(store.snaps)])
    assert result.exit_code == 2
    assert "核对不通过，没有删除任何内容" in result.output
    assert {p.name: p.read_bytes() for p in store.snaps.iterdir()} == files


def test_only_google_payloads_are_rewritten() -> None:
    from fengqiao.sources import redact
    from fengqiao.sources.base import RawWorkbook, SourceInfo
    from fengqiao.sources.redact import CellEdit, redact_bytes

    assert redact._GSHEETS_KIND == PAYLOAD_KIND  # noqa: SLF001 - the literal must follow gsheets
    feishu = json.dumps({"kind": "fengqiao-feishu-payload", "sheets": []}).encode()
    with pytest.raises(FengqiaoError) as err:
        redact_bytes(feishu, "json", [CellEdit("纠纷台账", 3, 7)], name="x.json",
                     before=RawWorkbook(SourceInfo("feishu", "x", "x")))
    assert str(err.value).startswith("无法改写快照“x.json”：暂不支持改写这种在线表格（如飞书表格）的快照。")
