"""The harness's plain Kafka reader: what the ceiling, the naive baseline and the latency scenario share."""

from __future__ import annotations

from confluent_kafka import Consumer

__all__ = ["earliest_consumer"]


def earliest_consumer(bootstrap: str, group: str, topic: str) -> Consumer:
    """A consumer of ``topic`` in a fresh ``group`` from the earliest offset, committing nothing itself."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    return consumer
