"""The bridge loop (README "How it works"): source items -> Avro (Confluent wire format) -> Kafka.

A source is any iterable of :data:`BridgeItem`: normalized :class:`ConversationEvent`\\ s, :class:`Skipped`
messages (heartbeats, system messages, unknown topics) and :class:`BadLine`\\ s. The file and simulator
sources are built in :mod:`consumer.bridge.sources`; this module only publishes.

Delivery contract of :meth:`Bridge.run` (followed in code order, ``# Step n.``):

1. Take the next item from the source, unless a stop was requested (SIGTERM/SIGINT) or a delivery has
   already failed; either ends the reading, never the flushing.
2. A bad line is reported as ``file:line: reason`` and counted, then skipped: never silently.
3. A heartbeat, system message or unknown topic is counted and skipped.
4. An event is Avro-encoded and framed with the schema id registered for the events topic. An event the
   schema cannot carry (:class:`~consumer.errors.UnencodableEventError`) is reported and counted like a
   bad line, and skipped; the items after it go on.
5. It is produced to the events topic keyed by ``conversation_id`` (non-blocking; a full local queue
   makes the bridge wait for deliveries, so memory stays bounded).
6. Every ``tick_items`` items (default :data:`TICK_ITEMS`): delivery reports are served, a failed delivery
   stops the reading (step 1), and a progress line is written every ``progress_seconds``.
7. At the end (source exhausted or stop requested), every produced message is flushed; if any was not
   acknowledged, :class:`~consumer.errors.PublishError` (or
   :class:`~consumer.errors.BrokerUnavailableError` when the cluster was unreachable) is raised, so a run
   never reports as published what Kafka did not acknowledge.
8. The summary (published by topic pattern, skipped, unknown topics, bad lines) is returned, written to
   the report stream as one line, and logged as one JSON record.

Exit codes (:attr:`BridgeSummary.exit_code`): ``0`` every line was good (heartbeats and unknown topics are
expected and do not count as bad), ``2`` bad lines were reported (the good ones were published). Delivery
failures raise instead (exit 1, or 4 when Kafka was unreachable).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from consumer.codec.avro import QueueRecord
from consumer.codec.wire import frame
from consumer.domain.events import ConversationEvent
from consumer.errors import PublishError, UnencodableEventError
from consumer.ports import BadLine, BridgeItem, Publisher, Skipped

__all__ = [
    "TICK_ITEMS",
    "Bridge",
    "BridgeSummary",
]

log = logging.getLogger(__name__)

#: Items between two ticks (delivery reports served, failures checked, clock read for progress).
TICK_ITEMS = 2048
#: Bound on the final flush; librdkafka's message.timeout.ms bounds each message anyway.
FLUSH_TIMEOUT_SECONDS = 330.0


@dataclass(slots=True)
class BridgeSummary:
    """What one bridge run did. ``published`` counts acknowledged events by topic pattern."""

    published: Counter[str] = field(default_factory=Counter)
    queues_published: int = 0
    heartbeats: int = 0
    system: int = 0
    unknown_topics: int = 0
    bad_lines: int = 0
    delivery_failures: int = 0
    stopped: bool = False
    seconds: float = 0.0

    @property
    def events_published(self) -> int:
        """All events published, whatever their topic pattern."""
        return sum(self.published.values())

    @property
    def exit_code(self) -> int:
        """``2`` when bad lines were reported, else ``0`` (delivery failures raise instead)."""
        return 2 if self.bad_lines else 0

    def add(self, other: BridgeSummary) -> None:
        """Add another run's counts (the workers of one ``--workers N`` run); ``seconds`` is left alone."""
        self.published.update(other.published)
        self.queues_published += other.queues_published
        self.heartbeats += other.heartbeats
        self.system += other.system
        self.unknown_topics += other.unknown_topics
        self.bad_lines += other.bad_lines
        self.delivery_failures += other.delivery_failures
        self.stopped = self.stopped or other.stopped

    def line(self) -> str:
        """The one-line human summary."""
        rate = self.events_published / self.seconds if self.seconds > 0 else 0.0
        stopped = " (stopped by signal)" if self.stopped else ""
        return (
            f"bridge: published {self.events_published} events and {self.queues_published} queues "
            f"in {self.seconds:.1f} s ({rate:,.0f} events/s); skipped {self.heartbeats} heartbeats, "
            f"{self.system} system messages, {self.unknown_topics} unknown topics; "
            f"{self.bad_lines} bad lines{stopped}"
        )

    def as_fields(self) -> dict[str, object]:
        """The summary as structured log fields."""
        return {
            "published": self.events_published,
            "published_by_topic_pattern": dict(self.published),
            "queues_published": self.queues_published,
            "heartbeats_skipped": self.heartbeats,
            "system_skipped": self.system,
            "unknown_topics": self.unknown_topics,
            "bad_lines": self.bad_lines,
            "delivery_failures": self.delivery_failures,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
        }


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Bridge:
    """Publishes source items to the events topic (and queue records to the queues topic).

    Args:
        publisher: the producer.
        events_topic: where events go (``genesys.conversation.events``).
        event_schema_id: registry id of the ``ConversationEvent`` schema under ``<events topic>-value``.
        encode_event: Avro body of one event (no framing).
        report: where bad lines, progress and the summary line go (stderr by default).
        stop: set by a signal handler to stop reading; the bridge then flushes and returns.
        progress_seconds: interval between progress lines (0 disables them).
        clock: monotonic seconds (injectable for tests).
        tick_items: items between ticks (step 6); a slow source such as the real-time simulator ticks
            every item, so deliveries, failures and progress are seen as they happen.
    """

    def __init__(
        self,
        publisher: Publisher,
        *,
        events_topic: str,
        event_schema_id: int,
        encode_event: Callable[[ConversationEvent], bytes],
        report: Callable[[str], None] = _stderr,
        stop: threading.Event | None = None,
        progress_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        tick_items: int = TICK_ITEMS,
    ) -> None:
        self._publisher = publisher
        self._tick_items = max(1, tick_items)
        self._events_topic = events_topic
        # The 5-byte Confluent header is the same for every event: build it once.
        self._prefix = frame(event_schema_id, b"")
        self._encode = encode_event
        self._report = report
        self._stop = stop if stop is not None else threading.Event()
        self._progress_seconds = progress_seconds
        self._clock = clock
        self.summary = BridgeSummary()

    @property
    def delivery_failures(self) -> int:
        """Messages whose delivery failed so far (live, unlike ``summary.delivery_failures``)."""
        return self._publisher.failed

    @property
    def stop_event(self) -> threading.Event:
        """Set it (e.g. from a signal handler) to stop reading; the run then flushes and returns."""
        return self._stop

    def publish_queues(
        self,
        topic: str,
        schema_id: int,
        encode_queue: Callable[[QueueRecord], bytes],
        records: Iterable[QueueRecord | BadLine],
    ) -> int:
        """Publish queue directory records keyed by ``queue_id``; bad lines are reported and counted.

        Returns how many records were produced; their deliveries are checked by the final flush of
        :meth:`run` (or :meth:`finish`), like the events'.
        """
        prefix = frame(schema_id, b"")
        count = 0
        for record in records:
            if isinstance(record, BadLine):
                self.summary.bad_lines += 1
                self._report(str(record))
                continue
            self._publisher.produce(topic, str(record["queue_id"]), prefix + encode_queue(record))
            count += 1
        self.summary.queues_published += count
        return count

    def run(self, items: Iterable[BridgeItem]) -> BridgeSummary:
        """Publish every item of ``items`` following the delivery contract (module docstring)."""
        started = self._clock()
        try:
            self._loop(items, started)
        except BaseException:
            # Keep what was already produced: give it a bounded chance to be delivered, then re-raise.
            self._publisher.poll(0)
            raise
        return self.finish(started)

    def _loop(self, items: Iterable[BridgeItem], started: float) -> None:
        summary = self.summary
        published = summary.published
        produce = self._publisher.produce
        encode = self._encode
        prefix = self._prefix
        topic = self._events_topic
        stop = self._stop
        next_progress = started + self._progress_seconds
        countdown = tick_items = self._tick_items
        for item in items:
            # Step 1. Stop reading on a signal or after a failed delivery.
            if stop.is_set():
                summary.stopped = True
                break
            if type(item) is ConversationEvent:
                # Step 4. Encode and frame.
                try:
                    value = prefix + encode(item)
                except UnencodableEventError as exc:
                    summary.bad_lines += 1
                    self._report(f"{item.topic_name}: {exc}")
                else:
                    # Step 5. Produce keyed by conversation id.
                    produce(topic, item.conversation_id, value)
                    published[item.topic_pattern] += 1
            elif isinstance(item, BadLine):
                # Step 2. Report and count bad lines.
                summary.bad_lines += 1
                self._report(str(item))
            elif isinstance(item, Skipped):
                # Step 3. Count expected skips.
                self._count_skip(item)
            countdown -= 1
            if countdown == 0:
                # Step 6. Serve delivery reports, stop on failure, progress.
                countdown = tick_items
                next_progress = self._tick(started, next_progress)
        # A source that ends because it saw the stop itself (the real-time simulator waits on it) was stopped.
        summary.stopped = summary.stopped or stop.is_set()

    def _count_skip(self, item: Skipped) -> None:
        if item.reason == "heartbeat":
            self.summary.heartbeats += 1
        elif item.reason == "system":
            self.summary.system += 1
        else:
            self.summary.unknown_topics += 1

    def _tick(self, started: float, next_progress: float) -> float:
        self._publisher.poll(0)
        if self._publisher.failed:
            log.error("delivery failed; stopping the source", extra={"failed": self._publisher.failed})
            self._stop.set()
        now = self._clock()
        if self._progress_seconds <= 0 or now < next_progress:
            return next_progress
        count = self.summary.events_published
        elapsed = now - started
        rate = count / elapsed if elapsed > 0 else 0.0
        self._report(f"bridge: {count} events published ({rate:,.0f} events/s)")
        return now + self._progress_seconds

    def finish(self, started: float | None = None) -> BridgeSummary:
        """Steps 7-8: flush, raise on failed deliveries, then report and log the summary."""
        summary = self.summary
        begin = self._clock() if started is None else started
        try:
            # Step 7. Flush everything produced; raises on failed deliveries.
            remaining = self._publisher.flush(FLUSH_TIMEOUT_SECONDS)
        finally:
            summary.delivery_failures = self._publisher.failed
            summary.seconds = self._clock() - begin
        if remaining:
            raise PublishError(f"{remaining} messages still unacknowledged after {FLUSH_TIMEOUT_SECONDS:g} s")
        # Step 8. One summary line for people, one JSON record for machines.
        self._report(summary.line())
        log.info("bridge finished", extra=summary.as_fields())
        return summary
