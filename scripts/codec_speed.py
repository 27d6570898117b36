"""Measure Avro encode/decode speed of a ~600-byte snapshot event (single core, in process).

Usage: .venv/bin/python scripts/codec_speed.py [--seconds 2]

Prints events/s for encode_event (generated writer), encode_event_fastavro (the reference),
decode_event (writer == reader, the hot path), decode_event with
writer->reader resolution (an older writer schema), and frame+split.
CPU time of this process is measured (other load on the machine distorts less). Not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import time
from collections.abc import Callable

from fastavro import schemaless_writer

from consumer.codec import avro as codec_avro
from consumer.codec.avro import decode_event, encode_event, encode_event_fastavro
from consumer.codec.schemas import CONVERSATION_EVENT, AvroSchema, current, parse, schema_text
from consumer.codec.wire import frame, split
from consumer.domain.events import Communication, ConversationEvent, ConversationSnapshot, Participant

T0 = 1_760_000_000_000


def sample_event() -> ConversationEvent:
    """A snapshot-shaped event like a queue-topic conversation notification: customer, acd, agent."""
    conv = "5f1c2b8e-0d4a-4c55-9a63-1f2e3d4c5b6a"

    def comm(i: int, state: str, **kw: object) -> Communication:
        return Communication(
            id=f"c0a8{i:04d}-7e1f-4b2a-9c3d-5e6f7a8b9c0d",
            media_type="voice",
            state=state,
            direction="inbound",
            connected_time=T0 + i,
            **kw,  # type: ignore[arg-type]
        )

    participants = (
        Participant(
            id="p-customer-0001",
            purpose="customer",
            name="Jane Doe",
            address="tel:+15551234567",
            connected_time=T0,
            attributes={"ivr.lang": "en-US", "crm.id": "A-1234"},
            communications=(comm(1, "connected"),),
        ),
        Participant(
            id="p-acd-0002",
            purpose="acd",
            queue_id="6b7c8d9e-aaaa-bbbb-cccc-0123456789ab",
            queue_name="Support",
            connected_time=T0 + 10,
            end_time=T0 + 20_000,
            communications=(
                comm(2, "disconnected", disconnected_time=T0 + 20_000, disconnect_type="transfer"),
            ),
        ),
        Participant(
            id="p-agent-0003",
            purpose="agent",
            user_id="0d9e8f7a-1111-2222-3333-444455556666",
            queue_id="6b7c8d9e-aaaa-bbbb-cccc-0123456789ab",
            connected_time=T0 + 20_000,
            wrapup_required=True,
            communications=(comm(3, "connected", held=False),),
        ),
    )
    return ConversationEvent(
        event_id="9f" * 32,
        conversation_id=conv,
        event_time=T0 + 20_001,
        received_at=T0 + 20_050,
        source="notifications",
        topic_name="v2.routing.queues.6b7c8d9e-aaaa-bbbb-cccc-0123456789ab.conversations",
        topic_pattern="v2.routing.queues.{id}.conversations",
        correlation_id="corr-1",
        body=ConversationSnapshot(participants=participants, division_ids=("d-1",)),
    )


def older_writer_text() -> str:
    """The current schema minus one optional field (stands in for a released older version)."""
    doc = json.loads(schema_text(CONVERSATION_EVENT))
    doc["fields"] = [f for f in doc["fields"] if f["name"] != "correlation_id"]
    return json.dumps(doc)


def encode_with(schema: AvroSchema, event: ConversationEvent) -> bytes:
    """Encode ``event`` with another writer schema (fastavro, via the codec's record mapping)."""
    record = {
        "event_id": event.event_id,
        "conversation_id": event.conversation_id,
        "event_time": event.event_time,
        "received_at": event.received_at,
        "source": event.source,
        "topic_name": event.topic_name,
        "topic_pattern": event.topic_pattern,
        "body": codec_avro._body_tuple(event.body),
    }
    buf = io.BytesIO()
    schemaless_writer(buf, schema.parsed, record)
    return buf.getvalue()


def rate(fn: Callable[[], object], seconds: float) -> float:
    n, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        for _ in range(1000):
            fn()
        n += 1000
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    event = sample_event()
    writer = current(CONVERSATION_EVENT)
    payload = encode_event(event)
    assert decode_event(payload, writer) == event
    old = parse(older_writer_text())
    old_payload = encode_with(old, event)
    assert decode_event(old_payload, old) == dataclasses.replace(event, correlation_id=None)
    framed = frame(42, payload)
    results = {
        "payload_bytes": len(payload),
        "encode_events_per_s": round(rate(lambda: encode_event(event), args.seconds)),
        "encode_fastavro_events_per_s": round(rate(lambda: encode_event_fastavro(event), args.seconds)),
        "decode_events_per_s": round(rate(lambda: decode_event(payload, writer), args.seconds)),
        "decode_resolving_events_per_s": round(rate(lambda: decode_event(old_payload, old), args.seconds)),
        "frame_split_per_s": round(rate(lambda: split(frame(42, payload)), args.seconds)),
        "split_only_per_s": round(rate(lambda: split(framed), args.seconds)),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
