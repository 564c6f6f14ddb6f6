"""``fengqiao metrics`` and ``fengqiao overdue`` on a real xlsx written with openpyxl."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.metrics import validate_contract
from fengqiao.schema import load_schema

COLUMNS = ["id", "received_date", "source", "village", "dispute_type", "parties",
           "persons_involved", "star", "level", "status", "first_try_success", "closed_date",
           "responsible_unit", "lead_official"]
# 2024-03 (31 days), as of 2024-03-31:
#   D1 received 03-01, closed 03-03 (2 days, 1★ on time), 村级, first try 是
#   D2 received 03-05, closed 03-25 (20 days, 2★ late), 镇级, first try 否
#   D3 received 03-10, open, 1★ → 21 days old, 16 over
#   D4 received 03-28, open, 2★ → 3 days old, not overdue
ROWS = [
    ["D1", date(2024, 3, 1), "网格排查", "东岭村", "邻里", "张三", 2, 1, "村级", "已化解", "是",
     date(2024, 3, 3), "司法所", "王镇长"],
    ["D2", date(2024, 3, 5), "信访", "东岭村", "土地林草", "李四", 6, 2, "镇级", "已化解", "否",
     date(2024, 3, 25), "国土所", "赵书记"],
    ["D3", date(2024, 3, 10), "群众来访", "西坡村", "劳资", "王五", 1, 1, None, "调处中", None,
     None, "劳动保障所", "钱科长"],
    ["D4", date(2024, 3, 28), "12345热线", "西坡村", "物业", "赵六", 3, 2, None, "调处中", None,
     None, None, None],
]


@pytest.fixture()
def workbook(tmp_path: Path) -> Path:
    spec = load_schema()["disputes"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = spec.title
    ws.append([spec.field(c).title for c in COLUMNS])
    for row in ROWS:
        ws.append(row)
    path = tmp_path / "town.xlsx"
    wb.save(path)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_metrics_table(workbook: Path) -> None:
    code, out, err = run("metrics", str(workbook), "--period", "2024-03")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "本镇 2024-03（2024-03-01 至 2024-03-31）统计指标，截至 2024-03-31"
    assert lines[2].split() == ["指标", "分子", "÷", "分母", "数值", "目标", "是否达标"]
    table = lines[4:lines.index("分布：") - 1]
    # columns are two or more spaces apart; a note has single spaces inside
    by_title = {cells[0]: cells[1:] for cells in (re.split(r" {2,}", line.strip())
                                                  for line in table if line.strip())}
    assert by_title["受理数"] == ["4 件"]
    # every ratio names its numerator and denominator with their counts
    assert by_title["按期办结率"] == ["按期办结 1 ÷ 办结 2", "50.0%", "90.0%", "未达标"]
    assert by_title["首次调解成功率"] == ["首次调解成功 1 ÷ 办结 2", "50.0%", "85.0%", "未达标"]
    assert by_title["矛盾不上交率"] == ["村级、镇级办结 2 ÷ 办结 2", "100.0%", "90.0%", "达标"]
    assert by_title["逾期在办"] == ["1 件"]
    assert by_title["走访覆盖率"] == ["—", "80.0%", "—"]
    # a days figure shows days, its parts in words, never days × cases over cases
    # ("62/2"): 31 days × 2 open (D3, D4) ÷ 2 closed = 31.0 days
    assert by_title["预计结案天数"] == ["本期天数 × 期末在办 ÷ 办结", "31.0 天"]
    assert "62/2" not in out
    assert "张三" not in out
    # mixes below the table; every ratio's numerator and denominator in words
    assert "\n分布：\n  层级分布：" in out
    assert ("  按期办结率：统计期内办结、且从受理次日到办结日的天数（按 config.day_count 计）"
            "不超过其星级期限的纠纷件数 ÷ 统计期内办结的纠纷件数\n") in out


def test_metrics_json_is_the_contract(workbook: Path) -> None:
    code, out, _ = run("metrics", str(workbook), "--period", "2024-03", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert validate_contract(data) == []
    assert data["metrics"]["received"] == 4
    # the ledger starts on 2024-03-01: March 2023 is not known, so not 0
    assert data["metrics"]["petition_persons"] == {"count": 6, "previous": None, "change": None}
    assert [r["id"] for r in data["overdue"]] == ["D3"]
    assert out.endswith("}\n")
    code2, out2, _ = run("metrics", str(workbook), "--period", "2024-03", "--format", "json")
    # identical apart from source.read_at, the one clock value (it comes from the source)
    again = json.loads(out2)
    assert again["source"]["read_at"] is not None
    again["source"]["read_at"] = data["source"]["read_at"]
    assert json.dumps(again, ensure_ascii=False, sort_keys=True, indent=2) + "\n" == out


def test_metrics_csv_has_bom_and_one_row_per_metric(workbook: Path) -> None:
    result = CliRunner().invoke(cli, ["metrics", str(workbook), "--period", "2024年3月",
                                      "--format", "csv"])
    assert result.exit_code == 0
    raw = result.stdout_bytes
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0] == "指标编号,指标,数值,分子,分母,上年同期,同比变化,目标,是否达标"
    assert "on_time_rate,按期办结率,0.5,1,2,,,0.9,未达标" in lines
    assert "visit_coverage,走访覆盖率,,,,,,0.8," in lines
    assert len(lines) == 1 + 29 + 14  # 1.2 added the 14 figures of the supervision loop
    assert "force_mix,调解力量,,,,,,," in lines  # no 调解力量 column in this workbook: null


def test_bad_period_is_exit_2_in_chinese(workbook: Path) -> None:
    code, out, err = run("metrics", str(workbook), "--period", "2024-13")
    assert code == 2
    assert err == ("错误：无法识别统计期“2024-13”：月份 13 不在 1 到 12 之间。可以这样写："
                   "2024-03（月）、2024-Q1（季度）、2024-H1（半年）、2024（全年）、"
                   "2024-01-01..2024-03-31（自定义）。\n")


def test_bad_as_of_is_exit_2(workbook: Path) -> None:
    code, _, err = run("metrics", str(workbook), "--period", "2024-03", "--as-of", "昨天")
    assert code == 2
    assert err == "错误：无法识别统计截止日期“昨天”。请写成 2024-03-31 或 2024/3/31 这样的日期。\n"


def test_overdue_table(workbook: Path) -> None:
    code, out, err = run("overdue", str(workbook), "--as-of", "2024-03-31")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "本镇截至 2024-03-31：逾期未办结 1 件，临近期限 0 件（逾期最久的在前）。"
    assert lines[4].split() == ["D3", "西坡村", "劳资", "★", "2024-03-10", "2024-03-15", "21",
                                "逾期", "16", "天", "劳动保障所", "钱科长"]
    assert len(lines) == 5


def test_overdue_near(workbook: Path) -> None:
    # on 2024-04-10, D4 (2★, received 03-28, deadline 04-12) has 2 days left = warn_days
    code, out, _ = run("overdue", str(workbook), "--as-of", "2024-04-10", "--near")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "本镇截至 2024-04-10：逾期未办结 1 件，临近期限 1 件（逾期最久的在前）。"
    assert [ln.split()[0] for ln in lines[4:]] == ["D3", "D4"]
    assert "还剩 2 天" in lines[5]


def test_overdue_none(workbook: Path) -> None:
    code, out, _ = run("overdue", str(workbook), "--as-of", "2024-03-12")
    assert code == 0
    assert out == "本镇截至 2024-03-12 没有逾期或临近期限的在办纠纷。\n"


def test_missing_source_file_is_exit_2(tmp_path: Path) -> None:
    code, _, err = run("metrics", str(tmp_path / "nope.xlsx"), "--period", "2024-03")
    assert code == 2
    assert err.startswith("错误：")
