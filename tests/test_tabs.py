"""Tab choice is never silent, headers match as people write them, and the
figures stop when 纠纷台账 cannot be counted (issue 9, part B).

Workbooks are real xlsx files written with openpyxl (hidden and very hidden
sheets included) or Google spreadsheets on the loopback Sheets server, so the
hidden flag is checked from the reader to the message.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from fengqiao.cli import cli
from fengqiao.config import load_config
from fengqiao.errors import FengqiaoError
from fengqiao.ledger import Ledger
from fengqiao.normalize import choose_tabs, header_key, locate_header, without_notes
from fengqiao.schema import TAB_ORDER, load_schema
from fengqiao.sitebuild import collect
from fengqiao.sources import open_source
from fengqiao.sources.base import RawTable
from fengqiao.sources.gsheets import read_gsheet, read_gsheet_payload, workbook_from_payload
from fengqiao.validate import validate_workbook
from sheets_server import (
    SheetsServer,
    loopback_session,
    make_service_account,
    sheets_server,  # noqa: F401  (fixture)
)

SCHEMA = load_schema()
SPECS = [SCHEMA[name] for name in TAB_ORDER]
HEADER = ["编号", "受理日期", "来源", "村(社区)", "纠纷类型", "涉及人数", "星级", "状态"]


def rows(n: int, prefix: str = "D") -> list[list[Any]]:
    """``n`` open disputes received in 2024-Q1."""
    return [[f"{prefix}{i}", date(2024, 1, 1) + timedelta(days=i % 90), "网格排查", "东村", "邻里",
             2, 1, "调处中"] for i in range(n)]


def xlsx(path: Path, sheets: dict[str, list[list[Any]]],
         state: dict[str, str] | None = None) -> Path:
    """An xlsx with the given sheets; ``state`` sets a sheet "hidden" or
    "veryHidden" (Excel needs one visible sheet, so tests keep one)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, body in sheets.items():
        ws = wb.create_sheet(name)
        for row in body:
            ws.append(row)
        ws.sheet_state = (state or {}).get(name, "visible")
    wb.save(path)
    return path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def received(path: Path, *config: str) -> int:
    code, out, err = run("metrics", str(path), "--period", "2024-Q1", "--format", "json", *config)
    assert code == 0, err
    return int(json.loads(out)["metrics"]["received"])


#: the findings about which sheet serves a tab
CHOICE_CODES = {"missing-tab", "ambiguous-tab", "tab-mapping-unknown", "hidden-tab-used",
                "hidden-tab-ignored"}


def tab_keys(ledger: Ledger) -> list[tuple[str, str, str]]:
    """Tab-choice findings of 纠纷台账 as (sheet, code, severity)."""
    return [(f.sheet, f.code, f.severity) for f in ledger.findings
            if f.tab == "disputes" and f.code in CHOICE_CODES]


def message(ledger: Ledger, code: str) -> str:
    return next(f.message for f in ledger.findings if f.code == code)


AMBIGUOUS = (
    "这些工作表都可能是“纠纷台账”：“纠纷台账”、“纠纷台账 (2)”。无法判断哪一张是在用的，这张表暂不使用。"
    "请把不用的那几张删除或改成别的名字；或者在 fengqiao.yml 里写明要用哪一张："
    "加一行“tabs:”，下一行缩进两格写“纠纷台账: 要用的工作表名”。"
)


def stopped(reason: str) -> str:
    """What ``metrics``/``overdue`` print on stderr when 纠纷台账 blocks the figures."""
    return ("错误：“纠纷台账”没法用来统计，算出来的数字会是错的（比如全是 0），所以没有继续：\n"
            f"  {reason}\n请先用 fengqiao validate 查看全部问题，改正台账或配置后再运行。\n")


# -- readers carry the hidden flag ------------------------------------------------


def test_xlsx_reader_marks_hidden_and_very_hidden_sheets(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "t.xlsx", {"纠纷台账": [HEADER], "旧": [HEADER], "更旧": [HEADER]},
                {"旧": "hidden", "更旧": "veryHidden"})
    tables = open_source(path).tables
    assert {name: t.hidden for name, t in tables.items()} == {
        "纠纷台账": False, "旧": True, "更旧": True}


def test_csv_tabs_are_never_hidden(tmp_path: Path) -> None:
    (tmp_path / "纠纷台账.csv").write_text("编号,受理日期\nD1,2024-03-05\n", encoding="utf-8")
    assert not open_source(tmp_path).tables["纠纷台账"].hidden


def test_google_hidden_tab_survives_the_payload_and_loses_to_the_visible_one(
        sheets_server: SheetsServer, tmp_path: Path) -> None:  # noqa: F811
    account = make_service_account(sheets_server, tmp_path)
    book = sheets_server.add_spreadsheet("sheet-hidden-1", "示范镇台账")
    book.add_sheet("纠纷台账", [HEADER, *rows(1, "OLD")], hidden=True)
    book.add_sheet("矛盾纠纷台账", [HEADER, *rows(3)])
    session = loopback_session(sheets_server)
    live = read_gsheet("sheet-hidden-1", credentials_path=str(account.path), session=session)
    assert {n: t.hidden for n, t in live.tables.items()} == {"纠纷台账": True, "矛盾纠纷台账": False}
    payload = read_gsheet_payload("sheet-hidden-1", credentials_path=str(account.path),
                                  session=session)
    replayed = workbook_from_payload(json.loads(json.dumps(payload, ensure_ascii=False)))
    assert {n: t.hidden for n, t in replayed.tables.items()} == {
        "纠纷台账": True, "矛盾纠纷台账": False}
    ledger = validate_workbook(replayed)
    assert ledger.sheet_names["disputes"] == "矛盾纠纷台账"
    assert tab_keys(ledger) == [("纠纷台账", "hidden-tab-ignored", "warning")]
    assert ledger.tables["disputes"]["id"].tolist() == ["D0", "D1", "D2"]


# -- a visible sheet wins; a hidden one is never used in silence -----------------------


def test_hidden_stale_tab_next_to_the_visible_current_one(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [HEADER, *rows(2, "OLD")],
                                      "矛盾纠纷台账": [HEADER, *rows(90)]},
                {"纠纷台账": "hidden"})
    ledger = validate_workbook(open_source(path))
    assert ledger.sheet_names["disputes"] == "矛盾纠纷台账"
    assert tab_keys(ledger) == [("纠纷台账", "hidden-tab-ignored", "warning")]
    hint = message(ledger, "hidden-tab-ignored")
    assert hint == ("隐藏的工作表“纠纷台账”也像“纠纷台账”，但统计用的是显示着的“矛盾纠纷台账”。"
                    "如果隐藏的这张才是要用的，请在 fengqiao.yml 的 tabs 里指定它；"
                    "如果它是不再使用的旧表，可以删除。")
    code, out, err = run("metrics", str(path), "--period", "2024-Q1", "--format", "json")
    assert code == 0
    assert json.loads(out)["metrics"]["received"] == 90
    assert err == f"注意：{hint}\n"
    code, out, _ = run("validate", str(path))
    assert code == 0 and hint in out


def test_a_single_visible_tab_gives_no_tab_warning(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"矛盾纠纷台账": [HEADER, *rows(4)]})
    ledger = validate_workbook(open_source(path))
    assert tab_keys(ledger) == []
    code, _, err = run("metrics", str(path), "--period", "2024-Q1", "--format", "json")
    assert code == 0 and err == ""


def test_only_a_hidden_candidate_is_used_with_a_warning(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"说明": [["本表由综治中心填写"]],
                                      "纠纷台账": [HEADER, *rows(5)]}, {"纠纷台账": "veryHidden"})
    ledger = validate_workbook(open_source(path))
    assert tab_keys(ledger) == [("纠纷台账", "hidden-tab-used", "warning")]
    assert message(ledger, "hidden-tab-used") == (
        "“纠纷台账”是隐藏的工作表，因为找不到别的“纠纷台账”，统计用了它。"
        "如果它就是在用的台账，请在 Excel 里取消隐藏，免得被当成旧表删掉；"
        "如果它是旧表，请把在用的那张改名为“纠纷台账”。")
    assert received(path) == 5


def test_two_hidden_candidates_and_no_visible_one_are_ambiguous(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"说明": [["x"]], "纠纷台账": [HEADER, *rows(1)],
                                      "纠纷台账 (2)": [HEADER, *rows(2)]},
                {"纠纷台账": "hidden", "纠纷台账 (2)": "hidden"})
    ledger = validate_workbook(open_source(path))
    assert tab_keys(ledger) == [("纠纷台账", "ambiguous-tab", "error")]
    assert not ledger.has("disputes")


# -- two visible candidates: an error, and no figures --------------------------------------


def test_two_visible_candidates_are_ambiguous_and_metrics_stop(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [HEADER, *rows(3)],
                                      "纠纷台账 (2)": [HEADER, *rows(7)]})
    ledger = validate_workbook(open_source(path))
    assert tab_keys(ledger) == [("纠纷台账", "ambiguous-tab", "error")]
    assert message(ledger, "ambiguous-tab") == AMBIGUOUS
    assert not ledger.has("disputes")
    assert "missing-tab" not in {f.code for f in ledger.findings}  # unusable, not missing
    code, out, err = run("metrics", str(path), "--period", "2024-Q1")
    assert (code, out) == (2, "")
    assert err == stopped(AMBIGUOUS)
    code, out, err = run("overdue", str(path), "--as-of", "2024-03-31")
    assert (code, out, err) == (2, "", stopped(AMBIGUOUS))
    code, out, _ = run("validate", str(path))
    assert code == 1 and AMBIGUOUS in out


@pytest.mark.parametrize("copy", ["纠纷台账 (2)", "纠纷台账(2)", "纠纷台账-旧", "纠纷台账_副本",
                                  "纠纷台账 副本", "Copy of 纠纷台账", "纠纷台账 - 副本",
                                  "2024年纠纷台账", "矛盾纠纷台账"])
def test_every_copy_name_next_to_the_tab_is_ambiguous(copy: str) -> None:
    sheets = {"纠纷台账": False, copy: False, "网格": False}
    choice = choose_tabs(sheets, SPECS)["disputes"]
    assert (choice.sheet, choice.candidates) == (None, ("纠纷台账", copy))
    alone = choose_tabs({copy: False, "网格": False}, SPECS)["disputes"]  # the passing neighbour
    assert (alone.sheet, alone.candidates) == (copy, ())


def test_copies_of_a_short_title_and_what_is_no_copy() -> None:
    choices = choose_tabs({"网格": False, "网格 (2)": False, "网格员名单": False,
                           "重点人员随访记录": False, "重点人员": False}, SPECS)
    assert choices["grids"].candidates == ("网格", "网格 (2)")
    # a longer title inside a sheet name claims it before a shorter one does
    assert choices["key_person_visits"].sheet == "重点人员随访记录"
    assert choices["key_persons"].sheet == "重点人员"


def test_a_tabs_mapping_resolves_the_ambiguity(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [HEADER, *rows(3)],
                                      "纠纷台账 (2)": [HEADER, *rows(7)]})
    by_title = tmp_path / "fengqiao.yml"
    by_title.write_text("tabs:\n  纠纷台账: 纠纷台账 (2)\n", encoding="utf-8")
    assert received(path, "--config", str(by_title)) == 7
    by_id = tmp_path / "by_id.yml"
    by_id.write_text("tabs:\n  disputes: 纠纷台账\n", encoding="utf-8")
    assert received(path, "--config", str(by_id)) == 3
    ledger = validate_workbook(open_source(path), config=load_config(by_id))
    assert tab_keys(ledger) == []  # the other copy is the user's choice to leave aside


def test_a_mapping_may_name_a_hidden_sheet_without_a_warning(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [HEADER, *rows(3)],
                                      "2023年纠纷台账": [HEADER, *rows(6)]},
                {"2023年纠纷台账": "hidden"})
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("tabs:\n  纠纷台账: 2023年纠纷台账\n", encoding="utf-8")
    ledger = validate_workbook(open_source(path), config=load_config(cfg))
    assert ledger.sheet_names["disputes"] == "2023年纠纷台账" and tab_keys(ledger) == []


def test_a_mapping_to_a_sheet_that_does_not_exist(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [HEADER, *rows(3)], "网格": [["网格编号"]]})
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("tabs:\n  纠纷台账: 台账2024\n", encoding="utf-8")
    ledger = validate_workbook(open_source(path), config=load_config(cfg))
    assert tab_keys(ledger) == [("台账2024", "tab-mapping-unknown", "error")]
    text = ("配置文件的 tabs 指定“纠纷台账”用工作表“台账2024”，但台账里没有这张工作表。"
            "台账里现有的工作表：“纠纷台账”、“网格”。请把 fengqiao.yml 里 tabs 下的名字改成其中一个"
            "（要和工作表名完全一致）。")
    assert message(ledger, "tab-mapping-unknown") == text
    assert not ledger.has("disputes")
    code, out, err = run("metrics", str(path), "--period", "2024-Q1", "--config", str(cfg))
    assert (code, out, err) == (2, "", stopped(text))


@pytest.mark.parametrize(("tabs", "wrong"), [
    ("tabs: 纠纷台账", "tabs 应是几行设置，写在下一行、缩进两格（每行“名称: 值”），实际写的是“纠纷台账”。"),
    ("tabs:\n  纠纷表: 台账", "tabs.纠纷表 不是台账里的表。"),
    ("tabs:\n  纠纷台账: ''", "tabs.纠纷台账 应是一个工作表名，实际没有填写。"),
    ("tabs:\n  纠纷台账: 台账\n  disputes: 台账2", "tabs 把“纠纷台账”写了两次。"),
    ("tabs:\n  纠纷台账: 台账\n  网格: 台账", "tabs 把工作表“台账”指定给了不止一张表。"),
])
def test_bad_tabs_settings_are_config_errors(tmp_path: Path, tabs: str, wrong: str) -> None:
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text(tabs + "\n", encoding="utf-8")
    with pytest.raises(FengqiaoError) as info:
        load_config(cfg)
    assert info.value.message == f"配置文件 {cfg} 里的 {wrong}"


def test_tabs_default_is_empty_and_a_good_mapping_loads(tmp_path: Path) -> None:
    assert load_config().tabs == {}
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("tabs:\n  纠纷台账: 矛盾纠纷台账\n  grids: 2024\n", encoding="utf-8")
    assert load_config(cfg).tabs == {"disputes": "矛盾纠纷台账", "grids": "2024"}


# -- headers as people write them ----------------------------------------------------------


def _header(cells: list[Any]) -> dict[str, int]:
    raw = RawTable("纠纷台账", pd.DataFrame([cells], dtype=object), 1)
    match = locate_header(raw, SCHEMA["disputes"])
    return {} if match is None else match.columns


@pytest.mark.parametrize(("written", "field"), [
    ("编号\n(必填)", "id"), ("*编号", "id"), ("＊编号", "id"), ("※编号", "id"), ("•编号", "id"),
    ("编号（必填）", "id"), ("(必填)编号", "id"), ("星级★", "star"), ("★星级★", "star"),
    ("【必填】星级", "star"), ("星级[1-3]", "star"), ("受理日期（必填）", "received_date"),
    ("受理\n日期", "received_date"), ("［必填］村（社区）", "village"), ("村(社区)(必填)", "village"),
    ("·案件编号·", "id"),
])
def test_decorated_headers_are_matched(written: str, field: str) -> None:
    assert _header([written]) == {field: 0}


@pytest.mark.parametrize("written", [
    "星级评定说明", "星级说明", "(必填)", "【必填】", "★", "村（必填）", "编号备注", "受理日期2",
])
def test_look_alike_headers_are_not_matched(written: str) -> None:
    assert _header([written]) == {}


def test_no_title_or_alias_collides_once_normalised() -> None:
    for tab in SCHEMA:
        owner: dict[str, str] = {}
        for f in tab.fields:
            for name in (f.title, *f.aliases):
                assert owner.setdefault(header_key(name), f.name) == f.name, (tab.name, name)
        for f in tab.fields:  # a note stripped from one field's name never names another
            for name in (f.title, *f.aliases):
                for form in without_notes(header_key(name)):
                    assert owner.get(form, f.name) == f.name, (tab.name, name, form)
    tabs: dict[str, str] = {}
    for tab in SCHEMA:
        for name in (tab.title, *tab.aliases):
            assert tabs.setdefault(header_key(name), tab.name) == tab.name, name


def test_decorated_headers_through_the_whole_pipeline(tmp_path: Path) -> None:
    header = ["*编号", "受理日期\n(必填)", "来源", "村(社区)", "纠纷类型", "涉及人数", "星级★",
              "状态（必填）"]
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [header, *rows(4)]})
    ledger = validate_workbook(open_source(path))
    assert "missing-column" not in {f.code for f in ledger.findings}
    assert received(path) == 4


# -- 纠纷台账 that cannot be counted stops metrics, overdue and build ---------------------------


def test_missing_star_column_stops_the_figures(tmp_path: Path) -> None:
    header = [h if h != "星级" else "星级评定说明" for h in HEADER]
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [header, *rows(700)]})
    ledger = validate_workbook(open_source(path))
    assert ledger.excluded_count("disputes") == 700
    reason = "“纠纷台账”缺少“星级”列。请在表头行加上这一列（列名要与模板一致，或使用填表说明里列出的别名）。"
    code, out, err = run("metrics", str(path), "--period", "2024-Q1")
    assert (code, out, err) == (2, "", stopped(reason))
    code, out, _ = run("validate", str(path))
    assert code == 1 and reason in out
    cfg = tmp_path / "fengqiao.yml"
    cfg.write_text("report_date: 2024-03-31\n", encoding="utf-8")
    with pytest.raises(FengqiaoError) as info:
        collect(load_config(cfg), source=str(path))
    assert str(info.value) + "\n" == stopped(reason)[len("错误："):]
    site = tmp_path / "site"
    code, _, err = run("build", "--source", str(path), "--out", str(site), "--config", str(cfg))
    assert code == 2 and reason in err and not site.exists()


def test_a_missing_optional_column_does_not_stop_the_figures(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "来源"]
    body = [[v for h, v in zip(HEADER, r, strict=True) if h != "来源"] for r in rows(3)]
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [header, *body]})
    assert received(path) == 3  # 来源 is required but no key field: rows still count


def test_missing_disputes_tab_stops_the_figures(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"网格": [["网格编号", "村(社区)", "户数"], ["G1", "东村", 8]]})
    reason = "找不到“纠纷台账”工作表。请确认工作表没有被改名或删除；可以用 fengqiao template 生成的模板对照表名。"
    assert run("metrics", str(path), "--period", "2024-Q1") == (2, "", stopped(reason))


def test_disputes_header_not_found_stops_the_figures(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [["甲", "乙"], [1, 2]]})
    reason = "“纠纷台账”的前 20 行里找不到表头行。表头行要包含“编号”等列名；标题行可以保留在表头上方。"
    assert run("overdue", str(path), "--as-of", "2024-03-31") == (2, "", stopped(reason))


def test_an_empty_ledger_still_gives_figures(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "镇.xlsx", {"纠纷台账": [HEADER]})
    assert received(path) == 0  # no rows yet is a true zero, not a broken tab
