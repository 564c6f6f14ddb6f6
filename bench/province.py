"""A province's roll-up in one run: how the roll-up's cost grows with units.

Issue 16's target: a roll-up of 1,000 towns builds in at most 2x the time of
one demo town's site build on the same machine, within 500 MB peak memory,
and writes a site under 100 MB. One run measures, each as a subprocess of
the real CLI under a measuring parent (so the peak RSS is that build's, the
MkDocs child included):

(a) the demo town's site (``fengqiao build`` in ``examples/``);
(b) ``--towns`` distinct towns' metrics.json, computed by the real metrics
    engine from seeded ledgers (each passes the contract checker), in
    site-like folders under ``bench/data/`` (kept: the next run reuses them);
(c) a flat roll-up of every town at level 省 (``fengqiao rollup build <town folders>
    --level 省``: a province platform collecting its towns directly);
(d) the nested roll-up towns -> counties -> cities -> province, each level's
    site folders the units of the next, and a check that the province's
    counts equal the flat roll-up's;
(e) a Markdown table (time, peak memory, site size, files, each also as a
    multiple of the single-town build) into ``--results`` and on stdout.

    .venv/bin/python bench/province.py                 # 1,000 towns -> 50 -> 5 -> 1
    .venv/bin/python bench/province.py --towns 20 --per-county 10 --per-city 2
    .venv/bin/python bench/province.py --profile       # + cProfile of the flat build

``--profile`` also runs the flat build's own process and its MkDocs run
under cProfile and lists the top functions, with the site's bytes by folder.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from run import FENGQIAO, MEASURE, PY, machine_info  # noqa: E402

PERIOD = "2024-Q4"
TODAY = date(2025, 1, 1)
#: given to every roll-up build, so the collection day is the same each run
NOW = "2025-01-03T09:00"
SOURCES = ["网格排查", "群众来访", "12345热线", "信访", "网上舆情", "上级交办"]
TYPES = ["婚姻家庭", "邻里", "土地林草", "劳资", "合同债务", "物业", "征地拆迁"]
CLOSED = ["已化解", "已化解", "已化解", "转司法", "已终结"]
#: syllables for plausible, unique place names (40 x 40 = 1,600 of each kind)
SYLLABLES = list("东西南北青白金石安平和兴宁永长新丰河山湖林桥溪岭川泉阳云龙凤华明光德信义仁清泰")
#: the integer figures whose sums must agree between the flat and the nested roll-up
COUNTS = ("received", "closed", "resolved", "pending_start", "pending_end", "overdue_open",
          "backlog_start", "backlog_cleared")


def place_names(n: int, suffix: str, offset: int = 0) -> list[str]:
    """``n`` distinct two-syllable names ending in ``suffix``."""
    k = len(SYLLABLES)
    if n + offset > k * k:
        raise SystemExit(f"at most {k * k - offset} names")
    return [SYLLABLES[(i + offset) // k] + SYLLABLES[(i + offset) % k] + suffix
            for i in range(n)]


# --- (b) the towns ------------------------------------------------------------------------


def town_ledger(seed: int, town: str) -> Any:
    """A seeded 纠纷台账 of 30-400 cases over 2024 with the contract dtypes."""
    from fengqiao.ledger import DTYPES, Ledger
    from fengqiao.schema import load_schema
    from fengqiao.sources.base import SourceInfo

    rng = np.random.default_rng(seed)
    cases = int(rng.integers(30, 400))
    spec = load_schema()["disputes"]
    received = pd.Series(pd.to_datetime(date(2024, 1, 1))
                         + pd.to_timedelta(rng.integers(0, 366, cases), unit="D"))
    star = rng.choice([1, 2, 3], cases, p=[0.6, 0.3, 0.1])
    closed = rng.random(cases) < rng.uniform(0.6, 0.95)
    took = rng.integers(0, int(rng.integers(10, 40)), cases)
    closed_date = pd.Series(received + pd.to_timedelta(took, unit="D")).where(closed)
    closed_date = closed_date.where(closed_date < pd.Timestamp(TODAY))
    closed = closed & closed_date.notna().to_numpy()
    status = np.where(closed, rng.choice(CLOSED, cases), "调处中")
    level = np.where(closed, rng.choice(["村级", "镇级", "县级"], cases, p=[0.6, 0.3, 0.1]), None)
    data: dict[str, Any] = {
        "id": [f"T{seed}-{i:04d}" for i in range(cases)],
        "received_date": received,
        "source": rng.choice(SOURCES, cases),
        "village": rng.choice([f"{town[:2]}{v}村" for v in "一二三四五六"] + [f"{town[:2]}社区"], cases),
        "grid_id": [f"G{n:02d}" for n in rng.integers(1, 30, cases)],
        "dispute_type": rng.choice(TYPES, cases),
        "persons_involved": rng.integers(1, 6, cases),
        "star": star,
        "level": level,
        "responsible_unit": rng.choice(["司法所", "派出所", "综治中心", "自然资源所"], cases),
        "lead_official": rng.choice(["张镇长", "李书记", "王副镇长"], cases),
        "status": status,
        "first_try_success": np.where(closed, rng.random(cases) < 0.85, None),
        "closed_date": closed_date,
        "followup_date": (closed_date + pd.to_timedelta(3, unit="D")).where(rng.random(cases) < 0.9),
        "satisfaction": np.where(closed, rng.choice(["满意", "基本满意", "不满意", None], cases), None),
        "repeat_of": [None] * cases,
    }
    frame = pd.DataFrame({"_row": np.arange(2, cases + 2)})
    for f in spec.fields:
        values = data.get(f.name, [None] * cases)
        frame[f.name] = (pd.to_datetime(pd.Series(values)) if f.type == "date"
                         else pd.Series(values).astype(DTYPES[f.type]))
    info = SourceInfo("xlsx", f"{town}台账.xlsx", f"/tmp/{town}.xlsx", sha256="0" * 64)
    return Ledger(town=town, source=info, tables={"disputes": frame})


def write_towns(job: tuple[Path, int, list[tuple[int, str]]]) -> int:
    """Compute and write a batch of towns' metrics.json (a worker's share)."""
    from fengqiao.config import load_config
    from fengqiao.metrics import compute_metrics, dumps, parse_period, validate_contract

    root, seed, batch = job
    period = parse_period(PERIOD)
    config = load_config()
    for i, name in batch:
        contract = compute_metrics(town_ledger(seed * 10_000 + i, name), period, config=config,
                                   today=TODAY)
        problems = validate_contract(contract)
        if problems:
            raise SystemExit(f"{name}: the contract checker refused the file: {problems[:3]}")
        target = root / name / "downloads" / PERIOD / "metrics.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(dumps(contract), encoding="utf-8")
    return len(batch)


def ensure_towns(n: int, seed: int, regen: bool) -> tuple[Path, list[Path], float]:
    """``n`` town site folders (only ``downloads/<period>/metrics.json``),
    made once per (n, seed); returns the folder, the towns and the seconds
    it took (0 when reused)."""
    root = BENCH / "data" / f"province-towns-{n}-s{seed}"
    names = place_names(n, "镇")
    done = root / ".complete"
    if done.exists() and not regen:
        return root, [root / name for name in names], 0.0
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    start = time.perf_counter()
    jobs = [(root, seed, [(i, names[i]) for i in range(k, n, 2)]) for k in range(2)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(write_towns, jobs))
    done.write_text("ok\n", encoding="utf-8")
    return root, [root / name for name in names], time.perf_counter() - start


# --- measuring ----------------------------------------------------------------------------


def measure(argv: list[str], workdir: Path, tag: str, cwd: Path = ROOT,
            timeout: float = 3600) -> dict[str, Any]:
    """Run one command under the measuring parent: wall seconds, peak RSS
    (MB, the largest of the command and its children), its output."""
    report = workdir / f"{tag}.measure.json"
    stdout = workdir / f"{tag}.stdout"
    subprocess.run([PY, "-c", MEASURE, str(report), str(stdout), str(timeout), *argv],
                   cwd=cwd, check=False)
    m: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    if m["rc"] != 0:
        raise SystemExit(f"{tag} failed ({m['rc']}):\n{m['stderr']}\n"
                         + stdout.read_text(encoding="utf-8", errors="replace")[-2000:])
    return {"seconds": m["wall"], "peak_mb": m["maxrss_kb"] / 1024}


def site_size(folder: Path) -> tuple[int, int]:
    """Bytes and files under ``folder``."""
    total = files = 0
    for dirpath, _dirs, names in os.walk(folder):
        for name in names:
            total += os.path.getsize(os.path.join(dirpath, name))
            files += 1
    return total, files


def by_folder(folder: Path, depth: int = 1) -> list[tuple[str, int, int]]:
    """(folder, bytes, files) for each entry ``depth`` levels down, largest first."""
    rows: dict[str, list[int]] = {}
    for dirpath, _dirs, names in os.walk(folder):
        rel = Path(dirpath).relative_to(folder)
        key = "/".join(rel.parts[:depth]) or "."
        for name in names:
            k = key if rel.parts else name
            row = rows.setdefault(k, [0, 0])
            row[0] += os.path.getsize(os.path.join(dirpath, name))
            row[1] += 1
    return sorted(((k, v[0], v[1]) for k, v in rows.items()), key=lambda r: -r[1])


def rollup(units: Iterable[Path], out: Path, name: str, level: str, workdir: Path,
           tag: str) -> dict[str, Any]:
    """One ``fengqiao rollup build`` of ``units`` (site folders) into ``out``."""
    argv = [FENGQIAO, "rollup", "build", *map(str, units), "--period", PERIOD, "--out", str(out),
            "--name", name, "--level", level, "--now", NOW]
    m = measure(argv, workdir, tag)
    m["bytes"], m["files"] = site_size(out)
    return m


def counts_of(site: Path) -> dict[str, int]:
    contract = json.loads((site / "downloads" / PERIOD / "metrics.json").read_text(encoding="utf-8"))
    return {k: contract["metrics"][k] for k in COUNTS if isinstance(contract["metrics"].get(k), int)}


def nested(towns: list[Path], per_county: int, per_city: int, root: Path,
           workdir: Path) -> dict[str, dict[str, Any]]:
    """towns -> counties -> cities -> province, each level from the folders
    of the level below; per level: builds, summed seconds and bytes, the
    largest peak."""
    levels: dict[str, dict[str, Any]] = {}
    units = towns
    plan = [("县", per_county), ("市", per_city), ("省", 0)]
    for number, (level, size) in enumerate(plan):
        groups = [units[i:i + size] for i in range(0, len(units), size)] if size else [units]
        names = (place_names(len(groups), level, offset=number * 400) if level != "省"
                 else ["示范省"])
        sites = []
        total = {"builds": len(groups), "seconds": 0.0, "peak_mb": 0.0, "bytes": 0, "files": 0}
        for name, group in zip(names, groups, strict=True):
            out = root / level / name
            m = rollup(group, out, name, level, workdir, f"{level}-{name}")
            total["seconds"] += m["seconds"]
            total["peak_mb"] = max(total["peak_mb"], m["peak_mb"])
            total["bytes"] += m["bytes"]
            total["files"] += m["files"]
            sites.append(out)
        print(f"  {level}: {len(groups)} builds, {total['seconds']:.1f} s, "
              f"peak {total['peak_mb']:.0f} MB, {total['bytes'] / 1e6:.1f} MB", flush=True)
        levels[level] = total
        units = sites
    levels["省"]["site"] = units[0]
    return levels


# --- profiling ----------------------------------------------------------------------------


def top_functions(prof: Path, n: int = 25) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(prof), stream=out)
    stats.sort_stats("cumulative").print_stats(n)
    return out.getvalue()


def profile_flat(towns: list[Path], root: Path, workdir: Path) -> str:
    """The flat build's own process under cProfile, then its MkDocs run
    (the build's working folder keeps the engine config) under cProfile."""
    out = root / "flat-profiled"
    prof = workdir / "flat.prof"
    argv = [PY, "-m", "cProfile", "-o", str(prof), FENGQIAO, "rollup", "build",
            *map(str, towns), "--period", PERIOD, "--out", str(out), "--name", "示范省",
            "--level", "省", "--now", NOW]
    subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    text = "## fengqiao process (cProfile, cumulative)\n\n```\n" + top_functions(prof) + "```\n"
    work = out.with_name(out.name + ".fengqiao-tmp")
    engine_prof = workdir / "mkdocs.prof"
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", PYTHONHASHSEED="0")
    subprocess.run([PY, "-m", "cProfile", "-o", str(engine_prof), "-m", "mkdocs", "build", "-q",
                    "-f", str(work / "mkdocs.yml"), "-d", str(workdir / "mkdocs-site")],
                   cwd=work, env=env, check=True)
    text += "\n## MkDocs run (cProfile, cumulative)\n\n```\n" + top_functions(engine_prof, 30) + "```\n"
    text += "\n## the flat site's bytes by folder\n\n| folder | MB | files |\n|---|---:|---:|\n"
    for key, size, files in by_folder(out)[:15]:
        text += f"| {key} | {size / 1e6:.2f} | {files:,} |\n"
    return text


# --- the report ---------------------------------------------------------------------------


def row(label: str, m: dict[str, Any], town: dict[str, Any]) -> str:
    def times(key: str) -> str:
        return f"{m[key] / town[key]:.1f}×" if town[key] else "—"
    return (f"| {label} | {m.get('builds', 1)} | {m['seconds']:.1f} | {times('seconds')} | "
            f"{m['peak_mb']:.0f} | {times('peak_mb')} | {m['bytes'] / 1e6:.1f} | {times('bytes')} | "
            f"{m['files']:,} | {times('files')} |")


def report(args: argparse.Namespace, town: dict[str, Any], flat: dict[str, Any],
           levels: dict[str, dict[str, Any]], same: bool, generated: float,
           profile: str) -> str:
    info = machine_info()
    n = args.towns
    start_load = args.start_load
    counties = levels["县"]["builds"]
    cities = levels["市"]["builds"]
    total = {"builds": sum(v["builds"] for v in levels.values()),
             "seconds": sum(v["seconds"] for v in levels.values()),
             "peak_mb": max(v["peak_mb"] for v in levels.values()),
             "bytes": sum(v["bytes"] for v in levels.values()),
             "files": sum(v["files"] for v in levels.values())}
    target_time = flat["seconds"] <= 2 * town["seconds"]
    lines = [
        f"# Province roll-up: {n:,} towns",
        "",
        f"Run {time.strftime('%Y-%m-%dT%H:%M:%S')} on {info['cores']} cores "
        f"({info['platform']}); load average {start_load} at start, "
        f"{info['load_avg']} at end. Period {PERIOD}; seed {args.seed}; "
        + (f"towns generated in {generated:.0f} s." if generated else "towns reused from bench/data/."),
        "",
        "| build | builds | seconds | × town | peak MB | × town | site MB | × town | files | × town |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        row("one demo town (`fengqiao build`)", town, town),
        row(f"flat: {n:,} towns → 1 roll-up", flat, town),
        row(f"nested: {n:,} towns → {counties} counties", levels["县"], town),
        row(f"nested: {counties} counties → {cities} cities", levels["市"], town),
        row(f"nested: {cities} cities → 1 province", levels["省"], town),
        row("nested, all levels (summed; peak = largest)", total, town),
        "",
        "Nested rows sum the level's builds' seconds, bytes and files; peak MB is the "
        "largest single build's.",
        "",
        f"Province counts equal the flat roll-up's ({', '.join(COUNTS)}): "
        + ("**yes**" if same else "**NO**"),
        "",
        "Target (flat roll-up against one town): time ≤ 2× — "
        + ("met" if target_time else "**not met**")
        + f" ({flat['seconds'] / town['seconds']:.2f}×); peak ≤ 500 MB — "
        + ("met" if flat["peak_mb"] <= 500 else "**not met**")
        + f" ({flat['peak_mb']:.0f} MB); site < 100 MB — "
        + ("met" if flat["bytes"] < 100e6 else "**not met**")
        + f" ({flat['bytes'] / 1e6:.1f} MB).",
        "",
        "The flat site's bytes by folder:",
        "",
        "| folder | MB | files |",
        "|---|---:|---:|",
        *(f"| {k} | {b / 1e6:.2f} | {f:,} |" for k, b, f in by_folder(flat["site"])[:10]),
        "",
    ]
    return "\n".join(lines) + (("\n" + profile) if profile else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--towns", type=int, default=1000)
    ap.add_argument("--per-county", type=int, default=20, help="towns per county (nested)")
    ap.add_argument("--per-city", type=int, default=10, help="counties per city (nested)")
    ap.add_argument("--seed", type=int, default=20240305)
    ap.add_argument("--regen", action="store_true", help="generate the towns again")
    ap.add_argument("--profile", action="store_true",
                    help="also profile the flat build and its MkDocs run (cProfile)")
    ap.add_argument("--keep", action="store_true", help="keep the built sites (printed)")
    ap.add_argument("--flat-only", action="store_true",
                    help="only (a) and (c): the town build and the flat roll-up, side by side")
    ap.add_argument("--results", type=Path, default=BENCH / "out" / "province-rollup.md")
    args = ap.parse_args()
    args.start_load = machine_info()["load_avg"]
    print(f"load average at start: {args.start_load}", flush=True)

    root = Path(tempfile.mkdtemp(prefix="fengqiao-province-"))
    workdir = root / "measure"
    workdir.mkdir()
    try:
        print("(a) the demo town's site …", flush=True)
        town = measure([FENGQIAO, "build", "--out", str(root / "town-site")], workdir, "town",
                       cwd=ROOT / "examples")
        town["bytes"], town["files"] = site_size(root / "town-site")
        print(f"  {town['seconds']:.1f} s, {town['peak_mb']:.0f} MB, "
              f"{town['bytes'] / 1e6:.1f} MB", flush=True)

        print(f"(b) {args.towns:,} towns' metrics.json …", flush=True)
        _folder, towns, generated = ensure_towns(args.towns, args.seed, args.regen)
        print(f"  generated in {generated:.0f} s" if generated else "  reused", flush=True)

        print(f"(c) flat roll-up of {args.towns:,} towns …", flush=True)
        flat = rollup(towns, root / "flat", "示范省", "省", workdir, "flat")
        flat["site"] = root / "flat"
        print(f"  {flat['seconds']:.1f} s, {flat['peak_mb']:.0f} MB, "
              f"{flat['bytes'] / 1e6:.1f} MB, {flat['files']:,} files", flush=True)

        if args.flat_only:
            lines = ["| build | seconds | × town | peak MB | site MB | files |",
                     "|---|---:|---:|---:|---:|---:|"]
            for label, m in (("one demo town", town), (f"flat: {args.towns:,} towns, level 省", flat)):
                lines.append(f"| {label} | {m['seconds']:.1f} | {m['seconds'] / town['seconds']:.2f}× | "
                             f"{m['peak_mb']:.0f} | {m['bytes'] / 1e6:.1f} | {m['files']:,} |")
            text = "\n".join(lines) + "\n"
            if args.profile:
                print("profiling the flat build …", flush=True)
                text += "\n" + profile_flat(towns, root, workdir)
            args.results.parent.mkdir(parents=True, exist_ok=True)
            args.results.write_text(text, encoding="utf-8")
            print(text)
            return
        print("(d) nested roll-up …", flush=True)
        levels = nested(towns, args.per_county, args.per_city, root / "nested", workdir)
        same = counts_of(levels["省"]["site"]) == counts_of(root / "flat")
        print(f"  province counts equal the flat roll-up's: {same}", flush=True)

        profile = ""
        if args.profile:
            print("profiling the flat build …", flush=True)
            profile = profile_flat(towns, root, workdir)

        text = report(args, town, flat, levels, same, generated, profile)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(text, encoding="utf-8")
        print(text)
        print(f"written: {args.results}")
        if not same:
            sys.exit(1)
    finally:
        if args.keep:
            print(f"sites kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
