"""The core's types and ports: what the consume and bridge loops exchange with Kafka and PostgreSQL.

Plain frozen dataclasses and Protocols, no I/O and no client library, so the loops (and their unit tests)
depend on these and never on confluent-kafka or psycopg. The adapters (:mod:`consumer.adapters`) implement
the Protocols: :class:`Source` and :class:`Publisher` with Kafka, :class:`Store` with PostgreSQL.
Times are epoch milliseconds (UTC), as everywhere in the domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from consumer.domain import ConversationEvent, ConversationRow, ConversationState

__all__ = [
    "TP",
    "BadLine",
    "BatchWrite",
    "BridgeItem",
    "ErrorMark",
    "PartitionAdvance",
    "Publisher",
    "QueueInfo",
    "RebalanceListener",
    "Record",
    "RowWrite",
    "SkipReason",
    "Skipped",
    "Source",
    "Store",
    "StoredStates",
    "Unwritable",
    "WriteMethod",
    "WriteResult",
]

#: How rows reach the table: binary COPY into a temp table then one ``INSERT … SELECT … ON CONFLICT``,
#: or a pipelined ``executemany`` of ``INSERT … ON CONFLICT``. ``scripts/pg_write_speed.py`` compares them.
WriteMethod = Literal["copy", "executemany"]


@dataclass(frozen=True, slots=True)
class PartitionAdvance:
    """One partition's offsets consumed by a batch: ``[start_offset, next_offset)``.

    ``start_offset`` must equal the ``next_offset`` stored in ``consumer_offset`` (the fence); after the
    commit the stored value is ``next_offset``.
    """

    topic: str
    partition: int
    start_offset: int
    next_offset: int


@dataclass(frozen=True, slots=True)
class RowWrite:
    """A folded conversation: its derived columns and its state as JSON-ready data (``state_to_json``).

    ``row.last_queue_name`` is the name an *event* carried (derive the row without a queue directory),
    or None: the store resolves the directory's name in SQL, inside the write transaction, and records
    which of the two it is (``last_queue_name_from_event``) so a directory rename never overrides an
    event's name.

    ``error_at`` (epoch ms, e.g. the state's ``error_at``) goes with ``row.error_message``; a row without
    an error message never clears a stored one.

    ``folded_digests``: the digests of the records folded into this state (:mod:`consumer.consume.known`).
    """

    row: ConversationRow
    state_json: Mapping[str, Any]
    error_at: int | None = None
    folded_digests: bytes | None = None


@dataclass(frozen=True, slots=True)
class ErrorMark:
    """A processing error about one conversation (e.g. one of its records went to the DLQ).

    Sets ``error_message``/``error_at`` on the row; creates a minimal row (no state, no status) when the
    conversation is not in the table yet, so ``convstream status ID`` shows the error.
    """

    conversation_id: str
    message: str
    at: int


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """Everything one consumer batch commits, in one transaction.

    Attributes:
        group_id: the offset namespace (the consumer group, or a rebuild's own namespace).
        offsets: the partitions the batch consumed; each one is fenced.
        rows: folded rows; at most one per conversation (a later duplicate replaces an earlier one).
        errors: error marks applied after the rows.
        queues: queue directory entries (from the queues topic) upserted before the rows.
        versions: the row version each folded conversation had when its state was loaded
            (:attr:`StoredStates.versions`; None: no row). The write fails with
            :class:`~consumer.errors.ConcurrentFoldError` if any of them changed since. Conversations
            absent from it (a write that folded nothing) are not checked.
    """

    group_id: str
    offsets: Sequence[PartitionAdvance]
    rows: Sequence[RowWrite] = ()
    errors: Sequence[ErrorMark] = field(default_factory=tuple)
    queues: Sequence[QueueInfo] = ()
    versions: Mapping[str, int | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredStates:
    """Conversation states as loaded, with the version of each row read.

    Attributes:
        states: conversation id -> stored state (rows without state are absent).
        versions: conversation id -> row version (PostgreSQL's ``xmin`` of the row read), for every row
            found, with or without state. Any later write of the row changes it.
    """

    states: Mapping[str, ConversationState] = field(default_factory=dict)
    versions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a committed batch changed.

    ``unchanged`` counts rows not rewritten: identical content (``db_last_updated`` untouched) or a row
    already written by a newer ``logic_version`` (never downgraded).
    """

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    errors_marked: int = 0


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A routing queue from the directory (``genesys.routing.queues``)."""

    queue_id: str
    name: str | None
    division_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unwritable:
    """The parts of a batch PostgreSQL rejects on their own (data or constraint errors), with the error.

    Attributes:
        conversations: conversation id -> error, for rows or error marks that cannot be written.
        queues: queue id -> error, for directory entries that cannot be written.
    """

    conversations: Mapping[str, str] = field(default_factory=dict)
    queues: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.conversations or self.queues)


#: A partition: ``(topic, partition)``.
TP = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Record:
    """One consumed Kafka record (our type; never a confluent ``Message``).

    ``timestamp`` is the record's timestamp in epoch milliseconds (-1 when the broker has none).
    """

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: tuple[tuple[str, bytes | None], ...] = ()

    @property
    def tp(self) -> TP:
        """``(topic, partition)``."""
        return (self.topic, self.partition)

    @property
    def size(self) -> int:
        """Key plus value bytes (what the batch byte limit counts)."""
        return (0 if self.key is None else len(self.key)) + (0 if self.value is None else len(self.value))


class RebalanceListener(Protocol):
    """What the pipeline hears about the group (called inside :meth:`Source.poll_batch`)."""

    def on_assign(self, partitions: Sequence[TP]) -> Mapping[TP, int]:
        """Newly assigned partitions; returns the offsets to start from (absent: Kafka's committed offset,
        then ``auto.offset.reset``)."""
        ...

    def on_revoke(self, partitions: Sequence[TP]) -> None:
        """Partitions about to be released (cooperative: only the ones that move)."""
        ...

    def on_lost(self, partitions: Sequence[TP]) -> None:
        """Partitions already lost (session timeout): another member may own them now."""
        ...


class Publisher(Protocol):
    """What the bridge needs of a producer (:class:`consumer.adapters.kafka.client.KafkaProducerAdapter`)."""

    @property
    def failed(self) -> int:
        """Messages whose delivery failed so far."""
        ...

    def produce(
        self,
        topic: str,
        key: bytes | str,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue one message (non-blocking)."""
        ...

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports."""
        ...

    def flush(self, timeout: float = 30.0) -> int:
        """Wait for outstanding deliveries; raise if any failed."""
        ...


class Source(Protocol):
    """The Kafka side of the loop."""

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None: ...
    def poll_batch(self, max_events: int, max_bytes: int, max_ms: int) -> list[Record]: ...
    def take_eofs(self) -> dict[TP, int]: ...
    def pause(self, partitions: Sequence[TP]) -> None: ...
    def resume(self, partitions: Sequence[TP]) -> None: ...
    def seek(self, partition: TP, offset: int) -> None: ...
    def commit_async(self, offsets: Mapping[TP, int], *, wait: bool = False) -> None: ...
    def high_watermark(self, partition: TP) -> int | None: ...
    def watermarks(self, partitions: Sequence[TP]) -> dict[TP, tuple[int, int]]: ...
    def close(self) -> None: ...


class Store(Protocol):
    """The Postgres side of the loop."""

    def load_states(self, ids: Sequence[str]) -> dict[str, ConversationState]: ...
    def load_states_versioned(self, ids: Sequence[str]) -> StoredStates: ...
    def load_folded_digests(self, ids: Sequence[str], logic_version: int) -> dict[str, bytes]: ...
    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]: ...
    def reset_offset(self, group_id: str, topic: str, partition: int, expected: int, offset: int) -> bool: ...
    def write_batch(self, batch: BatchWrite) -> WriteResult: ...
    def unwritable(self, batch: BatchWrite) -> Unwritable: ...


#: What the bridge publishes or reports, item by item (its sources yield these).
SkipReason = Literal["heartbeat", "system", "unknown_topic"]


@dataclass(frozen=True, slots=True)
class Skipped:
    """A message that is expected but not published: heartbeat, system message, or unknown topic."""

    reason: SkipReason
    topic_name: str | None = None


@dataclass(frozen=True, slots=True)
class BadLine:
    """An input line that could not be read or normalized; reported with its position, then skipped."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


BridgeItem = ConversationEvent | Skipped | BadLine
