"""The demo (``convstream demo`` / ``make demo``): simulator -> bridge -> Kafka -> consumer -> Postgres, live.

Guarantees:

1. Topics are created when missing and the database is migrated (both idempotent), so the demo runs on a
   fresh devstack and again on a used one; names come from the settings (group ``convstream`` by default).
2. The simulator runs in real time (:mod:`consumer.simulate.realtime`: its clock is the wall clock from
   the start, arrivals at ``arrival_rate``, handle times of ``handle_time_s``) and is published through the
   bridge's own publish path (:class:`consumer.bridge.publish.Bridge`) for ``seconds``; the consumer is a real
   ``convstream consume`` subprocess (its JSON logs go to a file, not the screen).
3. One progress line (refreshed in place on a TTY, one log line every few seconds otherwise): elapsed,
   events published, events/s consumed (committed offsets in Postgres), lag, and the contact center now:
   conversations by current status (waiting, connected, wrap-up …), then how many have ended.
4. After the publishing stops, the consumer is given up to ``drain_seconds`` to reach lag 0, then SIGTERM
   (it finishes its batch and exits 0); a consumer that exits early or non-zero fails the demo.
5. A summary (conversations by status, by last queue top 5, events, DLQ records) and where to look next:
   Prometheus with a ready query, ``convstream status``, SQL, the consumer's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TextIO

import psycopg
from psycopg import sql as pgsql

from consumer.adapters.kafka.client import KafkaAdmin, KafkaProducerAdapter
from consumer.adapters.postgres.store import PostgresStore
from consumer.adapters.schema_registry import SchemaRegistry, subject_for
from consumer.bridge.publish import Bridge, BridgeSummary
from consumer.bridge.sources import directory_records, simulator_items
from consumer.codec.avro import encode_event, encode_queue
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, schema_text
from consumer.errors import ConvstreamError, TransientError
from consumer.ops.migrate import migrate
from consumer.ports import BridgeItem
from consumer.settings import Settings
from consumer.simulate import Simulation, SimulationOptions, live, paced

__all__ = ["DemoOptions", "DemoSample", "format_next_steps", "format_progress", "format_summary", "run_demo"]

_SAMPLE_SECONDS: Final = 1.0
_LOG_LINE_SECONDS: Final = 5.0
#: The ready Prometheus query the demo ends with: the pipeline's event-to-row latency, live.
PROMETHEUS_QUERY: Final = (
    "histogram_quantile(0.95, sum by (le) (rate(convstream_event_to_row_latency_seconds_bucket[1m])))"
)


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What ``convstream demo`` was asked for."""

    seconds: float = 60.0
    arrival_rate: float = 1.0
    handle_time_s: float = 30.0
    agents: int = 64  # a little above the load of 1 arrival/s at 30 s: short queues, some waiting
    seed: int = 1
    drain_seconds: float = 60.0
    log_dir: Path = Path("/tmp/convstream-demo")  # noqa: S108 - a log location shown to the user
    prometheus_url: str = "http://127.0.0.1:19090"  # the devstack's; shown, never queried


@dataclass(frozen=True, slots=True)
class DemoSample:
    """One observation of the running pipeline."""

    elapsed: float
    published: int
    consumed_per_second: float
    lag: int
    by_status: Sequence[tuple[Any, int]] = field(default_factory=tuple)


def format_progress(s: DemoSample) -> str:
    """``[ 12s] published 610 | consumed 9 ev/s | lag 0 | now: connected 31 · waiting_in_queue 4 | ended 80``.

    The contact center as it is now: conversations by current status (most first), the ended ones last.
    """
    ended = sum(n for v, n in s.by_status if v == "ended")
    now = " · ".join(f"{'(none)' if v is None else v} {n:,}" for v, n in s.by_status if v != "ended")
    center = f"now: {now or 'none in progress'} | ended {ended:,}" if s.by_status else "no rows yet"
    return (
        f"[{s.elapsed:4.0f}s] published {s.published:,} | consumed {s.consumed_per_second:,.0f} ev/s"
        f" | lag {s.lag:,} | {center}"
    )


def _table(title: str, rows: Sequence[tuple[Any, int]]) -> list[str]:
    labels = ["(none)" if value is None else str(value) for value, _ in rows]
    width = max([len(title), *map(len, labels)])
    out = [f"  {title:<{width}}  {'count':>7}", f"  {'-' * width}  {'-' * 7}"]
    out += [f"  {label:<{width}}  {count:>7,}" for label, (_, count) in zip(labels, rows, strict=True)]
    return out


def format_summary(
    by_status: Sequence[tuple[Any, int]],
    by_queue: Sequence[tuple[Any, int]],
    published: int,
    in_topic: int,
    dlq: int,
    seconds: float,
) -> str:
    """The end-of-demo summary table."""
    lines = [
        f"convstream demo: {published:,} events published in {seconds:.0f} s; "
        f"{sum(n for _, n in by_status):,} conversations in the table",
        "",
    ]
    lines += _table("conversations by status", by_status)
    lines += [f"  {'total':<23}  {sum(n for _, n in by_status):>7,}", ""]
    lines += _table("last queue (top 5)", list(by_queue)[:5])
    lines += [
        "",
        f"  events on the topic (all runs)  {in_topic:,}",
        f"  dead-lettered (DLQ records)     {dlq:,}",
    ]
    return "\n".join(lines)


def _psql_dsn(dsn: str) -> str:
    """The DSN for a ``psql`` hint, password masked."""
    if "://" not in dsn:
        return dsn
    parts = urllib.parse.urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":****@")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def prometheus_link(prometheus_url: str, query: str = PROMETHEUS_QUERY) -> str:
    """A Prometheus graph page with ``query`` over the last 15 minutes."""
    params = urllib.parse.urlencode({"g0.expr": query, "g0.tab": "0", "g0.range_input": "15m"})
    return f"{prometheus_url.rstrip('/')}/graph?{params}"


def format_next_steps(
    metrics_url: str, dsn: str, table: str, example_id: str | None, log: Path, prometheus_url: str
) -> str:
    """Where to look next."""
    # Shown to the user, never executed here; the table name is a validated setting.
    sql = f"SELECT calculated_status, count(*) FROM {table} GROUP BY 1 ORDER BY 2 DESC"  # noqa: S608
    return "\n".join([
        "next:",
        f"  Prometheus    {prometheus_link(prometheus_url)}",
        f"                (event-to-row latency p95: {PROMETHEUS_QUERY})",
        f"  metrics       {metrics_url}  (served while `convstream consume` runs)",
        "  counts        convstream status",
        f"  one row       convstream status {example_id or '<conversation_id>'}",
        f"  SQL           psql '{_psql_dsn(dsn)}' -c '{sql}'",
        f"  consumer log  {log}",
    ])  # fmt: skip


class _Monitor:
    """Reads lag, committed offsets and status counts (Kafka admin + Postgres)."""

    def __init__(self, admin: KafkaAdmin, store: PostgresStore, group: str, topic: str) -> None:
        self._admin, self._store, self._group, self._topic = admin, store, group, topic

    def committed_and_lag(self) -> tuple[int, int]:
        ends = self._admin.end_offsets(self._topic)
        stored = self._store.stored_offsets(self._group, self._topic)
        committed = sum(stored.get(p, 0) for p in ends)
        return committed, sum(ends.values()) - committed

    def by(self, column: str) -> list[tuple[Any, int]]:
        return self._store.count_by(column)


class _Line:
    """The single progress line: in place on a TTY, a log line every few seconds otherwise."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._last = -_LOG_LINE_SECONDS

    def show(self, sample: DemoSample, *, final: bool = False) -> None:
        if self._tty:
            self._out.write("\r\x1b[K" + format_progress(sample))
        elif final or sample.elapsed - self._last >= _LOG_LINE_SECONDS:
            self._last = sample.elapsed
            self._out.write(format_progress(sample) + "\n")
        self._out.flush()

    def end(self) -> None:
        if self._tty:
            self._out.write("\n")
            self._out.flush()


class _Publisher(threading.Thread):
    """The bridge, publishing the paced simulator until stopped."""

    def __init__(self, bridge: Bridge, items: Iterator[BridgeItem]) -> None:
        super().__init__(name="demo-bridge", daemon=True)
        self.bridge, self._items = bridge, items
        self.error: BaseException | None = None
        self.summary: BridgeSummary | None = None

    def run(self) -> None:
        try:
            self.summary = self.bridge.run(self._items)
        except BaseException as exc:  # reported by the caller (run_demo re-raises it)
            self.error = exc


def _schema_ids(settings: Settings) -> tuple[int, int]:
    registry = SchemaRegistry(settings.schema_registry)
    try:
        return (
            registry.register(subject_for(settings.topics.events), schema_text(CONVERSATION_EVENT)),
            registry.register(subject_for(settings.topics.queues), schema_text(QUEUE)),
        )
    finally:
        registry.close()


def _start_consumer(log: Path) -> subprocess.Popen[bytes]:
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CONVSTREAM_OBSERVABILITY__LOG_FORMAT": "json"}
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "consumer.cli", "consume"],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _metrics_url(log: Path, host: str, port: int) -> str:
    """The consumer's /metrics URL; the bound port is read from its log when the setting is 0."""
    for line in log.read_text(errors="replace").splitlines():
        if '"health server listening"' in line:
            try:
                port = int(json.loads(line)["port"])
            except (ValueError, KeyError):
                continue
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - comparing, not binding
    return f"http://{shown}:{port}/metrics"


def _tail(log: Path, lines: int = 8) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _prepare(settings: Settings) -> tuple[KafkaAdmin, tuple[int, int]]:
    """Step 1: topics, migration, schemas."""
    admin = KafkaAdmin(settings.kafka)
    admin.ping()
    admin.ensure_topics(settings.topics)
    pg = settings.postgres
    dsn = (pg.migration_dsn or pg.dsn).get_secret_value()
    migrate(dsn, table=pg.table, connect_timeout=pg.connect_timeout_seconds)
    return admin, _schema_ids(settings)


def _bridge(settings: Settings, ids: tuple[int, int], options: DemoOptions) -> _Publisher:
    """Step 2: the queue directory, then the real-time simulator, on a bridge thread."""
    sim = Simulation(
        live(
            SimulationOptions(
                seed=options.seed,
                realtime=True,
                arrival_rate=options.arrival_rate,
                handle_time_s=options.handle_time_s,
                agents=options.agents,
                duplicate_rate=0.02,
                reorder_window=8,
            )
        ),
        keep_entries=True,
    )
    producer = KafkaProducerAdapter(settings.kafka, settings.bridge)
    bridge = Bridge(
        producer,
        events_topic=settings.topics.events,
        event_schema_id=ids[0],
        encode_event=encode_event,
        report=lambda _line: None,
        progress_seconds=0,
        tick_items=1,  # a live contact center's few events/s: serve delivery reports as they come
    )
    records = directory_records(updated_at=int(time.time() * 1000), simulation=sim)
    bridge.publish_queues(settings.topics.queues, ids[1], encode_queue, records)
    publisher = _Publisher(bridge, simulator_items(paced(sim, bridge.stop_event)))
    publisher.start()
    return publisher


class _Run:
    """Steps 3-4: watch the pipeline; stop publishing after ``seconds``; drain; stop the consumer."""

    def __init__(
        self, monitor: _Monitor, publisher: _Publisher, consumer: subprocess.Popen[bytes], out: TextIO
    ) -> None:
        self.monitor, self.publisher, self.consumer = monitor, publisher, consumer
        self.line = _Line(out)
        self.started = time.monotonic()
        self._prev: tuple[float, int] | None = None
        self.lag = -1

    def sample(self, *, final: bool = False) -> DemoSample:
        committed, self.lag = self.monitor.committed_and_lag()
        now = time.monotonic()
        rate = 0.0
        if self._prev is not None and now > self._prev[0]:
            rate = (committed - self._prev[1]) / (now - self._prev[0])
        self._prev = (now, committed)
        sample = DemoSample(
            now - self.started,
            self.publisher.bridge.summary.events_published,
            rate,
            self.lag,
            self.monitor.by("calculated_status"),
        )
        self.line.show(sample, final=final)
        return sample

    def watch(self, until: Callable[[], bool], deadline: float) -> bool:
        """Sample every second until ``until()`` or the deadline; False if the consumer exited."""
        while time.monotonic() < deadline:
            # A broker or database hiccup (e.g. leaders of just-created topics) only skips one sample.
            with contextlib.suppress(TransientError):
                self.sample()
            if self.consumer.poll() is not None or self.publisher.error is not None:
                return False
            if until():
                return True
            time.sleep(_SAMPLE_SECONDS)
        return True

    def stop_consumer(self, grace: float) -> int:
        if self.consumer.poll() is None:
            self.consumer.send_signal(signal.SIGTERM)
        try:
            return self.consumer.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.consumer.kill()
            return self.consumer.wait()


def run_demo(settings: Settings, options: DemoOptions, out: TextIO = sys.stdout) -> int:
    """Run the demo (see the module docstring); returns the exit code."""
    admin, ids = _prepare(settings)
    log = options.log_dir / "consumer.log"
    consumer = _start_consumer(log)
    publisher = _bridge(settings, ids, options)
    obs = settings.observability
    with PostgresStore(settings.postgres) as store:
        run = _Run(
            _Monitor(admin, store, settings.consumer.group_id, settings.topics.events),
            publisher,
            consumer,
            out,
        )
        try:
            ok = run.watch(lambda: False, run.started + options.seconds)
            publisher.bridge.stop_event.set()
            publisher.join()
            ok = ok and run.watch(lambda: run.lag == 0, time.monotonic() + options.drain_seconds)
            with contextlib.suppress(TransientError):
                run.sample(final=True)
        finally:
            publisher.bridge.stop_event.set()
            code = run.stop_consumer(settings.consumer.shutdown_grace_seconds + 10)
            run.line.end()
        if publisher.error is not None:
            raise ConvstreamError(f"demo: publishing failed: {publisher.error}") from publisher.error
        if not ok or code != 0:
            print(
                f"convstream demo: the consumer exited with code {code}; its log ({log}) ends with:\n"
                f"{_tail(log)}",
                file=out,
            )
            return 1
        published = publisher.summary.events_published if publisher.summary else 0
        example = _recent_id(settings)
        print(
            format_summary(
                store.count_by("calculated_status"),
                store.count_by("last_queue_name"),
                published,
                sum(admin.end_offsets(settings.topics.events).values()),
                sum(admin.end_offsets(settings.topics.dlq).values()),
                options.seconds,
            ),
            file=out,
        )
    if run.lag != 0:
        print(
            f"\nwarning: lag is still {run.lag:,} after {options.drain_seconds:.0f} s of draining", file=out
        )
    print(
        "\n"
        + format_next_steps(
            _metrics_url(log, obs.metrics_host, obs.metrics_port),
            settings.postgres.dsn.get_secret_value(),
            settings.postgres.table,
            example,
            log,
            options.prometheus_url,
        ),
        file=out,
    )
    return 0 if run.lag == 0 else 1


def _recent_id(settings: Settings) -> str | None:
    """The most recently updated conversation id, for the ``convstream status <id>`` hint."""
    pg = settings.postgres
    query = pgsql.SQL("SELECT conversation_id FROM {} ORDER BY db_last_updated DESC LIMIT 1").format(
        pgsql.Identifier(pg.table)
    )
    try:
        with psycopg.connect(
            pg.dsn.get_secret_value(), connect_timeout=round(pg.connect_timeout_seconds)
        ) as c:
            row = c.execute(query).fetchone()
    except psycopg.Error:
        return None  # only a hint
    return None if row is None else str(row[0])
