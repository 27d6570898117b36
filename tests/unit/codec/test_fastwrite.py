"""The generated Avro writer: byte-identical to fastavro's schemaless_writer, and read back by fastavro."""

from __future__ import annotations

import dataclasses
import io
import math
from typing import Any

import codec_strategies
import pytest
from codec_strategies import LONG_MAX, LONG_MIN, finite_or_infinite, ids, longs, text
from fastavro import schemaless_reader
from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.codec import avro
from consumer.codec.avro import (
    decode_event,
    decode_queue,
    encode_event,
    encode_event_fastavro,
    encode_queue,
    encode_queue_fastavro,
)
from consumer.codec.fastwrite import compile_writer
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, current
from consumer.domain.events import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)
from consumer.errors import UnencodableEventError

WRITER = current(CONVERSATION_EVENT)

events = codec_strategies.events(doubles=finite_or_infinite, event_ids=ids)


def _read_with_fastavro(payload: bytes) -> ConversationEvent:
    """fastavro's generic reader (not the generated one) plus the codec's dict-to-dataclass mapping."""
    buffer = io.BytesIO(payload)
    record: Any = schemaless_reader(buffer, WRITER.parsed, None, return_record_name=True)
    assert buffer.tell() == len(payload)
    name, body = record["body"]
    record["body"] = avro._BODY_BUILDERS[name](body)
    return ConversationEvent(**record)


@settings(max_examples=300, deadline=None)
@given(events)
def test_byte_identical_to_fastavro_and_read_back_by_fastavro(event: ConversationEvent) -> None:
    payload = encode_event(event)
    assert payload == encode_event_fastavro(event)
    assert _read_with_fastavro(payload) == event
    assert decode_event(payload, WRITER) == event


@settings(max_examples=100, deadline=None)
@given(
    st.fixed_dictionaries(
        {"queue_id": ids},
        optional={
            "name": st.none() | text,
            "division_id": st.none() | text,
            "updated_at": st.none() | longs,
            "deleted": st.booleans(),
        },
    )
)
def test_queue_byte_identical_to_fastavro(queue: dict[str, Any]) -> None:
    payload = encode_queue(queue)
    assert payload == encode_queue_fastavro(queue)
    decoded = decode_queue(payload, current(QUEUE))
    assert decoded["queue_id"] == queue["queue_id"]
    assert decoded["deleted"] is queue.get("deleted", False)


def test_large_blocks_and_long_strings() -> None:
    """Counts and lengths of 64 and more need multi-byte varints."""
    participant = Participant(
        id="p" * 300,
        attributes={f"k{i}": "v" * i for i in range(100)},
        communications=tuple(Communication(id=f"c{i}", connected_time=i) for i in range(70)),
    )
    event = ConversationEvent(
        event_id="e" * 64,
        conversation_id="c",
        event_time=LONG_MAX,
        received_at=LONG_MIN,
        source="simulator",
        topic_name="t",
        topic_pattern="t",
        body=ConversationSnapshot(participants=(participant,) * 65, division_ids=tuple(map(str, range(64)))),
    )
    payload = encode_event(event)
    assert payload == encode_event_fastavro(event)
    assert decode_event(payload, WRITER) == event


def test_nan_is_written_like_fastavro() -> None:
    event = ConversationEvent(
        event_id="e",
        conversation_id="c",
        event_time=1,
        received_at=1,
        source="analytics",
        topic_name="t",
        topic_pattern="t",
        body=ConversationSnapshot(media_stats_min_conversation_mos=math.nan),
    )
    assert encode_event(event) == encode_event_fastavro(event)


_GOOD = ConversationEvent(
    event_id="e",
    conversation_id="c",
    event_time=1,
    received_at=1,
    source="file",
    topic_name="t",
    topic_pattern="t",
    body=DetailEvent(kind="acd.end"),
)


@pytest.mark.parametrize(
    "bad",
    [
        dataclasses.replace(_GOOD, event_time=2**63),
        dataclasses.replace(_GOOD, received_at=-(2**63) - 1),
        dataclasses.replace(_GOOD, event_time="1"),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, event_time=1.5),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, topic_name=None),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, body=None),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, body=Participant(id="p")),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, body=DetailEvent(kind="k", wrapup_duration_ms="5")),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, body=ConversationSnapshot(self_served=1)),  # type: ignore[arg-type]
        dataclasses.replace(_GOOD, body=DetailEvent(kind="\ud800")),
    ],
)
def test_values_that_do_not_fit_raise_unencodable_event_error(bad: ConversationEvent) -> None:
    # The project's own input-rejection error (the bridge reports it and goes on), from the writer's error.
    with pytest.raises(UnencodableEventError) as caught:
        encode_event(bad)
    assert isinstance(caught.value.__cause__, ValueError | TypeError | AttributeError)


def test_unsupported_schemas_fail_at_compile_time() -> None:
    enum = {"type": "record", "name": "R", "fields": [{"name": "e", "type": {"type": "enum", "name": "E",
                                                                            "symbols": ["A"]}}]}  # fmt: skip
    union = {"type": "record", "name": "R", "fields": [{"name": "u", "type": ["null", "string", "long"]}]}
    for schema in (enum, union):
        with pytest.raises(ValueError, match="unsupported"):
            compile_writer(schema, {})


def test_a_field_the_class_lacks_is_written_as_its_null_default() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class R:
        a: int

    schema = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": ["null", "string"], "default": None}],
    }
    assert compile_writer(schema, {"R": R})(R(a=-65)) == b"\x81\x01\x00"
    with pytest.raises(ValueError, match="lacks"):
        compile_writer({**schema, "fields": [{"name": "c", "type": "long"}]}, {"R": R})


def _with_participant(participant: Participant) -> ConversationEvent:
    return dataclasses.replace(_GOOD, body=ConversationSnapshot(participants=(participant,)))


def test_repeated_participant_values_are_exact_and_odd_types_still_raise() -> None:
    comm = Communication(id="c1", state="connected", connected_time=1_735_725_600_000)
    first = Participant(id="p1", name="Agent 001", connected_time=1_735_725_600_000, communications=(comm,))
    again = dataclasses.replace(first, communications=(dataclasses.replace(comm, held=True),))  # new object
    for event in (_with_participant(first), _with_participant(again), _with_participant(first)):
        assert encode_event(event) == encode_event_fastavro(event)
    # Values equal to ones already written, but of another type, raise or encode as their own type.
    float_time = dataclasses.replace(first, connected_time=1_735_725_600_000.0)  # type: ignore[arg-type]
    with pytest.raises(UnencodableEventError, match=r"expected an integer, got float"):
        encode_event(_with_participant(float_time))

    class Name(str):
        pass

    subclass = dataclasses.replace(first, id="p2", name=Name("Agent 001"))
    assert encode_event(_with_participant(subclass)) == encode_event_fastavro(_with_participant(subclass))
    with pytest.raises(UnencodableEventError):
        encode_event(_with_participant(dataclasses.replace(first, id="p3", name="\ud800")))
