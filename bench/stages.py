"""Where the time and memory of ``fengqiao metrics`` / ``validate`` go, by stage.

Runs the same steps the two commands run, in one process, and times each
stage with the peak RSS reached during it (Linux: ``VmHWM``, reset between
stages through ``/proc/self/clear_refs``):

- **parsing**: the source read (file bytes → pyarrow → text frames);
- **normalising**: locating headers and parsing every column (dates, enums,
  full-width digits, text cleaning), blank rows dropped;
- **checks**: field, row, loop-date, reference and supervision-loop checks,
  findings sorted, the typed tables of counted rows assembled;
- **figures**: ``compute_metrics`` (metrics only);
- **JSON**: ``dumps`` of the metrics contract, or the findings list as
  ``validate --format json`` prints it (the text is built, not printed).

Start-up (interpreter, imports, config) is what the whole command takes
beyond these. The split inside validation wraps the validator's stage
methods, so this script follows ``validate.py``: a renamed stage shows up
under "checks".

    .venv/bin/python bench/stages.py metrics bench/data/town-1000000-0-s20240305/csv
    .venv/bin/python bench/stages.py validate <csv folder> --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGES = ("parsing", "normalising", "checks", "figures", "JSON")


def _status(key: str) -> float:
    """A ``/proc/self/status`` size in MB (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_peak() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


class Clock:
    """Seconds and peak MB per stage, summed over the calls made in a stage."""

    def __init__(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.peak_mb = dict.fromkeys(STAGES, 0.0)
        self.cpu = dict.fromkeys(STAGES, 0.0)
        self._stack: list[str] = []
        self._started = 0.0
        self._cpu_started = 0.0

    def run(self, stage: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Call ``fn`` as ``stage``; a stage started inside another one
        counts for itself, and the outer one gets only the rest (its own
        time, its peak outside the inner call)."""
        if self._stack:
            self._close(self._stack[-1])
        self._stack.append(stage)
        _reset_peak()
        self._started, self._cpu_started = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kw)
        finally:
            self._close(stage)
            self._stack.pop()
            if self._stack:
                _reset_peak()
                self._started, self._cpu_started = time.perf_counter(), time.process_time()

    def _close(self, stage: str) -> None:
        self.seconds[stage] += time.perf_counter() - self._started
        self.cpu[stage] += time.process_time() - self._cpu_started
        self.peak_mb[stage] = max(self.peak_mb[stage], _status("VmHWM"))

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        fn = getattr(owner, name)

        def timed(*args: Any, **kw: Any) -> Any:
            return self.run(stage, fn, *args, **kw)

        setattr(owner, name, timed)


def once(command: str, source: str, period: str) -> dict[str, Any]:
    t0 = time.perf_counter()
    from fengqiao import cli

    if hasattr(cli, "tune_allocators"):  # (an older tree, measured for "before", has none)
        cli.tune_allocators()  # as the command does, before Arrow loads
    from fengqiao import clock, validate
    from fengqiao.cli import _FINDING_KEYS  # noqa: PLC2701 - the keys validate prints
    from fengqiao.config import load_config
    from fengqiao.metrics import compute_metrics, dumps, parse_period
    from fengqiao.sources import open_source, resolve_spec

    c = Clock()
    v = validate._Validator  # noqa: SLF001 - the stages are its methods
    c.wrap(v, "load", "normalising")
    for name in ("check_fields", "excluded", "check_rows", "check_loop_dates",
                 "check_references", "check_loop"):
        c.wrap(v, name, "checks")
    config = load_config()
    startup = time.perf_counter() - t0
    t1 = time.perf_counter()
    workbook = c.run("parsing", open_source, resolve_spec(source, config), config=config)
    # what run() does beyond the wrapped stages (sorting findings, assembling the
    # typed tables) is checks too
    # the command lets validation drop the raw cells it has read (older trees cannot)
    consume = "consume" in inspect.signature(validate.validate_workbook).parameters
    ledger = c.run("checks", validate.validate_workbook, workbook, config=config,
                   **({"consume": True} if consume else {}))
    if command == "metrics":
        validate.require_figures(ledger)
        contract = c.run("figures", compute_metrics, ledger, parse_period(period),
                         config=config, today=clock.today(config))
        text = c.run("JSON", dumps, contract)
    else:
        def findings_json() -> str:
            rows = [{key: getattr(f, key) for key in _FINDING_KEYS} for f in ledger.findings]
            return json.dumps(rows, ensure_ascii=False, indent=2)
        text = c.run("JSON", findings_json)
    total = time.perf_counter() - t1
    return {"startup": startup, "total": total, "seconds": c.seconds, "cpu": c.cpu,
            "peak_mb": c.peak_mb,
            "bytes": len(text.encode("utf-8")), "rss_end_mb": _status("VmRSS")}


def table(result: dict[str, Any]) -> str:
    total = result["total"]
    lines = ["| stage | seconds | share | CPU s | peak MB |", "|---|---:|---:|---:|---:|"]
    for s in STAGES:
        sec = result["seconds"][s]
        if sec == 0 and s == "figures":
            continue
        lines.append(f"| {s} | {sec:.2f} | {sec / total:.0%} | {result['cpu'][s]:.2f} | "
                     f"{result['peak_mb'][s]:.0f} |")
    lines.append(f"| total (after start-up {result['startup']:.2f} s) | {total:.2f} | 100% | "
                 f"{sum(result['cpu'].values()):.2f} | {max(result['peak_mb'].values()):.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=["metrics", "validate"])
    p.add_argument("source", help="a CSV folder (or any source fengqiao reads)")
    p.add_argument("--period", default="2024")
    p.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    a = p.parse_args()
    result = once(a.command, a.source, a.period)
    print(json.dumps(result, indent=1) if a.json else table(result))


if __name__ == "__main__":
    main()
