"""A topic deleted and recreated under the consumer's stored offsets (real Kafka, registry and Postgres).

Postgres keeps the old topic's offsets (6 per partition) while the recreated topic's log ends at 3: the
consumer must notice at assignment that each stored offset is beyond the log end, rewind it to the log
start (fenced, counted, logged as an ERROR) and consume every new record, instead of skipping them until
the new log reaches the old offsets.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

import pytest
from confluent_kafka import Producer

from consumer.adapters.kafka.client import KafkaAdmin
from consumer.adapters.schema_registry import SchemaRegistry, subject_for
from consumer.codec.avro import encode_event
from consumer.codec.schemas import CONVERSATION_EVENT, schema_text
from consumer.codec.wire import frame
from consumer.commands.consume import end_offsets
from consumer.consume.pipeline_offsets import REWIND_MESSAGE
from consumer.consume.wiring import build_pipeline
from consumer.settings import SchemaRegistrySettings, TopicSettings, load_settings
from tests.fixtures.e2e import PARTITIONS, E2EStack
from tests.fixtures.services import wait_until
from tests.unit.consume.pipeline_fakes import make_event

pytestmark = pytest.mark.integration

OLD_PER_PARTITION = 6
NEW_PER_PARTITION = 3


def _produce(e2e: E2EStack, prefix: str, per_partition: int) -> list[str]:
    """``per_partition`` one-event conversations on every partition of the events topic; their ids."""
    registry = SchemaRegistry(SchemaRegistrySettings(url=e2e.registry))
    try:
        schema_id = registry.register(subject_for(e2e.events), schema_text(CONVERSATION_EVENT))
    finally:
        registry.close()
    producer = Producer({"bootstrap.servers": e2e.bootstrap, "enable.idempotence": True})
    ids = []
    for partition in range(PARTITIONS):
        for n in range(per_partition):
            cid = f"{prefix}-{partition}-{n}"
            value = frame(schema_id, encode_event(make_event(cid, n)))
            producer.produce(e2e.events, value, cid.encode(), partition=partition)
            ids.append(cid)
    assert producer.flush(30) == 0
    return ids


def _recreate_events_topic(e2e: E2EStack) -> None:
    """Delete the events topic and create it again, waiting for both (topic deletion is asynchronous)."""
    admin: KafkaAdmin = e2e.admin()
    admin.delete_topics([e2e.events])
    wait_until(lambda: e2e.events not in admin.list_topics(), timeout=60, what="the events topic to be gone")
    topics = TopicSettings(events=e2e.events, queues=e2e.queues, dlq=e2e.dlq, partitions=PARTITIONS)

    def recreated() -> bool:
        admin.ensure_topics(topics)  # again if a lagging broker still saw the old topic and skipped it
        return e2e.end_offsets() == dict.fromkeys(range(PARTITIONS), 0)

    wait_until(recreated, timeout=60, interval=0.5, what="the events topic to exist again, empty")


def test_a_recreated_topic_is_consumed_from_its_log_start(
    e2e: E2EStack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    old = _produce(e2e, "old", OLD_PER_PARTITION)
    e2e.run("consume", "--until-end")
    assert e2e.stored_offsets() == dict.fromkeys(range(PARTITIONS), OLD_PER_PARTITION)

    _recreate_events_topic(e2e)
    new = _produce(e2e, "new", NEW_PER_PARTITION)
    assert e2e.end_offsets() == dict.fromkeys(range(PARTITIONS), NEW_PER_PARTITION)

    for name, value in e2e.env().items():
        if name.startswith("CONVSTREAM_"):
            monkeypatch.setenv(name, value)
    settings = load_settings()
    with ExitStack() as stack, caplog.at_level(logging.ERROR, logger="consumer.consume.pipeline_offsets"):
        pipeline, store, _health, prom = build_pipeline(settings, stack)
        totals = pipeline.run(end_offsets(KafkaAdmin(settings.kafka), settings))
        rows = store.conversation_rows(new + old)

    assert set(new) <= set(rows), f"missing: {sorted(set(new) - set(rows))[:5]}"
    assert totals.processed == len(new)
    assert e2e.stored_offsets() == e2e.end_offsets() == dict.fromkeys(range(PARTITIONS), NEW_PER_PARTITION)
    e2e.assert_offsets_at_end()
    resets = prom.get_sample_value("convstream_offset_resets_total", {"topic": e2e.events})
    assert resets == PARTITIONS
    errors = [r for r in caplog.records if r.getMessage() == REWIND_MESSAGE]
    assert sorted(vars(r)["partition"] for r in errors) == list(range(PARTITIONS))
    for record in errors:
        fields = vars(record)
        assert record.levelno == logging.ERROR
        assert (fields["topic"], fields["stored_offset"]) == (e2e.events, OLD_PER_PARTITION)
        assert (fields["log_start"], fields["log_end"]) == (0, NEW_PER_PARTITION)


def test_a_running_consumer_follows_the_topic_through_its_recreation(e2e: E2EStack) -> None:
    old = _produce(e2e, "old", OLD_PER_PARTITION)
    consumer = e2e.consumer()
    wait_until(lambda: set(old) <= set(e2e.raw_rows()), timeout=90, what="the old conversations")
    _recreate_events_topic(e2e)
    new = _produce(e2e, "new", NEW_PER_PARTITION)
    wait_until(
        lambda: set(new) <= set(e2e.raw_rows()) and e2e.lag() == 0,
        timeout=120,
        interval=0.5,
        what=f"the new conversations\n{consumer.tail()}",
    )
    assert consumer.alive()
    assert e2e.stored_offsets() == dict.fromkeys(range(PARTITIONS), NEW_PER_PARTITION)
    assert consumer.logged(REWIND_MESSAGE) == PARTITIONS
