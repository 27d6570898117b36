"""The naive per-message consumer: the anti-pattern people write by hand (BENCHMARKS.md's baseline).

Per message: Avro-decode (our codec), ``SELECT state`` of its conversation, fold (our fold), upsert the
row (the same guarded statement as convstream), Postgres ``COMMIT``, then a synchronous Kafka offset
commit. Same fold, same tables; no batching, no pipelining. Time-boxed: it stops after ``seconds`` or
``limit`` events, whichever comes first.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from bench.kafka import earliest_consumer
from consumer.adapters.postgres.sql import build_statements
from consumer.adapters.postgres.write import row_values
from consumer.adapters.schema_registry import SchemaRegistry
from consumer.codec.avro import decode_value
from consumer.domain.fold import fold
from consumer.domain.row import derive_row
from consumer.domain.serde import state_from_json, state_to_json
from consumer.ports import RowWrite
from consumer.settings import SchemaRegistrySettings

__all__ = ["run_naive"]


def run_naive(
    *, bootstrap: str, registry_url: str, topic: str, dsn: str, group: str, seconds: float, limit: int
) -> dict[str, Any]:
    """Consume ``topic`` from the start the naive way; returns events, seconds and events/s."""
    registry = SchemaRegistry(SchemaRegistrySettings(url=registry_url))
    statements = build_statements("conversation")
    consumer = earliest_consumer(bootstrap, group, topic)
    done = 0
    started: float | None = None
    try:
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            while done < limit and (started is None or time.perf_counter() - started < seconds):
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    continue
                if started is None:
                    started = time.perf_counter()
                event = decode_value(msg.value(), registry.writer_schema)
                row = conn.execute(
                    "SELECT state FROM conversation WHERE conversation_id = %s", (event.conversation_id,)
                ).fetchone()
                state = fold(None if row is None or row[0] is None else state_from_json(row[0]), event)
                write = RowWrite(derive_row(state), state_to_json(state), state.error_at)
                conn.execute(statements.upsert_values, row_values(write)).fetchall()
                conn.commit()
                consumer.commit(message=msg, asynchronous=False)
                done += 1
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
        registry.close()
    return {"events": done, "seconds": round(elapsed, 2), "events_per_s": round(done / elapsed, 1)}
