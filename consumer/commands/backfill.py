"""``convstream backfill --from T --to T``: the bridge's analytics backfill on demand (docs/reprocessing.md).

Reads every conversation of the interval from the Genesys Analytics conversation details API (sync
query for intervals up to ``CONVSTREAM_GENESYS__BACKFILL__JOB_THRESHOLD_SECONDS``, an async job beyond,
or as ``--method`` says) and publishes each as an ``analytics`` snapshot through the bridge's publish
path (same Avro schema, same key, same PII policy). Re-running it is harmless: the fold absorbs
duplicates.

Steps:

1. Load the settings; parse ``--from``/``--to`` (ISO-8601; naive = UTC) or exit 2.
2. Reach Kafka, create missing topics, register the schemas (as ``convstream bridge``).
3. Read the records and publish them, with a progress line every ``--progress-seconds``.
4. Flush; print the summary line (conversations, API calls). Exit 0, 2 when records were malformed,
   1 when deliveries failed, 3 on refused credentials, 4 when Kafka or Genesys is unreachable.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry

from consumer.adapters.kafka.client import KafkaAdmin, KafkaProducerAdapter
from consumer.app.bridge import admin_timeout, register_kafka_secrets, schema_ids
from consumer.app.settings import command_settings
from consumer.bridge.genesys import build_client, pii_policy
from consumer.bridge.publish import Bridge
from consumer.codec.avro import encode_event
from consumer.commands._help import exit_codes
from consumer.genesys.cloud.analytics import AnalyticsReader
from consumer.genesys.cloud.source import backfill_items
from consumer.genesys.times import parse_time
from consumer.ports import BridgeItem

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "backfill"
HELP = "publish Genesys analytics conversation details of an interval (the gap backfill, on demand)"
DESCRIPTION = """\
Publish every conversation of a time interval from the Genesys Cloud Analytics API to the events topic,
as the bridge does for the gaps it notices by itself. Use it to fill a gap by hand, e.g. after the
bridge was down longer than its start-up look-back. Short intervals use a details query, long ones an
asynchronous job (--method). Running it twice is harmless: duplicates fold to the same rows.
Prints progress and a summary (conversations, API calls) on stderr."""
EXAMPLE = """\
convstream backfill --from 2025-01-01T08:00:00Z --to 2025-01-01T12:00:00Z"""
EXIT_CODES = exit_codes(
    {
        0: "every conversation of the interval published",
        1: "some deliveries to Kafka failed",
        2: "malformed records were reported (the others were published), or a usage error",
        3: "invalid configuration, or Genesys refused the OAuth client",
        4: "Kafka, the schema registry or Genesys could not be reached",
    }
)
SETTINGS = ("genesys",)
OTHER_SETTINGS = ("kafka", "schema_registry", "topics", "bridge")

_EXIT_USAGE: Final = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--from``, ``--to``, ``--method``, ``--progress-seconds``, ``--no-create-topics``."""
    parser.add_argument(
        "--from", dest="start", required=True, metavar="T", help="interval start, ISO-8601 (no zone: UTC)"
    )
    parser.add_argument(
        "--to", dest="end", required=True, metavar="T", help="interval end, ISO-8601 (no zone: UTC)"
    )
    parser.add_argument(
        "--method",
        choices=("auto", "query", "job"),
        default="auto",
        help="sync details query or async job (auto: by interval length; default auto)",
    )
    parser.add_argument(
        "--progress-seconds",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds between progress lines on stderr (default 5)",
    )
    parser.add_argument("--no-create-topics", action="store_true", help="do not create missing topics")


def _interval(args: argparse.Namespace) -> tuple[int, int] | str:
    try:
        start, end = parse_time(args.start), parse_time(args.end)
    except ValueError as exc:
        return str(exc)
    if end <= start:
        return "--to must be after --from"
    return start, end


def _progress(
    items: Iterator[BridgeItem], reader: AnalyticsReader, every: float, report: Callable[[str], None]
) -> Iterator[BridgeItem]:
    count = 0
    next_at = time.monotonic() + every
    for item in items:
        count += 1
        yield item
        if every > 0 and time.monotonic() >= next_at:
            next_at = time.monotonic() + every
            report(f"backfill: {count} conversations read ({reader.calls} API calls)")
    report(f"backfill: {count} conversations read in {reader.calls} API calls")


def run(args: argparse.Namespace) -> int:
    """Run the backfill (steps in the module docstring)."""
    # Step 1. Settings and interval.
    settings = command_settings(args)
    register_kafka_secrets(settings)
    interval = _interval(args)
    if isinstance(interval, str):
        print(f"convstream backfill: error: {interval}", file=sys.stderr)
        return _EXIT_USAGE
    start, end = interval
    client, _metrics = build_client(settings.genesys, CollectorRegistry())
    try:
        # Step 2. Kafka, topics, schemas.
        admin = KafkaAdmin(settings.kafka, timeout_seconds=admin_timeout(settings))
        admin.ping()
        if not args.no_create_topics:
            admin.ensure_topics(settings.topics)
        event_schema_id, _queue_schema_id = schema_ids(settings)
        bridge = Bridge(
            KafkaProducerAdapter(settings.kafka, settings.bridge),
            events_topic=settings.topics.events,
            event_schema_id=event_schema_id,
            encode_event=encode_event,
            progress_seconds=0,
        )
        # Step 3. Read and publish.
        reader = AnalyticsReader(client, settings.genesys.backfill)
        method = None if args.method == "auto" else args.method
        policy = pii_policy(settings.genesys.pii)
        now = int(time.time() * 1000)
        records = backfill_items(reader, start, end, received_at=now, pii=policy, method=method)
        # Step 4. Flush and summary (Bridge.run).
        summary = bridge.run(_progress(records, reader, args.progress_seconds, _stderr))
    finally:
        client.close()
    return summary.exit_code


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
