"""``convstream replay``: reset a group's offsets to reprocess events (docs/reprocessing.md).

Dry run by default: prints per partition the offset stored in Postgres, the target, the end offset
and the events to reprocess. ``--execute`` writes the targets to ``consumer_offset`` (the source of
truth) and to the group's Kafka offsets. It refuses (exit 1) while the group has active members, unless
``--coordinate``: then the running consumers notice the new offsets through Postgres within a few
seconds and seek there, without a restart. See ``consumer/ops/replay.py`` for the guarantees and
``docs/reprocessing.md`` for recipes.

With an unchanged LOGIC_VERSION a replay rewrites no row; after a fold change with a bumped
LOGIC_VERSION it recomputes every replayed conversation in place (``convstream rebuild`` builds a
fresh table instead).
"""

from __future__ import annotations

import argparse
import sys
from typing import Final

from consumer.adapters.kafka.groups import KafkaGroupAdmin
from consumer.adapters.postgres.offsets import OffsetStore
from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.observability.logging import configure_logging, register_secret
from consumer.ops.replay import (
    ReplayRefusedError,
    ReplayUsageError,
    Target,
    execute,
    format_plan,
    parse_datetime,
    parse_offsets,
    plan,
)

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "replay"
HELP = "reset the consumer group's offsets to reprocess events (dry run unless --execute)"
DESCRIPTION = """\
Move the consumer group's offsets back (or forward) so that events are processed again, e.g. after a
fold fix. A dry run by default: prints, per partition, the stored offset, the target, the end offset
and how many events would be reprocessed. --execute applies the targets; it refuses while consumers of
the group are running, unless --coordinate, which makes the running consumers move to the new offsets
without a restart. Recipes: docs/reprocessing.md."""
EXAMPLE = """\
convstream replay --to-datetime 2025-01-01T00:00:00Z
convstream replay --to-datetime 2025-01-01T00:00:00Z --execute --coordinate"""
EXIT_CODES = exit_codes(
    {0: "the plan was printed (and, with --execute, applied)", 1: "refused (running consumers) or failed"},
    2,
    3,
    4,
)
SETTINGS: tuple[str, ...] = ()
OTHER_SETTINGS = ("kafka", "postgres", "topics", "consumer")

_EXIT_REFUSED: Final = 1
_EXIT_USAGE: Final = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One target, ``--partitions``, ``--group-id``, ``--topic``, ``--execute``, ``--coordinate``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--to-earliest", action="store_true", help="from the first retained record")
    where.add_argument(
        "--to-datetime", metavar="T", help="from the first record at or after T (ISO-8601; naive = UTC)"
    )
    where.add_argument("--to-offset", metavar="P:O", nargs="+", help="explicit offsets per partition")
    where.add_argument(
        "--shift-by", metavar="N", type=int, help="move each stored offset by N (negative: back)"
    )
    parser.add_argument("--partitions", metavar="0,3,…", help="only these partitions (default: all)")
    parser.add_argument(
        "--group-id", metavar="G", help="consumer group (default CONVSTREAM_CONSUMER__GROUP_ID)"
    )
    parser.add_argument("--topic", metavar="T", help="topic (default CONVSTREAM_TOPICS__EVENTS)")
    parser.add_argument("--execute", action="store_true", help="apply the targets (default: dry run)")
    parser.add_argument(
        "--coordinate",
        action="store_true",
        help="with --execute: allow running consumers; they re-seek to the new offsets without a restart",
    )


def _target(args: argparse.Namespace) -> Target:
    if args.to_earliest:
        return Target(earliest=True)
    if args.to_datetime is not None:
        return Target(at_ms=parse_datetime(args.to_datetime))
    if args.shift_by is not None:
        return Target(shift=args.shift_by)
    return Target(offsets=parse_offsets(args.to_offset))


def _partitions(value: str | None) -> list[int] | None:
    if not value:
        return None
    try:
        return sorted({int(p) for p in value.split(",") if p.strip()})
    except ValueError as exc:
        raise ReplayUsageError(f"--partitions expects comma-separated numbers, got {value!r}") from exc


def run(args: argparse.Namespace) -> int:
    """Print the plan; with ``--execute`` apply it."""
    settings = command_settings(args)
    register_secret(settings.postgres.dsn.get_secret_value())
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    group_id = args.group_id or settings.consumer.group_id
    topic = args.topic or settings.topics.events
    kafka = KafkaGroupAdmin(settings.kafka)
    with OffsetStore(settings.postgres) as offsets:
        try:
            replay = plan(kafka, offsets, group_id, topic, _target(args), _partitions(args.partitions))
        except ReplayUsageError as exc:
            print(f"convstream replay: {exc}", file=sys.stderr)
            return _EXIT_USAGE
        print(format_plan(replay), flush=True)
        if not args.execute:
            print("dry run: nothing changed (add --execute to apply)")
            return 0
        try:
            generation, group = execute(kafka, offsets, replay, coordinate=args.coordinate)
        except ReplayRefusedError as exc:
            print(f"convstream replay: refused: {exc}", file=sys.stderr)
            return _EXIT_REFUSED
    how = "running consumers will re-seek" if group.active else "consumers will start there"
    print(f"executed: offsets written (replay generation {generation}); {how}")
    return 0
