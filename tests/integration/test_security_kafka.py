"""Kafka over SASL_SSL (SCRAM-SHA-512) and mutual TLS against the devstack's listeners (docs/security.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from consumer.adapters.kafka.client import KafkaAdmin, KafkaProducerAdapter
from consumer.adapters.kafka.consumer import KafkaConsumerAdapter
from consumer.errors import ConfigError
from consumer.ports import TP, Record
from consumer.settings import ConsumerSettings, KafkaSettings
from tests.fixtures.security import security_env
from tests.fixtures.services import ROOT, make_unique_name

pytestmark = pytest.mark.integration

SASL = (
    "CONVSTREAM_TEST_KAFKA_SASL_BOOTSTRAP",
    "CONVSTREAM_TEST_KAFKA_SASL_USERNAME",
    "CONVSTREAM_TEST_KAFKA_SASL_PASSWORD",
    "CONVSTREAM_TEST_KAFKA_CA",
)
MTLS = (
    "CONVSTREAM_TEST_KAFKA_MTLS_BOOTSTRAP",
    "CONVSTREAM_TEST_KAFKA_CA",
    "CONVSTREAM_TEST_KAFKA_CLIENT_CERT",
    "CONVSTREAM_TEST_KAFKA_CLIENT_KEY",
)


def sasl_settings(password: str | None = None) -> KafkaSettings:
    env = security_env("kafka", *SASL)
    return KafkaSettings(
        bootstrap_servers=env["CONVSTREAM_TEST_KAFKA_SASL_BOOTSTRAP"],
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=env["CONVSTREAM_TEST_KAFKA_SASL_USERNAME"],
        sasl_password=password or env["CONVSTREAM_TEST_KAFKA_SASL_PASSWORD"],  # type: ignore[arg-type]
        ssl_ca_location=env["CONVSTREAM_TEST_KAFKA_CA"],
    )


def mtls_settings(with_client_cert: bool = True) -> KafkaSettings:
    env = security_env("kafka", *MTLS)
    cert: dict[str, Any] = {
        "ssl_certificate_location": env["CONVSTREAM_TEST_KAFKA_CLIENT_CERT"],
        "ssl_key_location": env["CONVSTREAM_TEST_KAFKA_CLIENT_KEY"],
    }
    return KafkaSettings(
        bootstrap_servers=env["CONVSTREAM_TEST_KAFKA_MTLS_BOOTSTRAP"],
        security_protocol="SSL",
        ssl_ca_location=env["CONVSTREAM_TEST_KAFKA_CA"],
        **(cert if with_client_cert else {}),
    )


class _Listener:
    def on_assign(self, partitions: Sequence[TP]) -> Mapping[TP, int]:
        return {}

    def on_revoke(self, partitions: Sequence[TP]) -> None:
        pass

    def on_lost(self, partitions: Sequence[TP]) -> None:
        pass


def _round_trip(kafka: KafkaSettings, topic: str) -> list[Record]:
    KafkaAdmin(kafka, timeout_seconds=20).ping()
    producer = KafkaProducerAdapter(kafka)
    for i in range(3):
        producer.produce(topic, f"k{i}", f"v{i}".encode())
    assert producer.flush(30) == 0
    producer.raise_for_failures()
    producer.close()
    consumer = KafkaConsumerAdapter(kafka, ConsumerSettings(), group_id=make_unique_name("sec"))
    consumer.subscribe([topic], _Listener())
    records: list[Record] = []
    try:
        for _ in range(200):  # bounded: at most 200 polls of 250 ms
            records += consumer.poll_batch(100, 1 << 20, 250)
            if len(records) >= 3:
                break
    finally:
        consumer.close()
    return records


def test_sasl_ssl_scram_admin_producer_and_consumer_round_trip(new_topic: Callable[..., str]) -> None:
    kafka = sasl_settings()
    topic = new_topic(prefix="sasl")
    records = _round_trip(kafka, topic)
    assert sorted(r.value or b"" for r in records) == [b"v0", b"v1", b"v2"]


def test_mutual_tls_round_trip(new_topic: Callable[..., str]) -> None:
    kafka = mtls_settings()
    topic = new_topic(prefix="mtls")
    records = _round_trip(kafka, topic)
    assert sorted(r.value or b"" for r in records) == [b"v0", b"v1", b"v2"]


@pytest.mark.timeout(60)  # the point: a clear error, not a hang
def test_wrong_sasl_password_is_a_config_error_naming_the_variable() -> None:
    admin = KafkaAdmin(sasl_settings(password="not-the-password"), timeout_seconds=30)
    with pytest.raises(ConfigError) as info:
        admin.ping()
    assert info.value.variable == "CONVSTREAM_KAFKA__SASL_PASSWORD"
    assert "rejected the credentials" in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.timeout(60)
def test_wrong_sasl_password_fails_the_consumer_clearly(new_topic: Callable[..., str]) -> None:
    consumer = KafkaConsumerAdapter(
        sasl_settings(password="not-the-password"), ConsumerSettings(), group_id=make_unique_name("sec")
    )
    consumer.subscribe([new_topic(prefix="sasl")], _Listener())

    def poll_until_error() -> None:
        for _ in range(200):
            consumer.poll_batch(10, 1 << 20, 250)

    try:
        with pytest.raises(ConfigError, match="rejected the credentials"):
            poll_until_error()
    finally:
        consumer.close()


@pytest.mark.timeout(90)
def test_convstream_check_reports_the_authentication_failure_in_one_line() -> None:
    kafka = sasl_settings()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSTREAM_")}
    env.update(
        {
            "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "CONVSTREAM_KAFKA__SECURITY_PROTOCOL": "SASL_SSL",
            "CONVSTREAM_KAFKA__SASL_MECHANISM": "SCRAM-SHA-512",
            "CONVSTREAM_KAFKA__SASL_USERNAME": str(kafka.sasl_username),
            "CONVSTREAM_KAFKA__SASL_PASSWORD": "wrong-password-0123",
            "CONVSTREAM_KAFKA__SSL_CA_LOCATION": str(kafka.ssl_ca_location),
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "consumer.cli", "check", "--only", "kafka", "--timeout", "20"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=80, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    lines = [line for line in proc.stdout.splitlines() if line.startswith("kafka")]
    assert len(lines) == 1, proc.stdout + proc.stderr
    assert "rejected the credentials" in lines[0]
    assert "wrong-password-0123" not in proc.stdout + proc.stderr


def test_mtls_without_a_client_certificate_is_refused() -> None:
    from consumer.errors import BrokerUnavailableError

    with pytest.raises(BrokerUnavailableError):
        KafkaAdmin(mtls_settings(with_client_cert=False), timeout_seconds=3).ping()
