"""The test services are real: Kafka + schema registry (Confluent wire format), PostgreSQL 15, Prometheus
scraping the project's metrics ports, and `scripts/devstack up` being idempotent. Each test fails when its
service is absent."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from tests.fixtures.services import DEVSTACK, ROOT, http_json, wait_until

pytestmark = pytest.mark.integration

RECORD_SCHEMA = {
    "type": "record",
    "name": "Probe",
    "namespace": "io.convstream.test",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "count", "type": "long"},
    ],
}


def _schema(*extra_fields: dict[str, Any]) -> str:
    doc = dict(RECORD_SCHEMA)
    doc["fields"] = [*RECORD_SCHEMA["fields"], *extra_fields]
    return json.dumps(doc)


def test_kafka_and_registry_round_trip_in_confluent_wire_format(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    registry_url: str,
    new_topic: Callable[..., str],
    unique_name: Callable[[str], str],
) -> None:
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    topic = new_topic(partitions=2)
    subject = f"{topic}-value"
    writer_client = SchemaRegistryClient({"url": registry_url})
    reader_client = SchemaRegistryClient({"url": registry_url})  # a separate client: fetches the schema by id
    request.addfinalizer(writer_client.close)
    request.addfinalizer(reader_client.close)
    schema_id = writer_client.register_schema(subject, Schema(_schema(), "AVRO"))
    assert isinstance(schema_id, int)

    serializer = AvroSerializer(writer_client, _schema(), conf={"auto.register.schemas": False})
    record = {"id": unique_name("rec"), "count": 42}
    payload = serializer(record, SerializationContext(topic, MessageField.VALUE))
    assert payload is not None
    assert payload[0] == 0
    assert int.from_bytes(payload[1:5], "big") == schema_id

    producer = Producer({"bootstrap.servers": kafka_bootstrap, "enable.idempotence": True})
    delivered: list[Any] = []
    producer.produce(
        topic,
        key=str(record["id"]).encode(),
        value=payload,
        on_delivery=lambda err, msg: delivered.append(err or msg),
    )
    assert producer.flush(30) == 0
    assert len(delivered) == 1, delivered
    assert not hasattr(delivered[0], "code"), delivered  # a KafkaError, not a Message

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_bootstrap,
            "group.id": unique_name("group"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        msg = None
        while msg is None and time.monotonic() < deadline:
            polled = consumer.poll(1.0)
            if polled is not None:
                assert polled.error() is None, polled.error()
                msg = polled
        assert msg is not None, f"no record consumed from {topic} within 60s"
        consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()

    assert msg.value() == payload
    deserializer = AvroDeserializer(reader_client)
    assert deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE)) == record


def test_registry_register_fetch_and_backward_compatibility(
    request: pytest.FixtureRequest, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    client = SchemaRegistryClient({"url": registry_url})
    other = SchemaRegistryClient({"url": registry_url})
    request.addfinalizer(client.close)
    request.addfinalizer(other.close)
    subject = f"{unique_name('subject')}-value"
    v1 = _schema()
    schema_id = client.register_schema(subject, Schema(v1, "AVRO"))
    assert client.register_schema(subject, Schema(v1, "AVRO")) == schema_id  # same content, same id

    fetched = other.get_schema(schema_id)
    assert fetched.schema_type in ("AVRO", None)
    assert fetched.schema_str is not None
    assert json.loads(fetched.schema_str)["fields"] == RECORD_SCHEMA["fields"]

    client.set_compatibility(subject_name=subject, level="BACKWARD")
    assert client.get_compatibility(subject_name=subject) == "BACKWARD"

    incompatible = _schema({"name": "required_new", "type": "string"})  # new field without a default
    with pytest.raises(SchemaRegistryError):
        client.register_schema(subject, Schema(incompatible, "AVRO"))

    compatible = _schema({"name": "optional_new", "type": ["null", "string"], "default": None})
    new_id = client.register_schema(subject, Schema(compatible, "AVRO"))
    assert new_id != schema_id
    assert client.get_latest_version(subject).schema_id == new_id


def test_postgres_is_real_postgresql_15(pg_database: str) -> None:
    import psycopg

    with psycopg.connect(pg_database, connect_timeout=10) as conn:
        assert conn.info.dbname.startswith("t_")
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, note text NOT NULL)")
        conn.execute("INSERT INTO probe VALUES (1, 'one'), (2, 'two')")
        assert conn.execute("SELECT id, note FROM probe ORDER BY id").fetchall() == [(1, "one"), (2, "two")]
        row = conn.execute("SHOW server_version_num").fetchone()
        assert row is not None
        assert int(row[0]) >= 150000


def test_prometheus_scrapes_the_convstream_metrics_ports(
    prometheus_url: str, unique_name: Callable[[str], str]
) -> None:
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    registry = CollectorRegistry()
    metric = unique_name("convstream_devstack_probe")
    Gauge(metric, "devstack scrape probe", registry=registry).set(7)
    server, thread = start_http_server(9409, addr="127.0.0.1", registry=registry)
    try:
        url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": metric})

        def scraped() -> list[Any]:
            body = http_json(url)
            assert body["status"] == "success", body
            return list(body["data"]["result"])

        result = wait_until(scraped, timeout=30, interval=0.5, what=f"Prometheus to scrape {metric}")
        assert result[0]["metric"]["job"] == "convstream"
        assert result[0]["metric"]["instance"] == "127.0.0.1:9409"
        assert float(result[0]["value"][1]) == 7.0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _devstack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DEVSTACK), *args], capture_output=True, text=True, timeout=300, cwd=ROOT, check=False
    )


def _pids() -> dict[str, str]:
    status = _devstack("status")
    return dict(re.findall(r"^(\w+)\s+up pid=(\d+)", status.stdout, flags=re.MULTILINE))


def test_devstack_up_is_idempotent(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    registry_url: str,
    postgres_dsn: str,
    prometheus_url: str,
) -> None:
    stack = request.getfixturevalue("service_stack")
    if set(stack.source.values()) != {"devstack"}:
        pytest.skip(f"services do not come from the devstack here: {stack.source}")
    before = _pids()
    assert set(before) == {"kafka", "registry", "postgres", "prometheus"}, before
    again = _devstack("up")
    assert again.returncode == 0, again.stderr
    env = dict(re.findall(r"^export (\w+)=(.*)$", again.stdout, flags=re.MULTILINE))
    assert env["CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS"] == kafka_bootstrap
    assert env["CONVSTREAM_SCHEMA_REGISTRY__URL"] == registry_url
    assert env["CONVSTREAM_POSTGRES__DSN"].rsplit("/", 1)[0] == postgres_dsn.rsplit("/", 1)[0]
    assert env["CONVSTREAM_PROMETHEUS_URL"] == prometheus_url
    assert _pids() == before


def test_devstack_registry_keeps_its_schemas_across_a_restart(
    request: pytest.FixtureRequest, registry_url: str, unique_name: Callable[[str], str]
) -> None:
    """Records in the devstack's Kafka outlive a registry restart, so the schema ids they carry must too."""
    stack = request.getfixturevalue("service_stack")
    if stack.source.get("registry") != "devstack":
        pytest.skip(f"the registry does not come from the devstack here: {stack.source}")
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

    subject = f"{unique_name('restart')}-value"
    client = SchemaRegistryClient({"url": registry_url})
    schema_id = client.register_schema(subject, Schema(_schema(), "AVRO"))
    client.close()
    before = _pids()["registry"]

    down = _devstack("down", "registry")
    assert down.returncode == 0, down.stderr
    up = _devstack("up", "registry")
    assert up.returncode == 0, up.stderr
    assert _pids()["registry"] != before  # really restarted

    fetched = http_json(f"{registry_url}/schemas/ids/{schema_id}")
    assert json.loads(fetched["schema"])["fields"] == RECORD_SCHEMA["fields"]
    assert subject in http_json(f"{registry_url}/subjects")
