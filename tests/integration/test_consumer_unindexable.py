"""A conversation id (or a value) PostgreSQL cannot index never stops the consumer.

Records produced past the bridge (another producer): ids of 3,000 and 9,000 random characters are
dead-lettered before folding (``UnindexableKeyError``, reason ``unindexable_key``); a queue id of 3,000
random characters (indexed by ``conversation_last_queue_idx``: SQLSTATE 54000 "index row size exceeds
btree maximum") is isolated by splitting, dead-lettered (reason ``store``) and marked. Every good record
of the same batch lands, ``convstream consume --until-end`` exits 0 and the offsets reach the end.
"""

from __future__ import annotations

import dataclasses
import random
import string

import pytest
from confluent_kafka import Producer

from consumer.codec.avro import encode_event
from consumer.codec.wire import frame
from consumer.consume.dlq import HEADER_CLASS, HEADER_REASON
from consumer.domain.events import ConversationSnapshot, Participant
from tests.fixtures.e2e import E2EStack
from tests.integration.test_consumer import _dead_letters, _schema_id
from tests.unit.consume.pipeline_fakes import make_event

pytestmark = pytest.mark.integration


def _random_text(n: int, seed: int) -> str:
    """Random characters: incompressible, so the index entry really is that large."""
    rng = random.Random(seed)
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(n))


def _long_queue_event(cid: str, queue_id: str) -> bytes:
    event = make_event(cid, 0)
    acd = Participant(id="p1", purpose="acd", queue_id=queue_id, connected_time=event.event_time)
    return encode_event(dataclasses.replace(event, body=ConversationSnapshot(participants=(acd,))))


def test_unindexable_ids_and_values_are_dead_lettered_and_the_consumer_goes_on(e2e: E2EStack) -> None:
    schema_id = _schema_id(e2e)
    long_3k, long_9k = _random_text(3000, 1), _random_text(9000, 2)
    good = [b"good-1", b"good-2", b"good-3"]
    records = [
        (good[0], frame(schema_id, encode_event(make_event("good-1", 0)))),
        (long_3k.encode(), frame(schema_id, encode_event(make_event(long_3k, 0)))),
        (None, frame(schema_id, encode_event(make_event(long_9k, 0)))),
        (good[1], frame(schema_id, encode_event(make_event("good-2", 0)))),
        (b"long-queue", frame(schema_id, _long_queue_event("long-queue", _random_text(3000, 3)))),
        (good[2], frame(schema_id, encode_event(make_event("good-3", 0)))),
        (long_3k.encode(), frame(schema_id, encode_event(make_event(long_3k, 1)))),
    ]
    producer = Producer({"bootstrap.servers": e2e.bootstrap, "enable.idempotence": True})
    for key, value in records:
        producer.produce(e2e.events, value, key, partition=3)
    assert producer.flush(30) == 0

    for attempt in range(2):  # a second start must not fail either (nothing left to do)
        proc = e2e.run("consume", "--until-end", timeout=180, check=False)
        assert proc.returncode == 0, f"start {attempt}: exit {proc.returncode}\n{proc.stderr[-3000:]}"

    rows = e2e.raw_rows()
    for key in good:
        assert rows[key.decode()]["state"] is not None
        assert rows[key.decode()]["error_message"] is None
    assert rows["long-queue"]["state"] is None  # only its error mark
    assert "UnwritableRecordError" in rows["long-queue"]["error_message"]
    assert "54000" in rows["long-queue"]["error_message"]
    assert set(rows) == {"good-1", "good-2", "good-3", "long-queue"}
    letters = _dead_letters(e2e)
    reasons = sorted(
        (dict(m.headers() or [])[HEADER_REASON], dict(m.headers() or [])[HEADER_CLASS]) for m in letters
    )
    assert reasons == [
        (b"store", b"UnwritableRecordError"),
        (b"unindexable_key", b"UnindexableKeyError"),
        (b"unindexable_key", b"UnindexableKeyError"),
        (b"unindexable_key", b"UnindexableKeyError"),
    ]
    e2e.assert_offsets_at_end()
