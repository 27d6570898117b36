"""The value types :class:`consumer.adapters.postgres.store.PostgresStore` takes and returns.

Plain frozen dataclasses, no I/O, so the pipeline can build them without importing psycopg.
Times are epoch milliseconds (UTC), as everywhere in the domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from consumer.domain import ConversationRow, ConversationState

__all__ = [
    "BatchWrite",
    "ErrorMark",
    "PartitionAdvance",
    "QueueInfo",
    "RowWrite",
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
