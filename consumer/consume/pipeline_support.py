"""What :mod:`consumer.consume.pipeline` depends on: its ports, its configuration, metrics and totals.

The ports are small Protocols (:class:`~consumer.ports.Source` and :class:`~consumer.ports.Store` in
:mod:`consumer.ports`, :class:`DeadLetters` here) so the unit tests can drive the loop with fakes; the real
implementations are :class:`~consumer.adapters.kafka.consumer.KafkaConsumerAdapter`,
:class:`~consumer.adapters.postgres.store.PostgresStore` and :class:`~consumer.consume.dlq.DeadLetterQueue`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from consumer.consume.dlq import Poison
from consumer.errors import BrokerUnavailableError, RegistryUnavailableError, TransientError
from consumer.observability.metrics import ConsumerMetrics
from consumer.ports import TP, Record, Store, WriteResult
from consumer.settings import ConsumerSettings, TopicSettings

__all__ = [
    "BatchOutcome",
    "DeadLetters",
    "MisroutedWarnings",
    "PipelineConfig",
    "Sink",
    "Totals",
    "dependency_label",
    "record_batch",
]


class DeadLetters(Protocol):
    """The dead-letter topic: returns once every letter is acknowledged."""

    def send(self, poisons: Sequence[Poison]) -> None: ...


@dataclass(frozen=True, slots=True)
class Sink:
    """Where a batch goes: Postgres and the dead-letter topic."""

    store: Store
    dead_letters: DeadLetters


def _default(name: str) -> Any:
    """The default of ``ConsumerSettings.<name>`` (class metadata: no environment is read)."""
    return ConsumerSettings.model_fields[name].default


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """The loop's knobs (from ``ConsumerSettings`` and ``TopicSettings``)."""

    group_id: str
    events_topic: str
    queues_topic: str
    # Defaults: the settings' own (one source of truth), so a test's config is what a process gets.
    batch_max_events: int = _default("batch_max_events")
    batch_max_bytes: int = _default("batch_max_bytes")
    batch_max_ms: int = _default("batch_max_ms")
    retry_initial_seconds: float = _default("retry_initial_seconds")
    retry_max_seconds: float = _default("retry_max_seconds")
    wedge_timeout_seconds: float = _default("wedge_timeout_seconds")
    shutdown_grace_seconds: float = _default("shutdown_grace_seconds")
    lag_refresh_seconds: float = 5.0

    @classmethod
    def from_settings(
        cls, consumer: ConsumerSettings, topics: TopicSettings, group_id: str | None = None
    ) -> PipelineConfig:
        """The configuration of a process; ``group_id`` overrides the settings' group."""
        return cls(
            group_id=group_id or consumer.group_id,
            events_topic=topics.events,
            queues_topic=topics.queues,
            batch_max_events=consumer.batch_max_events,
            batch_max_bytes=consumer.batch_max_bytes,
            batch_max_ms=consumer.batch_max_ms,
            retry_initial_seconds=consumer.retry_initial_seconds,
            retry_max_seconds=consumer.retry_max_seconds,
            wedge_timeout_seconds=consumer.wedge_timeout_seconds,
            shutdown_grace_seconds=consumer.shutdown_grace_seconds,
        )


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one committed batch did (for the metrics and the totals)."""

    events: int
    skipped: int
    poisons: Sequence[Poison]
    result: WriteResult
    unchanged: int
    newest_event: Sequence[int]
    duration: float
    committed_at: float
    already_folded: int = 0
    misrouted: Sequence[tuple[Record, str]] = ()

    @property
    def processed(self) -> int:
        """Records folded or applied (not dead-lettered, not skipped, not already folded)."""
        return self.events - len(self.poisons) - self.skipped - self.already_folded


def record_batch(m: ConsumerMetrics, outcome: BatchOutcome) -> None:
    """Step 7 of the pipeline: count the batch in the metrics."""
    m.events.labels("processed").inc(outcome.processed)
    m.events.labels("skipped").inc(outcome.skipped)
    m.events.labels("already_folded").inc(outcome.already_folded)
    m.events.labels("dlq").inc(len(outcome.poisons))
    for _, kind in outcome.misrouted:
        m.misrouted.labels(kind).inc()
    for p in outcome.poisons:
        m.dlq_records.labels(p.reason).inc()
    m.rows_written.labels("inserted").inc(outcome.result.inserted)
    m.rows_written.labels("updated").inc(outcome.result.updated)
    m.rows_written.labels("unchanged").inc(outcome.unchanged)
    m.batch_duration.observe(outcome.duration)
    m.batch_events.observe(outcome.events)
    m.last_commit.set(outcome.committed_at)
    observe = m.event_to_row_latency.observe
    committed_at = outcome.committed_at
    for newest in outcome.newest_event:
        observe(max(0.0, committed_at - newest / 1000.0))


@dataclass(slots=True)
class Totals:
    """What a run did (logged at the end, printed by ``convstream consume``)."""

    batches: int = 0
    processed: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    already_folded: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def add(self, outcome: BatchOutcome) -> None:
        """Count one committed batch."""
        self.batches += 1
        self.processed += outcome.processed
        self.dead_lettered += len(outcome.poisons)
        self.skipped += outcome.skipped
        self.already_folded += outcome.already_folded
        self.inserted += outcome.result.inserted
        self.updated += outcome.result.updated
        self.unchanged += outcome.unchanged

    def as_fields(self) -> dict[str, int]:
        """The totals as log fields."""
        return {
            "batches": self.batches,
            "processed": self.processed,
            "dead_lettered": self.dead_lettered,
            "skipped": self.skipped,
            "already_folded": self.already_folded,
            "rows_inserted": self.inserted,
            "rows_updated": self.updated,
            "rows_unchanged": self.unchanged,
        }


def dependency_label(exc: TransientError) -> str:
    """The ``dependency`` label of the retries metric for a transient error."""
    if isinstance(exc, BrokerUnavailableError):
        return "broker"
    if isinstance(exc, RegistryUnavailableError):
        return "registry"
    return "store"


class MisroutedWarnings:
    """Warn once per partition about records whose key is not their conversation id.

    Such records are folded correctly, but they defeat the already-folded shortcut and the per-key
    ordering Kafka gives (the producer uses another key, no key, or another partitioner).
    """

    def __init__(self) -> None:
        self._warned: set[TP] = set()

    def note(self, misrouted: Sequence[tuple[Record, str]], log: Any) -> None:
        """Log one warning for each partition not warned about yet (with the first record's coordinates)."""
        for record, kind in misrouted:
            if record.tp in self._warned:
                continue
            self._warned.add(record.tp)
            log.warning(
                "records whose key is not their conversation id: folded, but not recognised as already "
                "folded and not ordered by Kafka; fix the producer's key or partitioner",
                extra={
                    "topic": record.topic,
                    "partition": record.partition,
                    "offset": record.offset,
                    "kind": kind,
                    "metric": "convstream_misrouted_records_total",
                },
            )
