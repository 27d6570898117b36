"""Measure the pure fold's throughput on realistic snapshot events (not a test; never timed in CI).

Input: the simulator's default mix (``consumer.simulate``, seed 1; voice, chat, email, callbacks, …;
~6 snapshots per conversation, 3–4 participants each), normalized with
``consumer.genesys.normalize.normalize_message``, built in memory before timing (that takes far longer
than folding; ``--cache FILE`` pickles it for the next run). Then ``fold`` runs over all events, in
delivery order, into fresh states, ``--repeat`` times; the median is printed, by wall time and by this
process's CPU time (``time.process_time``: other processes on the machine inflate wall time).

Three garbage-collector settings are measured, because the cyclic GC is a large share of the cost:

- default thresholds;
- inputs frozen: ``gc.freeze()`` after building the input (the pre-built events are not the fold's
  garbage, yet full collections would re-scan all of them);
- frozen + ``gc.set_threshold(200_000, 50, 100)``: what the consumer process runs with
  (``consumer/commands/consume.py`` ``_tune_gc``: it freezes start-up objects and raises the gen-0
  threshold). The fold creates no reference cycles (immutable trees freed by reference counting), so
  fewer collections lose nothing.

Usage: ``.venv/bin/python scripts/fold_speed.py [--events 100000] [--repeat 3] [--cache FILE] [--profile]``
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pickle
import pstats
import statistics
import time
from pathlib import Path

from consumer.domain import ConversationEvent, ConversationSnapshot, ConversationState, fold
from consumer.genesys.normalize import Normalized, normalize_message
from consumer.simulate import Simulation, SimulationOptions

__all__ = ["build_events", "main"]

PROFILE_PATH = "fold_speed.prof"
CONSUMER_GC_THRESHOLD = (200_000, 50, 100)  # keep in step with consumer/commands/consume.py


def build_events(count: int, seed: int = 1) -> list[ConversationEvent]:
    """The first ``count`` normalized events the simulator delivers (conversations interleaved)."""
    events: list[ConversationEvent] = []
    for m in Simulation(SimulationOptions(seed=seed, events=count)):
        result = normalize_message(m.message, received_at=m.received_at, source="simulator")
        if isinstance(result, Normalized):
            events.extend(result.events)
        if len(events) >= count:
            break
    return events[:count]


def _load(count: int, cache: Path | None) -> list[ConversationEvent]:
    if cache is not None and cache.exists():
        with cache.open("rb") as f:
            events: list[ConversationEvent] = pickle.load(f)  # noqa: S301 - our own cache file
        if len(events) == count:
            return events
    events = build_events(count)
    if cache is not None:
        with cache.open("wb") as f:
            pickle.dump(events, f, protocol=pickle.HIGHEST_PROTOCOL)
    return events


def _describe(events: list[ConversationEvent]) -> str:
    conversations = len({e.conversation_id for e in events})
    sizes = [len(e.body.participants) for e in events if isinstance(e.body, ConversationSnapshot)]
    return (
        f"{len(events):,} events, {conversations:,} conversations "
        f"({len(events) / conversations:.1f} events each), {len(sizes):,} snapshots "
        f"({sum(sizes) / max(len(sizes), 1):.2f} participants each)"
    )


def _run(events: list[ConversationEvent]) -> tuple[float, float]:
    """Fold all events into fresh states; returns (wall seconds, this process's CPU seconds)."""
    states: dict[str, ConversationState] = {}
    get = states.get
    start, cpu = time.perf_counter(), time.process_time()
    for e in events:
        states[e.conversation_id] = fold(get(e.conversation_id), e)
    return time.perf_counter() - start, time.process_time() - cpu


def _measure(label: str, events: list[ConversationEvent], repeat: int) -> None:
    runs = [_run(events) for _ in range(repeat)]
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    n = len(events)
    print(
        f"{label:<28} median of {repeat}: wall {wall:.3f} s = {n / wall:>7,.0f} events/s; "
        f"cpu {cpu:.3f} s = {n / cpu:>7,.0f} events/s (best cpu {n / min(c for _, c in runs):,.0f}); "
        f"load {os.getloadavg()[0]:.1f}/{os.cpu_count()} cpus",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, help="pickle of the built input, reused when it matches")
    parser.add_argument("--profile", action="store_true", help="cProfile one run instead of timing")
    args = parser.parse_args()
    started = time.perf_counter()
    events = _load(args.events, args.cache)
    print(f"input: {_describe(events)}; built in {time.perf_counter() - started:.1f} s (not timed)")
    if args.profile:
        cProfile.runctx("_run(events)", globals(), {"events": events, "_run": _run}, PROFILE_PATH)
        pstats.Stats(PROFILE_PATH).sort_stats("tottime").print_stats(15)
        return
    _measure("default gc", events, args.repeat)
    gc.collect()
    gc.freeze()  # the pre-built input events are not the fold's garbage to scan
    _measure("inputs frozen (gc.freeze)", events, args.repeat)
    gc.set_threshold(*CONSUMER_GC_THRESHOLD)
    _measure("frozen + consumer threshold", events, args.repeat)


if __name__ == "__main__":
    main()
