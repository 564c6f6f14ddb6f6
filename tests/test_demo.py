"""The demo town: sizes, realism, determinism, the planted defects and the
planted personal data."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.utils import get_column_letter

from fengqiao.config import load_config
from fengqiao.demo import (
    DEFECTS,
    ID_NUMBER_RE,
    MOBILE_RE,
    PLANTED_DEFECTS,
    generate_town,
    planted_defects,
    planted_personal_data,
    write_csv_folder,
    write_workbook,
)
from fengqiao.errors import CATALOGUE, FengqiaoError
from fengqiao.schema import load_schema

ROOT = Path(__file__).resolve().parents[1]

EXPECTED_DEFECTS = [
    ("纠纷台账", "C18", "bad-date"),
    ("纠纷台账", "B41", "duplicate-id"),
    ("纠纷台账", "K56", "not-in-enum"),
    ("纠纷台账", "Q79", "closed-without-date"),
    ("纠纷台账", "Q102", "closed-before-received"),
    ("纠纷台账", "F125", "unknown-grid"),
    ("纠纷台账", "T148", "unknown-repeat"),
    ("纠纷台账", "I171", "below-minimum"),
    ("纠纷台账", "G194", "not-in-enum"),
    ("纠纷台账", "R217", "followup-before-closed"),
    ("走访记录", "C502", "unknown-grid"),
    ("需求清单", "J22", "closed-without-date"),
    ("重点人员随访", "A32", "unknown-person"),
    # the supervision loop (issue 13)
    ("纠纷台账", "X64", "feedback-before-received"),
    ("纠纷台账", "V217", "assigned-after-closed"),
    ("督办记录", "A5", "supervision-unknown-dispute"),
    ("督办记录", "B10", "supervised-before-received"),
    ("流转记录", "B7", "transfer-before-received"),
    ("流转记录", "D14", "transfer-same-level"),
]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def town() -> dict[str, pd.DataFrame]:
    return generate_town()


@pytest.fixture(scope="module")
def demo_xlsx(town: dict[str, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo_town.xlsx"
    write_workbook(town, path)
    return path


@pytest.fixture(scope="module")
def demo_wb(demo_xlsx: Path) -> openpyxl.Workbook:
    """Read-only: streaming the 15,000 visit rows is much faster."""
    return openpyxl.load_workbook(demo_xlsx, read_only=True)


def _dates(series: pd.Series) -> pd.Series:
    """The demo's date cells (date objects or the two text spellings) as Timestamps."""
    text = series.map(lambda v: v if isinstance(v, str) else None)
    norm = text.str.replace("年", ".").str.replace("月", ".").str.rstrip("日")
    parsed = pd.to_datetime(norm, format="%Y.%m.%d", errors="coerce")
    return pd.to_datetime(series.where(text.isna()), errors="coerce").fillna(parsed)


# --- sizes and realism --------------------------------------------------------------


def test_sizes(town: dict[str, pd.DataFrame]) -> None:
    assert list(town) == ["disputes", "supervisions", "transfers", "grids", "visits",
                          "key_persons", "key_person_visits", "receptions", "leaders",
                          "responsibilities", "needs"]
    assert len(town["disputes"]) == 700
    assert len(town["visits"]) == 15_000
    assert len(town["needs"]) == 150
    assert len(town["key_persons"]) == 40
    grids = town["grids"]
    assert len(grids) == 30
    assert grids["网格编号"].is_unique
    assert grids["村(社区)"].nunique() == 8
    assert grids["户数"].between(50, 100).all()
    assert 1000 < len(town["key_person_visits"]) < 4000
    assert len(town["receptions"]) > 500


def test_columns_are_the_sheet_headers(town: dict[str, pd.DataFrame]) -> None:
    schema = load_schema()
    assert list(town["disputes"].columns)[:3] == ["序号", "案件编号", "受理日期"]
    for tab in ("supervisions", "transfers", "grids", "visits", "key_persons",
                "key_person_visits", "receptions", "leaders", "responsibilities", "needs"):
        assert list(town[tab].columns) == [f.title for f in schema[tab].fields]


def test_disputes_are_realistic(town: dict[str, pd.DataFrame]) -> None:
    d = town["disputes"]
    schema = load_schema()["disputes"]
    assert set(d["来源"]) == set(schema.field("source").enum or ())
    stars = d["星级"].value_counts()
    assert stars[1] / len(d) > 0.65
    assert set(stars.index) == {1, 2, 3, 4}  # 4 is the planted defect
    assert stars[4] == 1
    level = d["调处层级"].value_counts(normalize=True)
    assert level["村级"] + level["镇级"] > 0.9
    status = d["状态"].value_counts()
    assert 0.95 < 1 - status["调处中"] / len(d) < 0.995
    closed = d["状态"] != "调处中"
    first = d.loc[closed, "首次调解成功"].isin(["是", "√"]).mean()
    assert 0.8 < first < 0.9
    assert d["首次调解成功"].eq("√").sum() > 5
    assert d.loc[~closed, "首次调解成功"].isna().all()
    assert d["满意度"].notna().sum() > 0.9 * closed.sum()
    assert 10 < d["重复事项"].notna().sum() < 60
    received = _dates(d["受理日期"])
    petitions = d["来源"] == "信访"
    per_year = received[petitions].dt.year.value_counts()
    assert per_year[2023] > per_year[2024] > 5  # year on year is meaningful
    # a few old cases are still open at the end date, beyond any deadline
    old_open = (~closed) & (received < pd.Timestamp("2024-10-01"))
    assert 1 <= old_open.sum() <= 10


def test_messy_like_a_real_file(town: dict[str, pd.DataFrame]) -> None:
    cells = town["disputes"]["受理日期"]
    text = cells[cells.map(lambda v: isinstance(v, str))]
    assert text.str.fullmatch(r"\d{4}\.\d{1,2}\.\d{1,2}").sum() > 10
    assert text.str.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日").sum() > 10
    assert cells.map(lambda v: isinstance(v, date)).sum() > 600


def test_every_reference_resolves(town: dict[str, pd.DataFrame]) -> None:
    d = town["disputes"]
    units = set(town["responsibilities"]["责任单位"])
    assert set(d["责任单位"]) <= units
    assert set(load_schema()["disputes"].field("dispute_type").enum or ()) <= set(
        town["responsibilities"]["事项类别"])
    ids = set(d["案件编号"])
    for tab in ("visits", "receptions"):
        linked = town[tab]["关联纠纷编号"].dropna()
        assert len(linked) > 20
        assert set(linked) <= ids
    kp = town["key_persons"]
    assert set(kp["随访频次"]) == {"每周", "每半月", "每月", "每季度"}
    ranks = town["receptions"].groupby("职务类别")["领导"].nunique().to_dict()
    assert ranks == {"党政主要领导": 2, "科级领导": 4, "村两委": 8}


def test_title_rows_and_layout(demo_wb: openpyxl.Workbook, town: dict[str, pd.DataFrame],
                               tmp_path: Path) -> None:
    wb = demo_wb
    assert wb.sheetnames == ["纠纷台账", "督办记录", "流转记录", "网格", "走访记录", "重点人员",
                             "重点人员随访", "领导接访", "领导名册", "责任清单", "需求清单"]
    rows = list(wb["纠纷台账"].iter_rows(max_row=4, values_only=True))
    assert rows[0][0] == "枫溪镇矛盾纠纷调处化解台账（2023—2024年）"
    assert all(v is None for v in rows[1])
    assert list(rows[2][:3]) == ["序号", "案件编号", "受理日期"]
    assert rows[3][:2] == (1, "DZ2023-0001")
    assert wb["纠纷台账"].max_row == 703
    assert next(wb["走访记录"].iter_rows(max_row=1, values_only=True))[0] == "日期"
    assert wb["走访记录"].max_row == 15_001
    assert wb.properties.modified == wb.properties.created
    assert wb.properties.modified.year == 2025
    # merged title and frozen header need the full reader: check them on 纠纷台账 alone
    small = write_workbook({"disputes": town["disputes"]}, tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(small)["纠纷台账"]
    assert [str(r) for r in ws.merged_cells.ranges] == ["A1:Y1"]
    assert ws.freeze_panes == "A4"
    assert ws["C3"].font.b is True


# --- determinism ------------------------------------------------------------------------


def _load_generate_demo():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("generate_demo",
                                                  ROOT / "examples" / "generate_demo.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.xlsx", tmp_path / "b.xlsx", tmp_path / "c.xlsx"
    write_workbook(generate_town(3, scale=0.15, defects=False), a)
    # the example script is a thin wrapper: same seed → the same file
    assert _load_generate_demo().main(
        ["--out", str(b), "--seed", "3", "--scale", "0.15", "--no-defects"]) == 0
    write_workbook(generate_town(4, scale=0.15, defects=False), c)
    assert sha256(a) == sha256(b)
    assert sha256(a) != sha256(c)


def test_same_seed_same_tables() -> None:
    one, two = generate_town(11, scale=0.35), generate_town(11, scale=0.35)
    for tab in one:
        pd.testing.assert_frame_equal(one[tab], two[tab])
    other = generate_town(12, scale=0.35)
    assert not one["disputes"].equals(other["disputes"])


def test_town_name_and_period() -> None:
    t = generate_town(5, town="石门乡", start=date(2024, 1, 1), end=date(2024, 12, 31),
                      defects=False)
    assert t["disputes"].attrs["title"] == "石门乡矛盾纠纷调处化解台账（2024年）"
    assert "石门社区" in set(t["grids"]["村(社区)"])
    assert t["grids"]["网格编号"].str.startswith("WG-").all()
    received = _dates(t["disputes"]["受理日期"])
    assert received.min() >= pd.Timestamp("2024-01-01")
    assert received.max() <= pd.Timestamp("2024-12-31")
    assert len(t["disputes"]) == 350


def test_too_small_for_defects() -> None:
    with pytest.raises(FengqiaoError, match="演示数据太少"):
        generate_town(scale=0.1)
    assert len(generate_town(scale=0.1, defects=False)["disputes"]) == 70


# --- planted defects ----------------------------------------------------------------------


def test_planted_defects_list() -> None:
    assert PLANTED_DEFECTS == EXPECTED_DEFECTS
    assert len(PLANTED_DEFECTS) == 19
    assert len({(s, c) for s, c, _ in PLANTED_DEFECTS}) == 19
    assert all(code in CATALOGUE and CATALOGUE[code].severity == "error"
               for _, _, code in PLANTED_DEFECTS)
    # without the title rows the disputes cells move up two rows
    moved = planted_defects(title_rows=False)
    assert moved[0] == ("纠纷台账", "C16", "bad-date")
    assert moved[10] == ("走访记录", "C502", "unknown-grid")


def test_defect_cells_hold_the_defects(demo_wb: openpyxl.Workbook) -> None:
    wb = demo_wb
    d = {f"{get_column_letter(c)}{r}": v
         for r, row in enumerate(wb["纠纷台账"].iter_rows(max_row=220, values_only=True), 1)
         for c, v in enumerate(row, 1)}
    assert d["C18"] == "2023.2.30"
    assert d["B41"] == d["B40"]
    assert d["K56"] == 4
    assert d["O79"] == "已化解" and d["Q79"] is None
    assert d["Q102"] < d["C102"]
    assert d["F125"] == "FX-37"
    assert d["T148"] == "DZ2022-0137"
    assert d["I171"] == 0
    assert d["G194"] == "婚烟家庭"
    assert d["R217"] < d["Q217"]
    visit = next(wb["走访记录"].iter_rows(min_row=502, max_row=502, values_only=True))
    assert visit[2] == "FX-42"
    need = next(wb["需求清单"].iter_rows(min_row=22, max_row=22, values_only=True))
    assert need[8:10] == ("已办结", None)
    kpv = next(wb["重点人员随访"].iter_rows(min_row=32, max_row=32, values_only=True))
    assert kpv[0] == "ZD999"
    assert d["X64"] < d["C64"]  # 反馈日期 before 受理日期
    assert d["V217"] > d["Q217"]  # 交办日期 after 办结日期
    chases = list(wb["督办记录"].iter_rows(min_row=2, max_row=10, values_only=True))
    assert chases[3][0] == "DZ2022-0999"
    rows = list(wb["纠纷台账"].iter_rows(min_row=4, max_col=3, values_only=True))
    received = dict(zip([r[1] for r in rows], _dates(pd.Series([r[2] for r in rows])),
                        strict=True))
    assert pd.Timestamp(chases[8][1]) < received[chases[8][0]]
    moves = list(wb["流转记录"].iter_rows(min_row=2, max_row=14, values_only=True))
    assert pd.Timestamp(moves[5][1]) < received[moves[5][0]]
    assert moves[12][2:4] == ("上传", "村级")  # a case that starts at 村级 “up” to 村级
    assert {x.tab for x in DEFECTS} == {"disputes", "visits", "needs", "key_person_visits",
                                        "supervisions", "transfers"}


def _validator():  # type: ignore[no-untyped-def]
    from fengqiao import sources, validate

    return sources.open_source, validate.validate_workbook


def test_validating_the_demo_finds_exactly_the_planted_defects(demo_xlsx: Path) -> None:
    open_source, validate_workbook = _validator()
    ledger = validate_workbook(open_source(demo_xlsx))
    assert {f.key() for f in ledger.findings if f.severity == "error"} == set(PLANTED_DEFECTS)
    assert [f.key() for f in ledger.findings if f.severity == "warning"] == []
    # the rows that cannot be placed in time or graded are excluded, the rest count
    assert sorted(ledger.excluded["disputes"]["_row"].tolist()) == [18, 41, 56]
    assert len(ledger.tables["disputes"]) == 697


def test_csv_folder_finds_the_same_defects(town: dict[str, pd.DataFrame],
                                           tmp_path: Path) -> None:
    open_source, validate_workbook = _validator()
    written = write_csv_folder(town, tmp_path / "csv")
    assert [p.name for p in written][:3] == ["纠纷台账.csv", "督办记录.csv", "流转记录.csv"]
    assert written[0].read_bytes().startswith(b"\xef\xbb\xbf")
    ledger = validate_workbook(open_source(tmp_path / "csv"))
    assert {f.key() for f in ledger.findings if f.severity == "error"} == set(
        planted_defects(title_rows=False))


def test_without_defects_the_demo_is_clean(tmp_path: Path) -> None:
    open_source, validate_workbook = _validator()
    path = tmp_path / "clean.xlsx"
    write_workbook(generate_town(8, scale=0.2, defects=False), path)
    assert validate_workbook(open_source(path)).findings == []


# --- personal data ---------------------------------------------------------------------------


def test_default_demo_has_no_personal_data(town: dict[str, pd.DataFrame]) -> None:
    assert planted_personal_data(town) == []
    for frame in town.values():
        for col in frame.columns:
            text = frame[col].dropna().astype(str)
            assert not text.str.contains(MOBILE_RE).any(), col
            assert not text.str.contains(ID_NUMBER_RE).any(), col


def _id_checksum_ok(number: str) -> bool:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(number[:17], weights, strict=True))
    return "10X98765432"[total % 11] == number[17]


def test_personal_data_is_planted_only_where_it_is_kept_or_redacted() -> None:
    t = generate_town(personal_data=True, scale=0.4)
    planted = planted_personal_data(t)
    mobiles = [s for s in planted if MOBILE_RE.fullmatch(s)]
    ids = [s for s in planted if ID_NUMBER_RE.fullmatch(s)]
    names = [s for s in planted if re.fullmatch(r"[\u4e00-\u9fff]{3}", s)]
    assert len(mobiles) > 200 and len(ids) > 200 and len(names) > 50
    assert len(mobiles) + len(ids) + len(names) == len(planted)
    assert all(_id_checksum_ok(s) for s in ids)
    schema = load_schema()
    d = t["disputes"]
    for col in ("当事人", "简要情况", "备注"):  # every sensitive field of 纠纷台账
        assert planted_personal_data({"x": d[[col]]}), col
    for tab, col in (("supervisions", "逾期说明"), ("supervisions", "下步措施"),
                     ("transfers", "原因")):  # and of the supervision loop's tabs
        assert planted_personal_data({"x": t[tab][[col]]}), (tab, col)
    for tab, col in (("needs", "需求内容"), ("responsibilities", "备注")):
        assert planted_personal_data({"x": t[tab][[col]]}), col
    # never in a column that is published as is
    alias = {"案件编号": "编号", "村（社区）": "村(社区)"}
    for tab_id, frame in t.items():
        spec = schema[tab_id]
        for col in frame.columns:
            title = alias.get(str(col), str(col))
            fields = [f for f in spec.fields if f.title == title]
            if not fields or spec.is_sensitive(fields[0].name) or fields[0].redact:
                continue
            assert planted_personal_data({"x": frame[[col]]}) == [], (tab_id, col)
    # planted names never occur inside published staff names
    staff = set(t["grids"]["网格长"]) | set(t["grids"]["网格员"]) | set(t["receptions"]["领导"])
    assert not any(n in s for n in names for s in staff)


def test_example_config() -> None:
    config = load_config(ROOT / "examples" / "fengqiao.yml")
    assert config.town == "枫溪镇"
    assert config.report_date == date(2024, 12, 31)
    assert config.resolve(config.source) == ROOT / "examples" / "demo_town.xlsx"
    assert config.resolve(config.snapshots_dir).resolve() == ROOT / "snapshots"
    assert config.site.title == "枫溪镇矛盾纠纷调处化解工作平台"
