"""The Table Schema / Data Package export, checked by frictionless itself."""

from __future__ import annotations

import json
from pathlib import Path

import frictionless
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.export import data_package, table_schema, write_schemas
from fengqiao.schema import TAB_ORDER, load_schema

HEADER = ("编号,受理日期,来源,村(社区),网格编号,纠纷类型,当事人,涉及人数,简要情况,星级,调处层级,"
          "责任单位,包案领导,状态,首次调解成功,办结日期,回访日期,满意度,重复事项,备注")
GOOD = [
    "DZ2024-0001,2024-03-05,网格排查,东岭村,DL-01,邻里,甲某,2,排水沟,1,村级,司法所,陈建华,"
    "已化解,是,2024-03-07,2024-03-09,满意,,",
    "DZ2024-0002,2024-03-06,信访,东岭村,DL-01,劳资,乙某,5,欠薪,2,镇级,劳动保障所,林国平,"
    "调处中,,,,,DZ2024-0001,",
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
    assert pkg["resources"][3]["x-fengqiao-sensitive"] is True
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
    assert result.output.splitlines()[0] == f"已导出 9 个文件到 {out}："
    assert result.output.splitlines()[1:] == [f"  {t}.schema.json" for t in TAB_ORDER] + [
        "  datapackage.json"]
    pkg = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert pkg["title"] == "示范镇矛盾纠纷调处化解台账"
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
