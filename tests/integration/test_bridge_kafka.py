"""`convstream bridge` against the real Kafka and schema registry (unique topics per test)."""

from __future__ import annotations

import argparse
import json
import socket
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, TopicPartition, murmur2

from consumer import cli
from consumer.adapters.kafka.client import KafkaAdmin
from consumer.bridge.sources import simulator_items
from consumer.codec.avro import decode_event, decode_queue
from consumer.codec.schemas import parse
from consumer.codec.wire import split
from consumer.domain.events import ConversationEvent, ConversationSnapshot, DetailEvent
from consumer.settings import KafkaSettings, TopicSettings
from tests.unit.bridge.test_bridge import HEARTBEAT, UNKNOWN, detail_line, snapshot_line

pytestmark = pytest.mark.integration

PARTITIONS = 4


def _partition(message: Message) -> int:
    partition = message.partition()
    assert partition is not None, message
    return partition


@pytest.fixture
def closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def topics(
    kafka_bootstrap: str, registry_url: str, unique_name: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TopicSettings]:
    """Unique topics (created by the bridge itself) and the env pointing the CLI at them."""
    base = unique_name("bridge")
    settings = TopicSettings(
        events=f"{base}.events", queues=f"{base}.queues", dlq=f"{base}.dlq", partitions=PARTITIONS
    )
    env = {
        "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CONVSTREAM_SCHEMA_REGISTRY__URL": registry_url,
        "CONVSTREAM_TOPICS__EVENTS": settings.events,
        "CONVSTREAM_TOPICS__QUEUES": settings.queues,
        "CONVSTREAM_TOPICS__DLQ": settings.dlq,
        "CONVSTREAM_TOPICS__PARTITIONS": str(PARTITIONS),
        "CONVSTREAM_BRIDGE__LINGER_MS": "5",
        "CONVSTREAM_OBSERVABILITY__LOG_FORMAT": "json",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    yield settings
    KafkaAdmin(KafkaSettings(bootstrap_servers=kafka_bootstrap)).delete_topics(
        [settings.events, settings.queues, settings.dlq]
    )


def read_all(bootstrap: str, topic: str, group: str) -> list[tuple[int, str, bytes]]:
    """Every record of ``topic`` up to its end offsets: (partition, key, value)."""
    admin = KafkaAdmin(KafkaSettings(bootstrap_servers=bootstrap))
    ends = admin.end_offsets(topic)
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
         "auto.offset.reset": "earliest", "enable.partition.eof": True}
    )  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    out: list[tuple[int, str, bytes]] = []
    done = {p for p, end in ends.items() if end == 0}
    deadline = time.monotonic() + 60
    while len(done) < len(ends) and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                done.add(_partition(message))
                continue
            raise AssertionError(error)
        key, value = message.key(), message.value()
        assert key is not None, message
        assert value is not None, message
        out.append((_partition(message), key.decode(), value))
    consumer.close()
    assert len(done) == len(ends), "did not reach the end offsets"
    return out


def writer_schema(registry_url: str, schema_id: int) -> Any:
    with urllib.request.urlopen(f"{registry_url}/schemas/ids/{schema_id}", timeout=10) as response:
        return parse(json.loads(response.read())["schema"])


def decode_all(registry_url: str, records: list[tuple[int, str, bytes]]) -> list[tuple[int, str, Any]]:
    schemas: dict[int, Any] = {}
    out = []
    for partition, key, value in records:
        schema_id, payload = split(value)
        if schema_id not in schemas:
            schemas[schema_id] = writer_schema(registry_url, schema_id)
        out.append((partition, key, (schema_id, payload, schemas[schema_id])))
    return out


def test_file_round_trip_with_bad_lines(
    topics: TopicSettings, kafka_bootstrap: str, registry_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], unique_name: Any,
) -> None:  # fmt: skip
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(
        "\n".join([detail_line("c1"), snapshot_line("c2"), "{not json", HEARTBEAT, UNKNOWN,
                   snapshot_line("c3")[:30], detail_line("c1", "customer.end", 1735725660000)]) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    queues_file = tmp_path / "queues.jsonl"
    queues_file.write_text(
        '{"id": "q1", "name": "Sales"}\n{"id": "q2", "name": "Support"}\n', encoding="utf-8"
    )

    code = cli.main(["bridge", "--source", "file", str(events_file), "--queues", str(queues_file)])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{events_file}:3: not valid JSON" in err
    assert f"{events_file}:6: not valid JSON" in err
    summary = [line for line in err.splitlines() if line.startswith("bridge: published")]
    assert summary == ["bridge: published 3 events and 2 queues" + summary[0].split("2 queues", 1)[1]]
    assert "skipped 1 heartbeats" in summary[0]
    assert "1 unknown topics; 2 bad lines" in summary[0]

    records = decode_all(registry_url, read_all(kafka_bootstrap, topics.events, unique_name("g")))
    events = [decode_event(payload, schema) for _, _, (_, payload, schema) in records]
    assert sorted((e.conversation_id, e.topic_name) for e in events) == [
        ("c1", "v2.detail.events.conversation.c1.customer.end"),
        ("c1", "v2.detail.events.conversation.c1.customer.start"),
        ("c2", "v2.routing.queues.q1.conversations"),
    ]
    assert all(key == event.conversation_id for (_, key, _), event in zip(records, events, strict=True))
    queues = decode_all(registry_url, read_all(kafka_bootstrap, topics.queues, unique_name("g")))
    decoded = {key: decode_queue(payload, schema) for _, key, (_, payload, schema) in queues}
    assert {k: v["name"] for k, v in decoded.items()} == {"q1": "Sales", "q2": "Support"}


def test_file_with_hostile_lines_reports_each_and_publishes_the_rest(
    topics: TopicSettings, kafka_bootstrap: str, registry_url: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], unique_name: Any,
) -> None:  # fmt: skip
    # Lone surrogates are repaired; out-of-range times, a page's bad record and the SDK's to_json() form are
    # reported with their line; nothing stops the run (it used to exit 1 with a traceback).
    snapshot = json.loads(snapshot_line("c1"))
    snapshot["eventBody"]["participants"][0]["name"] = "Ana \ud83d"
    far, huge = json.loads(detail_line("c2")), json.loads(detail_line("c3"))
    far["eventBody"]["eventTime"], huge["eventBody"]["eventTime"] = 10**17, 2**64
    record = {"conversationId": "c4", "conversationStart": "2025-01-01T10:00:00.000Z", "participants": []}
    page = {"conversations": [record, {"conversationStart": "2025-01-01T10:00:00.000Z"}]}
    to_json = {
        "topicName": "v2.routing.queues.q1.conversations",
        "eventBody": {"id": "c6", "participants": [{"id": "p", "connected_time": "2025-01-01T10:00:00Z"}]},
    }
    lines = [json.dumps(m) for m in (snapshot, far, huge, page, to_json)] + [detail_line("c5")]
    events_file = tmp_path / "hostile.jsonl"
    events_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    queues_file = tmp_path / "queues.jsonl"
    queues_file.write_text(json.dumps({"id": "q1", "name": "Sales \udc00"}) + "\n", encoding="utf-8")

    code = cli.main(["bridge", "--source", "file", str(events_file), "--queues", str(queues_file)])

    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    for number, reason in ((2, "timestamp out of range"), (3, "timestamp out of range"),
                           (4, "conversations[1].conversationId missing"), (5, "to_json()")):  # fmt: skip
        (reported,) = [line for line in err.splitlines() if line.startswith(f"{events_file}:{number}: ")]
        assert reason in reported
    records = decode_all(registry_url, read_all(kafka_bootstrap, topics.events, unique_name("g")))
    events = {e.conversation_id: e for e in (decode_event(p, s) for _, _, (_, p, s) in records)}
    assert sorted(events) == ["c1", "c4", "c5"]
    body = events["c1"].body
    assert isinstance(body, ConversationSnapshot)
    assert body.participants[0].name == "Ana \ufffd"
    queues = decode_all(registry_url, read_all(kafka_bootstrap, topics.queues, unique_name("g")))
    assert [decode_queue(p, s)["name"] for _, _, (_, p, s) in queues] == ["Sales \ufffd"]


def test_topics_created_with_configured_partitions_and_compaction(
    topics: TopicSettings, kafka_bootstrap: str, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert cli.main(["bridge", "--source", "file", str(empty)]) == 0
    admin = KafkaAdmin(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    listed = admin.list_topics()
    # The queue directory gets one partition: the group's assignor balances the total over both topics.
    assert [listed[t] for t in (topics.events, topics.queues, topics.dlq)] == [PARTITIONS, 1, PARTITIONS]
    assert admin.topic_config(topics.queues)["cleanup.policy"] == "compact"
    assert admin.topic_config(topics.events)["cleanup.policy"] == "delete"
    # Idempotent: a second run finds the topics and creates nothing.
    assert admin.ensure_topics(topics) == []
    assert admin.end_offsets(topics.events) == dict.fromkeys(range(PARTITIONS), 0)


def test_unreachable_broker_is_one_line_exit_4(
    registry_url: str, unique_name: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], closed_port: int,
) -> None:  # fmt: skip
    events_file = tmp_path / "events.jsonl"
    events_file.write_text(detail_line("c1") + "\n", encoding="utf-8")
    monkeypatch.setenv("CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("CONVSTREAM_SCHEMA_REGISTRY__URL", registry_url)
    monkeypatch.setenv("CONVSTREAM_TOPICS__EVENTS", unique_name("unreachable"))
    monkeypatch.setenv(
        "CONVSTREAM_KAFKA__EXTRA", json.dumps({"socket.timeout.ms": "3000", "message.timeout.ms": "3000"})
    )
    code = cli.main(["bridge", "--source", "file", str(events_file)])
    err_lines = [
        line for line in capsys.readouterr().err.splitlines() if line.startswith("convstream: error:")
    ]
    assert code == 4
    assert len(err_lines) == 1
    assert f"127.0.0.1:{closed_port}" in err_lines[0]


def simulated_events(args: list[str]) -> list[ConversationEvent]:
    """What the bridge publishes for these simulator options, recomputed in-process (seeded)."""
    from consumer.commands import simulate as simulate_command
    from consumer.simulate import simulate

    parser = argparse.ArgumentParser()
    simulate_command.add_arguments(parser)
    options = simulate_command.options_from_args(parser.parse_args(["--out", "-", *args]))
    return [item for item in simulator_items(simulate(options)) if isinstance(item, ConversationEvent)]


def test_simulator_round_trip_keys_and_partitions(
    topics: TopicSettings, kafka_bootstrap: str, registry_url: str, unique_name: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert cli.main(["bridge", "--source", "simulator", *SIM_ARGS]) == 0
    expected = simulated_events(SIM_ARGS)
    records = decode_all(registry_url, read_all(kafka_bootstrap, topics.events, unique_name("g")))
    decoded = [(p, k, decode_event(payload, schema)) for p, k, (_, payload, schema) in records]

    # (a) every published event comes back equal, whatever its body.
    assert sorted((e for _, _, e in decoded), key=lambda e: e.event_id) == sorted(
        expected, key=lambda e: e.event_id
    )
    kinds = {e.body.kind for _, _, e in decoded if isinstance(e.body, DetailEvent)}
    assert any(isinstance(e.body, ConversationSnapshot) for _, _, e in decoded)
    assert kinds == {e.body.kind for e in expected if isinstance(e.body, DetailEvent)}
    # (b) keys are conversation ids; one conversation, one partition.
    partitions: dict[str, set[int]] = defaultdict(set)
    for partition, key, event in decoded:
        assert key == event.conversation_id
        # murmur2_random: the partition a Java client would pick for this key.
        assert partition == murmur2(key.encode(), PARTITIONS)
        partitions[key].add(partition)
    assert all(len(p) == 1 for p in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) > 1
    # The simulated org's queue directory went to the compacted queues topic, keyed by queue id.
    queues = decode_all(registry_url, read_all(kafka_bootstrap, topics.queues, unique_name("g")))
    directory = {key: decode_queue(payload, schema) for _, key, (_, payload, schema) in queues}
    assert directory
    assert all(record["queue_id"] == key and record["name"] for key, record in directory.items())


#: Every scenario kind, detail events for all conversations, some EventBridge wrapping and duplicates.
SIM_ARGS: list[str] = ["--conversations", "60", "--seed", "11", "--detail-events", "--eventbridge", "0.2",
                       "--duplicate-rate", "0.05", "--arrival-rate", "1"]  # fmt: skip
