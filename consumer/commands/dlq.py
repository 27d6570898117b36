"""``convstream dlq replay [--from-beginning] [--limit N] [--dry-run]``: re-publish dead letters.

Reads the dead-letter topic (``CONVSTREAM_TOPICS__DLQ``) with its own consumer group
(``<CONVSTREAM_CONSUMER__GROUP_ID>-dlq-replay``) up to the end offsets captured at start, and produces each
record's original key and value back to its original topic (the events or queues topic), after the cause
was fixed (e.g. a schema registered, a fold bug fixed). Prints the counts as one JSON line.
See :mod:`consumer.consume.dlq_replay` for the steps.

exit codes: 0 done; 1 deliveries failed; 3 invalid configuration; 4 Kafka unreachable.
"""

from __future__ import annotations

import argparse
import json

from consumer.adapters.kafka.client import KafkaAdmin, KafkaProducerAdapter
from consumer.adapters.kafka.consumer import KafkaConsumerAdapter
from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.consume.dlq_replay import ReplayTarget, replay
from consumer.observability.logging import configure_logging, register_secret

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "dlq"
HELP = "dead-letter topic tools: `dlq replay` re-publishes dead letters to their original topic"
DESCRIPTION = """\
Work with the dead-letter topic, where the consumer puts records it could not process.

replay    read the dead letters (up to the topic's end at start, with a consumer group of its own) and
          publish each one's original key and value again to the topic it came from: run it after the
          cause was fixed (e.g. a schema registered or a fold bug fixed). Prints the counts as JSON."""
EXAMPLE = """\
convstream dlq replay --dry-run
convstream dlq replay --limit 100"""
EXIT_CODES = exit_codes({0: "done", 1: "some deliveries failed"}, 2, 3, 4)
SETTINGS: tuple[str, ...] = ()
OTHER_SETTINGS = ("kafka", "topics", "consumer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``replay`` with ``--from-beginning``, ``--limit N``, ``--dry-run``, ``--group-id G``."""
    sub = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    rep = sub.add_parser(
        "replay",
        help="re-publish dead letters (original key and value) to their topic",
        description=DESCRIPTION,
        epilog=parser.epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rep.add_argument(
        "--from-beginning", action="store_true", help="start at the beginning, not the replay group's offsets"
    )
    rep.add_argument("--limit", type=int, metavar="N", default=None, help="replay at most N dead letters")
    rep.add_argument("--dry-run", action="store_true", help="only read and count; produce and commit nothing")
    rep.add_argument(
        "--group-id", metavar="G", default=None, help="replay group (default <group>-dlq-replay)"
    )


def run(args: argparse.Namespace) -> int:
    """Replay the dead letters and print the counts."""
    settings = command_settings(args)
    for secret in (settings.kafka.sasl_password, settings.kafka.ssl_key_password):
        if secret is not None:
            register_secret(secret.get_secret_value())
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    topics = settings.topics
    ends = {(topics.dlq, p): o for p, o in KafkaAdmin(settings.kafka).end_offsets(topics.dlq).items()}
    group = args.group_id or f"{settings.consumer.group_id}-dlq-replay"
    source = KafkaConsumerAdapter(settings.kafka, settings.consumer, group_id=group)
    producer = KafkaProducerAdapter(settings.kafka, settings.bridge)
    try:
        report = replay(
            source,
            producer,
            topics.dlq,
            ends,
            ReplayTarget(topics.events, frozenset({topics.events, topics.queues})),
            from_beginning=args.from_beginning,
            limit=args.limit,
            dry_run=args.dry_run,
        )
    finally:
        producer.close()
    print(json.dumps(report.as_dict(), sort_keys=True), flush=True)
    return 0
