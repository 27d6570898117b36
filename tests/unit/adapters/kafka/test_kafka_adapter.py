"""Kafka producer/admin adapter: configuration guarantees and error classification (no broker)."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.adapters.kafka.client import (
    KafkaProducerAdapter,
    _translate,
    consumer_error,
    is_unavailable,
    producer_config,
)
from consumer.errors import BrokerUnavailableError, ConfigError, ConvstreamError, PublishError
from consumer.settings import BridgeSettings, KafkaSettings


def test_delivery_guarantees_cannot_be_weakened_by_passthrough() -> None:
    kafka = KafkaSettings(extra={"acks": "1", "enable.idempotence": "false", "partitioner": "consistent"})
    conf = producer_config(kafka, BridgeSettings(compression="zstd", linger_ms=7))
    assert (conf["acks"], conf["enable.idempotence"], conf["partitioner"]) == (
        "all",
        "true",
        "murmur2_random",
    )
    assert (conf["compression.type"], conf["linger.ms"]) == ("zstd", "7")


def test_passthrough_tunes_the_rest() -> None:
    conf = producer_config(KafkaSettings(extra={"linger.ms": "50"}), BridgeSettings())
    assert conf["linger.ms"] == "50"


def test_constructing_the_adapter_does_no_io() -> None:
    producer = KafkaProducerAdapter(KafkaSettings(bootstrap_servers="127.0.0.1:1"))
    assert producer.pending() == 0
    assert producer.flush(0) == 0  # nothing produced: no client was ever created


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (KafkaError._TRANSPORT, BrokerUnavailableError),
        (KafkaError._ALL_BROKERS_DOWN, BrokerUnavailableError),
        (KafkaError._MSG_TIMED_OUT, BrokerUnavailableError),
        (KafkaError.INVALID_REPLICATION_FACTOR, ConfigError),
        (KafkaError.MSG_SIZE_TOO_LARGE, PublishError),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, PublishError),
    ],
)
def test_errors_are_classified_by_code(code: int, expected: type[Exception]) -> None:
    error = _translate(KafkaException(KafkaError(code)), "produce")
    assert type(error) is expected
    assert is_unavailable(KafkaError(code)) is (expected is BrokerUnavailableError)


def test_failed_deliveries_raise_once_with_counts() -> None:
    producer = KafkaProducerAdapter(KafkaSettings())
    producer.produced = 3
    producer._on_delivery(None, None)
    producer._on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
    producer._on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    with pytest.raises(PublishError, match=r"2 of 3 messages were not delivered \(1 delivered\)"):
        producer.raise_for_failures()
    producer.raise_for_failures()  # already reported


def test_timed_out_deliveries_mean_broker_unavailable() -> None:
    producer = KafkaProducerAdapter(KafkaSettings(bootstrap_servers="10.0.0.1:9092"))
    producer.produced = 1
    producer._on_delivery(KafkaError(KafkaError._MSG_TIMED_OUT), None)
    with pytest.raises(BrokerUnavailableError, match=r"10\.0\.0\.1:9092"):
        producer.raise_for_failures()


def test_consumer_errors_are_classified_by_code_and_never_break_on_other_payloads() -> None:
    down = consumer_error(KafkaException(KafkaError(KafkaError._TRANSPORT)), "list offsets of t[0]")
    assert isinstance(down, BrokerUnavailableError)
    assert str(down).startswith("kafka consumer list offsets of t[0]: _TRANSPORT")
    other = consumer_error(KafkaException(KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART)), "consume")
    assert type(other) is ConvstreamError
    # A KafkaException carrying a plain string (not a KafkaError) is still our error, not an AttributeError.
    text = consumer_error(KafkaException("broker said no"), "subscribe")
    assert type(text) is ConvstreamError
    assert "broker said no" in str(text)
