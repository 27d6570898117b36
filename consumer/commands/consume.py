"""``convstream consume [--until-end] [--group-id G]``: Kafka -> conversation table (README "How it works").

Steps (SIGTERM/SIGINT are handled from the very start: during steps 1-3 a signal abandons the start-up,
closing what was opened, and exits 0 without printing totals):

1. Load the settings (environment only), configure JSON logging, register secrets, fix glibc's malloc
   thresholds (:mod:`consumer.consume.memtuning`: RSS).
2. Reach Postgres and Kafka (exit 4 when either cannot be reached); warn when the queues topic has more
   than one partition (:func:`warn_uneven_assignment`); in bounded mode capture the end offsets of every
   partition of the events and queues topics.
3. Start the lag monitor (:mod:`consumer.observability.lag`: lag gauges and dependency reachability from
   its own thread and connections, so they stay true while the loop is idle or stuck), then serve
   ``/metrics``, ``/livez``, ``/readyz`` on the observability port (default 9400; 0: any free port).
4. Build the Avro reader, tune the GC (:mod:`consumer.runtime.gctuning`), then run the pipeline
   (:mod:`consumer.consume.pipeline`) until SIGTERM/SIGINT (finish the batch, commit, close;
   exit 0 within ``shutdown_grace_seconds``) or, with ``--until-end``, until every captured end offset is
   committed in Postgres (exit 0).
5. Print the totals as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from typing import Any

from prometheus_client import CollectorRegistry

from consumer.adapters.kafka.client import KafkaAdmin
from consumer.adapters.postgres.store import PostgresStore
from consumer.adapters.schema_registry import SchemaRegistry
from consumer.app.settings import command_settings
from consumer.codec.avro import warm_up_decoder
from consumer.codec.fastread import C_AVAILABLE
from consumer.commands._help import exit_codes
from consumer.consume.memtuning import tune_malloc_for_rss
from consumer.consume.pipeline import Pipeline
from consumer.consume.pipeline_support import Totals
from consumer.consume.wiring import build_pipeline
from consumer.errors import ConfigError, ConvstreamError
from consumer.observability.health import HealthServer, HealthState
from consumer.observability.lag import LAG_MONITOR_SECONDS, LagMonitor
from consumer.observability.lag_kafka import KafkaLagReader
from consumer.observability.logging import configure_logging, register_secret
from consumer.observability.metrics import ConsumerMetrics
from consumer.ports import TP
from consumer.runtime.gctuning import tune_gc_for_batches
from consumer.settings import Settings

__all__ = [
    "DESCRIPTION",
    "EXAMPLE",
    "EXIT_CODES",
    "HELP",
    "NAME",
    "add_arguments",
    "build_pipeline",
    "run",
    "start_lag_monitor",
]

NAME = "consume"
HELP = "consume the events topic into the conversation table (exactly-once effects)"
DESCRIPTION = """\
Read the events topic (and the queue directory topic) from Kafka and keep one row per conversation in
the PostgreSQL conversation table up to date, each event applied exactly once. Records that cannot be
processed go to the dead-letter topic; the others keep flowing. Runs until SIGTERM or Ctrl-C (it
finishes the batch in flight first), or with --until-end until it has caught up with the topic's end at
start. Serves /metrics, /livez and /readyz; prints the totals as one JSON line on stdout at the end."""
EXAMPLE = """\
convstream consume
convstream consume --until-end --group-id catch-up"""
EXIT_CODES = exit_codes(
    {
        0: "stopped by SIGTERM or Ctrl-C, or (--until-end) caught up",
        4: "Kafka, the schema registry or PostgreSQL could not be reached at start",
    },
    1,
    3,
    5,
)
NOTES = """\
Memory and throughput tuning: README, "Consuming fast"."""
SETTINGS = ("consumer", "observability")
OTHER_SETTINGS = ("kafka", "schema_registry", "postgres", "topics")


log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--until-end``, ``--group-id``."""
    parser.add_argument(
        "--until-end",
        action="store_true",
        help="capture the end offsets at start and exit 0 once all are committed (backfill, replay, tests)",
    )
    parser.add_argument(
        "--group-id", metavar="G", default=None, help="consumer group (default CONVSTREAM_CONSUMER__GROUP_ID)"
    )


def _register_secrets(settings: Settings) -> None:
    for secret in (
        settings.kafka.sasl_password,
        settings.kafka.ssl_key_password,
        settings.schema_registry.basic_auth_password,
        settings.postgres.dsn,
    ):
        if secret is not None:
            register_secret(secret.get_secret_value())


def end_offsets(admin: KafkaAdmin, settings: Settings) -> dict[TP, int]:
    """The end offset of every partition of the events topic and (when it exists) the queues topic."""
    topics = admin.list_topics()
    if settings.topics.events not in topics:
        raise ConvstreamError(f"topic {settings.topics.events!r} does not exist (CONVSTREAM_TOPICS__EVENTS)")
    out: dict[TP, int] = {}
    for topic in (settings.topics.events, settings.topics.queues):
        if topic in topics:
            out.update({(topic, p): o for p, o in admin.end_offsets(topic).items()})
    return out


def warn_uneven_assignment(partitions: Mapping[str, int], settings: Settings) -> bool:
    """Warn (and return True) when the queues topic has more than one partition.

    The cooperative-sticky assignor balances the *total* partition count over both subscribed topics, so
    with a 12-partition queues topic one member of two can end up with all of its partitions and none of
    the events topic's, and sit idle (measured: 2 processes as fast as 1).
    """
    topics = settings.topics
    queues = partitions.get(topics.queues, 0)
    if queues <= 1:
        return False
    log.warning(
        "the queues topic has more than 1 partition: members may get only queue partitions and sit idle; "
        "recreate it with 1 (CONVSTREAM_TOPICS__QUEUES_PARTITIONS, docs/runbook.md)",
        extra={
            "topic": topics.queues,
            "partitions": queues,
            "events_partitions": partitions.get(topics.events),
        },
    )
    return True


def start_lag_monitor(
    settings: Settings, stack: ExitStack, pipeline: Pipeline, observe: tuple[ConsumerMetrics, HealthState]
) -> LagMonitor:
    """Start the lag monitor of ``pipeline``'s group on its own Postgres pool, Kafka client and registry
    client (a blocked loop must not hold them); stopped and closed by ``stack``."""
    config = pipeline.config
    store = stack.enter_context(
        PostgresStore(
            settings.postgres.model_copy(
                update={"pool_min_size": 0, "pool_max_size": 1, "statement_timeout_seconds": 10.0}
            )
        )
    )
    reader = KafkaLagReader(settings.kafka, config.group_id)
    stack.callback(reader.close)
    registry = SchemaRegistry(settings.schema_registry)
    stack.callback(registry.close)
    monitor = LagMonitor(
        config.group_id,
        [config.events_topic, config.queues_topic],
        (store, reader),
        observe,
        interval=LAG_MONITOR_SECONDS,
        registry_ping=registry.ping,
    )
    monitor.start()
    stack.callback(monitor.stop)
    return monitor


class _Interrupted(BaseException):
    """SIGTERM/SIGINT before the pipeline runs: abandon the start-up (nothing to finish or commit)."""


class _Signals:
    """SIGTERM/SIGINT handling for the whole command, installed before anything else.

    Before the pipeline runs, a signal aborts the start-up (:class:`_Interrupted`: everything opened is
    closed, exit 0). Once it runs, a signal stops it gracefully (finish the batch, commit, close).
    """

    def __init__(self) -> None:
        self.pipeline: Pipeline | None = None
        self.received: str | None = None

    def handle(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        first = self.received is None
        self.received = name
        if self.pipeline is None:
            raise _Interrupted(name)
        if first:
            log.info("stopping", extra={"signal": name})
        self.pipeline.stop()

    def running(self, pipeline: Pipeline) -> None:
        """From now on a signal stops ``pipeline`` (at once if one already came)."""
        self.pipeline = pipeline
        if self.received is not None:
            pipeline.stop()


@contextmanager
def _signals() -> Iterator[_Signals]:
    """Install the handlers (main thread only) until the command returns; the previous ones after."""
    signals = _Signals()
    if threading.current_thread() is not threading.main_thread():
        yield signals
        return
    previous = {sig: signal.signal(sig, signals.handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield signals
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    """Run the consumer (see the module docstring for the steps and exit codes)."""
    with _signals() as signals:
        try:
            totals = _run(args, signals)
        except _Interrupted as stop:
            log.info("stopped during start-up", extra={"signal": str(stop)})
            return 0
        # Step 5.
        print(json.dumps(totals.as_fields(), sort_keys=True), flush=True)
    return 0


def _run(args: argparse.Namespace, signals: _Signals) -> Totals:
    # Step 1.
    settings = command_settings(args)
    _register_secrets(settings)
    obs = settings.observability
    configure_logging(obs.log_level, obs.log_format)
    malloc_tuned = tune_malloc_for_rss()
    group = args.group_id or settings.consumer.group_id
    log.info("consumer starting up", extra={"group_id": group, "malloc_tuned": malloc_tuned})
    with ExitStack() as stack:
        prom = CollectorRegistry()
        metrics = ConsumerMetrics.create(prom)
        health = HealthState(
            live_timeout_seconds=settings.consumer.wedge_timeout_seconds,
            require_registry=True,
            commit_timeout_seconds=settings.consumer.ready_commit_timeout_seconds,
        )
        pipeline, store, health, prom = build_pipeline(
            settings, stack, args.group_id, observe=(metrics, health, prom)
        )
        # Step 2.
        store.ping()
        health.store_ok()
        admin = KafkaAdmin(settings.kafka)
        admin.ping()
        warn_uneven_assignment(admin.list_topics(), settings)
        ends = end_offsets(admin, settings) if args.until_end else None
        # Step 3.
        start_lag_monitor(settings, stack, pipeline, (metrics, health))
        server = HealthServer(obs.metrics_host, obs.metrics_port, prom, health)
        try:
            server.start()
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {obs.metrics_host}:{obs.metrics_port}: {exc.strerror}",
                variable="CONVSTREAM_OBSERVABILITY__METRICS_PORT",
            ) from exc
        stack.callback(server.stop)
        # Step 4.
        warm_up_decoder()
        if not C_AVAILABLE:
            log.warning(
                "the C Avro reader is not built; decoding with the pure-Python reader (about 7x slower). "
                "Reinstall with a C compiler present (README: Consuming fast)."
            )
        tune_gc_for_batches()
        signals.running(pipeline)
        log.info(
            "consumer starting",
            extra={"group_id": pipeline.config.group_id, "until_end": bool(ends is not None)},
        )
        return pipeline.run(ends)
