"""``fengqiao validate``: output, exit codes and --annotate, end to end on
real files."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from fengqiao.annotate import ERROR_COLOR, RESULT_SHEET
from fengqiao.cli import cli

D = ["编号", "受理日期", "来源", "村(社区)", "网格编号", "纠纷类型", "当事人", "涉及人数",
     "简要情况", "星级", "调处层级", "责任单位", "包案领导", "状态", "首次调解成功", "办结日期",
     "回访日期", "满意度", "重复事项", "备注"]
GOOD = ["D1", "2024-03-05", "网格排查", "东村", "G1", "邻里", "张三", 2, "宅基地", 1, "村级",
        "司法所", "王书记", "已化解", "是", "2024-03-08", "2024-03-10", "满意", None, None]
OTHER = {
    "网格": [["网格编号", "村(社区)", "户数", "网格长", "网格员"], ["G1", "东村", 80, "赵", "钱"]],
    "走访记录": [["日期", "走访人", "网格编号", "户编号", "人次", "发现问题", "关联纠纷编号"]],
    "重点人员": [["人员编号", "类别", "网格编号", "包联人", "随访频次"]],
    "重点人员随访": [["人员编号", "日期", "随访人", "方式"]],
    "领导接访": [["日期", "领导", "职务类别", "方式", "接待人次", "关联纠纷编号"]],
    "领导名册": [["领导", "职务类别", "到岗日期", "离岗日期"]],
    "责任清单": [["事项类别", "责任单位", "责任领导", "职务", "办公电话", "备注"],
             ["邻里", "司法所", "周", "所长", "0471-1234567", None]],
    "需求清单": [["编号", "提出日期", "来源", "村(社区)", "需求内容", "类别", "接单单位", "领单党员",
              "状态", "办结日期"]],
}


def row(**changes: Any) -> list[Any]:
    values = dict(zip(D, GOOD, strict=True))
    values.update(changes)
    return [values[h] for h in D]


def xlsx(path: Path, disputes: list[list[Any]], *, title: bool = True) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "纠纷台账"
    if title:
        ws.append(["示范镇矛盾纠纷台账"])
    ws.append(D)
    for r in disputes:
        ws.append(r)
    for name, rows in OTHER.items():
        other = wb.create_sheet(name)
        for r in rows:
            other.append(r)
    wb.save(path)
    return path


def run(*args: str) -> Any:
    result = CliRunner().invoke(cli, ["validate", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash must not pass for exit code 1
    return result


def test_clean_ledger_exits_0(tmp_path: Path) -> None:
    result = run(str(xlsx(tmp_path / "台账.xlsx", [row()])))
    assert result.exit_code == 0, result.output
    assert result.output == "校验“台账.xlsx”：没有发现问题。\n"


def test_errors_exit_1_with_table(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "台账.xlsx", [row(), row(编号="D2", 受理日期="2024-02-30"),
                                          row(编号="D3", 来源="广播", 首次调解成功=None)])
    result = run(str(path))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == "校验“台账.xlsx”：发现 2 个错误、1 个提醒。"
    assert lines[2:6] == [
        "【纠纷台账】错误 2 个，提醒 1 个",
        "  日期无法识别（bad-date，错误）：1 处",
        "  不在可选范围内（not-in-enum，错误）：1 处",
        "  办结未填首次调解结果（first-try-missing，提醒）：1 处",
    ]
    assert lines[6] == ("  [错误] 纠纷台账!B4（受理日期）的“2024-02-30”不是有效日期。"
                        "请写成 2024-03-05、2024/3/5 或 2024年3月5日 这样的日期。")
    assert lines[-1] == "“纠纷台账”有 1 行因编号、日期或星级有误不计入统计，改正后会自动计入。"


def test_warnings_only_exit_0(tmp_path: Path) -> None:
    result = run(str(xlsx(tmp_path / "台账.xlsx", [row(首次调解成功=None)])))
    assert result.exit_code == 0
    assert "发现 0 个错误、1 个提醒。" in result.output


def test_json_has_exact_keys_and_all_findings(tmp_path: Path) -> None:
    rows = [row()] + [row(编号=f"D{i}", 受理日期="坏日期") for i in range(2, 62)]
    result = run(str(xlsx(tmp_path / "台账.xlsx", rows)), "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert len(data) == 60
    assert data[0] == {
        "sheet": "纠纷台账", "row": 4, "column": "受理日期", "cell": "纠纷台账!B4",
        "code": "bad-date", "severity": "error",
        "message": "纠纷台账!B4（受理日期）的“坏日期”不是有效日期。"
                   "请写成 2024-03-05、2024/3/5 或 2024年3月5日 这样的日期。",
    }
    assert "“坏日期”" in result.output  # ensure_ascii=False


def test_table_truncates_long_lists(tmp_path: Path) -> None:
    rows = [row()] + [row(编号=f"D{i}", 受理日期="坏日期") for i in range(2, 62)]
    result = run(str(xlsx(tmp_path / "台账.xlsx", rows)))
    assert result.output.count("  [错误] ") == 50
    assert "  ……还有 10 条未列出，用 --format json 可以看到全部。" in result.output


def test_unusable_input_exits_2(tmp_path: Path) -> None:
    result = run(str(tmp_path / "没有这个文件.xlsx"))
    assert result.exit_code == 2
    assert result.output.startswith("错误：")
    assert "Traceback" not in result.output


def test_missing_required_tab_exits_1(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "说明"
    ws["A1"] = "空"
    wb.save(tmp_path / "空.xlsx")
    result = run(str(tmp_path / "空.xlsx"))
    assert result.exit_code == 1
    assert "  [错误] 找不到“纠纷台账”工作表。" in result.output


def test_annotate_xlsx(tmp_path: Path) -> None:
    src = xlsx(tmp_path / "台账.xlsx", [row(), row(编号="D2", 受理日期="2024-02-30")])
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    out = tmp_path / "标注.xlsx"
    result = run(str(src), "--annotate", str(out))
    assert result.exit_code == 1
    assert result.output.endswith(f"已把标注写入 {out}。\n")
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
    wb = load_workbook(out)
    assert wb["纠纷台账"]["B4"].fill.start_color.rgb == ERROR_COLOR
    assert wb[RESULT_SHEET]["F3"].value == "bad-date"


def test_annotate_refuses_source_path(tmp_path: Path) -> None:
    src = xlsx(tmp_path / "台账.xlsx", [row()])
    before = src.read_bytes()
    result = run(str(src), "--annotate", str(src))
    assert result.exit_code == 2
    assert "标注文件不能和台账是同一个文件" in result.output
    assert src.read_bytes() == before


def test_csv_folder_and_annotate(tmp_path: Path) -> None:
    folder = tmp_path / "台账csv"
    folder.mkdir()
    with (folder / "纠纷台账.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(D)
        w.writerow(row())
        w.writerow(row(编号="D2", 星级="五星"))
    out = tmp_path / "标注.xlsx"
    result = run(str(folder), "--format", "json", "--annotate", str(out))
    assert result.exit_code == 1
    data = json.loads(result.output)
    cells = [(d["cell"], d["code"]) for d in data if d["row"] is not None]
    assert cells == [("纠纷台账!J3", "not-in-enum")]
    ws = load_workbook(out)["纠纷台账"]
    assert ws["J3"].value == "五星" and ws["J3"].fill.start_color.rgb == ERROR_COLOR
