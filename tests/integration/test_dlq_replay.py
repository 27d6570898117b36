"""``convstream dlq replay`` with a non-empty dead-letter topic, end to end.

Records whose schema id the registry did not know when they were consumed (a fake registry answering
"not found", as during a registry migration) are dead-lettered; ``--dry-run`` counts them; a real replay
re-publishes their original keys and values to the events topic, and the consumer (now with the real
registry, which has the id) applies them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.codec.avro import encode_event
from consumer.codec.wire import frame
from consumer.consume.dlq_replay import HEADER_REPLAYED_FROM
from tests.fixtures.e2e import E2EStack
from tests.integration.test_consumer import _schema_id
from tests.unit.consume.pipeline_fakes import make_event

pytestmark = pytest.mark.integration

Headers = dict[str, str | bytes | None]


class _NotFound(BaseHTTPRequestHandler):
    """A schema registry that is up and knows no schema id."""

    def do_GET(self) -> None:
        body = json.dumps({"error_code": 40403, "message": "Schema not found"}).encode()
        self.send_response(404)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def empty_registry() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _read_all(e2e: E2EStack, topic: str) -> list[tuple[bytes | None, bytes | None, Headers]]:
    ends = e2e.end_offsets(topic)
    consumer = Consumer({"bootstrap.servers": e2e.bootstrap, "group.id": f"{e2e.group}-read",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    out: list[tuple[bytes | None, bytes | None, Headers]] = []
    try:
        while len(out) < sum(ends.values()):
            out += [(m.key(), m.value(), dict(m.headers() or [])) for m in consumer.consume(100, 5.0)
                    if m.error() is None]  # fmt: skip
    finally:
        consumer.close()
    return out


def test_dead_letters_are_replayed_and_applied(e2e: E2EStack, empty_registry: str) -> None:
    schema_id = _schema_id(e2e)
    originals = [
        (b"r-1", frame(schema_id, encode_event(make_event("r-1", 0)))),
        (b"r-2", frame(schema_id, encode_event(make_event("r-2", 0)))),
        (b"r-1", frame(schema_id, encode_event(make_event("r-1", 1)))),
    ]
    producer = Producer({"bootstrap.servers": e2e.bootstrap, "enable.idempotence": True})
    for key, value in originals:
        producer.produce(e2e.events, value, key, partition=5)
    assert producer.flush(30) == 0

    # The registry does not know the id yet: every record is dead-lettered, nothing stalls.
    first = e2e.run("consume", "--until-end", CONVSTREAM_SCHEMA_REGISTRY__URL=empty_registry)
    assert json.loads(first.stdout.splitlines()[-1])["dead_lettered"] == 3
    assert e2e.dlq_records() == 3
    assert all(row["state"] is None for row in e2e.raw_rows().values())  # error marks only

    dry = json.loads(e2e.run("dlq", "replay", "--dry-run").stdout.splitlines()[-1])
    assert dry == {
        "read": 3,
        "republished": 0,
        "by_topic": {e2e.events: 3},
        "by_reason": {"unknown_schema": 3},
        "dry_run": True,
    }
    assert sum(e2e.end_offsets(e2e.events).values()) == 3  # a dry run produces nothing

    done = json.loads(e2e.run("dlq", "replay").stdout.splitlines()[-1])
    assert (done["read"], done["republished"], done["dry_run"]) == (3, 3, False)
    replayed = [(k, v) for k, v, headers in _read_all(e2e, e2e.events) if HEADER_REPLAYED_FROM in headers]
    assert sorted(replayed) == sorted(originals)

    # The real registry has the id: the consumer applies the replayed records.
    second = json.loads(e2e.run("consume", "--until-end").stdout.splitlines()[-1])
    assert (second["processed"], second["dead_lettered"]) == (3, 0)
    rows = e2e.raw_rows()
    assert rows["r-1"]["state"] is not None
    assert rows["r-2"]["state"] is not None
    assert e2e.dlq_records() == 3
    e2e.assert_offsets_at_end()

    # The replay group committed: a second replay has nothing to do.
    again = json.loads(e2e.run("dlq", "replay").stdout.splitlines()[-1])
    assert (again["read"], again["republished"]) == (0, 0)
