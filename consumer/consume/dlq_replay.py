"""``convstream dlq replay``: re-publish dead letters to the topic they came from, once the cause is fixed.

Steps of :func:`replay`:

1. Capture the dead-letter topic's end offsets; join the replay group (``<group>-dlq-replay``), starting
   at its committed offsets (or at the beginning with ``from_beginning``).
2. Read dead letters up to the captured ends (or ``limit``).
3. Produce each one's original key and value to its ``convstream.original.topic`` (the events topic when
   the header is missing or names a topic we do not consume), with a ``convstream.replayed.from`` header;
   wait for every acknowledgement.
4. Commit the replay group's offsets in Kafka (so a second replay does not repeat them), and report the
   counts. ``dry_run`` only reads and counts: nothing is produced, nothing committed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from confluent_kafka import OFFSET_BEGINNING

from consumer.consume.dlq import HEADER_REASON, HEADER_TOPIC
from consumer.errors import BrokerUnavailableError
from consumer.ports import TP, Publisher, Record, Source

__all__ = ["HEADER_REPLAYED_FROM", "ReplayReport", "ReplayTarget", "replay"]

HEADER_REPLAYED_FROM: Final = "convstream.replayed.from"


@dataclass(slots=True)
class ReplayReport:
    """What a replay did."""

    read: int = 0
    republished: int = 0
    by_topic: Counter[str] = field(default_factory=Counter)
    by_reason: Counter[str] = field(default_factory=Counter)
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "read": self.read,
            "republished": self.republished,
            "by_topic": dict(sorted(self.by_topic.items())),
            "by_reason": dict(sorted(self.by_reason.items())),
            "dry_run": self.dry_run,
        }


class _StartAt:
    """Rebalance listener: the beginning of each partition, or the group's committed offsets."""

    def __init__(self, from_beginning: bool) -> None:
        self._from_beginning = from_beginning

    def on_assign(self, partitions: Sequence[TP]) -> Mapping[TP, int]:
        return {tp: OFFSET_BEGINNING for tp in partitions} if self._from_beginning else {}

    def on_revoke(self, partitions: Sequence[TP]) -> None:
        return None

    def on_lost(self, partitions: Sequence[TP]) -> None:
        return None


def _header(record: Record, name: str) -> str | None:
    for key, value in record.headers:
        if key == name and value is not None:
            return value.decode("utf-8", "replace")
    return None


@dataclass(frozen=True, slots=True)
class ReplayTarget:
    """Where dead letters go back to: ``default`` unless their original topic is one of ``allowed``."""

    default: str
    allowed: frozenset[str]

    def topic_of(self, record: Record) -> str:
        """The topic to re-publish ``record`` to."""
        original = _header(record, HEADER_TOPIC)
        return original if original in self.allowed else self.default


def replay(
    source: Source,
    producer: Publisher,
    dlq_topic: str,
    ends: Mapping[TP, int],
    target: ReplayTarget,
    *,
    from_beginning: bool = False,
    limit: int | None = None,
    dry_run: bool = False,
    idle_timeout_seconds: float = 30.0,
) -> ReplayReport:
    """Run steps 1-4 of the module docstring.

    Raises:
        BrokerUnavailableError: the cluster cannot be reached, or nothing arrived for
            ``idle_timeout_seconds`` while dead letters were still expected.
    """
    report = ReplayReport(dry_run=dry_run)
    # Step 1.
    source.subscribe([dlq_topic], _StartAt(from_beginning))
    positions: dict[TP, int] = {}
    last_progress = time.monotonic()
    try:
        while not _done(positions, ends) and (limit is None or report.read < limit):
            # Step 2.
            budget = 1000 if limit is None else min(1000, limit - report.read)
            records = source.poll_batch(budget, 16 * 1024 * 1024, 500)
            for tp, offset in source.take_eofs().items():
                positions[tp] = max(positions.get(tp, 0), offset)
            records = [r for r in records if r.offset < ends.get(r.tp, 0)]
            if records:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > idle_timeout_seconds:
                raise BrokerUnavailableError(
                    f"no dead letters from {dlq_topic} for {idle_timeout_seconds:g} s"
                )
            # Step 3.
            _republish(records, producer, target, report)
            for r in records:
                positions[r.tp] = r.offset + 1
        if not dry_run:
            producer.flush(30.0)  # raises on failed deliveries
            # Step 4.
            source.commit_async(positions, wait=True)
    finally:
        source.close()
    return report


def _republish(
    records: Sequence[Record], producer: Publisher, target: ReplayTarget, report: ReplayReport
) -> None:
    for r in records:
        report.read += 1
        topic = target.topic_of(r)
        report.by_topic[topic] += 1
        report.by_reason[_header(r, HEADER_REASON) or "unknown"] += 1
        if report.dry_run:
            continue
        origin = f"{r.topic}:{r.partition}:{r.offset}".encode()
        producer.produce(
            topic, r.key if r.key is not None else b"", r.value or b"", [(HEADER_REPLAYED_FROM, origin)]
        )
        report.republished += 1


def _done(positions: Mapping[TP, int], ends: Mapping[TP, int]) -> bool:
    return all(positions.get(tp, 0) >= end for tp, end in ends.items() if end > 0)
