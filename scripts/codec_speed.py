"""Measure Avro encode/decode speed of a ~600-byte snapshot event (single core, in process).

Usage: .venv/bin/python scripts/codec_speed.py [--seconds 2] [--values VALUES.pkl]

Prints events/s for encode_event (generated writer), encode_event_fastavro (the reference),
decode_event (writer == reader, the hot path) with the default reader engine and with each engine
(``decode_c_…``: the C extension, null when it is not built; ``decode_python_…``: the generated Python
reader), decode_event with writer->reader resolution (an older writer schema), and frame+split.

``--values``: a pickled list of Confluent-framed record values (e.g. taken from the real topic); adds the
CPU µs per record of decode_event on their payloads with each engine (``values_…`` keys).
CPU time of this process is measured (other load on the machine distorts less). Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastavro import schemaless_writer

from consumer.codec import avro as codec_avro
from consumer.codec.avro import decode_event, encode_event, encode_event_fastavro
from consumer.codec.fastread import C_AVAILABLE, Engine, Reader, compile_reader
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


@contextlib.contextmanager
def reader_engine(engine: Engine) -> Iterator[None]:
    """Make decode_event's hot path use ``engine`` (swaps the codec's cached reader: fine in a script)."""
    writer = current(CONVERSATION_EVENT)
    reader: Reader = compile_reader(writer.parsed, codec_avro._DOMAIN_CLASSES, engine=engine)
    original = codec_avro._fast_event_reader
    codec_avro._fast_event_reader = lambda fingerprint: reader  # type: ignore[assignment]
    try:
        yield
    finally:
        codec_avro._fast_event_reader = original


def engines() -> list[Engine]:
    return ["c", "python"] if C_AVAILABLE else ["python"]


def values_us_per_record(path: Path) -> dict[str, Any]:
    """CPU µs per record of decode_event on the payloads of real framed values, for each engine."""
    with path.open("rb") as f:
        values: list[bytes] = pickle.load(f)  # noqa: S301 - the caller's own measurement file
    payloads = [split(v)[1] for v in values]
    writer = current(CONVERSATION_EVENT)
    out: dict[str, Any] = {
        "values_records": len(payloads),
        "values_payload_bytes_avg": round(sum(map(len, payloads)) / len(payloads)),
    }
    for engine in engines():
        with reader_engine(engine):
            best = float("inf")
            for _ in range(3):  # best of 3: the least disturbed by other load
                start = time.process_time()
                for payload in payloads:
                    decode_event(payload, writer)
                best = min(best, time.process_time() - start)
        out[f"values_decode_{engine}_us_per_record"] = round(best / len(payloads) * 1e6, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--values", type=Path, help="a pickled list of Confluent-framed record values")
    args = parser.parse_args()
    event = sample_event()
    writer = current(CONVERSATION_EVENT)
    payload = encode_event(event)
    assert decode_event(payload, writer) == event
    old = parse(older_writer_text())
    old_payload = encode_with(old, event)
    assert decode_event(old_payload, old) == dataclasses.replace(event, correlation_id=None)
    framed = frame(42, payload)
    per_engine: dict[str, Any] = {"decode_c_events_per_s": None}
    for engine in engines():
        with reader_engine(engine):
            assert decode_event(payload, writer) == event
            per_engine[f"decode_{engine}_events_per_s"] = round(
                rate(lambda: decode_event(payload, writer), args.seconds)
            )
    results = {
        "payload_bytes": len(payload),
        "encode_events_per_s": round(rate(lambda: encode_event(event), args.seconds)),
        "encode_fastavro_events_per_s": round(rate(lambda: encode_event_fastavro(event), args.seconds)),
        "decode_events_per_s": round(rate(lambda: decode_event(payload, writer), args.seconds)),
        "decode_c_available": C_AVAILABLE,
        **per_engine,
        "decode_resolving_events_per_s": round(rate(lambda: decode_event(old_payload, old), args.seconds)),
        "frame_split_per_s": round(rate(lambda: split(frame(42, payload)), args.seconds)),
        "split_only_per_s": round(rate(lambda: split(framed), args.seconds)),
    }
    if args.values is not None:
        results.update(values_us_per_record(args.values))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
