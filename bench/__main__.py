"""``python -m bench [--quick] [--no-write] [--results-dir DIR] [--keep]``: run every scenario once.

Order: pre-load the main topic with the bridge (its own rate measured), decode-only ceiling, naive
baseline, convstream one process (RSS sampled: the memory scenario), replay of that group, two processes
in one group, latency at a steady rate, per-stage breakdown (full mode), peer. Each scenario's failure is
recorded and the run goes on. Writes ``<results-dir>/<UTC stamp>.json`` and regenerates ``BENCHMARKS.md``
unless ``--no-write``. Exit 0 when every scenario produced its number, else 1.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import scenarios as sc
from bench.machine import load_average, machine_facts
from bench.report import headline, render_markdown, render_table
from bench.stack import ROOT, Stack
from bench.stages import run_stages

__all__ = ["main"]

QUICK = sc.Sizes(
    events=65_000,
    naive_seconds=6,
    naive_limit=20_000,
    latency_seconds=8,
    latency_rate=5000,
    memory_marks=(10_000,),
    peer_limit=20_000,
)
FULL = sc.Sizes(
    events=620_000,
    naive_seconds=20,
    naive_limit=200_000,
    latency_seconds=30,
    latency_rate=5000,
    memory_marks=(10_000, 100_000),
    peer_limit=200_000,
)


def _step(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    t0 = time.perf_counter()
    print(f"[bench] {name} …", file=sys.stderr, flush=True)
    try:
        value = fn()
    except Exception as exc:  # one failed scenario must not hide the others' numbers
        results[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        traceback.print_exc()
        value = None
    else:
        if isinstance(value, dict):
            results[name] = value
    print(f"[bench] {name} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    return value


def run(quick: bool, keep: bool) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{stamp}-"))
    stack = Stack(stamp=stamp.lower(), workdir=workdir)
    doc: dict[str, Any] = {
        "stamp": stamp,
        "mode": "quick" if quick else "full",
        "sizes": sizes.__dict__,
        "machine": machine_facts(stack.bootstrap, stack.server_dsn),
        "load_before": load_average(),
    }
    res: dict[str, Any] = {}
    try:
        loaded = _step(res, "bridge", lambda: sc.load(stack, sizes))
        total = loaded["topic_events"] if loaded else sizes.events
        _step(res, "ceiling", lambda: sc.scenario_ceiling(stack, total))
        _step(res, "naive", lambda: sc.scenario_naive(stack, sizes))
        single = _step(res, "convstream", lambda: sc.scenario_convstream(stack))
        if single:
            res["convstream"] = single[0]
            res["memory"] = sc.memory_from(single[0], sizes.memory_marks)
            if not quick:
                res["memory"]["rss_mb_at_1000000"] = None
                res["memory"]["note_1m"] = "1M conversations (~6M events) not run: ~20 min, over the budget"
            _step(res, "replay", lambda: sc.scenario_replay(stack, single[1]))
        _step(res, "scale", lambda: sc.scenario_scale(stack))
        _step(res, "latency", lambda: sc.scenario_latency(stack, sizes))
        if not quick:
            _step(res, "stages", lambda: run_stages(stack.server_dsn))
        if quick and not sc.peer_venv_ready():
            res["peer"] = {
                "error": "not run in --quick: the peer venv (.cache/bench-peer) is created by a full run"
            }
        else:
            _step(res, "peer", lambda: sc.scenario_peer(stack, min(total, sizes.peer_limit)))
    finally:
        stack.close(keep=keep)
    doc["load_after"] = load_average()
    doc["results"] = res
    doc["seconds_total"] = round(time.perf_counter() - started, 1)
    doc["workdir"] = str(workdir)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 2 min)")
    parser.add_argument(
        "--no-write", action="store_true", help="print only: no results file, no BENCHMARKS.md"
    )
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--json-out", type=Path, help="also write the results JSON here")
    parser.add_argument("--render", type=Path, help="only regenerate BENCHMARKS.md from this results JSON")
    parser.add_argument("--keep", action="store_true", help="keep the topics and databases")
    args = parser.parse_args(argv)
    if args.render:
        doc = json.loads(args.render.read_text())
        print(render_table(doc))
        (ROOT / "BENCHMARKS.md").write_text(render_markdown(doc, args.render.resolve().relative_to(ROOT)))
        return 0
    # SIGTERM (and SIGINT, ignored in background jobs) must still run the clean-up in run()'s finally.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    doc = run(args.quick, args.keep)
    print(render_table(doc))
    text = json.dumps(doc, indent=2, default=str)
    if args.json_out:
        args.json_out.write_text(text)
    if not args.no_write:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        path = args.results_dir / f"{doc['stamp']}.json"
        path.write_text(text)
        (ROOT / "BENCHMARKS.md").write_text(render_markdown(doc, path.relative_to(ROOT)))
        print(f"wrote {path} and BENCHMARKS.md")
    missing = [k for k, v in headline(doc).items() if v is None and k != "peer"]
    print(f"total {doc['seconds_total']}s; scenarios without a number: {missing or 'none'}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
