"""County collection at scale: ``fengqiao county collect`` of 1,000 town sites.

One real metrics file (the demo town's, made by ``fengqiao metrics`` in
``examples/`` unless ``--contract`` names one) is copied once per town with
the town renamed, so the county's check accepts every copy, and served as
static files (``Last-Modified``, so a second run can be answered 304) by a
loopback ``ThreadingHTTPServer`` in its own process, so the server never
shares the collector's GIL. Then, each as a fresh ``fengqiao county collect``
under a measuring parent (wall time and the peak RSS of exactly one child):

1. the first collection: every file comes with a body, is checked and stored;
2. a second one with nothing changed: every request conditional, all 304;
3. a third after ``--republish`` towns published a new file.

Prints a Markdown table (and writes the raw numbers to
``<work>/collect-scale.json``)::

    .venv/bin/python bench/collect_scale.py                  # 1,000 towns, concurrency 8
    .venv/bin/python bench/collect_scale.py --towns 200 --concurrency 16
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent
FENGQIAO = str(BIN / "fengqiao") if (BIN / "fengqiao").exists() else "fengqiao"
PY = sys.executable
STATS = "/__stats"

# The measuring parent (as in run.py): one child, so RUSAGE_CHILDREN is its own.
MEASURE = r"""
import json, resource, subprocess, sys, time
report, stdout = sys.argv[1], sys.argv[2]
with open(stdout, "wb") as out:
    t = time.perf_counter()
    p = subprocess.run(sys.argv[3:], stdout=out, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(report, "w") as f:
    json.dump({"wall": wall, "maxrss_kb": ru.ru_maxrss, "user": ru.ru_utime, "sys": ru.ru_stime,
               "rc": p.returncode, "stderr": p.stderr[-3000:].decode("utf-8", "replace")}, f)
"""


def serve(root: Path) -> None:
    """The town sites: static files under ``root`` on 127.0.0.1, the port
    printed on the first line; ``GET /__stats`` answers (and resets) how many
    of each status were sent and how many requests were conditional."""
    lock = threading.Lock()
    counts: Counter[str] = Counter()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self) -> None:
            if self.path == STATS:
                with lock:
                    body = json.dumps(dict(counts)).encode()
                    counts.clear()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.headers.get("If-Modified-Since") or self.headers.get("If-None-Match"):
                with lock:
                    counts["conditional"] += 1
            super().do_GET()

        def send_response(self, code: int, message: str | None = None) -> None:
            if self.path != STATS:
                with lock:
                    counts[str(code)] += 1
            super().send_response(code, message)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(httpd.server_address[1], flush=True)
    httpd.serve_forever()


def real_contract(work: Path, period: str) -> Path:
    """The demo town's metrics.json for ``period``, as a town would publish it."""
    out = work / "demo-metrics.json"
    with out.open("wb") as fh:
        subprocess.run([FENGQIAO, "metrics", "demo_town.xlsx", "--config", "fengqiao.yml",
                        "--period", period, "--format", "json"],
                       cwd=ROOT / "examples", stdout=fh, stderr=subprocess.DEVNULL, check=False)
    json.loads(out.read_text(encoding="utf-8"))  # it must be JSON, whatever the exit code said
    return out


def publish(sites: Path, contract: dict[str, Any], names: list[str], period: str,
            generator: str | None = None) -> None:
    """Each town's copy of the one file, renamed as the county registered it."""
    from fengqiao.metrics import dumps

    for name in names:
        target = sites / name / "downloads" / period / "metrics.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = {**contract, "town": name}
        if generator:
            copy["generator"] = generator
        target.write_text(dumps(copy), encoding="utf-8")


def county_yml(path: Path, url: str, names: list[str], collection: Path, concurrency: int) -> None:
    lines = ["county: 示范县", f"collection_dir: {collection}", "fetch:",
             f"  concurrency: {concurrency}", "  retries: 2", "  backoff: 0.5", "towns:"]
    lines += [f"  - name: {n}\n    url: {url}/{n}/" for n in names]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def stats(url: str) -> dict[str, int]:
    import requests

    got: dict[str, int] = requests.get(url + STATS, timeout=10).json()
    return got


def measured_collect(work: Path, step: str, config: Path, period: str) -> dict[str, Any]:
    report, stdout = work / f"{step}.measure.json", work / f"{step}.stdout"
    subprocess.run([PY, "-c", MEASURE, str(report), str(stdout),
                    FENGQIAO, "county", "collect", "--config", str(config), "--period", period],
                   check=True)
    m: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    if m["rc"] not in (0, 1):
        raise SystemExit(f"{step}: fengqiao county collect failed ({m['rc']}):\n{m['stderr']}")
    return m


def log_summary(collection: Path, period: str, after: int) -> dict[str, int]:
    """The receipts one run added (the log's lines from ``after`` on)."""
    lines = (collection / period / "log.jsonl").read_text(encoding="utf-8").splitlines()[after:]
    counts: Counter[str] = Counter()
    for line in lines:
        r = json.loads(line)
        counts[r["status"]] += 1
        counts["unchanged"] += bool(r.get("unchanged"))
    counts["receipts"] = len(lines)
    return dict(counts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--towns", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8, help="county.yml fetch.concurrency (1–64)")
    ap.add_argument("--period", default="2024-12")
    ap.add_argument("--republish", type=int, default=10, help="towns with a new file before run 3")
    ap.add_argument("--contract", type=Path, help="a metrics.json to copy (default: the demo town's)")
    ap.add_argument("--work", type=Path, default=BENCH / "out" / "collect-scale")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return

    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    source = args.contract or real_contract(work, args.period)
    raw = source.read_bytes()
    contract = json.loads(raw)
    names = [f"第{i:04d}镇" for i in range(args.towns)]
    sites, collection = work / "sites", work / "collection"
    publish(sites, contract, names, args.period)

    server = subprocess.Popen([PY, __file__, "--serve", str(sites)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        config = work / "county.yml"
        county_yml(config, url, names, collection, args.concurrency)
        runs: list[dict[str, Any]] = []
        logged = 0
        for step, what in (("first", "first collection (all 200)"),
                           ("second", "second, nothing changed (all 304)"),
                           ("third", f"third, {args.republish} towns republished")):
            if step == "third":
                publish(sites, contract, names[:: max(1, args.towns // max(1, args.republish))]
                        [: args.republish], args.period, generator="fengqiao bench-republish")
            m = measured_collect(work, step, config, args.period)
            m.update(step=step, what=what, server=stats(url),
                     log=log_summary(collection, args.period, logged))
            logged += m["log"]["receipts"]
            runs.append(m)
    finally:
        server.terminate()
        server.wait()

    stored = sum(1 for _ in (collection / args.period).rglob("*.json"))
    result = {"towns": args.towns, "concurrency": args.concurrency, "period": args.period,
              "file_bytes": len(raw), "stored_copies": stored, "cpus": os.cpu_count(),
              "load": os.getloadavg(), "python": platform.python_version(), "runs": runs}
    (work / "collect-scale.json").write_text(json.dumps(result, ensure_ascii=False, indent=2),
                                            encoding="utf-8")
    print(f"{args.towns} towns, concurrency {args.concurrency}, one {len(raw) / 1024:.0f} KB "
          f"metrics.json each ({args.period}); {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}\n")
    print("| run | seconds | CPU s | peak MB | server: 200 / 304 / conditional | "
          "receipts: valid / unchanged |")
    print("|---|---:|---:|---:|---|---|")
    for m in runs:
        s, lg = m["server"], m["log"]
        print(f"| {m['what']} | {m['wall']:.2f} | {m['user'] + m['sys']:.2f} | "
              f"{m['maxrss_kb'] / 1024:.0f} | {s.get('200', 0)} / {s.get('304', 0)} / "
              f"{s.get('conditional', 0)} | {lg.get('valid', 0)} / {lg.get('unchanged', 0)} |")
    print(f"\nstored copies after the three runs: {stored}")


if __name__ == "__main__":
    main()
