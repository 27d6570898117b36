"""The peer: Quix Streams doing convstream's job (run by the peer venv's python, not the project's).

quixstreams 3.28.1 requires confluent-kafka<2.13 while convstream pins 2.16.0, so it runs in its own
venv (``.cache/bench-peer``, pins in ``bench/peer-requirements.txt``), created by the harness on first
use. Same job: consume the events topic from the start, Avro-decode with *our* codec (writer schema
fetched once per id over the registry's REST API), fold with *our* fold keeping the state in Quix's
state store (RocksDB + changelog topic), and upsert the derived rows with the same guarded statement in
one transaction per sink batch (Quix's checkpoint: at-least-once, Kafka offsets committed by Quix after
the sink flush; convstream's offsets live in Postgres in the same transaction instead).

Usage: ``python bench/peer_quix.py BOOTSTRAP REGISTRY_URL TOPIC DSN GROUP TOTAL STATE_DIR``; prints one
JSON line: events, rows, seconds (first record to last flush), events_per_s.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx
import psycopg
from quixstreams import Application
from quixstreams.models.serializers import Deserializer
from quixstreams.sinks import BatchingSink, SinkBatch

from consumer.adapters.postgres.sql import build_statements
from consumer.adapters.postgres.write import coalesce_rows, row_values
from consumer.codec.avro import decode_event
from consumer.codec.schemas import AvroSchema, parse
from consumer.codec.wire import split
from consumer.domain.fold import fold
from consumer.domain.row import derive_row
from consumer.domain.serde import state_from_json, state_to_json
from consumer.ports import RowWrite

__all__ = ["main"]

CLOCK: dict[str, float] = {}


class OurDecoder(Deserializer):  # type: ignore[misc]
    """Confluent framing + our Avro decoder; writer schemas cached by id."""

    def __init__(self, registry: str) -> None:
        super().__init__()
        self.registry = registry.rstrip("/")
        self.schemas: dict[int, AvroSchema] = {}

    def __call__(self, value: bytes, ctx: Any) -> Any:
        CLOCK.setdefault("first", time.perf_counter())
        schema_id, payload = split(value)
        schema = self.schemas.get(schema_id)
        if schema is None:
            body = httpx.get(f"{self.registry}/schemas/ids/{schema_id}", timeout=10).json()
            schema = self.schemas[schema_id] = parse(body["schema"])
        return decode_event(payload, schema, schema_id=schema_id)


def fold_with_state(event: Any, state: Any) -> RowWrite:
    stored = state.get("s")
    new = fold(None if stored is None else state_from_json(stored), event)
    js = state_to_json(new)
    state.set("s", js)
    return RowWrite(derive_row(new), js, new.error_at)


class UpsertSink(BatchingSink):  # type: ignore[misc]
    """One transaction per flushed batch: the guarded upsert of each conversation's latest row."""

    def __init__(self, dsn: str, app: Application, total: int) -> None:
        super().__init__()
        self.conn = psycopg.connect(dsn)
        self.sql = build_statements("conversation").upsert_values
        self.app, self.total = app, total
        self.events = self.rows = 0

    def write(self, batch: SinkBatch) -> None:
        writes = coalesce_rows([item.value for item in batch])
        with self.conn.cursor() as cur:
            cur.executemany(self.sql, [row_values(w) for w in writes])
        self.conn.commit()
        self.events += batch.size
        self.rows += len(writes)
        if self.events >= self.total:
            CLOCK["last"] = time.perf_counter()
            self.app.stop()


def main(argv: list[str]) -> int:
    bootstrap, registry, topic_name, dsn, group, total, state_dir = argv
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    topic = app.topic(topic_name, key_deserializer="str", value_deserializer=OurDecoder(registry))
    sink = UpsertSink(dsn, app, int(total))
    sdf = app.dataframe(topic)
    sdf = sdf.apply(fold_with_state, stateful=True)
    sdf.sink(sink)
    start = time.perf_counter()
    app.run()
    end = CLOCK.get("last", time.perf_counter())
    seconds = end - CLOCK.get("first", start)
    print(
        json.dumps(
            {
                "events": sink.events,
                "rows_written": sink.rows,
                "seconds": round(seconds, 2),
                "events_per_s": round(sink.events / seconds, 1) if seconds > 0 else 0.0,
                "seconds_incl_startup": round(end - start, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
