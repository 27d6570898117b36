"""The CPU part of a consumer batch: decode records, fold them per conversation, derive the rows.

No I/O of its own: the writer-schema lookup is injected, so this runs the same in unit tests and in the
pipeline. Rows carry only the queue names events carried: the store resolves directory names in SQL,
inside the batch's write transaction (see :mod:`consumer.adapters.postgres.queues`).

Poison records never take good ones with them: a record that does not decode, or whose fold raises, is
set aside as a :class:`~consumer.consume.dlq.Poison` and the rest of the batch goes on (a failed fold keeps
the conversation's state from before that record).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from consumer.codec.avro import decode_queue
from consumer.codec.schemas import AvroSchema
from consumer.codec.wire import split
from consumer.consume.dlq import Poison
from consumer.consume.known import key_text, merged
from consumer.domain import (
    ConversationEvent,
    ConversationState,
    derive_row,
    fold,
    state_to_json,
)
from consumer.domain.keys import conversation_id_problem
from consumer.errors import InvalidEventError, PoisonRecordError, UnindexableKeyError
from consumer.ports import QueueInfo, Record, RowWrite

__all__ = [
    "DecodedBatch",
    "Digests",
    "FoldedBatch",
    "decode_records",
    "fold_batch",
]

EventDecoder = Callable[[bytes | None], ConversationEvent]
WriterSchemas = Callable[[int], AvroSchema]


@dataclass(slots=True)
class DecodedBatch:
    """A batch after step 2 (decode).

    Attributes:
        events: conversation id -> its records and events, in consumption order.
        queues: queue directory entries from the queues topic (the last one per queue wins).
        queue_records: the queues-topic records of each queue id (dead-lettered if Postgres rejects it).
        poisons: records that can never be processed.
        skipped: records deliberately ignored (queue tombstones).
        misrouted: events-topic records whose key is not their body's conversation id, with the kind
            (``"null"``: no usable key; ``"other"``: another id). Folded like the others; counted.
    """

    events: dict[str, list[tuple[Record, ConversationEvent]]] = field(default_factory=dict)
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    queue_records: dict[str, list[Record]] = field(default_factory=dict)
    poisons: list[Poison] = field(default_factory=list)
    skipped: int = 0
    misrouted: list[tuple[Record, str]] = field(default_factory=list)


@dataclass(slots=True)
class FoldedBatch:
    """A batch after step 3 (fold): only conversations whose state changed are in ``writes``.

    ``newest_event`` maps each written conversation to its newest event time in the batch (epoch ms), for
    the event-to-row latency.
    """

    writes: list[RowWrite] = field(default_factory=list)
    unchanged: int = 0
    processed: int = 0
    poisons: list[Poison] = field(default_factory=list)
    newest_event: list[int] = field(default_factory=list)
    states: list[ConversationState] = field(default_factory=list)


def _poison(record: Record, error: PoisonRecordError, cid: str | None, reason: str | None = None) -> Poison:
    return Poison(record, error, reason or error.reason, cid)


def decode_records(
    records: Sequence[Record], decode_event: EventDecoder, writer_schemas: WriterSchemas, queues_topic: str
) -> DecodedBatch:
    """Step 2: decode every record; poison ones are set aside, the others grouped by conversation.

    Raises:
        RegistryUnavailableError: a writer schema could not be fetched (retry the whole batch).
    """
    out = DecodedBatch()
    events = out.events
    unindexable: dict[str, str] = {}  # conversation id -> why it cannot be a key
    for record in records:
        if record.topic == queues_topic:
            _decode_queue(record, writer_schemas, out)
            continue
        try:
            event = decode_event(record.value)
        except PoisonRecordError as exc:
            out.poisons.append(_poison(record, exc, _markable(key_text(record.key))))
            continue
        cid = event.conversation_id
        key = key_text(record.key)
        if key != cid:
            out.misrouted.append((record, "null" if key is None else "other"))
        bucket = events.get(cid)
        if bucket is None:
            problem = unindexable.get(cid) or conversation_id_problem(cid)
            if problem is not None:
                unindexable[cid] = problem
                error = UnindexableKeyError(problem, raw=record.value)
                out.poisons.append(_poison(record, error, None))
                continue
            events[cid] = [(record, event)]
        else:
            bucket.append((record, event))
    return out


def _markable(cid: str | None) -> str | None:
    """A key usable for an error mark (None when it could not be a row's primary key either)."""
    return cid if cid is not None and conversation_id_problem(cid) is None else None


def _decode_queue(record: Record, writer_schemas: WriterSchemas, out: DecodedBatch) -> None:
    if record.value is None:
        out.skipped += 1  # a compaction tombstone: the directory keeps the last known name
        return
    try:
        schema_id, payload = split(record.value)
        value = decode_queue(payload, writer_schemas(schema_id), schema_id=schema_id)
    except PoisonRecordError as exc:
        exc.raw = record.value
        out.poisons.append(_poison(record, exc, None))
        return
    queue_id = str(value["queue_id"])
    if value.get("deleted"):
        out.skipped += 1
        return
    name = value.get("name")
    division = value.get("division_id")
    out.queue_records.setdefault(queue_id, []).append(record)
    out.queues[queue_id] = QueueInfo(
        queue_id, None if name is None else str(name), None if division is None else str(division)
    )


@dataclass(frozen=True, slots=True)
class Digests:
    """What :mod:`consumer.consume.known` needs from step 3 to extend the rows' ``folded_digests``.

    Attributes:
        of_record: the digest of each fresh events-topic record, by (partition, offset).
        stored: each conversation's stored ``folded_digests`` (rows of this logic version only).
    """

    of_record: Mapping[tuple[int, int], bytes] = field(default_factory=dict)
    stored: Mapping[str, bytes] = field(default_factory=dict)


def fold_batch(
    states: Mapping[str, ConversationState], decoded: DecodedBatch, digests: Digests | None = None
) -> FoldedBatch:
    """Step 3: fold each conversation's events over its stored state and derive the changed rows.

    Rows are derived without a queue directory: ``last_queue_name`` is the name an event carried, or
    None for the store to resolve (:class:`~consumer.ports.RowWrite`).

    A fold that raises makes that record poison (``reason="fold"``); the conversation keeps the state
    from before it and its other events still apply. A written row's ``folded_digests`` are its stored
    ones (if the stored state has the new state's logic version) plus those of the records folded here.
    """
    out = FoldedBatch()
    digests = digests or Digests()
    of_record = digests.of_record
    for cid, items in decoded.events.items():
        before = states.get(cid)
        state = before
        newest = -1
        folded: list[bytes] = []
        for record, event in items:
            try:
                state = fold(state, event)
            except Exception as exc:  # any fold failure is this record's fault (README "How it works")
                error = InvalidEventError(f"fold failed: {type(exc).__name__}: {exc}", raw=record.value)
                out.poisons.append(_poison(record, error, cid, "fold"))
                continue
            out.processed += 1
            d = of_record.get((record.partition, record.offset))
            if d is not None:
                folded.append(d)
            if event.event_time > newest:
                newest = event.event_time
        if state is None or state is before or state == before:
            out.unchanged += 1
            continue
        out.writes.append(
            RowWrite(
                derive_row(state), state_to_json(state), state.error_at,
                _row_digests(before, state, digests.stored.get(cid), folded),
            )
        )  # fmt: skip
        out.newest_event.append(newest)
        out.states.append(state)
    return out


def _row_digests(
    before: ConversationState | None, after: ConversationState, stored: bytes | None, folded: list[bytes]
) -> bytes | None:
    """The new row's ``folded_digests`` (:mod:`consumer.consume.known`): a new logic version starts afresh."""
    prior = stored if before is not None and before.logic_version == after.logic_version else None
    return merged(prior, folded)
