"""A small, fixed town for the site tests: contract dicts and public frames
written by hand, so the renderer is tested without the other stages."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from fengqiao.catalogue import COMPARED
from fengqiao.config import Config, load_config
from fengqiao.errors import make_finding
from fengqiao.metrics.comparisons import compared_figures
from fengqiao.sitebuild import SiteData


def rate(n: int, d: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "value": None if d == 0 else round(n / d, 6)}


def contract(label: str, kind: str, start: str, end: str, *, received: int, closed: int,
             on_time: int, first: int, as_of: str | None = None,
             visits: bool = False, loop: bool = False) -> dict[str, Any]:
    metrics: dict[str, Any] = {
        "received": received, "closed": closed, "resolved": closed - 1, "pending_start": 4,
        "pending_end": 5, "overdue_open": 2, "backlog_start": 1, "backlog_cleared": 0,
        "level_mix": {"村级": closed - 2, "镇级": 1, "县级": 1},
        "clearance_rate": rate(closed, received), "closure_rate": rate(closed - 1, received),
        "resolution_rate": rate(closed - 2, received), "on_time_rate": rate(on_time, closed),
        "first_try_rate": rate(first, closed), "local_rate": rate(closed - 1, closed),
        "grid_discovery_rate": rate(3, received), "repeat_rate": rate(0, received),
        "online_rate": rate(0, 0), "followup_rate": rate(closed, closed),
        "satisfaction_rate": rate(closed - 1, closed), "disposition_days": rate(150, closed),
        "median_days": 6.5,
        "petition_batches": {"count": 2, "previous": 4, "change": -0.5},
        "petition_persons": {"count": 3, "previous": 0, "change": None},
        "received_yoy": {"count": received, "previous": 8, "change": 0.25},
        "visit_coverage": rate(400, 500) if visits else None,
        "key_person_followup_rate": None, "reception_compliance": None,
        "needs_closure_rate": rate(1, 2),
    }
    out = {
        "schema_version": "1.0", "definitions_version": "2026.1", "town": "枫溪镇",
        "period": {"start": start, "end": end, "label": label, "kind": kind},
        "as_of": as_of or end,
        "source": {"kind": "xlsx", "name": "枫溪镇台账.xlsx", "sha256": "ab" * 32,
                   "read_at": "2024-03-20T01:30:00+00:00", "stale_since": None},
        "config": {}, "targets": {"first_try_rate": 0.85, "on_time_rate": 0.9},
        "metrics": metrics,
        "distributions": {"days_to_close": {"3": 2, "7": 3}},
        "breakdowns": {
            "village": {"东村": {"received": received - 3, "closed": closed - 2,
                                "closure_rate": rate(closed - 3, received - 3)},
                        "西村<b>": {"received": 3, "closed": 2, "closure_rate": rate(2, 3)}},
            "dispute_type": {"土地林草": {"received": received - 2, "closed": closed - 1},
                             "邻里": {"received": 2, "closed": 1}},
            "source": {"网格排查": {"received": 3}, "群众来访": {"received": received - 3}},
        },
        "overdue": [],
        "excluded_rows": {"disputes": {"count": 1, "rows": [{"row": 12, "codes": ["bad-date"]}]}},
    }
    return with_loop(out) if loop else out


def with_loop(c: dict[str, Any]) -> dict[str, Any]:
    """The 1.2 parts (DOMAIN.md 4.2): the supervision loop's figures, the
    accountability views, the baselines and the chases of the overdue cases."""
    m = c["metrics"]
    received, closed = m["received"], m["closed"]
    c["schema_version"] = "1.2"
    m.update({
        "supervised": 2, "supervision_count": 3, "overdue_explained_rate": rate(1, 2),
        "assign_days_median": 1.0, "feedback_rate": rate(closed - 1, closed),
        "village_kept_rate": rate(closed - 4, closed - 2), "passed_up": 2, "passed_down": 1,
        "passed_across": 1, "group_cases": {"count": 1, "previous": 2, "change": -0.5},
        "status_mix": {"已化解": closed - 1, "转司法": 1, "已终结": 0, "已撤回": 0},
        "star_mix": {"1": received - 4, "2": 3, "3": 1},
        "force_mix": {"村调委会": {"closed": closed - 1, "first_try_rate": rate(first_ok(c), closed - 1)},
                      "律师法律顾问": {"closed": 1, "first_try_rate": rate(0, 1)}},
        "key_persons_by_category": {"安置帮教": 3, "严重精神障碍患者": 2},
    })
    unit = {"received": received - 2, "closed": closed - 1, "on_time_rate": rate(closed - 2, closed - 1),
            "overdue_open": 2, "satisfaction_rate": rate(closed - 2, closed - 1), "supervised": 2,
            "overdue_explained_rate": rate(1, 2)}
    other = {"received": 2, "closed": 1, "on_time_rate": rate(1, 1), "overdue_open": 0,
             "satisfaction_rate": rate(1, 1), "supervised": 0, "overdue_explained_rate": rate(0, 0)}
    c["breakdowns"]["unit"] = {"自然资源所": unit, "司法所<b>": other}
    c["breakdowns"]["leader"] = {"王副镇长": unit, "李主任": other}
    c["baselines"] = {"open": 5, "star_3_open": 1, "households": 1200,
                      "types": {"婚姻家庭": {"received": 2, "open": 1}, "邻里": {"received": 2, "open": 0},
                                "土地林草": {"received": received - 4, "open": 3}}}
    c["overdue"] = [
        {"id": "DZ-001", "village": "东村", "grid_id": "G1", "dispute_type": "土地林草", "star": 2,
         "received_date": "2024-02-20", "deadline": "2024-03-06", "days_open": 29,
         "days_overdue": 14, "responsible_unit": "自然资源所", "lead_official": "王副镇长",
         "chases": 2, "last_chase_date": "2024-03-15", "last_chase_mode": "书面督办",
         "explained": True},
        {"id": "DZ-004", "village": "西村", "grid_id": None, "dispute_type": "邻里", "star": 1,
         "received_date": "2024-03-08", "deadline": "2024-03-13", "days_open": 12,
         "days_overdue": 7, "responsible_unit": "自然资源所", "lead_official": None,
         "chases": 0, "last_chase_date": None, "last_chase_mode": None, "explained": False},
    ]
    return c


def with_comparisons(c: dict[str, Any]) -> dict[str, Any]:
    """The comparisons block (1.6) of a quarter running on 2024-03-20: the
    same first 80 days of the quarter before known (24 received, 20 closed,
    …, with its distributions), those of the quarter a year earlier before
    the ledger's start (all null)."""
    earlier = contract("2023-10-01..2023-12-19", "custom", "2023-10-01", "2023-12-19",
                       received=24, closed=20, on_time=18, first=16, loop=True)
    c["schema_version"] = "1.6"
    c["comparisons"] = {
        "previous": {"period": earlier["period"], "as_of": "2023-12-19",
                     "metrics": compared_figures(earlier["metrics"]),
                     "distributions": earlier["distributions"]},
        "year_ago": {"period": {"start": "2023-01-01", "end": "2023-03-20",
                                "label": "2023-01-01..2023-03-20", "kind": "custom"},
                     "as_of": "2023-03-20", "metrics": dict.fromkeys(COMPARED)},
    }
    return c


def first_ok(c: dict[str, Any]) -> int:
    return int(c["metrics"]["first_try_rate"]["numerator"]) - 1


def site_data() -> SiteData:
    periods = [
        contract("2024-02", "month", "2024-02-01", "2024-02-29", received=10, closed=8,
                 on_time=7, first=7, loop=True),
        contract("2024-03", "month", "2024-03-01", "2024-03-31", received=12, closed=10,
                 on_time=9, first=8, as_of="2024-03-20", loop=True),
        with_comparisons(contract("2024-Q1", "quarter", "2024-01-01", "2024-03-31", received=30,
                                  closed=25, on_time=22, first=21, as_of="2024-03-20",
                                  visits=True, loop=True)),
        contract("2024", "year", "2024-01-01", "2024-12-31", received=30, closed=25,
                 on_time=22, first=21, as_of="2024-03-20"),
    ]
    problems = pd.DataFrame({
        "kind": pd.Series(["纠纷", "纠纷", "纠纷", "需求"], dtype="string"),
        "id": pd.Series(["DZ-001", "DZ-002", "DZ-003", "XQ-01"], dtype="string"),
        "village": pd.Series(["东村", "西村", "东村", "东村"], dtype="string"),
        "category": pd.Series(["土地林草", "邻里", "劳资", "基础设施"], dtype="string"),
        "star": pd.Series([2, 1, 3, None], dtype="Int64"),
        "received_date": pd.to_datetime(["2024-02-20", "2024-03-18", "2024-03-01", "2024-03-02"]),
        "deadline": pd.to_datetime(["2024-03-06", "2024-03-23", "2024-04-30", None]),
        "days_left": pd.Series([-14, 1, 41, None], dtype="Int64"),
        "responsible_unit": pd.Series(["自然资源所", "司法所", "<script>alert(1)</script>", None],
                                      dtype="string"),
        "lead_official": pd.Series(["王副镇长", "李主任", None, None], dtype="string"),
    })
    solutions = pd.DataFrame({
        "kind": pd.Series(["纠纷"], dtype="string"),
        "id": pd.Series(["DZ-000"], dtype="string"),
        "village": pd.Series(["东村"], dtype="string"),
        "category": pd.Series(["邻里"], dtype="string"),
        "level": pd.Series(["村级"], dtype="string"),
        "status": pd.Series(["已化解"], dtype="string"),
        "received_date": pd.to_datetime(["2024-03-01"]),
        "closed_date": pd.to_datetime(["2024-03-04"]),
        "days_taken": pd.Series([3], dtype="Int64"),
    })
    responsibilities = pd.DataFrame({
        "category": pd.Series(["土地林草", "劳资"], dtype="string"),
        "unit": pd.Series(["自然资源所", "人社所"], dtype="string"),
        "leader": pd.Series(["王主任", "李所长 | [点我](http://evil.example)"], dtype="string"),
        "position": pd.Series(["副镇长", "所长"], dtype="string"),
        "office_phone": pd.Series(["0571-8888****", "=HYPERLINK(\"http://x\")"], dtype="string"),
        "notes": pd.Series(["*重要*", "`code`"], dtype="string"),
    })
    needs = pd.DataFrame({
        "id": pd.Series(["XQ-01"], dtype="string"),
        "raised_date": pd.to_datetime(["2024-03-02"]),
        "source": pd.Series(["群众点单"], dtype="string"),
        "village": pd.Series(["东村"], dtype="string"),
        "content": pd.Series(["修路灯，联系[已隐去]"], dtype="string"),
        "category": pd.Series(["基础设施"], dtype="string"),
        "unit": pd.Series(["城建办"], dtype="string"),
        "party_member": pd.Series(["赵党员"], dtype="string"),
        "status": pd.Series(["办理中"], dtype="string"),
        "closed_date": pd.to_datetime([None]),
    })
    followup = pd.DataFrame({
        "id": pd.Series(["DZ-000", "DZ-007"], dtype="string"),
        "village": pd.Series(["东村", "西村"], dtype="string"),
        "dispute_type": pd.Series(["邻里", "劳资"], dtype="string"),
        "level": pd.Series(["村级", "镇级"], dtype="string"),
        "status": pd.Series(["已化解", "转司法"], dtype="string"),
        "closed_date": pd.to_datetime(["2024-03-04", "2024-03-11"]),
        "days_since_closed": pd.Series([16, 9], dtype="Int64"),
        "responsible_unit": pd.Series(["司法所", "人社所"], dtype="string"),
        "lead_official": pd.Series(["李主任", None], dtype="string"),
    })
    findings = [
        make_finding("bad-date", sheet="纠纷台账", tab="disputes", row=12, col=1,
                     column="受理日期", field="received_date", value="2024.13.01"),
        make_finding("required-missing", sheet="纠纷台账", tab="disputes", row=13, col=6,
                     column="当事人", field="parties", value=None, sensitive=True),
        make_finding("not-in-enum", sheet="需求清单", tab="needs", row=5, col=2,
                     column="来源", field="source", value="电话13812345678", detail="群众点单"),
        make_finding("missing-optional-tab", sheet="重点人员", tab="key_persons"),
    ]
    return SiteData(
        town="枫溪镇", as_of=date(2024, 3, 20), source=periods[-1]["source"], periods=periods,
        current={"month": "2024-03", "quarter": "2024-Q1", "year": "2024"},
        findings=findings, excluded={"纠纷台账": 1},
        tables={"problems": problems, "solutions": solutions,
                "responsibilities": responsibilities, "needs": needs,
                "followup_todo": followup},
        solutions_period="2024-Q1", template=b"PK-template",
    )


def fixture_config(tmp_path: Path, **overrides: Any) -> Config:
    """A config file in tmp_path; ``star_2=10`` style overrides go under deadlines."""
    lines = ["town: 枫溪镇", "report_date: 2024-03-20"]
    deadlines = {k: v for k, v in overrides.items() if k.startswith("star_")}
    if deadlines:
        lines.append("deadlines:")
        lines += [f"  {k}: {v}" for k, v in deadlines.items()]
    path = tmp_path / "fengqiao.yml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_config(path)
