"""Side-by-side benchmark: fengqiao and its peers on the same synthetic town.

Every task runs as a fresh subprocess under a tiny measuring parent, which
reports wall time and the peak RSS of the task (``getrusage(RUSAGE_CHILDREN)``
of a process that has exactly one child). Best of ``--repeats`` for time;
peak RSS is the largest seen over the repeats.

Writes ``bench/RESULTS.md`` and the raw numbers to ``bench/out/results-*.json``.

    .venv/bin/python bench/run.py                       # full scale: 1M disputes + 1M visits
    .venv/bin/python bench/run.py --rows 50000 --repeats 1
    .venv/bin/python bench/run.py --tools fengqiao-validate-csv,pyarrow-csv
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from fengqiao import clock

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
FENGQIAO = str(BIN / "fengqiao") if (BIN / "fengqiao").exists() else "fengqiao"
PY = sys.executable

# The measuring parent: runs one command with stdout to a file and reports.
MEASURE = r"""
import json, resource, subprocess, sys, time
report, stdout, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
cmd = sys.argv[4:]
rc = None
with open(stdout, "wb") as out:
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
    try:
        _, err = p.communicate(timeout=timeout)
        rc = p.returncode
    except subprocess.TimeoutExpired:
        p.kill()
        _, err = p.communicate()
        rc = "timeout"
    wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(report, "w") as f:
    json.dump({"wall": wall, "maxrss_kb": ru.ru_maxrss, "user": ru.ru_utime, "sys": ru.ru_stime,
               "rc": rc, "stderr": err[-3000:].decode("utf-8", "replace")}, f)
"""

ALL_TOOLS = [
    "fengqiao-validate-csv", "fengqiao-validate-xlsx", "fengqiao-metrics-csv",
    "frictionless", "pandera", "pandera-coerce", "pyarrow-csv", "polars-floor", "calamine-xlsx",
    "openpyxl-xlsx",
    "fengqiao-build-demo", "fengqiao-build-100k",
]
#: not in the default set: pandera's coerced-DateTime failure path is per cell
#: (minutes at 50k rows with bad dates); ask for it by name
OPT_IN = {"pandera-coerce"}
#: tasks that read the xlsx: without one of them the xlsx is not generated
XLSX_TASKS = {"fengqiao-validate-xlsx", "calamine-xlsx", "openpyxl-xlsx", "fengqiao-build-100k"}
#: slow tasks get --slow-repeats runs instead of --repeats
SLOW = {"frictionless", "pandera-coerce", "openpyxl-xlsx", "fengqiao-build-demo",
        "fengqiao-build-100k"}


@dataclass
class Task:
    id: str
    tool: str
    task: str
    input: str
    rows: int
    argv: list[str]
    parse: str  # how to read the task's output: fengqiao-findings | fengqiao-metrics | peer | none
    cwd: Path = ROOT
    runs: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None
    error: str | None = None


def pkg_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def machine_info() -> dict[str, Any]:
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "platform": platform.platform(),
        "load_avg": [round(x, 2) for x in os.getloadavg()],
    }


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("fengqiao", "pandas", "numpy", "pyarrow", "frictionless", "pandera",
                 "python-calamine", "openpyxl"):
        out[name] = pkg_version(name)
    return out


def command_available(*sub: str) -> bool:
    try:
        p = subprocess.run([FENGQIAO, *sub, "--help"], capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def ensure_data(path: Path, rows: int, visit_rows: int, seed: int, xlsx: bool,
                xlsx_writer: str, regen: bool) -> dict[str, Any]:
    """Generate once per (scale, seed); later runs reuse the files."""
    meta_file = path / "defects.json"
    want = (path / "town.xlsx") if xlsx else (path / "csv")
    if meta_file.exists() and want.exists() and not regen:
        return json.loads(meta_file.read_text(encoding="utf-8"))
    sys.path.insert(0, str(BENCH))
    import generate

    print(f"generating {path} ({rows} disputes, {visit_rows} visits) ...", flush=True)
    if path.exists():
        shutil.rmtree(path)
    return generate.generate(rows, visit_rows, 300, seed, 0.02, path, csv=not xlsx, xlsx=xlsx,
                             xlsx_writer=xlsx_writer)


def build_config(out: Path, xlsx: Path) -> Path:
    """A town config for the 100k-dispute build: 24 monthly pages."""
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / "fengqiao.yml"
    cfg.write_text(
        "# written by bench/run.py: a 100,000-dispute town, 24 monthly pages\n"
        "town: 基准镇\n"
        f"source: {xlsx}\n"
        "report_date: 2024-12-31\n"
        f"snapshots_dir: {out / 'snapshots'}\n"
        "site:\n  title: 基准镇矛盾纠纷调处化解工作平台\n  months: 24\n",
        encoding="utf-8",
    )
    return cfg


def plan(args: argparse.Namespace, csv_dir: Path, csv_rows: int, xlsx: Path, xlsx_rows: int,
         workdir: Path) -> list[Task]:
    peers = [PY, str(BENCH / "peers.py")]
    t: list[Task] = [
        Task("fengqiao-validate-csv", "fengqiao", "validate", "CSV folder", csv_rows,
             [FENGQIAO, "validate", str(csv_dir), "--format", "json"], "fengqiao-findings"),
        Task("fengqiao-validate-xlsx", "fengqiao", "validate", "xlsx", xlsx_rows,
             [FENGQIAO, "validate", str(xlsx), "--format", "json"], "fengqiao-findings"),
        Task("fengqiao-metrics-csv", "fengqiao", f"metrics --period {args.period}", "CSV folder",
             csv_rows, [FENGQIAO, "metrics", str(csv_dir), "--period", args.period,
                        "--format", "json"], "fengqiao-metrics"),
        Task("frictionless", f"frictionless {pkg_version('frictionless')}", "validate package",
             "CSV folder", csv_rows, [*peers, "frictionless", str(csv_dir)], "peer"),
        Task("pandera", f"pandera {pkg_version('pandera')}", "read + validate (lazy)",
             "CSV folder", csv_rows, [*peers, "pandera", str(csv_dir)], "peer"),
        Task("pandera-coerce", f"pandera {pkg_version('pandera')}",
             "read + validate (lazy, coerced DateTime)", "CSV folder", csv_rows,
             [*peers, "pandera-coerce", str(csv_dir)], "peer"),
        Task("pyarrow-csv", f"pyarrow {pkg_version('pyarrow')}", "bare read_csv (floor)",
             "CSV folder", csv_rows, [*peers, "pyarrow-csv", str(csv_dir)], "peer"),
        Task("polars-floor", f"polars {pkg_version('polars')}",
             "five core figures in one query (columnar floor)", "CSV folder", csv_rows,
             [*peers, "polars-floor", str(csv_dir), "--year", args.period[:4]], "peer"),
        Task("calamine-xlsx", f"python-calamine {pkg_version('python-calamine')}",
             "bare read, all cells", "xlsx", xlsx_rows, [*peers, "calamine", str(xlsx)], "peer"),
        Task("openpyxl-xlsx", f"openpyxl {pkg_version('openpyxl')}",
             "bare read (read_only), all cells", "xlsx", xlsx_rows,
             [*peers, "openpyxl", str(xlsx)], "peer"),
    ]
    demo_cfg = ROOT / "examples" / "fengqiao.yml"
    demo_src = ROOT / "examples" / "demo_town.xlsx"
    demo_argv = [FENGQIAO, "build", "--config", str(demo_cfg), "--out", str(workdir / "site-demo")]
    if not demo_src.exists():
        # `make demo` makes it in examples/; the bench makes its own copy in its workdir
        demo_src = workdir / "demo_town.xlsx"
        demo_argv += ["--source", str(demo_src)]
    t.append(Task("fengqiao-build-demo", "fengqiao", "build (demo town)", "demo xlsx", 0,
                  demo_argv, "none"))
    cfg = build_config(workdir / "town-100k", xlsx)
    t.append(Task("fengqiao-build-100k", "fengqiao", "build (24 monthly pages)", "xlsx",
                  xlsx_rows, [FENGQIAO, "build", "--config", str(cfg), "--out",
                              str(workdir / "site-100k")], "none"))
    wanted = set(args.tools.split(",")) if args.tools else set(ALL_TOOLS) - OPT_IN
    unknown = wanted - set(ALL_TOOLS)
    if unknown:
        sys.exit(f"unknown tools: {', '.join(sorted(unknown))}; choose from {', '.join(ALL_TOOLS)}")
    t = [x for x in t if x.id in wanted]
    has = {name: command_available(name) for name in ("validate", "metrics", "build")}
    for x in t:
        if x.tool == "fengqiao":
            sub = x.argv[1]
            if not has.get(sub, False):
                x.skipped = f"`fengqiao {sub}` is not available yet"
        if x.id == "fengqiao-build-demo" and not x.skipped:
            gen = ROOT / "examples" / "generate_demo.py"
            if not demo_cfg.exists():
                x.skipped = "examples/fengqiao.yml does not exist"
            elif "--source" in x.argv:
                if gen.exists():
                    subprocess.run([PY, str(gen), "--out", x.argv[-1]], cwd=ROOT, check=False,
                                   capture_output=True)
                if not Path(x.argv[-1]).exists():
                    x.skipped = "no demo workbook (examples/generate_demo.py did not make one)"
    return t


def measure(task: Task, workdir: Path, k: int, timeout: float) -> dict[str, Any]:
    report = workdir / f"{task.id}.{k}.measure.json"
    stdout = workdir / f"{task.id}.{k}.stdout"
    argv = list(task.argv)
    result_file = workdir / f"{task.id}.{k}.result.json"
    if task.parse == "peer":
        argv += ["--result", str(result_file)]
    subprocess.run([PY, "-c", MEASURE, str(report), str(stdout), str(timeout), *argv],
                   cwd=task.cwd, check=False)
    m = json.loads(report.read_text(encoding="utf-8"))
    m["stdout"] = str(stdout)
    m["result_file"] = str(result_file) if task.parse == "peer" else None
    return m


def parse_fengqiao_findings(path: Path, titles: dict[str, str]) -> dict[str, Any]:
    """``fengqiao validate --format json`` prints a list of findings (or an
    object holding one under ``findings``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"findings": None, "parse_error": str(exc)}
    items = data.get("findings", []) if isinstance(data, dict) else data
    if not isinstance(items, list):
        return {"findings": None, "parse_error": "no list of findings"}
    tab_of = {title: tab for tab, title in titles.items()}
    by_code: Counter[str] = Counter()
    by_severity: Counter[str] = Counter()
    per_tab: dict[str, Counter[str]] = {}
    for f in items:
        code = str(f.get("code"))
        by_code[code] += 1
        by_severity[str(f.get("severity"))] += 1
        tab = f.get("tab") or tab_of.get(f.get("sheet", ""), f.get("sheet", ""))
        per_tab.setdefault(tab, Counter())[code] += 1
    return {"findings": len(items), "errors": by_severity.get("error", 0),
            "warnings": by_severity.get("warning", 0), "by_type": dict(by_code),
            "per_tab": {k: dict(v) for k, v in per_tab.items()}}


def parse_fengqiao_metrics(path: Path) -> dict[str, Any]:
    """The rows left out of the figures, per tab, and the period's received count."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"parse_error": str(exc)}
    out: dict[str, Any] = {}
    excluded = data.get("excluded_rows") if isinstance(data, dict) else None
    if isinstance(excluded, dict):
        out["excluded_rows"] = {tab: (v.get("count") if isinstance(v, dict) else v)
                                for tab, v in excluded.items()}
    metrics = data.get("metrics") if isinstance(data, dict) else None
    if isinstance(metrics, dict):
        out["received"] = metrics.get("received")
        out["closed"] = metrics.get("closed")
        # the five figures polars-floor also counts, to compare in one run
        on_time = metrics.get("on_time_rate")
        out["figures"] = {"received": metrics.get("received"), "closed": metrics.get("closed"),
                          "on_time": on_time.get("numerator") if isinstance(on_time, dict) else None,
                          "pending_end": metrics.get("pending_end"),
                          "median_days": metrics.get("median_days")}
    return out


def run_task(task: Task, workdir: Path, repeats: int, timeout: float,
             titles: dict[str, str]) -> None:
    for k in range(repeats):
        m = measure(task, workdir, k, timeout)
        task.runs.append(m)
        ok = m["rc"] == 0 or (task.parse == "fengqiao-findings" and m["rc"] == 1)
        print(f"  {task.id} run {k + 1}/{repeats}: {m['wall']:.2f} s, "
              f"{m['maxrss_kb'] / 1024:.0f} MB, rc={m['rc']}", flush=True)
        if not ok:
            task.error = f"exit {m['rc']}: {m['stderr'].strip()[-600:]}"
            break
    good = [r for r in task.runs if r["rc"] in (0, 1)]
    if not good or task.error:
        return
    best = min(good, key=lambda r: r["wall"])
    task.result = {
        "seconds": best["wall"],
        "all_seconds": [r["wall"] for r in task.runs],
        "peak_mb": max(r["maxrss_kb"] for r in good) / 1024,
        "user_s": best["user"],
        "sys_s": best["sys"],
    }
    if task.parse == "fengqiao-findings":
        task.result.update(parse_fengqiao_findings(Path(best["stdout"]), titles))
    elif task.parse == "fengqiao-metrics":
        task.result.update(parse_fengqiao_metrics(Path(best["stdout"])))
    elif task.parse == "peer" and best["result_file"]:
        try:
            peer = json.loads(Path(best["result_file"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            peer = {"findings": None, "parse_error": str(exc)}
        task.result.update({k: v for k, v in peer.items() if k != "rows"})
        if peer.get("rows"):
            task.rows = int(peer["rows"])
    else:
        out = Path(best["stdout"])
        task.result["stdout_bytes"] = out.stat().st_size if out.exists() else 0


# --- report ------------------------------------------------------------------------

def _fmt_int(n: Any) -> str:
    return "—" if n is None else f"{int(n):,}"


def _expected(meta: dict[str, Any]) -> dict[tuple[str, str], int]:
    exp: Counter[tuple[str, str]] = Counter()
    for tab, info in meta["tabs"].items():
        for kind in info["kinds"].values():
            if kind["expected_code"]:
                exp[(tab, kind["expected_code"])] += kind["count"]
    return dict(exp)


def write_results(path: Path, tasks: list[Task], meta_csv: dict[str, Any],
                  meta_xlsx: dict[str, Any], info: dict[str, Any]) -> None:
    m = info["machine"]
    lines: list[str] = []
    if info["provisional"]:
        lines += [f"> **PROVISIONAL** — {info['provisional']}. Re-run `make bench` on a quiet "
                  "machine for the numbers to quote.", ""]
    lines += [
        "# Benchmark results",
        "",
        f"Run {info['date']} on {m['cores']} cores, {m['memory_gib']} GiB "
        f"({m['platform']}); load average {m['load_avg']} at start, {info['load_end']} at end.",
        f"Scale: CSV folder {info['rows']:,} disputes + {info['visit_rows']:,} visits + 300 grids; "
        + (f"xlsx {info['xlsx_rows']:,} disputes + {info['xlsx_rows']:,} visits + 300 grids. "
           if meta_xlsx else "no xlsx task. ") +
        f"Seed {info['seed']}. Seconds are the best of {info['repeats']} "
        f"(slow tasks: {info['slow_repeats']}); peak MB is the largest RSS over the runs.",
        "",
        "| tool | task | input | rows | seconds | rows/s | peak MB | findings |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    notes: list[str] = []
    for t in tasks:
        if t.skipped:
            lines.append(f"| {t.tool} | {t.task} | {t.input} | | skipped | | | |")
            notes.append(f"- `{t.id}` skipped: {t.skipped}.")
            continue
        if t.error or not t.result:
            lines.append(f"| {t.tool} | {t.task} | {t.input} | {_fmt_int(t.rows)} | failed | | | |")
            notes.append(f"- `{t.id}` failed: {t.error}")
            continue
        r = t.result
        rps = f"{t.rows / r['seconds']:,.0f}" if t.rows and r["seconds"] > 0 else ""
        found = _fmt_int(r.get("findings"))
        if r.get("errors") is not None and r.get("warnings") is not None:
            found += f" ({r['errors']:,} errors)"
        if isinstance(r.get("excluded_rows"), dict):
            n_ex = sum(v or 0 for v in r["excluded_rows"].values())
            found = f"{n_ex:,} rows excluded"
        lines.append(f"| {t.tool} | {t.task} | {t.input} | {_fmt_int(t.rows) if t.rows else ''} | "
                     f"{r['seconds']:.2f} | {rps} | {r['peak_mb']:.0f} | {found} |")
    lines += ["", "rows = data rows of every tab read (disputes + visits + grids).", ""]
    if notes:
        lines += ["Notes:", "", *notes, ""]

    # planted vs found
    exp = _expected(meta_csv)
    lines += ["## Planted defects and what each tool reported", ""]
    lines += ["Planted in the CSV folder (the xlsx has the same kinds at its own scale):", "",
              "| tab | kind | planted | fengqiao code expected | row left out of figures |",
              "|---|---|---:|---|---|"]
    for tab, tinfo in meta_csv["tabs"].items():
        for kind, k in tinfo["kinds"].items():
            code = k["expected_code"] or "none (tolerated spelling)"
            lines.append(f"| {tab} | {kind} | {k['count']:,} | {code} | "
                         f"{'yes' if k.get('excludes_row') else ''} |")
    lines.append("")
    for task_id, meta, label in (("fengqiao-validate-csv", meta_csv, "CSV folder"),
                                 ("fengqiao-validate-xlsx", meta_xlsx, "xlsx")):
        fq = next((t for t in tasks if t.id == task_id and t.result), None)
        if not fq or not meta:
            continue
        want_all = _expected(meta)
        lines += [f"fengqiao `validate` on the {label}, by tab and code, against the planted counts:",
                  "", "| tab | code | found | planted | |", "|---|---|---:|---:|---|"]
        per_tab = fq.result.get("per_tab", {})
        keys = sorted({(tab, c) for tab, cs in per_tab.items() for c in cs} | set(want_all))
        for tab, code in keys:
            got = per_tab.get(tab, {}).get(code, 0)
            want = want_all.get((tab, code))
            mark = "" if want is None else ("ok" if got == want else "**differs**")
            lines.append(f"| {tab} | {code} | {got:,} | {_fmt_int(want)} | {mark} |")
        lines.append("")
    mt = next((t for t in tasks if t.id == "fengqiao-metrics-csv" and t.result), None)
    if mt and isinstance(mt.result.get("excluded_rows"), dict):
        shown = ", ".join(
            f"{tab} {n or 0:,} (planted {meta_csv['tabs'].get(tab, {}).get('excluded_rows', 0):,})"
            for tab, n in mt.result["excluded_rows"].items())
        lines += [f"fengqiao `metrics` rows left out of the figures: {shown}; "
                  f"received in {info['period']}: {_fmt_int(mt.result.get('received'))}.", ""]
    floor = next((t for t in tasks if t.id == "polars-floor" and t.result), None)
    if mt and floor and mt.result.get("figures"):
        theirs, ours = floor.result.get("figures") or {}, mt.result["figures"]
        same = all(theirs.get(k) == v for k, v in ours.items())
        shown = ", ".join(f"{k} {v}" for k, v in theirs.items())
        lines += [f"polars-floor's figures ({shown}) "
                  + ("equal fengqiao `metrics`' own." if same
                     else f"**differ** from fengqiao `metrics`' ({ours})."), ""]
    for t in tasks:
        if t.id in ("frictionless", "pandera", "pandera-coerce") and t.result.get("by_type"):
            lines += [f"{t.tool} ({t.id}), as the tool names them:", ""]
            for tab, counts in t.result.get("per_tab", {}).items():
                if counts:
                    shown = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items()))
                    lines.append(f"- {tab}: {shown}")
            if t.result.get("reported") is not None:
                lines.append(f"- raw `failure_cases` rows: {t.result['reported']:,} (a failed row "
                             "check is listed once per cell of the row; a failed coercion twice)")
            lines.append("")
    planted_errors = sum(v for v in exp.values())
    tolerated = sum(k["count"] for tinfo in meta_csv["tabs"].values()
                    for k in tinfo["kinds"].values() if k["tolerated"])
    lines += [
        f"Planted: {planted_errors:,} real errors and {tolerated:,} tolerated spellings "
        "(non-ISO but valid dates, full-width digits). fengqiao should report exactly the errors "
        "(plus one warning per absent optional tab); a strict Table Schema check also flags the "
        "non-ISO dates; full-width digits pass frictionless and pandera too, since Python's "
        "`int()` accepts them.",
        "",
    ]
    gen = {"csv": meta_csv.get("timings_s", {}), "xlsx": meta_xlsx.get("timings_s", {})}
    lines += ["## Generation (from when the data was made)", ""]
    for label, tim in gen.items():
        if tim:
            lines.append(f"- {label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in tim.items()))
    lines += ["", "## Versions", ""]
    lines.append(", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    lines.append("")
    lines.append(f"Raw numbers: `{info['json']}`.")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000, help="disputes in the CSV folder")
    p.add_argument("--visit-rows", type=int, default=None, help="visits in the CSV folder (default --rows)")
    p.add_argument("--xlsx-rows", type=int, default=100_000, help="disputes (and visits) in the xlsx")
    p.add_argument("--xlsx-writer", choices=["fast", "openpyxl", "both"], default="fast",
                   help="how to write the xlsx when it is generated ('both' also times openpyxl)")
    p.add_argument("--repeats", type=int, default=3, help="runs per task; the best time counts")
    p.add_argument("--slow-repeats", type=int, default=1, help="runs for the slow tasks")
    p.add_argument("--tools", default="", help=f"comma list (default all but {', '.join(OPT_IN)}): "
                                               + ", ".join(ALL_TOOLS))
    p.add_argument("--period", default="2024", help="period for fengqiao metrics")
    p.add_argument("--seed", type=int, default=20240305)
    p.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    p.add_argument("--data", type=Path, default=BENCH / "data")
    p.add_argument("--out", type=Path, default=BENCH / "out")
    p.add_argument("--results", type=Path, default=BENCH / "RESULTS.md")
    p.add_argument("--regen", action="store_true", help="generate the data again")
    p.add_argument("--keep", action="store_true", help="keep each run's outputs under --out")
    p.add_argument("--provisional", default="",
                   help="mark RESULTS.md provisional with this reason (also automatic when busy)")
    a = p.parse_args()
    visit_rows = a.visit_rows if a.visit_rows is not None else a.rows

    machine = machine_info()
    csv_root = a.data / f"town-{a.rows}-{visit_rows}-s{a.seed}"
    xlsx_root = a.data / f"xlsx-{a.xlsx_rows}-s{a.seed}"
    meta_csv = ensure_data(csv_root, a.rows, visit_rows, a.seed, False, a.xlsx_writer, a.regen)
    wanted = set(a.tools.split(",")) if a.tools else set(ALL_TOOLS) - OPT_IN
    # a CSV-only run (the province case) does not wait for an xlsx it never reads
    meta_xlsx = (ensure_data(xlsx_root, a.xlsx_rows, a.xlsx_rows, a.seed, True, a.xlsx_writer,
                             a.regen) if wanted & XLSX_TASKS else {})
    csv_dir, xlsx = csv_root / "csv", xlsx_root / "town.xlsx"
    csv_rows = a.rows + visit_rows + 300
    xlsx_rows = 2 * a.xlsx_rows + 300

    a.out.mkdir(parents=True, exist_ok=True)
    started = clock.now().astimezone()  # local time: the stamp a person reads
    stamp = started.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix=f"run-{stamp}-", dir=a.out))
    tasks = plan(a, csv_dir, csv_rows, xlsx, xlsx_rows, workdir)
    titles = meta_csv.get("titles", {})
    for t in tasks:
        if t.skipped:
            print(f"skip {t.id}: {t.skipped}")
            continue
        n = a.slow_repeats if t.id in SLOW else a.repeats
        print(f"{t.id}: {' '.join(t.argv[1:3])} ... ({n} run{'s' if n > 1 else ''})", flush=True)
        run_task(t, workdir, n, a.timeout, titles)

    load_end = [round(x, 2) for x in os.getloadavg()]
    busy = max(machine["load_avg"][0], load_end[0]) > 0.5 * (machine["cores"] or 1)
    provisional = a.provisional or (
        f"the machine was busy (load average {machine['load_avg'][0]} at start, {load_end[0]} "
        f"at end, on {machine['cores']} cores)" if busy else "")
    json_path = a.out / f"results-{stamp}.json"
    info = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine, "load_end": load_end, "provisional": provisional,
        "versions": versions(), "rows": a.rows, "visit_rows": visit_rows,
        "xlsx_rows": a.xlsx_rows, "seed": a.seed, "repeats": a.repeats,
        "slow_repeats": a.slow_repeats, "period": a.period,
        "json": str(json_path.relative_to(ROOT)) if json_path.is_relative_to(ROOT) else str(json_path),
    }
    raw = {
        "info": info,
        "planted": {"csv": meta_csv["tabs"], "xlsx": meta_xlsx.get("tabs", {})},
        "generation_s": {"csv": meta_csv.get("timings_s"), "xlsx": meta_xlsx.get("timings_s")},
        "tasks": [{"id": t.id, "tool": t.tool, "task": t.task, "input": t.input, "rows": t.rows,
                   "argv": t.argv, "skipped": t.skipped, "error": t.error, "result": t.result,
                   "runs": [{k: v for k, v in r.items() if k != "stderr"} for r in t.runs]}
                  for t in tasks],
    }
    for kinds in raw["planted"].values():
        for tinfo in kinds.values():
            for k in tinfo["kinds"].values():
                k.pop("sheet_rows", None)
    json_path.write_text(json.dumps(raw, ensure_ascii=False, indent=1), encoding="utf-8")
    shutil.copyfile(json_path, a.out / "results-latest.json")
    write_results(a.results, tasks, meta_csv, meta_xlsx, info)
    # generated sites and outputs are large; keep only the numbers unless asked
    if not a.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {a.results} and {json_path}")


if __name__ == "__main__":
    main()
