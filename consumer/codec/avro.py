"""Avro encoding of the domain events (schemaless bodies; framing is :mod:`consumer.codec.wire`).

Guarantees:

- ``decode_event(encode_event(e), current(CONVERSATION_EVENT)) == e`` for every valid event; empty
  ``attributes`` maps and empty tuples travel as Avro ``null`` and come back empty.
- Encoding uses a writer generated from the current schema (:mod:`consumer.codec.fastwrite`), byte-identical
  to fastavro's ``schemaless_writer`` on the record dicts of :func:`encode_event_fastavro` (the reference,
  kept for tests and for comparison).
- Decoding resolves the writer schema to the current reader schema (fastavro resolution) only when their
  Parsing Canonical Forms differ; an identical writer is read directly (the hot path).
- Times stay epoch-millisecond ints end to end (the parsed schemas carry no ``timestamp-millis``).
- Errors are typed: a body that does not decode with its writer schema -> :class:`PayloadDecodeError`;
  a writer schema the reader cannot resolve (e.g. an unknown body record) or a record that decodes but is
  semantically invalid (empty ``conversation_id``/``event_id``/``queue_id``) -> :class:`InvalidEventError`.
  Both carry the raw bytes (the whole framed value when :func:`decode_value` was used) and the schema id.

Pure: no I/O; the writer-schema lookup is injected into :func:`decode_value`.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Mapping
from io import BytesIO
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from consumer.codec.fastread import Reader, compile_reader
from consumer.codec.fastwrite import Writer, compile_writer
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, AvroSchema, current
from consumer.codec.wire import split
from consumer.domain.events import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)
from consumer.errors import InvalidEventError, PayloadDecodeError, PoisonRecordError, UnencodableEventError

__all__ = [
    "DETAIL_EVENT_NAME",
    "SNAPSHOT_NAME",
    "QueueRecord",
    "decode_event",
    "decode_queue",
    "decode_value",
    "encode_event",
    "encode_event_fastavro",
    "encode_queue",
    "encode_queue_fastavro",
]

_NAMESPACE: Final = "io.convstream.v1"
SNAPSHOT_NAME: Final = f"{_NAMESPACE}.ConversationSnapshot"
DETAIL_EVENT_NAME: Final = f"{_NAMESPACE}.DetailEvent"

#: A ``genesys.routing.queues`` value: ``queue_id``, ``name``, ``division_id``, ``updated_at`` (epoch ms),
#: ``deleted``. A plain mapping until the domain grows a queue type (see consumer/domain/queues.py).
QueueRecord = Mapping[str, Any]

_DECODE_ERRORS: Final = (
    struct.error,
    EOFError,
    ValueError,
    TypeError,
    IndexError,
    KeyError,
    OverflowError,
    MemoryError,
)


# --------------------------------------------------------------------------------------------- encode


def _communication_dict(c: Communication) -> dict[str, Any]:
    return {
        "id": c.id,
        "media_type": c.media_type,
        "state": c.state,
        "initial_state": c.initial_state,
        "held": c.held,
        "confined": c.confined,
        "direction": c.direction,
        "disconnect_type": c.disconnect_type,
        "connected_time": c.connected_time,
        "disconnected_time": c.disconnected_time,
        "start_hold_time": c.start_hold_time,
        "park_time": c.park_time,
        "resume_time": c.resume_time,
        "callback_scheduled_time": c.callback_scheduled_time,
        "acw_state": c.acw_state,
        "acw_start_time": c.acw_start_time,
        "acw_end_time": c.acw_end_time,
    }


def _participant_dict(p: Participant) -> dict[str, Any]:
    return {
        "id": p.id,
        "purpose": p.purpose,
        "name": p.name,
        "user_id": p.user_id,
        "queue_id": p.queue_id,
        "queue_name": p.queue_name,
        "connected_time": p.connected_time,
        "end_time": p.end_time,
        "start_acw_time": p.start_acw_time,
        "end_acw_time": p.end_acw_time,
        "wrapup_required": p.wrapup_required,
        "wrapup_expected": p.wrapup_expected,
        "wrapup_code": p.wrapup_code,
        "wrapup_notes": p.wrapup_notes,
        "wrapup_duration_seconds": p.wrapup_duration_seconds,
        "monitored_participant_id": p.monitored_participant_id,
        "coached_participant_id": p.coached_participant_id,
        "barged_participant_id": p.barged_participant_id,
        "address": p.address,
        # Why dict(...)/list(...) or None: empty travels as null (1 byte), and a tuple inside a union would
        # be taken for fastavro's (type-name, value) tuple notation.
        "attributes": dict(p.attributes) if p.attributes else None,
        "communications": [_communication_dict(c) for c in p.communications] if p.communications else None,
    }


def _snapshot_dict(s: ConversationSnapshot) -> dict[str, Any]:
    return {
        "participants": [_participant_dict(p) for p in s.participants] if s.participants else None,
        "external_tag": s.external_tag,
        "division_ids": list(s.division_ids) if s.division_ids else None,
        "conversation_start": s.conversation_start,
        "conversation_end": s.conversation_end,
        "originating_direction": s.originating_direction,
        "conversation_initiator": s.conversation_initiator,
        "customer_participation": s.customer_participation,
        "self_served": s.self_served,
        "media_stats_min_conversation_mos": s.media_stats_min_conversation_mos,
        "media_stats_min_conversation_rfactor": s.media_stats_min_conversation_rfactor,
    }


def _detail_dict(d: DetailEvent) -> dict[str, Any]:
    return {
        "kind": d.kind,
        "participant_id": d.participant_id,
        "session_id": d.session_id,
        "media_type": d.media_type,
        "direction": d.direction,
        "disconnect_type": d.disconnect_type,
        "queue_id": d.queue_id,
        "user_id": d.user_id,
        "division_id": d.division_id,
        "acd_outcome": d.acd_outcome,
        "answered_user_id": d.answered_user_id,
        "flow_type": d.flow_type,
        "flow_id": d.flow_id,
        "wrapup_code": d.wrapup_code,
        "wrapup_notes": d.wrapup_notes,
        "wrapup_duration_ms": d.wrapup_duration_ms,
        "callback_scheduled_time": d.callback_scheduled_time,
        "outbound_campaign_id": d.outbound_campaign_id,
        "outbound_contact_list_id": d.outbound_contact_list_id,
        "outbound_contact_id": d.outbound_contact_id,
        "external_contact_id": d.external_contact_id,
        "ani": d.ani,
        "dnis": d.dnis,
        "attributes": dict(d.attributes) if d.attributes else None,
    }


def _body_tuple(body: ConversationSnapshot | DetailEvent) -> tuple[str, dict[str, Any]]:
    # Tuple notation names the union branch, so fastavro does not have to validate the datum against
    # each record branch to pick one.
    if isinstance(body, DetailEvent):
        return (DETAIL_EVENT_NAME, _detail_dict(body))
    return (SNAPSHOT_NAME, _snapshot_dict(body))


def _write(schema: AvroSchema, record: Mapping[str, Any]) -> bytes:
    out = BytesIO()
    schemaless_writer(out, schema.parsed, record)
    return out.getvalue()


def _event_dict(event: ConversationEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "conversation_id": event.conversation_id,
        "event_time": event.event_time,
        "received_at": event.received_at,
        "source": event.source,
        "topic_name": event.topic_name,
        "topic_pattern": event.topic_pattern,
        "correlation_id": event.correlation_id,
        "body": _body_tuple(event.body),
    }


def _queue_dict(queue: QueueRecord) -> dict[str, Any]:
    return {
        "queue_id": queue["queue_id"],
        "name": queue.get("name"),
        "division_id": queue.get("division_id"),
        "updated_at": queue.get("updated_at"),
        "deleted": bool(queue.get("deleted", False)),
    }


#: What a value that does not fit the schema raises inside a generated writer.
_ENCODE_ERRORS: Final = (TypeError, AttributeError, struct.error, OverflowError)


@functools.cache
def _fast_writer(stem: str, fingerprint: str) -> Writer:
    schema = current(stem)
    assert schema.fingerprint == fingerprint
    # Participants repeat across a conversation's snapshots as the same object (the normalizer's cache).
    return compile_writer(schema.parsed, _DOMAIN_CLASSES, memo=("Participant",))


def _write_fast(stem: str, value: Any) -> bytes:
    try:
        return _fast_writer(stem, current(stem).fingerprint)(value)
    except _ENCODE_ERRORS as exc:
        raise ValueError(f"value does not fit the {stem} schema: {type(exc).__name__}: {exc}") from exc


def encode_event(event: ConversationEvent) -> bytes:
    """The schemaless Avro body of ``event`` under the current ``ConversationEvent`` schema (no framing).

    Byte-identical to :func:`encode_event_fastavro` (a generated writer; see :mod:`consumer.codec.fastwrite`).

    Raises:
        UnencodableEventError: the event does not fit the schema (a time or integer beyond a ``long``,
            a lone surrogate in a string, a value of the wrong type).
    """
    try:
        return _write_fast(CONVERSATION_EVENT, event)
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # UnicodeEncodeError included
        raise UnencodableEventError(
            f"event {event.event_id} of conversation {event.conversation_id!r} cannot be Avro-encoded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def encode_event_fastavro(event: ConversationEvent) -> bytes:
    """:func:`encode_event` through fastavro's generic, validating writer (the reference implementation)."""
    return _write(current(CONVERSATION_EVENT), _event_dict(event))


def encode_queue(queue: QueueRecord) -> bytes:
    """The schemaless Avro body of a queue directory entry (keys as in ``schemas/queue.avsc``)."""
    return _write_fast(QUEUE, _queue_dict(queue))


def encode_queue_fastavro(queue: QueueRecord) -> bytes:
    """:func:`encode_queue` through fastavro's generic writer (the reference implementation)."""
    return _write(current(QUEUE), _queue_dict(queue))


# --------------------------------------------------------------------------------------------- decode


def _communication(d: dict[str, Any]) -> Communication:
    return Communication(**d)


def _participant(d: dict[str, Any]) -> Participant:
    comms = d.pop("communications")
    d["communications"] = tuple(map(_communication, comms)) if comms else ()
    if d["attributes"] is None:
        d["attributes"] = {}
    return Participant(**d)


def _snapshot(d: dict[str, Any]) -> ConversationSnapshot:
    participants = d["participants"]
    d["participants"] = tuple(map(_participant, participants)) if participants else ()
    division_ids = d["division_ids"]
    d["division_ids"] = tuple(division_ids) if division_ids else ()
    return ConversationSnapshot(**d)


def _detail(d: dict[str, Any]) -> DetailEvent:
    if d["attributes"] is None:
        d["attributes"] = {}
    return DetailEvent(**d)


_BODY_BUILDERS: Final[dict[str, Callable[[dict[str, Any]], ConversationSnapshot | DetailEvent]]] = {
    SNAPSHOT_NAME: _snapshot,
    DETAIL_EVENT_NAME: _detail,
}


def _read(payload: bytes, writer: AvroSchema, reader: AvroSchema, schema_id: int | None) -> Any:
    buffer = BytesIO(payload)
    resolve_to = None if writer.fingerprint == reader.fingerprint else reader.parsed
    try:
        record = schemaless_reader(
            buffer, writer.parsed, resolve_to, return_record_name=True, return_record_name_override=True
        )
    except SchemaResolutionError as exc:
        raise InvalidEventError(
            f"writer schema {writer.name} cannot be read as {reader.name}: {exc}",
            raw=payload,
            schema_id=schema_id,
        ) from exc
    except _DECODE_ERRORS as exc:
        raise PayloadDecodeError(
            f"Avro body does not decode with writer schema {writer.name}: {type(exc).__name__}: {exc}",
            raw=payload,
            schema_id=schema_id,
        ) from exc
    if buffer.tell() != len(payload):
        raise PayloadDecodeError(
            f"{len(payload) - buffer.tell()} trailing bytes after the Avro body",
            raw=payload,
            schema_id=schema_id,
        )
    return record


_DOMAIN_CLASSES: Final[dict[str, type]] = {
    cls.__name__: cls
    for cls in (ConversationEvent, ConversationSnapshot, DetailEvent, Participant, Communication)
}


@functools.cache
def _fast_event_reader(fingerprint: str) -> Reader:
    schema = current(CONVERSATION_EVENT)
    assert schema.fingerprint == fingerprint
    return compile_reader(schema.parsed, _DOMAIN_CLASSES)


def _decode_event_fast(payload: bytes, reader: AvroSchema, schema_id: int | None) -> ConversationEvent:
    try:
        event, end = _fast_event_reader(reader.fingerprint)(payload)
    except _DECODE_ERRORS as exc:
        raise PayloadDecodeError(
            f"Avro body does not decode with writer schema {reader.name}: {type(exc).__name__}: {exc}",
            raw=payload,
            schema_id=schema_id,
        ) from exc
    if end != len(payload):
        raise PayloadDecodeError(
            f"{len(payload) - end} trailing bytes after the Avro body", raw=payload, schema_id=schema_id
        )
    if not _valid_id(event.conversation_id) or not _valid_id(event.event_id):
        raise InvalidEventError(
            "event has an empty conversation_id or event_id, or one with a NUL character",
            raw=payload,
            schema_id=schema_id,
        )
    result: ConversationEvent = event
    return result


def _valid_id(value: str) -> bool:
    """Non-empty and storable: Postgres text cannot hold NUL, so such an id could never be looked up."""
    return bool(value) and "\x00" not in value


def _decode_event_resolving(
    payload: bytes, writer: AvroSchema, reader: AvroSchema, schema_id: int | None
) -> ConversationEvent:
    record = _read(payload, writer, reader, schema_id)
    try:
        body_name, body = record["body"]
        builder = _BODY_BUILDERS[body_name]
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidEventError(
            "event body is neither a snapshot nor a detail event", raw=payload, schema_id=schema_id
        ) from exc
    if not _valid_id(record["conversation_id"]) or not _valid_id(record["event_id"]):
        raise InvalidEventError(
            "event has an empty conversation_id or event_id, or one with a NUL character",
            raw=payload,
            schema_id=schema_id,
        )
    record["body"] = builder(body)
    return ConversationEvent(**record)


def decode_event(
    payload: bytes, writer_schema: AvroSchema, *, schema_id: int | None = None
) -> ConversationEvent:
    """Decode a schemaless ``ConversationEvent`` body written with ``writer_schema``.

    A writer identical to the current schema (the hot path) is read by a reader generated for it
    (:mod:`consumer.codec.fastread`); any other writer is resolved to the current schema by fastavro.

    Raises:
        PayloadDecodeError: the bytes do not decode with ``writer_schema`` (truncated, trailing bytes, …).
        InvalidEventError: the writer cannot be resolved to the current schema, or the event is invalid
            (empty ``event_id`` or ``conversation_id``, unknown body record).
    """
    reader = current(CONVERSATION_EVENT)
    if writer_schema.fingerprint == reader.fingerprint:
        return _decode_event_fast(payload, reader, schema_id)
    return _decode_event_resolving(payload, writer_schema, reader, schema_id)


def decode_queue(payload: bytes, writer_schema: AvroSchema, *, schema_id: int | None = None) -> QueueRecord:
    """Decode a schemaless ``Queue`` body written with ``writer_schema`` into a :data:`QueueRecord`.

    Raises:
        PayloadDecodeError: the bytes do not decode with ``writer_schema``.
        InvalidEventError: the writer cannot be resolved to the current schema, or ``queue_id`` is empty.
    """
    record: dict[str, Any] = _read(payload, writer_schema, current(QUEUE), schema_id)
    if not record["queue_id"]:
        raise InvalidEventError("queue record has an empty queue_id", raw=payload, schema_id=schema_id)
    return record


def decode_value(value: bytes | None, writer_schema: Callable[[int], AvroSchema]) -> ConversationEvent:
    """Split a Confluent-framed record value, look up its writer schema, and decode the event.

    ``writer_schema`` is typically ``SchemaRegistry.writer_schema`` (cached by id). Every
    :class:`~consumer.errors.PoisonRecordError` raised here carries the whole framed value as ``raw`` and
    the schema id when known; transient lookup errors propagate unchanged.

    Raises:
        FramingError, UnknownSchemaError, PayloadDecodeError, InvalidEventError: poison (dead-letter it).
        RegistryUnavailableError: from the lookup (retry).
    """
    schema_id, payload = split(value)
    try:
        return decode_event(payload, writer_schema(schema_id), schema_id=schema_id)
    except PoisonRecordError as exc:
        exc.raw = value
        exc.schema_id = schema_id
        raise


def warm_up_decoder() -> None:
    """Build the current schema's fast reader now, so the first record does not wait for it."""
    _fast_event_reader(current(CONVERSATION_EVENT).fingerprint)
