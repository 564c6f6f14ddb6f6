"""The Table Schema / Data Package export, checked by frictionless itself."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import frictionless
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.demo import generate_town, planted_personal_data, write_workbook
from fengqiao.export import data_package, table_schema, unresolved_references, write_schemas
from fengqiao.ledger import Ledger
from fengqiao.schema import TAB_ORDER, load_schema
from fengqiao.sources import open_source
from fengqiao.validate import validate_workbook

HEADER = ("编号,受理日期,来源,村(社区),网格编号,纠纷类型,当事人,涉及人数,简要情况,星级,调处层级,"
          "责任单位,包案领导,状态,首次调解成功,办结日期,回访日期,满意度,重复事项,备注,"
          "交办日期,初始层级,反馈日期,调解力量")
GOOD = [
    "DZ2024-0001,2024-03-05,网格排查,东岭村,DL-01,邻里,甲某,2,排水沟,1,村级,司法所,陈建华,"
    "已化解,是,2024-03-07,2024-03-09,满意,,,2024-03-06,村级,2024-03-08,村调委会",
    "DZ2024-0002,2024-03-06,信访,东岭村,DL-01,劳资,乙某,5,欠薪,2,镇级,劳动保障所,林国平,"
    "调处中,,,,,DZ2024-0001,,,,,",
]


@pytest.mark.parametrize("by_title", [False, True])
@pytest.mark.parametrize("tab", TAB_ORDER)
def test_frictionless_accepts_every_schema(tab: str, by_title: bool) -> None:
    descriptor = table_schema(load_schema()[tab], by_title=by_title)
    report = frictionless.Schema.validate_descriptor(descriptor)
    assert report.valid, report.flatten(["type", "note"])
    schema = frictionless.Schema.from_descriptor(descriptor)
    spec = load_schema()[tab]
    assert schema.field_names == [f.title if by_title else f.name for f in spec.fields]


def test_field_descriptors() -> None:
    d = table_schema(load_schema()["disputes"])
    fields = {f["name"]: f for f in d["fields"]}
    assert fields["star"] == {
        "name": "star", "title": "星级", "type": "integer",
        "description": "一星为简单纠纷，二星为复杂纠纷，三星为涉法涉诉或有激化风险的纠纷。",
        "constraints": {"required": True, "enum": [1, 2, 3]},
        "x-fengqiao-aliases": ["星级评定", "等级", "分级"],
        "x-fengqiao-enumAliases": {"一星": 1, "二星": 2, "三星": 3, "★": 1, "★★": 2, "★★★": 3,
                                   "1星": 1, "2星": 2, "3星": 3},
    }
    assert fields["received_date"]["format"] == "any"
    assert fields["received_date"]["constraints"] == {"required": True}
    assert fields["id"]["constraints"] == {"required": True, "unique": True}
    assert fields["persons_involved"]["constraints"] == {"required": True, "minimum": 1}
    assert fields["first_try_success"]["trueValues"][:2] == ["是", "√"]
    assert fields["first_try_success"]["falseValues"][:2] == ["否", "×"]
    assert fields["parties"]["x-fengqiao-sensitive"] is True
    assert "x-fengqiao-sensitive" not in fields["source"]
    assert fields["status"]["x-fengqiao-closedValues"] == ["已化解", "转司法", "已终结", "已撤回"]
    assert d["primaryKey"] == ["id"]
    assert d["missingValues"] == [""]
    # a lone schema can only resolve references to its own table
    assert d["foreignKeys"] == [
        {"fields": ["repeat_of"], "reference": {"resource": "", "fields": ["id"]}}]
    assert d["x-fengqiao-foreignKeys"] == [
        {"fields": ["grid_id"], "reference": {"resource": "grids", "fields": ["grid_id"]}},
        {"fields": ["responsible_unit"],
         "reference": {"resource": "responsibilities", "fields": ["unit"]}},
    ]
    kp = {f["name"]: f for f in table_schema(load_schema()["key_persons"])["fields"]}
    assert all(f["x-fengqiao-sensitive"] is True for f in kp.values())


def test_by_title_names() -> None:
    d = table_schema(load_schema()["disputes"], by_title=True)
    assert [f["name"] for f in d["fields"]][:3] == ["编号", "受理日期", "来源"]
    assert d["fields"][0]["x-fengqiao-id"] == "id"
    assert d["primaryKey"] == ["编号"]
    assert d["foreignKeys"] == [
        {"fields": ["重复事项"], "reference": {"resource": "", "fields": ["编号"]}}]
    visits = table_schema(load_schema()["visits"], by_title=True, in_package=True)
    assert visits["foreignKeys"][0] == {
        "fields": ["网格编号"], "reference": {"resource": "grids", "fields": ["网格编号"]}}
    assert "x-fengqiao-foreignKeys" not in visits


@pytest.mark.parametrize("by_title", [False, True])
def test_data_package(by_title: bool) -> None:
    pkg = data_package(load_schema(), by_title=by_title, title="枫溪镇矛盾纠纷调处化解台账")
    assert frictionless.Package.validate_descriptor(pkg).valid
    package = frictionless.Package.from_descriptor(pkg)
    assert [r.name for r in package.resources] == list(TAB_ORDER)
    assert pkg["title"] == "枫溪镇矛盾纠纷调处化解台账"
    first = pkg["resources"][0]
    assert first["path"] == ("纠纷台账.csv" if by_title else "disputes.csv")
    assert first["x-fengqiao-required"] is True
    sensitive = [r["name"] for r in pkg["resources"] if r.get("x-fengqiao-sensitive")]
    assert sensitive == ["key_persons", "key_person_visits"]
    assert len(first["schema"]["foreignKeys"]) == 3


def _validate_csv(tmp_path: Path, lines: list[str]) -> frictionless.Report:
    (tmp_path / "纠纷台账.csv").write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    schema = frictionless.Schema.from_descriptor(
        table_schema(load_schema()["disputes"], by_title=True))
    resource = frictionless.Resource(path="纠纷台账.csv", basepath=str(tmp_path), schema=schema)
    return frictionless.validate(resource)


def test_valid_csv_passes(tmp_path: Path) -> None:
    report = _validate_csv(tmp_path, GOOD)
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert report.tasks[0].stats["rows"] == 2


def test_bad_enum_is_reported(tmp_path: Path) -> None:
    bad = [GOOD[0], GOOD[1].replace(",信访,", ",信坊,")]
    report = _validate_csv(tmp_path, bad)
    assert not report.valid
    assert report.flatten(["rowNumber", "fieldName", "type"]) == [[3, "来源", "constraint-error"]]


def test_unknown_repeat_is_reported(tmp_path: Path) -> None:
    bad = [GOOD[0], GOOD[1].replace(",DZ2024-0001,", ",DZ2023-0999,")]
    report = _validate_csv(tmp_path, bad)
    assert report.flatten(["rowNumber", "type"]) == [[3, "foreign-key"]]


def test_write_schemas(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out")
    assert [p.name for p in written] == [f"{t}.schema.json" for t in TAB_ORDER] + [
        "datapackage.json"]
    loaded = json.loads((tmp_path / "out" / "grids.schema.json").read_text(encoding="utf-8"))
    assert loaded == table_schema(load_schema()["grids"])
    assert "网格编号" in (tmp_path / "out" / "grids.schema.json").read_text(encoding="utf-8")


def test_cli_schema_export(tmp_path: Path) -> None:
    out = tmp_path / "schema"
    result = CliRunner().invoke(cli, ["schema", "export", "--out", str(out), "--by-title"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"已导出 12 个文件到 {out}："  # 11 tabs + package
    assert result.output.splitlines()[1:] == [f"  {t}.schema.json" for t in TAB_ORDER] + [
        "  datapackage.json"]
    pkg = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert pkg["title"] == "本镇矛盾纠纷调处化解台账"
    assert pkg["resources"][0]["schema"]["fields"][0]["name"] == "编号"
    disputes = json.loads((out / "disputes.schema.json").read_text(encoding="utf-8"))
    assert frictionless.Schema.from_descriptor(disputes).field_names[0] == "编号"


def test_cli_schema_export_unwritable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "export", "--out", str(blocker / "sub")])
    assert result.exit_code == 2
    assert result.output.startswith(f"错误：无法写入文件夹 {blocker / 'sub'}：")
    assert "Traceback" not in result.output


# --- --data: the normalised tables, checked by frictionless against fengqiao ------------


def _frictionless_errors(package: Path) -> list[tuple[str, str, int, str]]:
    """(tab, error type, sheet row, field id) of every error frictionless
    reports on an exported package; the sheet row is the row's first cell."""
    schema = load_schema()
    report = frictionless.Package(str(package)).validate()
    out = []
    for task in report.tasks:
        tab = schema[task.name]
        ids = {f.title: f.name for f in tab.fields} | {f.name: f.name for f in tab.fields}
        for error in task.errors:
            cells = getattr(error, "cells", None) or [0]
            names = getattr(error, "field_names", None) or [getattr(error, "field_name", "")]
            for name in names:
                out.append((task.name, error.type, int(cells[0]), ids.get(name, name)))
    return out


@pytest.fixture(scope="module")
def demo_ledger(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    path = tmp_path_factory.mktemp("demo") / "demo_town.xlsx"
    write_workbook(generate_town(), path)
    return validate_workbook(open_source(path))


def test_sheet_dates_need_the_data_export(tmp_path: Path) -> None:
    """Why --data exists: a date fengqiao reads (2023年1月19日) is a type
    error to frictionless against the sheet's schema, and is ISO in the data."""
    row = GOOD[0].replace(",2024-03-05,", ",2024年3月5日,")
    report = _validate_csv(tmp_path, [row])
    assert report.flatten(["rowNumber", "fieldName", "type"]) == [[2, "受理日期", "type-error"]]


def test_demo_data_export_agrees_with_validator(demo_ledger: Ledger, tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out", ledger=demo_ledger)
    errors = _frictionless_errors(tmp_path / "out" / "datapackage.json")
    assert [e for e in errors if e[1] == "type-error"] == []
    reported = {(f.tab, f.row, f.field) for f in demo_ledger.findings}
    assert [e for e in errors if (e[0], e[2], e[3]) not in reported] == []
    # the planted defects whose cell is blank in the counted rows, and nothing else
    assert errors == [
        ("disputes", "constraint-error", 171, "persons_involved"),
        ("disputes", "constraint-error", 194, "dispute_type"),
        ("supervisions", "constraint-error", 5, "dispute_id"),
        ("supervisions", "constraint-error", 10, "date"),
        ("transfers", "constraint-error", 7, "date"),
        ("visits", "constraint-error", 502, "grid_id"),
    ]
    names = [p.name for p in written]
    assert "disputes.csv" in names and "key_persons.csv" not in names
    assert "key_persons.schema.json" not in names


def test_data_csv_is_normalised(demo_ledger: Ledger, tmp_path: Path) -> None:
    write_schemas(tmp_path / "out", ledger=demo_ledger)
    with (tmp_path / "out" / "disputes.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = demo_ledger.tables["disputes"]
    assert len(rows) == len(table)  # the counted rows only
    assert [int(r["sheet_row"]) for r in rows] == table["_row"].tolist()
    assert "parties" not in rows[0] and "summary" not in rows[0]  # sensitive
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["received_date"]) for r in rows)
    assert {r["star"] for r in rows} <= {"1", "2", "3"}
    assert {r["first_try_success"] for r in rows} <= {"是", "否", ""}
    assert {r["source"] for r in rows} <= set(load_schema()["disputes"].field("source").enum)
    excluded = set(demo_ledger.excluded["disputes"]["_row"])
    assert len(excluded) == 3 and not excluded & {int(r["sheet_row"]) for r in rows}
    pkg = json.loads((tmp_path / "out" / "datapackage.json").read_text(encoding="utf-8"))
    disputes = pkg["resources"][0]
    field_names = [f["name"] for f in disputes["schema"]["fields"]]
    assert field_names == list(rows[0])  # schema and CSV agree, column by column
    assert disputes["x-fengqiao-excludedRows"] == 3
    assert disputes["x-fengqiao-omittedFields"] == ["parties", "summary", "notes"]
    assert "received_date" in field_names and "format" not in disputes["schema"]["fields"][2]
    assert "有 3 行因编号、日期或星级等有误不计入统计，没有导出（“纠纷台账”3 行）" in pkg["description"]
    assert "整张“重点人员”、“重点人员随访”表" in pkg["description"]
    standalone = json.loads((tmp_path / "out" / "disputes.schema.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in standalone["fields"]] == field_names


def test_cli_schema_export_with_data(tmp_path: Path) -> None:
    source = tmp_path / "台账.xlsx"
    write_workbook(generate_town(3, scale=0.15, defects=False, personal_data=True), source)
    out = tmp_path / "导出"
    result = CliRunner().invoke(cli, ["schema", "export", "--data", str(source), "--by-title",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # 领导名册 added a schema and a CSV, and so did 督办记录 and 流转记录
    assert lines[0] == f"已导出 19 个文件到 {out}："
    assert "  纠纷台账.csv" in lines and "  datapackage.json" in lines
    assert lines[-1] == "导出了哪些内容、没有导出什么，写在 datapackage.json 的 description 里。"
    errors = _frictionless_errors(out / "datapackage.json")
    assert errors == []
    header = (out / "纠纷台账.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("台账行号,编号,受理日期,来源,")
    assert "当事人" not in header
    everything = "".join(p.read_text(encoding="utf-8") for p in out.glob("*.csv"))
    tables = generate_town(3, scale=0.15, defects=False, personal_data=True)
    assert [p for p in planted_personal_data(tables) if p in everything] == []


def test_cli_data_refuses_a_foreign_folder_before_reading(tmp_path: Path) -> None:
    out = tmp_path / "资料"
    out.mkdir()
    (out / "笔记.txt").write_text("别人的文件", encoding="utf-8")
    result = CliRunner().invoke(cli, ["schema", "export", str(tmp_path / "无此台账.xlsx"),
                                      "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("错误：")
    assert "无此台账" not in result.output  # refused before the ledger was looked for
    assert sorted(p.name for p in out.iterdir()) == ["笔记.txt"]


def test_cli_data_unreadable_source_writes_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["schema", "export", "--data", str(tmp_path / "无此台账.xlsx"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.output.startswith("错误：") and "无此台账.xlsx" in result.output
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_reference_to_an_excluded_row_is_not_declared(tmp_path: Path) -> None:
    """fengqiao checks references against the whole sheet. A reception that
    points at a dispute excluded for a bad date is fine to fengqiao, so the
    data package must not declare a foreign key frictionless would fail."""
    tables = generate_town(3, scale=0.15, defects=False)
    source = tmp_path / "clean.xlsx"
    write_workbook(tables, source)
    clean = validate_workbook(open_source(source))
    assert unresolved_references(clean) == set()
    referenced = tables["receptions"]["关联纠纷编号"].dropna().iloc[0]
    dispute = tables["disputes"].index[tables["disputes"]["案件编号"] == referenced][0]
    tables["disputes"].loc[dispute, "受理日期"] = "不详"
    broken = tmp_path / "broken.xlsx"
    write_workbook(tables, broken)
    ledger = validate_workbook(open_source(broken))
    assert ledger.excluded_count("disputes") == 1
    # the dispute is also the one an earlier repeat points at, and it was passed on once
    assert unresolved_references(ledger) == {("receptions", ("dispute_id",)),
                                             ("disputes", ("repeat_of",)),
                                             ("transfers", ("dispute_id",))}
    write_schemas(tmp_path / "out", ledger=ledger)
    assert _frictionless_errors(tmp_path / "out" / "datapackage.json") == []
    pkg = json.loads((tmp_path / "out" / "datapackage.json").read_text(encoding="utf-8"))
    receptions = next(r for r in pkg["resources"] if r["name"] == "receptions")
    assert "foreignKeys" not in receptions["schema"]
    assert receptions["schema"]["x-fengqiao-foreignKeys"][0]["fields"] == ["dispute_id"]
    assert "“领导接访”有的行“关联纠纷编号”指向的行没有计入统计" in pkg["description"]
    # the clean ledger keeps the standard key
    write_schemas(tmp_path / "clean-out", ledger=clean)
    pkg = json.loads((tmp_path / "clean-out" / "datapackage.json").read_text(encoding="utf-8"))
    receptions = next(r for r in pkg["resources"] if r["name"] == "receptions")
    assert receptions["schema"]["foreignKeys"][0]["fields"] == ["dispute_id"]
