"""Event-to-row latency at a steady rate: paced publishing, then Postgres commit time per record.

The bridge has no pacing option, so the harness paces: it republishes the pre-loaded topic's records
(already Avro-framed, same keys, so the same partitions) into a fresh topic in 20 ms chunks at the target
rate, while a ``convstream consume`` runs. The consumer's ``convstream_event_to_row_latency_seconds``
histogram is not used: it measures commit time minus the *event* time, and the simulator's event times
are simulated (2025-01-01…), not wall clock. Instead a poller reads ``consumer_offset`` every 20 ms; a
record's latency is the first poll that saw its offset committed minus its Kafka timestamp (producer
CreateTime, wall clock). Resolution: the poll interval (≈20 ms, plus the query time).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from typing import Any

import psycopg
from confluent_kafka import Producer

from bench.background import Background
from bench.kafka import earliest_consumer

__all__ = ["OffsetPoller", "latency_stats", "paced_publish", "read_records"]


def read_records(bootstrap: str, topic: str, count: int, group: str) -> list[tuple[bytes | None, bytes]]:
    """The first ``count`` (key, value) pairs of ``topic`` (any partition order)."""
    consumer = earliest_consumer(bootstrap, group, topic)
    out: list[tuple[bytes | None, bytes]] = []
    deadline = time.monotonic() + 120
    try:
        while len(out) < count and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 1.0):
                value = msg.value()
                if not msg.error() and value is not None:  # the events topic has no tombstones
                    out.append((msg.key(), value))
    finally:
        consumer.close()
    return out[:count]


def paced_publish(
    bootstrap: str, topic: str, records: list[tuple[bytes | None, bytes]], rate: float
) -> tuple[list[tuple[int, int, int]], float]:
    """Publish at ``rate``/s in 20 ms chunks; returns ([(partition, offset, ts ms)…], achieved rate).

    The first record is published and flushed before the paced run (producer warm-up) and is not counted.
    """
    delivered: list[tuple[int, int, int]] = []

    def on_delivery(err: Any, msg: Any) -> None:
        if err is None:
            delivered.append((msg.partition(), msg.offset(), msg.timestamp()[1]))

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 5,
            "acks": "all",
            "enable.idempotence": True,
            "partitioner": "murmur2_random",
            "compression.type": "lz4",
        }
    )
    # Warm-up, not timed: the idempotent producer's first delivery waits ~0.5 s for its producer id, which
    # would otherwise show up as consumer latency of the first records. The record is consumed as usual.
    if records:
        key, value = records[0]
        producer.produce(topic, value=value, key=key)
        producer.flush(30)
        records = records[1:]
    tick = 0.02
    per_tick = max(1, round(rate * tick))
    start = time.perf_counter()
    for n, i in enumerate(range(0, len(records), per_tick)):
        for key, value in records[i : i + per_tick]:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        producer.poll(0)
        pause = start + (n + 1) * tick - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
    producer.flush(60)
    elapsed = time.perf_counter() - start
    return delivered, len(records) / elapsed


class OffsetPoller(Background):
    """Polls a group's ``consumer_offset`` rows of one topic every ``interval`` seconds (wall ms)."""

    def __init__(self, dsn: str, group: str, topic: str, interval: float = 0.02) -> None:
        self.dsn, self.group, self.topic, self.interval = dsn, group, topic, interval
        super().__init__()
        self.samples: dict[int, list[tuple[int, int]]] = {}  # partition -> [(next_offset, wall ms)]

    def _run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT partition, next_offset FROM consumer_offset WHERE group_id = %s AND topic = %s",
                    (self.group, self.topic),
                ).fetchall()
                now = int(time.time() * 1000)
                for partition, offset in rows:
                    seen = self.samples.setdefault(int(partition), [])
                    if not seen or seen[-1][0] != offset:
                        seen.append((int(offset), now))
                self._stop.wait(self.interval)


def _percentile(sorted_values: list[int], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return float(sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))])


def latency_stats(delivered: list[tuple[int, int, int]], poller: OffsetPoller) -> dict[str, Any]:
    """p50/p99/max (ms) of commit-seen time minus record timestamp, over the records seen committed."""
    lat: list[int] = []
    missing = 0
    for partition, offset, ts in delivered:
        seen = poller.samples.get(partition, [])
        i = bisect_left(seen, (offset + 1, -1))
        if i == len(seen):
            missing += 1
            continue
        lat.append(max(0, seen[i][1] - ts))
    lat.sort()
    return {
        "records": len(lat),
        "not_seen_committed": missing,
        "p50_ms": _percentile(lat, 0.50),
        "p99_ms": _percentile(lat, 0.99),
        "max_ms": float(lat[-1]) if lat else float("nan"),
    }
