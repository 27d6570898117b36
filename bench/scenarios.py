"""The scenarios of ``python -m bench`` (each returns a JSON-ready dict with its headline number)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.ceiling import run_ceiling
from bench.latency import OffsetPoller, latency_stats, paced_publish, read_records
from bench.naive import run_naive
from bench.stack import PARTITIONS, ROOT, Proc, RssSampler, Stack

__all__ = [
    "Sizes",
    "ensure_peer_venv",
    "load",
    "memory_from",
    "peer_venv_ready",
    "scenario_ceiling",
    "scenario_convstream",
    "scenario_latency",
    "scenario_naive",
    "scenario_peer",
    "scenario_replay",
    "scenario_scale",
]

MAIN = "main"


@dataclass(frozen=True)
class Sizes:
    """How big each scenario is (``--quick`` or full)."""

    events: int
    naive_seconds: float
    naive_limit: int
    latency_seconds: float
    latency_rate: float
    memory_marks: tuple[int, ...]
    peer_limit: int


#: The pre-load's bridge configuration: worker processes and producer linger (ms).
LOAD_WORKERS = 2
LOAD_LINGER_MS = 200


def _events_topic(stack: Stack, base: str) -> str:
    return stack.topic_env(base)["CONVSTREAM_TOPICS__EVENTS"]


def _end_total(stack: Stack, topic: str) -> int:
    from consumer.adapters.kafka.client import KafkaAdmin
    from consumer.settings import KafkaSettings

    admin = KafkaAdmin(KafkaSettings(bootstrap_servers=stack.bootstrap), timeout_seconds=15)
    return sum(admin.end_offsets(topic).values())


def load(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    """Pre-load the main topic once with ``convstream bridge --source simulator`` (default mix)."""
    env = stack.env(MAIN)
    stack.topics += [
        env["CONVSTREAM_TOPICS__EVENTS"],
        env["CONVSTREAM_TOPICS__QUEUES"],
        env["CONVSTREAM_TOPICS__DLQ"],
    ]
    # The bulk-load configuration (README "Publishing fast"): LOAD_WORKERS processes, LOAD_LINGER_MS linger.
    env = {**env, "CONVSTREAM_BRIDGE__LINGER_MS": str(LOAD_LINGER_MS)}
    args = ["bridge", "--source", "simulator", "--events", str(sizes.events), "--workers", str(LOAD_WORKERS)]
    t0 = time.perf_counter()
    proc = stack.run("bridge", [*args, "--progress-seconds", "0"], env, timeout=900)
    wall = time.perf_counter() - t0
    out = proc.stdout.read_text() + proc.stderr.read_text()
    # The merged line (each worker also prints its own, prefixed with "[worker k/N]").
    match = re.search(
        r"^bridge: published (\d+) events .* in ([\d.]+) s \(([\d,]+) events/s\)", out, re.MULTILINE
    )
    published = int(match.group(1)) if match else sizes.events
    return {
        "events": published,
        "topic_events": _end_total(stack, env["CONVSTREAM_TOPICS__EVENTS"]),
        "seconds": round(wall, 2),
        "events_per_s": float(match.group(3).replace(",", "")) if match else round(published / wall, 1),
        "workers": LOAD_WORKERS,
        "linger_ms": LOAD_LINGER_MS,
        "note": f"bridge rate (simulate, normalize, Avro, Kafka acks=all) with --workers {LOAD_WORKERS} and "
        f"CONVSTREAM_BRIDGE__LINGER_MS={LOAD_LINGER_MS}; wall incl. start-up",
    }


def scenario_ceiling(stack: Stack, total: int) -> dict[str, Any]:
    return run_ceiling(
        bootstrap=stack.bootstrap,
        registry_url=stack.registry,
        topic=_events_topic(stack, MAIN),
        group=stack.name("ceiling"),
        total=total,
    )


def scenario_naive(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    dsn = stack.database("naive", MAIN)
    result = run_naive(
        bootstrap=stack.bootstrap,
        registry_url=stack.registry,
        topic=_events_topic(stack, MAIN),
        dsn=dsn,
        group=stack.name("naive"),
        seconds=sizes.naive_seconds,
        limit=sizes.naive_limit,
    )
    result["note"] = f"time-boxed ({sizes.naive_seconds:.0f} s or {sizes.naive_limit} events)"
    return result


def _totals(proc: Proc) -> dict[str, Any]:
    for line in reversed(proc.stdout.read_text().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    return {}


def _first_assigned(proc: Proc) -> float | None:
    """Unix time of the process's first ``partitions assigned`` log line."""
    for line in proc.stderr.read_text(errors="replace").splitlines():
        if '"partitions assigned"' in line:
            ts = json.loads(line)["ts"]
            return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
    return None


def _consume(
    stack: Stack, name: str, dsn: str, group: str, processes: int = 1, probe_rows: bool = False
) -> dict[str, Any]:
    """``convstream consume --until-end`` × ``processes`` in one group; rates by wall and from assignment."""
    env = stack.env(MAIN, dsn, group)
    start = time.time()
    procs = [stack.spawn(f"{name}{i}", ["consume", "--until-end"], env) for i in range(processes)]
    probe = (lambda: stack.count_rows(dsn)) if probe_rows else None
    with RssSampler(procs[0].pid, interval=1.0 if probe_rows else 0.5, probe=probe) as rss:
        for proc in procs:
            if proc.wait(1200) != 0:
                raise RuntimeError(f"{proc.name} failed\n{proc.tail()}")
    end = time.time()
    totals = [_totals(p) for p in procs]
    events = sum(t.get("processed", 0) + t.get("already_folded", 0) for t in totals)
    rows = sum(t.get("rows_inserted", 0) + t.get("rows_updated", 0) for t in totals)
    assigned = [a for a in (_first_assigned(p) for p in procs) if a is not None]
    steady = end - (min(assigned) if assigned else start)
    return {
        "processes": processes,
        "events": events,
        "rows_written": rows,
        "rows_unchanged": sum(t.get("rows_unchanged", 0) for t in totals),
        "already_folded": sum(t.get("already_folded", 0) for t in totals),
        "seconds_wall": round(end - start, 2),
        "seconds_from_assignment": round(steady, 2),
        "events_per_s": round(events / steady, 1) if steady > 0 else 0.0,
        "rows_per_s": round(rows / steady, 1) if steady > 0 else 0.0,
        "events_per_s_incl_startup": round(events / (end - start), 1),
        "rss_samples": [(round(t - rss.samples[0][0], 1), round(mb, 1), n) for t, mb, n in rss.samples]
        if rss.samples
        else [],
        "rss_peak_mb": round(rss.peak, 1),
    }


def scenario_convstream(stack: Stack) -> tuple[dict[str, Any], str]:
    dsn = stack.database("single", MAIN)
    result = _consume(stack, "consume", dsn, stack.name("single"), probe_rows=True)
    return result, dsn


#: Samples on each side of a mark whose median is its RSS (1 s apart: the allocator saw-tooths by ~30 MB with
#: a period of ~10 s, so a single sample says more about the tooth than about the conversations held).
MEMORY_WINDOW = 5


def memory_from(run: dict[str, Any], marks: tuple[int, ...]) -> dict[str, Any]:
    """RSS at each mark of distinct conversations: the median of the samples around the first sample that
    reached it (``MEMORY_WINDOW`` on each side); the single sample is kept as ``rss_mb_sample_at_<mark>``.

    The process may exit between the last sample and the last rows: a mark not reached takes the first
    sample within 10 % of it (its row count is recorded next to it).
    """
    samples = run["rss_samples"]
    out: dict[str, Any] = {
        "peak_mb": run["rss_peak_mb"],
        "final_conversations": samples[-1][2] if samples else 0,
        "method": f"median of the {2 * MEMORY_WINDOW + 1} samples (1 s apart) around the first at the mark",
    }
    for mark in marks:
        index = next((i for i, s in enumerate(samples) if s[2] >= mark), None)
        if index is None:
            near = [i for i, s in enumerate(samples) if s[2] >= 0.9 * mark]
            index = near[0] if near else None
        if index is None:
            out[f"rss_mb_at_{mark}"] = None
            out[f"conversations_at_{mark}_sample"] = None
            continue
        window = sorted(s[1] for s in samples[max(0, index - MEMORY_WINDOW) : index + MEMORY_WINDOW + 1])
        out[f"rss_mb_at_{mark}"] = round(window[len(window) // 2], 1)
        out[f"rss_mb_sample_at_{mark}"] = samples[index][1]
        out[f"conversations_at_{mark}_sample"] = samples[index][2]
    return out


def scenario_replay(stack: Stack, dsn: str) -> dict[str, Any]:
    """``convstream replay --to-earliest --execute`` on the single-consumer group, then re-consume."""
    group = stack.name("single")
    env = stack.env(MAIN, dsn, group)
    stack.run("replay", ["replay", "--to-earliest", "--execute"], env)
    result = _consume(stack, "replay", dsn, group)
    result["method"] = "convstream replay --to-earliest --execute, then consume --until-end"
    return result


def scenario_scale(stack: Stack) -> dict[str, Any]:
    dsn = stack.database("scale", MAIN)
    return _consume(stack, "scale", dsn, stack.name("scale"), processes=2)


def scenario_latency(stack: Stack, sizes: Sizes) -> dict[str, Any]:
    from consumer.adapters.kafka.client import KafkaAdmin
    from consumer.settings import KafkaSettings, TopicSettings

    names = stack.topic_env("lat")
    stack.topics += list(names.values())
    KafkaAdmin(KafkaSettings(bootstrap_servers=stack.bootstrap), timeout_seconds=30).ensure_topics(
        TopicSettings(
            events=names["CONVSTREAM_TOPICS__EVENTS"],
            queues=names["CONVSTREAM_TOPICS__QUEUES"],
            dlq=names["CONVSTREAM_TOPICS__DLQ"],
            partitions=PARTITIONS,
        )
    )
    count = int(sizes.latency_rate * sizes.latency_seconds)
    records = read_records(stack.bootstrap, _events_topic(stack, MAIN), count, stack.name("latread"))
    dsn = stack.database("lat", "lat")
    group = stack.name("lat")
    proc = stack.spawn("latency-consume", ["consume"], stack.env("lat", dsn, group))
    deadline = time.monotonic() + 60
    while not proc.log_contains("partitions assigned") and time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(proc.tail())
        time.sleep(0.1)
    topic = names["CONVSTREAM_TOPICS__EVENTS"]
    with OffsetPoller(dsn, group, topic) as poller, RssSampler(proc.pid) as rss:
        delivered, achieved = paced_publish(stack.bootstrap, topic, records, sizes.latency_rate)
        ends: dict[int, int] = {}
        for partition, offset, _ts in delivered:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stored = stack.committed(dsn, group, topic)
            if all(stored.get(p, 0) >= e for p, e in ends.items()):
                break
            time.sleep(0.2)
        time.sleep(0.1)
    proc.terminate()
    stats = latency_stats(delivered, poller)
    stats.update(
        {
            "target_rate": sizes.latency_rate,
            "achieved_rate": round(achieved, 1),
            "seconds": sizes.latency_seconds,
            "rss_peak_mb": round(rss.peak, 1),
        }
    )
    return stats


PEER_VENV = ROOT / ".cache" / "bench-peer"
PEER_REQUIREMENTS = ROOT / "bench" / "peer-requirements.txt"


def peer_venv_ready() -> bool:
    """The peer venv exists with the current pins."""
    stamp = PEER_VENV / ".requirements"
    return stamp.exists() and stamp.read_text() == PEER_REQUIREMENTS.read_text()


def ensure_peer_venv() -> Path:
    """The peer's own venv (quixstreams conflicts with our confluent-kafka pin), created on first use."""
    python = PEER_VENV / "bin" / "python"
    stamp = PEER_VENV / ".requirements"
    wanted = PEER_REQUIREMENTS.read_text()
    if python.exists() and peer_venv_ready():
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEER_VENV)], check=True, timeout=300)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(PEER_REQUIREMENTS)], check=True, timeout=900)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True, timeout=300)
    stamp.write_text(wanted)
    return python


def scenario_peer(stack: Stack, total: int) -> dict[str, Any]:
    """Quix Streams on the same topic into a fresh database (bench/peer_quix.py, in the peer venv)."""
    python = ensure_peer_venv()
    dsn = stack.database("peer", MAIN)
    state_dir = stack.workdir / "quix-state"
    args = [
        stack.bootstrap,
        stack.registry,
        _events_topic(stack, MAIN),
        dsn,
        stack.name("peer"),
        str(total),
        str(state_dir),
    ]
    try:
        proc = subprocess.run(
            [str(python), str(ROOT / "bench" / "peer_quix.py"), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=90 + total / 2000,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"peer did not finish {total} events in {exc.timeout:.0f}s") from None
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"peer exited {proc.returncode}: {proc.stderr[-1500:]}")
    result = dict(json.loads(lines[-1]))
    result["rows_in_table"] = stack.count_rows(dsn)
    result["note"] = (
        "quixstreams in its own venv (bench/peer-requirements.txt); our codec and fold; state in "
        "Quix's RocksDB store + changelog topic; one upsert transaction per sink batch"
    )
    return result
