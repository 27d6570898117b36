"""``convstream bridge``: publish Genesys messages to Kafka as Avro (README "How it works").

Sources: ``--source genesys`` (the live Genesys Cloud Notifications WebSocket with gap backfill from
the Analytics API and the routing queue directory; see docs/genesys.md), ``--source file FILE…``
(JSON Lines of Notifications envelopes, EventBridge events or analytics records, auto-detected per
line; ``-`` is stdin) or ``--source simulator`` (the contact-center simulator of ``convstream simulate``,
with the same options). ``--queues FILE`` also publishes a queue directory
(JSONL of ``{"id", "name"}``) on the compacted queues topic.

Steps:

1. Load and check the settings; reach Kafka (metadata within the admin timeout) or exit 4.
2. Create the topics when missing (``--no-create-topics`` skips it): configured partitions and replication
   factor, the queues topic compacted.
3. Register the current schemas under ``<topic>-value`` and keep their ids for framing.
4. Publish the queue directory (when given), then every source item (:class:`consumer.bridge.publish.Bridge`);
   SIGTERM/SIGINT stop the reading, and whatever was produced is flushed before exit. With
   ``--source simulator --workers N`` (N > 1), N processes each publish one shard of the simulation
   (:mod:`consumer.bridge.workers`) and the summary merges theirs.
5. Print the summary line; exit 0, or 2 when bad lines were reported. Unacknowledged deliveries exit 1
   (4 when Kafka was unreachable).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

from prometheus_client import CollectorRegistry

from consumer.adapters.kafka.client import KafkaAdmin, KafkaProducerAdapter
from consumer.app.bridge import admin_timeout, register_kafka_secrets, schema_ids
from consumer.app.settings import command_settings
from consumer.bridge.genesys import run_genesys_bridge
from consumer.bridge.metrics import BridgeCollector, bridge_metrics_port, serve_bridge_metrics
from consumer.bridge.publish import TICK_ITEMS, Bridge
from consumer.bridge.sources import directory_records, file_items, simulator_items
from consumer.bridge.workers import WorkerJob, run_workers, shard_options
from consumer.codec.avro import encode_event, encode_queue
from consumer.commands import simulate as simulate_command
from consumer.commands._help import exit_codes
from consumer.observability.logging import configure_logging
from consumer.ports import BridgeItem
from consumer.runtime.gctuning import tune_gc_for_batches
from consumer.settings import Settings
from consumer.simulate import Simulation, SimulationOptions, paced

__all__ = ["DESCRIPTION", "EXAMPLE", "EXIT_CODES", "HELP", "NAME", "add_arguments", "run"]

NAME = "bridge"
HELP = "publish Genesys messages (Genesys Cloud, JSONL files or the simulator) to Kafka as Avro"
DESCRIPTION = """\
Publish Genesys conversation messages to the events topic in Kafka, as Avro, keyed by conversation id.

Where the messages come from (--source):
  genesys    the live Genesys Cloud notifications, with gaps filled from the Analytics API
             (see docs/genesys.md)
  file       JSON Lines files (notifications, EventBridge events or analytics records; '-' is stdin)
  simulator  the contact-center simulator of `convstream simulate`, with its options below
--queues FILE also publishes a queue directory (JSON Lines of {"id", "name"}) on the queues topic.
Missing topics are created and the schemas registered first. Prints progress and a summary on stderr."""
EXAMPLE = """\
convstream bridge --source file conversations.jsonl --queues queues.jsonl
convstream bridge --source simulator --conversations 1000"""
EXIT_CODES = exit_codes(
    {
        0: "every message published (genesys: stopped by SIGTERM or Ctrl-C)",
        1: "some deliveries to Kafka failed",
        2: "bad input lines were reported (the good ones were published), or a usage error",
        3: "invalid configuration, or Genesys refused the OAuth client",
        4: "Kafka, the schema registry or Genesys could not be reached",
    }
)
NOTES = """\
The producer always runs idempotent, with acks=all and Java-compatible partitioning by conversation id."""
SETTINGS = ("bridge", "topics")
OTHER_SETTINGS = ("kafka", "schema_registry", "genesys", "observability")


log = logging.getLogger(__name__)

_EXIT_USAGE: Final = 2
_DEFAULT_ADMIN_TIMEOUT_SECONDS: Final = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--source``, ``FILE…``, ``--queues``, ``--no-create-topics``, ``--progress-seconds`` + simulator."""
    parser.add_argument(
        "--source",
        choices=("genesys", "file", "simulator"),
        default=None,
        help="where messages come from (default: CONVSTREAM_BRIDGE__SOURCE, file when FILEs are given)",
    )
    parser.add_argument(
        "files", nargs="*", metavar="FILE", help="JSONL input files for --source file; '-' = stdin"
    )
    parser.add_argument(
        "--queues",
        metavar="FILE",
        help='queue directory JSONL of {"id", "name"}: published keyed by queue id on the queues topic',
    )
    parser.add_argument(
        "--no-create-topics",
        action="store_true",
        help="do not create missing topics (they must exist; Kafka's auto creation is usually off)",
    )
    parser.add_argument(
        "--progress-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines on stderr (0: none; default 5)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="--source simulator: publish from N processes (N cores), each simulating an independent 1/N "
        "of the contact center (default 1)",
    )
    _add_simulator_arguments(parser)


#: ``convstream simulate`` flags that make no sense here (outputs) or clash with ours (``--queues FILE``).
_SIM_SKIPPED: Final = frozenset({"help", "out", "truth", "queues_out", "quiet"})
_SIM_RENAMED: Final = {"--queues": "--sim-queues"}
_SIM_PREFIX: Final = "sim_"


def _add_simulator_arguments(parser: argparse.ArgumentParser) -> None:
    """Reuse ``convstream simulate``'s model, stopping and delivery flags (one definition, no drift).

    Its ``--queues N`` becomes ``--sim-queues N`` here, because ``--queues FILE`` is the directory file.
    """
    template = argparse.ArgumentParser(add_help=False)
    simulate_command.add_arguments(template)
    group = parser.add_argument_group("simulator (--source simulator; as in `convstream simulate`)")
    for action in template._actions:  # argparse has no public API to copy arguments between parsers
        if action.dest in _SIM_SKIPPED:
            continue
        options = [_SIM_RENAMED.get(option, option) for option in action.option_strings]
        if isinstance(action, argparse._StoreTrueAction):  # --realtime
            group.add_argument(
                *options, dest=_SIM_PREFIX + action.dest, action="store_true", help=action.help
            )
            continue
        if not isinstance(action, argparse._StoreAction):
            continue
        extra: dict[str, Any] = {} if action.type is None else {"type": action.type}
        group.add_argument(
            *options,
            dest=_SIM_PREFIX + action.dest,
            nargs=action.nargs,
            const=action.const,
            default=action.default,
            choices=action.choices,
            help=action.help,
            metavar=action.metavar or action.dest.upper(),
            **extra,
        )


def _simulation_options(args: argparse.Namespace) -> SimulationOptions:
    """The simulation options the ``sim_*`` flags describe (``ValueError`` on a bad value)."""
    values = {k[len(_SIM_PREFIX) :]: v for k, v in vars(args).items() if k.startswith(_SIM_PREFIX)}
    options = simulate_command.options_from_args(argparse.Namespace(**values))
    shard_options(options, 0, args.workers)  # ValueError now, not in a worker, if the run is too small
    return options


def _source(args: argparse.Namespace, settings: Settings) -> str:
    if args.source is not None:
        return str(args.source)
    if args.files:
        return "file"
    return settings.bridge.source


def _items(
    args: argparse.Namespace, simulation: Simulation | None, stop: threading.Event
) -> Iterator[BridgeItem]:
    if simulation is not None:
        # Real time: each message when the wall clock reaches it; SIGTERM (stop) ends the wait at once.
        return simulator_items(paced(simulation, stop) if simulation.options.realtime else simulation)
    return file_items(args.files)


def _report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _usage(message: str) -> int:
    print(f"convstream bridge: error: {message}", file=sys.stderr)
    return _EXIT_USAGE


def _check_usage(args: argparse.Namespace, source: str) -> str | None:
    if source == "genesys" and args.files:
        return "FILE arguments are only for --source file"
    if source == "file" and not args.files:
        return "--source file needs at least one FILE ('-' reads stdin)"
    if source == "simulator" and args.files:
        return "FILE arguments are only for --source file"
    if args.workers < 1:
        return f"--workers must be at least 1 (got {args.workers})"
    if args.workers > 1 and source != "simulator":
        return f"--workers {args.workers} needs --source simulator (the {source} source is one stream)"
    if args.workers > 1 and args.sim_realtime:
        return "--realtime runs one simulator at wall-clock pace: use --workers 1"
    for path in [*(p for p in args.files if p != "-"), *([args.queues] if args.queues else [])]:
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            return f"{path}: {exc.strerror}"
    return None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (reading ends, the bridge flushes); previous handlers restored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> int:
    """Run the bridge (see the module docstring for the steps and exit codes)."""
    # Step 1. Settings, usage, and Kafka reachable.
    settings = command_settings(args)
    register_kafka_secrets(settings)
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    source = _source(args, settings)
    problem = _check_usage(args, source)
    if problem is not None:
        return _usage(problem)
    try:
        options = _simulation_options(args) if source == "simulator" else None
    except ValueError as exc:
        return _usage(str(exc))
    admin = KafkaAdmin(settings.kafka, timeout_seconds=admin_timeout(settings))
    admin.ping()
    # Step 2. Topics.
    if not args.no_create_topics:
        admin.ensure_topics(settings.topics)
    # Step 3. Schemas.
    event_schema_id, queue_schema_id = schema_ids(settings)
    if options is not None and args.workers > 1:
        job = WorkerJob(options, args.workers, event_schema_id, queue_schema_id, args.queues)
        stop = threading.Event()
        with _stop_on_signals(stop):
            return run_workers(job, stop, progress_seconds=args.progress_seconds, report=_report)
    # Every source publishes batches of short-lived objects; the simulator's live model is re-scanned too
    # (see gctuning). Before the simulation: its constructor may run a whole probe simulation.
    tune_gc_for_batches()
    # Entries kept: the bridge normalizes each participant version once, as it changes (faster).
    simulation = Simulation(options, keep_entries=True) if options is not None else None
    if options is not None and options.realtime:
        log.info("simulator in real time", extra={"seed": options.seed, "start_ms": options.start_ms})
    # Step 4. Publish.
    producer = KafkaProducerAdapter(settings.kafka, settings.bridge)
    bridge = Bridge(
        producer,
        events_topic=settings.topics.events,
        event_schema_id=event_schema_id,
        encode_event=encode_event,
        progress_seconds=args.progress_seconds,
        tick_items=1 if options is not None and options.realtime else TICK_ITEMS,
    )
    registry = CollectorRegistry()
    BridgeCollector(bridge, source).register(registry)
    if source == "genesys":
        with _stop_on_signals(bridge.stop_event):
            return run_genesys_bridge(
                settings,
                bridge,
                queue_schema_id,
                registry=registry,
                metrics_port=bridge_metrics_port(settings.observability),
            )
    with _stop_on_signals(bridge.stop_event), serve_bridge_metrics(settings.observability, bridge, registry):
        records = directory_records(
            updated_at=int(time.time() * 1000), path=args.queues, simulation=simulation
        )
        bridge.publish_queues(settings.topics.queues, queue_schema_id, encode_queue, records)
        # Step 5. The summary is reported by the bridge; bad lines decide the exit code.
        summary = bridge.run(_items(args, simulation, bridge.stop_event))
    return summary.exit_code
