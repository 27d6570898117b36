"""`convstream consume` against the real Kafka, schema registry and Postgres (unique topics/group/database).

- simulate -> bridge -> ``consume --until-end``: rows equal the simulator's truth, offsets at the end;
- poison records interleaved with good ones: all good ones land, every bad one is in the DLQ with its
  headers, the metrics count them, the conversation's ``error_message`` is set;
- re-consuming from offset 0 changes no row (``db_last_updated`` unchanged).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from contextlib import ExitStack
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.codec.avro import encode_event
from consumer.codec.wire import frame
from consumer.commands.consume import end_offsets
from consumer.consume.dlq import (
    HEADER_CLASS,
    HEADER_MESSAGE,
    HEADER_OFFSET,
    HEADER_PARTITION,
    HEADER_SCHEMA_ID,
    HEADER_TIMESTAMP,
    HEADER_TOPIC,
)
from consumer.consume.wiring import build_pipeline
from consumer.settings import load_settings
from tests.fixtures.e2e import DISORDER_IGNORED, E2EStack, assert_rows_match
from tests.unit.consume.pipeline_fakes import make_event

pytestmark = pytest.mark.integration


def test_consume_until_end_matches_the_simulator_truth(e2e: E2EStack) -> None:
    sim = e2e.simulate(conversations=400, duplicate_rate=0.1, reorder_window=8, seed=7)
    e2e.bridge(sim.out, queues=sim.queues)
    done = e2e.run("consume", "--until-end")
    assert '"processed"' in done.stdout
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()


def test_reconsuming_from_offset_zero_changes_no_row(e2e: E2EStack) -> None:
    sim = e2e.simulate(conversations=150, seed=3)
    e2e.bridge(sim.out, queues=sim.queues)
    e2e.run("consume", "--until-end")
    before = e2e.raw_rows()
    with e2e.connect() as conn:
        conn.execute("UPDATE consumer_offset SET next_offset = 0 WHERE group_id = %s", (e2e.group,))
    again = e2e.run("consume", "--until-end")
    assert '"rows_inserted": 0' in again.stdout
    assert '"rows_updated": 0' in again.stdout
    assert e2e.raw_rows() == before
    e2e.assert_offsets_at_end()


def _schema_id(e2e: E2EStack) -> int:
    from consumer.adapters.schema_registry import SchemaRegistry, subject_for
    from consumer.codec.schemas import CONVERSATION_EVENT, schema_text
    from consumer.settings import SchemaRegistrySettings

    registry = SchemaRegistry(SchemaRegistrySettings(url=e2e.registry))
    try:
        return registry.register(subject_for(e2e.events), schema_text(CONVERSATION_EVENT))
    finally:
        registry.close()


def _produce_mixed(e2e: E2EStack) -> dict[bytes, str]:
    """Good and poison records on one partition (same key hash); returns key -> expected error class."""
    schema_id = _schema_id(e2e)
    good = lambda cid, n: frame(schema_id, encode_event(make_event(cid, n)))  # noqa: E731
    empty_id = frame(schema_id, encode_event(dataclasses.replace(make_event("x", 9), conversation_id="")))
    records: list[tuple[bytes, bytes]] = [
        (b"good-1", good("good-1", 0)),
        (b"bad-unframed", b'{"json": "not avro"}'),
        (b"good-2", good("good-2", 0)),
        (b"bad-unknown-schema", frame(2_000_000_000, b"\x02ab")),
        (b"good-1", good("good-1", 1)),
        (b"bad-garbage", frame(schema_id, b"\xff\xff\xff\xff\xff\xff")),
        (b"bad-empty-id", empty_id),
        (b"good-3", good("good-3", 0)),
    ]
    producer = Producer({"bootstrap.servers": e2e.bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(e2e.events, value, key, partition=3)
    assert producer.flush(30) == 0
    return {
        b"bad-unframed": "FramingError",
        b"bad-unknown-schema": "UnknownSchemaError",
        b"bad-garbage": "PayloadDecodeError",
        b"bad-empty-id": "InvalidEventError",
    }


def _dead_letters(e2e: E2EStack) -> list[Any]:
    ends = e2e.end_offsets(e2e.dlq)
    consumer = Consumer({"bootstrap.servers": e2e.bootstrap, "group.id": f"{e2e.group}-check",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(e2e.dlq, p, 0) for p in ends])
    out: list[Any] = []
    try:
        while len(out) < sum(ends.values()):
            out += [m for m in consumer.consume(100, 5.0) if m.error() is None]
    finally:
        consumer.close()
    return out


def test_poison_records_go_to_the_dlq_and_good_ones_land(
    e2e: E2EStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _produce_mixed(e2e)
    for name, value in e2e.env().items():
        if name.startswith("CONVSTREAM_"):
            monkeypatch.setenv(name, value)
    settings = load_settings()
    with ExitStack() as stack:
        pipeline, store, _health, prom = build_pipeline(settings, stack)
        from consumer.adapters.kafka.client import KafkaAdmin

        totals = pipeline.run(end_offsets(KafkaAdmin(settings.kafka), settings))
        rows = store.conversation_rows(["good-1", "good-2", "good-3", "bad-garbage", "bad-unframed"])
    assert totals.processed == 4
    assert totals.dead_lettered == 4
    assert {"good-1", "good-2", "good-3"} <= set(rows)
    assert rows["good-1"]["error_message"] is None
    assert "PayloadDecodeError" in rows["bad-garbage"]["error_message"]
    letters = _dead_letters(e2e)
    by_key = {m.key(): dict(m.headers() or []) for m in letters}
    assert {k: h[HEADER_CLASS].decode() for k, h in by_key.items()} == {k: v for k, v in expected.items()}
    for message in letters:
        headers = dict(message.headers() or [])
        assert headers[HEADER_TOPIC].decode() == e2e.events
        assert headers[HEADER_PARTITION] == b"3"
        assert int(headers[HEADER_OFFSET]) >= 0
        assert int(headers[HEADER_TIMESTAMP]) > 0
        assert headers[HEADER_MESSAGE]
    assert HEADER_SCHEMA_ID not in by_key[b"bad-unframed"]
    assert by_key[b"bad-unknown-schema"][HEADER_SCHEMA_ID] == b"2000000000"
    originals = {m.key(): m.value() for m in letters}
    assert originals[b"bad-unframed"] == b'{"json": "not avro"}'
    reasons = Counter(
        {
            r: prom.get_sample_value("convstream_dlq_records_total", {"reason": r}) or 0
            for r in ("framing", "unknown_schema", "payload", "invalid_event")
        }
    )
    assert reasons == Counter(framing=1, unknown_schema=1, payload=1, invalid_event=1)
    assert prom.get_sample_value("convstream_events_total", {"outcome": "dlq"}) == 4
    e2e.assert_offsets_at_end()
