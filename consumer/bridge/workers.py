"""``convstream bridge --source simulator --workers N``: N processes, each publishing a simulation shard.

Why: one Python process publishes about 12,000 simulated events/s (simulate, normalize, Avro, produce:
~75 µs of CPU per event, ``scripts/bridge_speed.py``), and the benchmarks need a source of at least
20,000/s. One simulated contact center cannot be split across processes (its agents serve every queue),
so each worker simulates an independent *shard* of it, and the shards together carry the same load.

Shards (:func:`shard_options`; deterministic for the options and N):

- shard ``k`` of ``N`` uses the seed ``seed * 1_000_003 + k`` (``N = 1`` is the unsharded simulation);
- it gets ``1/N`` of ``conversations``, ``events``, ``arrival_rate`` and ``agents`` (remainders go to the
  first shards), the whole ``duration``, and the same queue count (its own queues), mix, handle time,
  start and disorder options. So the traffic has the same shape and volume as the unsharded run, but
  not the same conversations.

Run contract (:func:`run_workers`), followed in this order:

1. The caller has reached Kafka, created the topics and registered the schemas; their ids come in
   ``job``.
2. N worker processes start (``spawn``: no librdkafka state is inherited). Worker ``k``: the settings
   from the same environment, its own producer, its shard's queue directory (worker 0 also the
   ``--queues`` file), then its shard through :meth:`consumer.bridge.publish.Bridge.run`, serving metrics on
   the bridge port + ``k`` (the devstack's Prometheus scrapes 9410-9419; add the ports to your own
   scrape configuration).
3. While they run, a stop request (SIGTERM/SIGINT of the parent), or a worker failing, is forwarded as
   SIGTERM: each worker stops reading and flushes what it produced. A progress line sums the workers'
   counts.
4. Each worker reports its summary or its error; one that dies without reporting counts as failed.
5. The merged summary line is reported and logged. Exit code: the first failed worker's (as the CLI's:
   1, 3 for invalid configuration, 4 when Kafka was unreachable), else ``2`` when bad lines were
   reported, else ``0``. A worker that was sent SIGTERM before it could install its handler (early in
   its start-up) counts as stopped, not failed.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final

from consumer.bridge.publish import Bridge, BridgeSummary
from consumer.errors import EXIT_FAILURE, ConvstreamError, exit_code_for
from consumer.simulate import Simulation, SimulationOptions

__all__ = ["WorkerJob", "run_workers", "shard_options"]

log = logging.getLogger(__name__)

#: Multiplier of the seed in shard seeds (a prime, so shards of different seeds rarely share a seed).
SEED_STRIDE: Final = 1_000_003
#: Seconds between two copies of a worker's published count into the shared progress array.
_COUNT_INTERVAL_SECONDS: Final = 0.5


@dataclass(frozen=True, slots=True)
class WorkerJob:
    """What every worker needs (picklable); ``index``/``options`` are set per worker."""

    options: SimulationOptions
    workers: int
    event_schema_id: int
    queue_schema_id: int
    queues_file: str | None = None
    index: int = 0


def _share(total: int, index: int, workers: int) -> int:
    return total // workers + (1 if index < total % workers else 0)


def _share_or_none(total: int | None, index: int, workers: int) -> int | None:
    return None if total is None else _share(total, index, workers)


def shard_options(options: SimulationOptions, index: int, workers: int) -> SimulationOptions:
    """The options of shard ``index`` of ``workers`` (see the module docstring).

    Raises:
        ValueError: fewer conversations, events or agents than workers.
    """
    if workers == 1:
        return options
    for name in ("conversations", "events", "agents"):
        value = getattr(options, name)
        if value is not None and value < workers:
            raise ValueError(f"--workers {workers} needs at least {workers} {name} (got {value})")
    return replace(
        options,
        seed=options.seed * SEED_STRIDE + index,
        conversations=_share_or_none(options.conversations, index, workers),
        events=_share_or_none(options.events, index, workers),
        agents=_share(options.agents, index, workers),
        arrival_rate=options.arrival_rate / workers,
    )


def run_workers(
    job: WorkerJob,
    stop: threading.Event,
    *,
    progress_seconds: float,
    report: Callable[[str], None],
) -> int:
    """Publish the simulation from ``job.workers`` processes (see the module docstring); the exit code."""
    context = multiprocessing.get_context("spawn")
    counts = context.Array("q", job.workers, lock=False)
    results: Any = context.Queue()
    started = time.monotonic()
    # Step 2. One process per shard.
    processes = []
    for index in range(job.workers):
        shard = replace(job, index=index, options=shard_options(job.options, index, job.workers))
        process = context.Process(
            target=_worker, args=(shard, counts, results), name=f"bridge-worker-{index}"
        )
        process.start()
        processes.append(process)
    try:
        reports = _collect(processes, results, stop, counts, progress_seconds, report, started)
    finally:
        results.close()
        results.join_thread()
    # Step 5. Merge and report.
    summary = _merge(reports.values())
    summary.seconds = time.monotonic() - started
    # A stop forwarded before a worker installed its handler ends it by the signal itself: stopped.
    killed = [i for i, p in enumerate(processes) if i not in reports and p.exitcode == -signal.SIGTERM]
    stopped_early = killed if stop.is_set() else []
    summary.stopped = summary.stopped or bool(stopped_early)
    report(summary.line())
    log.info("bridge finished", extra={**summary.as_fields(), "workers": job.workers})
    for index, process in enumerate(processes):
        if index not in reports and index not in stopped_early:
            report(
                f"bridge: worker {index + 1}/{job.workers} exited with code {process.exitcode} and no summary"
            )
            return EXIT_FAILURE
    for fields in reports.values():
        if fields.get("error"):
            report(f"bridge: worker {int(fields['index']) + 1}/{job.workers}: {fields['error']}")
            return int(fields["exit_code"])
    return summary.exit_code


def _collect(
    processes: list[Any],
    results: Any,
    stop: threading.Event,
    counts: Any,
    progress_seconds: float,
    report: Callable[[str], None],
    started: float,
) -> dict[int, dict[str, Any]]:
    """Steps 3-4: forward a stop, report progress, gather each worker's report until all have exited."""
    reports: dict[int, dict[str, Any]] = {}
    forwarded = False
    next_progress = started + progress_seconds
    while len(reports) < len(processes) and any(p.is_alive() for p in processes):
        try:
            fields = results.get(timeout=0.2)
            reports[int(fields["index"])] = fields
        except queue.Empty:
            pass
        failed = any(f.get("error") for f in reports.values()) or any(
            p.exitcode not in (None, 0) for p in processes
        )
        if (stop.is_set() or failed) and not forwarded:  # one worker failing stops the others too
            forwarded = True
            for process in processes:
                if process.is_alive() and process.pid is not None:
                    os.kill(process.pid, signal.SIGTERM)
        now = time.monotonic()
        if progress_seconds > 0 and now >= next_progress:
            total = sum(counts)
            report(f"bridge: {total} events published ({total / (now - started):,.0f} events/s)")
            next_progress = now + progress_seconds
    while len(reports) < len(processes):  # a report sent just before its worker exited
        try:
            fields = results.get(timeout=0.5)
        except queue.Empty:
            break
        reports[int(fields["index"])] = fields
    for process in processes:
        process.join()
    return reports


def _merge(reports: Any) -> BridgeSummary:
    summary = BridgeSummary()
    for fields in reports:
        if fields.get("summary") is not None:
            summary.add(fields["summary"])
    return summary


def _worker(job: WorkerJob, counts: Any, results: Any) -> None:
    """One shard, in its own process: publish it and put its summary (or error) on ``results``."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: stop.set())
    fields: dict[str, Any] = {"index": job.index}
    try:
        fields["summary"] = _publish_shard(job, stop, counts).summary  # picklable: a slots dataclass
    except ConvstreamError as exc:
        fields.update(error=str(exc), exit_code=exit_code_for(exc))
    results.put(fields)


def _publish_shard(job: WorkerJob, stop: threading.Event, counts: Any) -> Bridge:
    # Imported here: the worker is a fresh (spawned) interpreter; the parent needs none of this.
    from prometheus_client import CollectorRegistry

    from consumer.adapters.kafka.client import KafkaProducerAdapter
    from consumer.bridge.metrics import BridgeCollector, serve_bridge_metrics
    from consumer.bridge.sources import directory_records, simulator_items
    from consumer.codec.avro import encode_event, encode_queue
    from consumer.observability.logging import configure_logging
    from consumer.observability.secrets import register_settings_secrets
    from consumer.runtime.gctuning import tune_gc_for_batches
    from consumer.settings import load_settings

    settings = load_settings()
    register_settings_secrets(settings)  # a spawned interpreter: the parent's redaction is not inherited
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    prefix = f"[worker {job.index + 1}/{job.workers}] "
    bridge = Bridge(
        KafkaProducerAdapter(settings.kafka, settings.bridge),
        events_topic=settings.topics.events,
        event_schema_id=job.event_schema_id,
        encode_event=encode_event,
        report=lambda line: print(prefix + line, file=sys.stderr, flush=True),
        stop=stop,
        progress_seconds=0,
    )
    tune_gc_for_batches()  # before the simulation: its constructor may run a whole probe simulation
    simulation = Simulation(job.options, keep_entries=True)
    path = job.queues_file if job.index == 0 else None  # the file once, each shard's own queues
    records = directory_records(updated_at=int(time.time() * 1000), path=path, simulation=simulation)
    bridge.publish_queues(settings.topics.queues, job.queue_schema_id, encode_queue, records)
    registry = CollectorRegistry()
    BridgeCollector(bridge, "simulator").register(registry)
    metrics = serve_bridge_metrics(settings.observability, bridge, registry, port_offset=job.index)
    with metrics, _counting(bridge, counts, job.index):
        bridge.run(simulator_items(simulation))
    return bridge


@contextmanager
def _counting(bridge: Bridge, counts: Any, index: int) -> Iterator[None]:
    """Copy the worker's published count into the shared array while the run lasts (for progress)."""
    done = threading.Event()

    def copy() -> None:
        while not done.wait(_COUNT_INTERVAL_SECONDS):
            counts[index] = bridge.summary.events_published

    thread = threading.Thread(target=copy, name="bridge-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        counts[index] = bridge.summary.events_published
