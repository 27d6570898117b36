"""Avro codec: round trips of every body shape, schema resolution, and typed decode errors."""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest
from fastavro import schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.codec import avro
from consumer.codec.avro import decode_event, decode_queue, decode_value, encode_event, encode_queue
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, AvroSchema, current, parse, schema_text
from consumer.codec.wire import frame
from consumer.domain.events import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)
from consumer.errors import FramingError, InvalidEventError, PayloadDecodeError, UnknownSchemaError
from tests.unit.hypothesis_budget import examples

T0 = 1_760_000_000_000
WRITER = current(CONVERSATION_EVENT)


def full_communication(i: int) -> Communication:
    return Communication(
        id=f"comm-{i}",
        media_type="voice",
        state="connected",
        initial_state="alerting",
        held=False,
        confined=True,
        direction="inbound",
        disconnect_type="transfer.consult",
        connected_time=T0 + 1,
        disconnected_time=T0 + 2,
        start_hold_time=T0 + 3,
        park_time=T0 + 4,
        resume_time=T0 + 5,
        callback_scheduled_time=T0 + 6,
        acw_state="pending",
        acw_start_time=T0 + 7,
        acw_end_time=T0 + 8,
    )


def full_participant(i: int) -> Participant:
    return Participant(
        id=f"part-{i}",
        purpose="agent",
        name="Zoë Ñandú 名前 🎧",
        user_id="u-1",
        queue_id="q-1",
        queue_name="Support – Tier 2",
        connected_time=T0,
        end_time=T0 + 9,
        start_acw_time=T0 + 10,
        end_acw_time=T0 + 11,
        wrapup_required=True,
        wrapup_expected=False,
        wrapup_code="wc-1",
        wrapup_notes="notes\nline 2",
        wrapup_duration_seconds=42,
        monitored_participant_id="m",
        coached_participant_id="c",
        barged_participant_id="b",
        address="tel:+15551234567",
        attributes={"a": "1", "ключ": "значение", "": ""},
        communications=(full_communication(1), full_communication(2)),
    )


def envelope(body: ConversationSnapshot | DetailEvent, **overrides: Any) -> ConversationEvent:
    fields: dict[str, Any] = {
        "event_id": "ab" * 32,
        "conversation_id": "conv-1",
        "event_time": T0 + 100,
        "received_at": T0 + 200,
        "source": "eventbridge",
        "topic_name": "v2.detail.events.conversation.conv-1.acd.end",
        "topic_pattern": "v2.detail.events.conversation.{id}.acd.end",
        "correlation_id": "corr",
        "body": body,
    }
    fields.update(overrides)
    return ConversationEvent(**fields)


FULL_SNAPSHOT = ConversationSnapshot(
    participants=(full_participant(1), Participant(id="part-2")),
    external_tag="tag",
    division_ids=("d1", "d2"),
    conversation_start=T0,
    conversation_end=T0 + 1000,
    originating_direction="inbound",
    conversation_initiator="customer",
    customer_participation=True,
    self_served=False,
    media_stats_min_conversation_mos=4.25,
    media_stats_min_conversation_rfactor=88.5,
)
FULL_DETAIL = DetailEvent(
    kind="acd.end",
    participant_id="p",
    session_id="s",
    media_type="callback",
    direction="outbound",
    disconnect_type="endpoint",
    queue_id="q",
    user_id="u",
    division_id="d",
    acd_outcome="answered",
    answered_user_id="au",
    flow_type="inboundcall",
    flow_id="f",
    wrapup_code="wc",
    wrapup_notes="wn",
    wrapup_duration_ms=1234,
    callback_scheduled_time=T0 + 86_400_000,
    outbound_campaign_id="oc",
    outbound_contact_list_id="ocl",
    outbound_contact_id="oci",
    external_contact_id="ec",
    ani="tel:+1",
    dnis="tel:+2",
    attributes={"k": "v"},
)
EVENTS = {
    "snapshot-full": envelope(FULL_SNAPSHOT),
    "snapshot-empty": envelope(ConversationSnapshot(), correlation_id=None),
    "detail-full": envelope(FULL_DETAIL),
    "detail-minimal": envelope(DetailEvent(kind="customer.start"), correlation_id=None, source="file"),
    "unicode": envelope(
        DetailEvent(kind="attributes", attributes={"é": "ü", "日本": "語"}), conversation_id="ç-1"
    ),
    "extreme-ints": envelope(
        DetailEvent(kind="acw", wrapup_duration_ms=-(2**63)), event_time=2**63 - 1, received_at=0
    ),
}


def decode_with_fastavro(payload: bytes, writer: AvroSchema = WRITER) -> ConversationEvent:
    """The generic path (fastavro + dict mapping), which the generated reader must agree with."""
    return avro._decode_event_resolving(payload, writer, current(CONVERSATION_EVENT), None)


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_round_trip(name: str) -> None:
    event = EVENTS[name]
    payload = encode_event(event)
    assert decode_event(payload, WRITER) == event
    assert decode_with_fastavro(payload) == event


def test_empty_collections_travel_as_null_and_come_back_empty() -> None:
    event = envelope(ConversationSnapshot(participants=(Participant(id="p"),)))
    decoded = decode_event(encode_event(event), WRITER)
    assert isinstance(decoded.body, ConversationSnapshot)
    assert decoded.body.division_ids == ()
    assert decoded.body.participants[0].attributes == {}
    assert decoded.body.participants[0].communications == ()


def test_times_decode_as_int_milliseconds() -> None:
    decoded = decode_event(encode_event(EVENTS["snapshot-full"]), WRITER)
    assert type(decoded.event_time) is int
    assert isinstance(decoded.body, ConversationSnapshot)
    assert type(decoded.body.participants[0].communications[0].connected_time) is int


def test_queue_round_trip() -> None:
    queue = {"queue_id": "q-1", "name": "Support", "division_id": "d", "updated_at": T0, "deleted": True}
    assert decode_queue(encode_queue(queue), current(QUEUE)) == queue
    minimal = decode_queue(encode_queue({"queue_id": "q-2"}), current(QUEUE))
    assert minimal == {
        "queue_id": "q-2",
        "name": None,
        "division_id": None,
        "updated_at": None,
        "deleted": False,
    }


def test_empty_queue_id_is_invalid() -> None:
    with pytest.raises(InvalidEventError):
        decode_queue(encode_queue({"queue_id": ""}), current(QUEUE))


# ------------------------------------------------------------------------------------ resolution


def _modified_writer(edit: Any) -> AvroSchema:
    doc = json.loads(schema_text(CONVERSATION_EVENT))
    edit(doc)
    return parse(json.dumps(doc))


def _encode_with(writer: AvroSchema, record: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    schemaless_writer(buffer, writer.parsed, record)
    return buffer.getvalue()


def _record(event: ConversationEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "conversation_id": event.conversation_id,
        "event_time": event.event_time,
        "received_at": event.received_at,
        "source": event.source,
        "topic_name": event.topic_name,
        "topic_pattern": event.topic_pattern,
        "correlation_id": event.correlation_id,
        "body": avro._body_tuple(event.body),
    }


def test_older_writer_without_an_optional_field_resolves_to_default() -> None:
    old = _modified_writer(
        lambda d: d["fields"].remove(next(f for f in d["fields"] if f["name"] == "correlation_id"))
    )
    event = EVENTS["detail-full"]
    record = _record(event)
    del record["correlation_id"]
    assert decode_event(_encode_with(old, record), old) == dataclasses.replace(event, correlation_id=None)


def test_newer_writer_with_an_extra_field_is_read_without_it() -> None:
    def add_field(doc: dict[str, Any]) -> None:
        doc["fields"].append({"name": "extra", "type": ["null", "string"], "default": None, "doc": "x"})

    newer = _modified_writer(add_field)
    event = EVENTS["snapshot-full"]
    assert decode_event(_encode_with(newer, {**_record(event), "extra": "ignored"}), newer) == event


def test_writer_with_unknown_body_record_is_invalid_event() -> None:
    def add_branch(doc: dict[str, Any]) -> None:
        body = next(f for f in doc["fields"] if f["name"] == "body")
        body["type"].append({"type": "record", "name": "Other", "fields": [{"name": "x", "type": "string"}]})

    writer = _modified_writer(add_branch)
    payload = _encode_with(
        writer, {**_record(EVENTS["detail-minimal"]), "body": ("io.convstream.v1.Other", {"x": "y"})}
    )
    with pytest.raises(InvalidEventError) as info:
        decode_event(payload, writer, schema_id=9)
    assert info.value.raw == payload
    assert info.value.schema_id == 9


# ------------------------------------------------------------------------------------ errors


def test_empty_conversation_id_is_invalid_event() -> None:
    payload = encode_event(envelope(DetailEvent(kind="acd.start"), conversation_id=""))
    with pytest.raises(InvalidEventError) as info:
        decode_event(payload, WRITER)
    assert info.value.raw == payload
    with pytest.raises(InvalidEventError):
        decode_with_fastavro(payload)


def test_conversation_id_with_nul_is_invalid_event() -> None:
    # Schema-valid, but Postgres text cannot hold NUL: it must be dead-lettered, not stall the partition.
    payload = encode_event(envelope(DetailEvent(kind="acd.start"), conversation_id="nul\x00id"))
    with pytest.raises(InvalidEventError, match="NUL"):
        decode_event(payload, WRITER)
    with pytest.raises(InvalidEventError):
        decode_with_fastavro(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        b"\x02ab",
        b"\x80\x01" + b"x" * 10,
        encode_event(EVENTS["snapshot-full"])[:-3],
        encode_event(EVENTS["detail-full"])[:40],
    ],
)
def test_garbage_body_is_payload_decode_error_with_raw_bytes(payload: bytes) -> None:
    with pytest.raises(PayloadDecodeError) as info:
        decode_event(payload, WRITER, schema_id=5)
    assert info.value.raw == payload
    assert info.value.schema_id == 5


def test_trailing_bytes_are_a_decode_error() -> None:
    payload = encode_event(EVENTS["detail-minimal"]) + b"\x00"
    with pytest.raises(PayloadDecodeError, match="trailing"):
        decode_event(payload, WRITER)


def test_bad_union_index_is_a_decode_error() -> None:
    payload = bytearray(encode_event(EVENTS["detail-minimal"]))
    # correlation_id is null (index byte 0) right before the body; make it index 5.
    good = bytes(payload)
    position = good.index(b"\x00\x02", len(good) - 40)  # correlation null, then body branch 1
    payload[position] = 10
    with pytest.raises(PayloadDecodeError):
        decode_event(bytes(payload), WRITER)


def test_decode_value_attaches_whole_value_and_schema_id() -> None:
    value = frame(77, b"\x02ab")
    with pytest.raises(PayloadDecodeError) as info:
        decode_value(value, lambda schema_id: WRITER)
    assert info.value.raw == value
    assert info.value.schema_id == 77


def test_decode_value_framing_and_unknown_schema_errors() -> None:
    with pytest.raises(FramingError) as framing:
        decode_value(b"\x01\x00\x00\x00\x01xyz", lambda schema_id: WRITER)
    assert framing.value.raw == b"\x01\x00\x00\x00\x01xyz"

    def unknown(schema_id: int) -> AvroSchema:
        raise UnknownSchemaError("no such id", schema_id=schema_id)

    value = frame(12345, encode_event(EVENTS["detail-minimal"]))
    with pytest.raises(UnknownSchemaError) as info:
        decode_value(value, unknown)
    assert info.value.raw == value
    assert info.value.schema_id == 12345


def test_decode_value_round_trip() -> None:
    event = EVENTS["snapshot-full"]
    assert decode_value(frame(3, encode_event(event)), lambda schema_id: WRITER) == event


# ------------------------------------------------------------------------------------ property

text = st.text(max_size=8)
opt_text = st.none() | text
opt_int = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
opt_bool = st.none() | st.booleans()
attrs = st.dictionaries(text, text, max_size=3)

communications = st.builds(
    Communication,
    id=text,
    media_type=opt_text,
    state=opt_text,
    held=opt_bool,
    connected_time=opt_int,
    acw_end_time=opt_int,
    disconnect_type=opt_text,
)
participants = st.builds(
    Participant,
    id=text,
    purpose=opt_text,
    queue_id=opt_text,
    end_time=opt_int,
    wrapup_required=opt_bool,
    wrapup_duration_seconds=opt_int,
    attributes=attrs,
    communications=st.lists(communications, max_size=3).map(tuple),
)
snapshots = st.builds(
    ConversationSnapshot,
    participants=st.lists(participants, max_size=3).map(tuple),
    division_ids=st.lists(text, max_size=2).map(tuple),
    self_served=opt_bool,
    media_stats_min_conversation_mos=st.none() | st.floats(allow_nan=False),
)
details = st.builds(DetailEvent, kind=text, queue_id=opt_text, wrapup_duration_ms=opt_int, attributes=attrs)
events = st.builds(
    ConversationEvent,
    event_id=text.filter(lambda s: bool(s) and "\x00" not in s),
    conversation_id=text.filter(lambda s: bool(s) and "\x00" not in s),
    event_time=st.integers(min_value=0, max_value=2**62),
    received_at=st.integers(min_value=0, max_value=2**62),
    source=st.sampled_from(["notifications", "eventbridge", "analytics", "simulator", "file"]),
    topic_name=text,
    topic_pattern=text,
    body=snapshots | details,
    correlation_id=opt_text,
)


@settings(max_examples=examples(200), deadline=None)
@given(events)
def test_generated_reader_agrees_with_fastavro(event: ConversationEvent) -> None:
    payload = encode_event(event)
    assert decode_event(payload, WRITER) == event
    assert decode_with_fastavro(payload) == event


def test_warm_up_decoder_builds_the_current_schemas_reader_before_any_record() -> None:
    # The consumer calls it at start-up so the first record does not pay for building the reader.
    avro._fast_event_reader.cache_clear()
    avro.warm_up_decoder()
    assert avro._fast_event_reader.cache_info().currsize == 1
    event = decode_event(encode_event(envelope(FULL_SNAPSHOT)), current(CONVERSATION_EVENT))
    assert avro._fast_event_reader.cache_info().hits >= 1
    assert event == envelope(FULL_SNAPSHOT)
