"""Settings: env prefix and nesting, secrets from files, librdkafka passthrough, one-line errors."""

from __future__ import annotations

import pytest

from consumer.errors import ConfigError
from consumer.settings import Settings, env_name, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("CONVSTREAM_"):
            monkeypatch.delenv(name)


def test_defaults_target_the_local_devstack() -> None:
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "127.0.0.1:19092"
    assert settings.schema_registry.url.endswith("/apis/ccompat/v7")
    assert settings.topics.events == "genesys.conversation.events"
    assert settings.topics.partitions == 12


def test_nested_env_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS", "broker:9093")
    monkeypatch.setenv("CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS", "123")
    monkeypatch.setenv("CONVSTREAM_GENESYS__QUEUE_IDS", '["q1","q2"]')
    settings = load_settings()
    assert settings.kafka.bootstrap_servers == "broker:9093"
    assert settings.consumer.batch_max_events == 123
    assert settings.genesys.queue_ids == ["q1", "q2"]


def test_secret_from_file_is_secret(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    secret_file = tmp_path / "client-secret"
    secret_file.write_text("s3cr3t-value\n")
    monkeypatch.setenv("CONVSTREAM_GENESYS__CLIENT_SECRET_FILE", str(secret_file))
    settings = load_settings()
    assert settings.genesys.client_secret is not None
    assert settings.genesys.client_secret.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(settings)
    assert "s3cr3t-value" not in str(settings.model_dump())


def test_unreadable_secret_file_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("CONVSTREAM_POSTGRES__DSN_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "CONVSTREAM_POSTGRES__DSN_FILE" in str(info.value)


def test_invalid_value_gives_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS", "many")
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert "CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS" in message
    assert "\n" not in message
    assert info.value.variable == "CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS"


def test_invalid_choice_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVSTREAM_KAFKA__SECURITY_PROTOCOL", "TLS")
    with pytest.raises(ConfigError, match="CONVSTREAM_KAFKA__SECURITY_PROTOCOL"):
        load_settings()


def test_librdkafka_translation_and_passthrough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVSTREAM_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("CONVSTREAM_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("CONVSTREAM_KAFKA__SASL_USERNAME", "svc")
    monkeypatch.setenv("CONVSTREAM_KAFKA__SASL_PASSWORD", "pw-1234")
    monkeypatch.setenv("CONVSTREAM_KAFKA__EXTRA", '{"fetch.min.bytes": "65536"}')
    conf = load_settings().kafka.as_librdkafka()
    assert conf["security.protocol"] == "SASL_SSL"
    assert conf["sasl.mechanism"] == "SCRAM-SHA-512"
    assert conf["sasl.password"] == "pw-1234"
    assert conf["fetch.min.bytes"] == "65536"
    assert "ssl.ca.location" not in conf


def test_env_name_builds_the_variable() -> None:
    assert env_name(("postgres", "dsn")) == "CONVSTREAM_POSTGRES__DSN"


def test_settings_are_immutable() -> None:
    settings = Settings()
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError on frozen models
        settings.kafka = settings.kafka
