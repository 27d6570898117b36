"""A value PostgreSQL rejects: the bad conversation is isolated, dead-lettered and marked;
the good records of the same batch land and the partition does not stall."""

from __future__ import annotations

import dataclasses
from contextlib import ExitStack

import pytest
from confluent_kafka import Producer

from consumer.adapters.kafka.client import KafkaAdmin
from consumer.codec.avro import encode_event
from consumer.codec.wire import frame
from consumer.commands.consume import end_offsets
from consumer.consume.dlq import HEADER_CLASS, HEADER_REASON
from consumer.consume.wiring import build_pipeline
from consumer.domain.events import ConversationSnapshot, Participant
from consumer.settings import load_settings
from tests.fixtures.e2e import E2EStack
from tests.integration.test_consumer import _dead_letters, _schema_id
from tests.unit.consume.pipeline_fakes import make_event

pytestmark = pytest.mark.integration


def nul_event(cid: str, n: int) -> bytes:
    """A valid event whose participant attribute holds a NUL character: Avro and the fold accept it, a
    jsonb state cannot hold it (SQLSTATE 22P05)."""
    event = make_event(cid, n)
    snapshot = ConversationSnapshot(
        participants=(
            Participant(
                id="p1", purpose="customer", attributes={"note": "a\x00b"}, connected_time=event.event_time
            ),
        )
    )
    return encode_event(dataclasses.replace(event, body=snapshot))


@pytest.mark.parametrize("write_method", ["copy", "executemany"])
def test_rejected_values_are_dead_lettered_and_the_rest_lands(
    e2e: E2EStack, monkeypatch: pytest.MonkeyPatch, write_method: str
) -> None:
    schema_id = _schema_id(e2e)
    records = [
        (b"good-1", frame(schema_id, encode_event(make_event("good-1", 0)))),
        (b"bad-nul", frame(schema_id, nul_event("bad-nul", 0))),
        (b"good-2", frame(schema_id, encode_event(make_event("good-2", 0)))),
        (b"bad-nul", frame(schema_id, encode_event(make_event("bad-nul", 1)))),
        (b"good-1", frame(schema_id, encode_event(make_event("good-1", 1)))),
    ]
    producer = Producer({"bootstrap.servers": e2e.bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(e2e.events, value, key, partition=2)
    assert producer.flush(30) == 0
    for name, setting in e2e.env().items():
        if name.startswith("CONVSTREAM_"):
            monkeypatch.setenv(name, setting)
    settings = load_settings()
    with ExitStack() as stack:
        pipeline, store, _health, prom = build_pipeline(settings, stack)
        monkeypatch.setattr(store, "write_method", write_method)
        totals = pipeline.run(end_offsets(KafkaAdmin(settings.kafka), settings))
        rows = store.conversation_rows(["good-1", "good-2", "bad-nul"])
    assert totals.dead_lettered == 2
    assert totals.processed == 3
    assert rows["good-1"]["state"] is not None
    assert rows["good-2"]["state"] is not None
    assert rows["good-1"]["error_message"] is None
    assert rows["bad-nul"]["state"] is None  # only the error mark: nothing of it was written
    assert "UnwritableRecordError" in rows["bad-nul"]["error_message"]
    letters = _dead_letters(e2e)
    assert sorted(m.key() for m in letters) == [b"bad-nul", b"bad-nul"]
    for m in letters:
        headers = dict(m.headers() or [])
        assert headers[HEADER_CLASS] == b"UnwritableRecordError"
        assert headers[HEADER_REASON] == b"store"
    assert sorted(m.value() for m in letters) == sorted(v for k, v in records if k == b"bad-nul")
    assert prom.get_sample_value("convstream_dlq_records_total", {"reason": "store"}) == 2
    e2e.assert_offsets_at_end()
