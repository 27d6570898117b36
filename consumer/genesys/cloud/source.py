"""The ``genesys`` bridge source: Notifications WebSocket + gap backfill + queue directory (docs/genesys.md).

:meth:`GenesysSource.items` yields :data:`~consumer.ports.BridgeItem` s for
:meth:`consumer.bridge.publish.Bridge.run`.
Contract, in code order (``# Step n.``):

1. Sync the queue directory (``GET /api/v2/routing/queues``, paged) and publish every queue through
   ``publish_queues``; with ``all_queues`` its ids are the queues subscribed.
2. Build the topics, split them into channels of at most 1,000 and start one
   :class:`~consumer.genesys.cloud.notifications.ChannelWorker` per channel.
3. Each WebSocket message is normalized (``source="notifications"``), PII-transformed and yielded;
   heartbeats, pongs and system messages become counted skips.
4. Each :class:`~consumer.genesys.cloud.notifications.Connected` opens a **gap** (start-up included), merged
   with overlapping ones; ``backfill.delay_seconds`` later the gap (widened by ``margin_seconds``) is
   read from the Analytics details API — sync query for short gaps, async job for long ones — and every
   record is yielded as an ``analytics`` snapshot through the same path (a record that cannot be normalized
   is a bad line with its number; the others are kept). A failing backfill is retried with backoff and its
   gap stays open (``convstream_bridge_gaps_open``): nothing is forgotten silently. A backfill Genesys
   refuses for good (4xx) is logged as an error with the gap's interval and counted
   (``…_backfills_total{outcome="refused"}``); the gap is closed and the live stream goes on.
5. The directory is re-synced every ``queue_sync_seconds`` and when an event names an unknown queue
   (at most once a minute); changes are published. New queues are subscribed with ``all_queues``.
6. On stop (the bridge's stop event) the workers close their sockets and the iteration ends; a worker's
   authentication failure is raised (exit 3).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from consumer.codec.avro import QueueRecord
from consumer.domain.events import ConversationEvent, ConversationSnapshot
from consumer.errors import (
    ConvstreamError,
    GenesysApiError,
    NormalizeError,
    TransientError,
    UnknownTopicError,
)
from consumer.genesys.cloud.analytics import AnalyticsReader
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.cloud.directory import QueueDirectory
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.genesys.cloud.notifications import (
    ChannelWorker,
    Connected,
    Fatal,
    StreamItem,
    WsMessage,
    build_topics,
    chunk_topics,
)
from consumer.genesys.keys import keyable
from consumer.genesys.normalize import Ignored, normalize_message
from consumer.genesys.pii import PiiPolicy, apply_pii
from consumer.ports import BadLine, BridgeItem, Skipped
from consumer.settings import GenesysSettings

__all__ = ["Gap", "GenesysSource", "backfill_items"]

log = logging.getLogger(__name__)

_HEARTBEATS = frozenset({"heartbeat", "pong", "channel.metadata"})
#: At most one directory sync for unknown queue ids per this many seconds.
_UNKNOWN_QUEUE_SYNC_SECONDS = 60.0


@dataclass(slots=True)
class Gap:
    """An interval (epoch ms) no socket covered, and when (monotonic) its backfill is due."""

    start: int
    end: int
    due: float
    attempts: int = 0


def _wall_ms() -> int:
    return int(time.time() * 1000)


def backfill_items(
    reader: AnalyticsReader,
    start_ms: int,
    end_ms: int,
    *,
    received_at: int,
    pii: PiiPolicy | None = None,
    method: str | None = None,
) -> Iterator[BridgeItem]:
    """Analytics records of ``[start_ms, end_ms)`` as bridge items (``source="analytics"``)."""
    for number, record in enumerate(reader.records(start_ms, end_ms, method=method), start=1):
        try:
            result = normalize_message(record, received_at=received_at, source="analytics")
        except NormalizeError as exc:
            yield BadLine("<analytics>", number, str(exc))
            continue
        if isinstance(result, Ignored):
            continue
        for reason in result.rejected:
            yield BadLine("<analytics>", number, reason)
        for event in keyable(result.events, "<analytics>", number):
            if isinstance(event, BadLine):  # an id that cannot be a key
                yield event
                continue
            yield apply_pii(event, pii) if pii is not None else event


class GenesysSource:
    """Live Genesys conversation events for the bridge (see the module contract)."""

    def __init__(
        self,
        client: GenesysClient,
        settings: GenesysSettings,
        metrics: GenesysMetrics,
        *,
        publish_queues: Callable[[list[QueueRecord]], object],
        stop: threading.Event,
        queue_sync_seconds: float = 900.0,
        pii: PiiPolicy | None = None,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self._client = client
        self._settings = settings
        self._metrics = metrics
        self._publish_queues = publish_queues
        self._stop = stop
        self._queue_sync_seconds = queue_sync_seconds
        self._pii = pii
        self._wall_ms = wall_ms
        self._reader = AnalyticsReader(client, settings.backfill)
        self.directory = QueueDirectory(client, wall_ms=wall_ms)
        self.inbox: queue.Queue[StreamItem] = queue.Queue()
        self.workers: list[ChannelWorker] = []
        self.gaps: list[Gap] = []
        self.received = 0
        self.backfilled = 0
        self._next_sync = 0.0
        self._last_unknown_sync = -_UNKNOWN_QUEUE_SYNC_SECONDS

    def idle(self) -> bool:
        """No open gap, nothing waiting in the inbox, and every worker connected (tests poll this)."""
        return (
            not self.gaps
            and self.inbox.empty()
            and bool(self.workers)
            and all(w.connected.is_set() for w in self.workers)
        )

    def items(self) -> Iterator[BridgeItem]:
        """The source's items until the stop event is set (module contract)."""
        try:
            # Step 1. Queue directory.
            self._sync_directory()
            # Step 2. Topics and channel workers.
            self._start_workers()
            while not self._stop.is_set():
                yield from self._step()
        finally:
            # Step 6. Stop the workers (their sockets close within one read timeout).
            self._stop.set()
            for worker in self.workers:
                worker.join(timeout=5)

    def _start_workers(self) -> None:
        settings = self._settings
        queue_ids = self.directory.ids if settings.all_queues else settings.queue_ids
        topics = build_topics(settings, queue_ids)
        if not topics:
            raise ConvstreamError(
                "no topics to subscribe: set CONVSTREAM_GENESYS__QUEUE_IDS, USER_IDS or ALL_QUEUES=true"
            )
        for chunk in chunk_topics(topics, settings.max_topics_per_channel, settings.max_channels):
            self._add_worker(chunk)
        log.info("genesys source started", extra={"topics": len(topics), "channels": len(self.workers)})

    def _add_worker(self, topics: list[str]) -> None:
        worker = ChannelWorker(
            len(self.workers), topics, client=self._client, settings=self._settings,
            metrics=self._metrics, out=self.inbox, stop=self._stop, wall_ms=self._wall_ms,
        )  # fmt: skip
        self.workers.append(worker)
        worker.start()

    def _step(self) -> Iterator[BridgeItem]:
        try:
            item = self.inbox.get(timeout=0.2)
        except queue.Empty:
            item = None
        if isinstance(item, WsMessage):
            # Step 3. A live message.
            self.received += 1
            yield from self._message(item)
        elif isinstance(item, Connected):
            self._open_gap(item)
        elif isinstance(item, Fatal):
            raise item.error
        # Step 4. Due backfills.
        yield from self._due_backfills()
        # Step 5. Periodic directory sync.
        if time.monotonic() >= self._next_sync:
            self._sync_directory()

    def _message(self, item: WsMessage) -> Iterator[BridgeItem]:
        try:
            result = normalize_message(item.message, received_at=item.received_at, source="notifications")
        except UnknownTopicError as exc:
            yield Skipped("unknown_topic", exc.topic_name)
            return
        except NormalizeError as exc:
            yield BadLine(f"<channel {item.channel}>", self.received, str(exc))
            return
        if isinstance(result, Ignored):
            yield Skipped("heartbeat" if result.reason in _HEARTBEATS else "system")
            return
        for reason in result.rejected:
            yield BadLine(f"<channel {item.channel}>", self.received, reason)
        for event in keyable(result.events, f"<channel {item.channel}>", self.received):
            if isinstance(event, BadLine):  # an id that cannot be a key
                yield event
                continue
            self._check_queues(event)
            yield apply_pii(event, self._pii) if self._pii is not None else event

    def _check_queues(self, event: ConversationEvent) -> None:
        body = event.body
        if not isinstance(body, ConversationSnapshot) or not self.directory.synced:
            return
        unknown = any(p.queue_id is not None and p.queue_id not in self.directory for p in body.participants)
        now = time.monotonic()
        if unknown and now - self._last_unknown_sync >= _UNKNOWN_QUEUE_SYNC_SECONDS:
            self._last_unknown_sync = now
            self._sync_directory()

    def _sync_directory(self) -> None:
        self._next_sync = time.monotonic() + self._queue_sync_seconds
        before = set(self.directory.ids)
        try:
            changed = self.directory.sync()
        except TransientError as exc:
            log.warning("queue directory sync failed; retried later", extra={"error": str(exc)})
            self._next_sync = time.monotonic() + min(60.0, self._queue_sync_seconds)
            return
        self._metrics.queue_syncs.inc()
        if changed:
            self._publish_queues(changed)
        added = [q for q in self.directory.ids if q not in before]
        if self.workers and self._settings.all_queues and added:
            self._subscribe_more(build_topics(self._settings.model_copy(update={"user_ids": []}), added))

    def _subscribe_more(self, topics: list[str]) -> None:
        limit = self._settings.max_topics_per_channel
        for worker in self.workers:
            room = limit - len(worker.topics)
            if room > 0 and topics:
                worker.add_topics(topics[:room])
                topics = topics[room:]
        for chunk in chunk_topics(topics, limit, self._settings.max_channels - len(self.workers)):
            self._add_worker(chunk)

    def _open_gap(self, item: Connected) -> None:
        margin = int(self._settings.backfill.margin_seconds * 1000)
        start, end = item.gap_start - margin, item.gap_end + margin
        self._metrics.gaps.inc()
        log.warning(
            "genesys gap opened",
            extra={"channel": item.channel, "reason": item.reason, "gap_seconds": (end - start) / 1000},
        )
        if not self._settings.backfill.enabled:
            return
        due = time.monotonic() + self._settings.backfill.delay_seconds
        for gap in self.gaps:
            if start <= gap.end and gap.start <= end:  # overlapping gaps: one backfill
                gap.start, gap.end, gap.due = min(gap.start, start), max(gap.end, end), max(gap.due, due)
                break
        else:
            self.gaps.append(Gap(start, end, due))
        self._metrics.gaps_open.set(len(self.gaps))

    def _due_backfills(self) -> Iterator[BridgeItem]:
        now = time.monotonic()
        for gap in [g for g in self.gaps if g.due <= now]:
            yield from self._backfill(gap)
        self._metrics.gaps_open.set(len(self.gaps))

    def _backfill(self, gap: Gap) -> Iterator[BridgeItem]:
        method = self._reader.method_for(gap.start, gap.end)
        received_at = self._wall_ms()
        calls_before = self._reader.calls
        events: list[BridgeItem] = []
        try:
            # Collected first: a backfill that fails half way is retried whole, never half published.
            events = list(
                backfill_items(self._reader, gap.start, gap.end, received_at=received_at, pii=self._pii)
            )
        except TransientError as exc:
            gap.attempts += 1
            gap.due = time.monotonic() + min(2.0**gap.attempts, 300.0)
            self._metrics.backfills.labels(method, "retry").inc()
            log.warning(
                "gap backfill failed; retried later", extra={"error": str(exc), "attempt": gap.attempts}
            )
            return
        except GenesysApiError as exc:
            # Genesys refuses the query for good (a 4xx retrying will not fix): the gap stays unfilled, said
            # loudly, and the live stream goes on instead of the whole bridge stopping.
            self.gaps.remove(gap)
            self._metrics.backfills.labels(method, "refused").inc()
            log.error(
                "gap backfill refused by Genesys; fill the gap with convstream backfill",
                extra={"error": str(exc), "start_ms": gap.start, "end_ms": gap.end},
            )
            return
        self.gaps.remove(gap)
        conversations = sum(1 for e in events if isinstance(e, ConversationEvent))
        self.backfilled += conversations
        self._metrics.backfills.labels(method, "ok").inc()
        self._metrics.backfilled_conversations.inc(conversations)
        self._metrics.gap_seconds.inc((gap.end - gap.start) / 1000)
        log.info(
            "gap backfilled",
            extra={
                "method": method, "gap_seconds": (gap.end - gap.start) / 1000,
                "conversations": conversations, "api_calls": self._reader.calls - calls_before,
            },
        )  # fmt: skip
        yield from events
