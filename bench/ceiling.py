"""The decode-only ceiling: consume a topic from the start and Avro-decode every record, nothing else."""

from __future__ import annotations

import time
from typing import Any

from bench.kafka import earliest_consumer
from consumer.adapters.schema_registry import SchemaRegistry
from consumer.codec.avro import decode_value
from consumer.settings import SchemaRegistrySettings

__all__ = ["run_ceiling"]


def run_ceiling(*, bootstrap: str, registry_url: str, topic: str, group: str, total: int) -> dict[str, Any]:
    """Read ``total`` records of ``topic`` with ``consume(1000)`` and decode each with our codec."""
    registry = SchemaRegistry(SchemaRegistrySettings(url=registry_url))
    consumer = earliest_consumer(bootstrap, group, topic)
    done = 0
    nbytes = 0
    started: float | None = None
    deadline = time.monotonic() + 600
    try:
        while done < total and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 1.0):
                if msg.error():
                    continue
                if started is None:
                    started = time.perf_counter()
                value = msg.value()
                nbytes += len(value or b"")
                decode_value(value, registry.writer_schema)
                done += 1
        elapsed = time.perf_counter() - (started or time.perf_counter())
    finally:
        consumer.close()
        registry.close()
    return {
        "events": done,
        "seconds": round(elapsed, 2),
        "events_per_s": round(done / elapsed, 1) if elapsed else 0.0,
        "mean_value_bytes": round(nbytes / done, 1) if done else 0,
    }
