"""What the bridge-side commands (``bridge``, ``backfill``) share: secrets, admin timeout, schema ids."""

from __future__ import annotations

from typing import Final

from consumer.adapters.schema_registry import SchemaRegistry, subject_for
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, schema_text
from consumer.observability.logging import register_secret
from consumer.settings import Settings

__all__ = ["admin_timeout", "register_kafka_secrets", "schema_ids"]

_DEFAULT_ADMIN_TIMEOUT_SECONDS: Final = 10.0


def admin_timeout(settings: Settings) -> float:
    """How long a Kafka admin request may take: ``socket.timeout.ms`` when set, else 10 s."""
    raw = settings.kafka.extra.get("socket.timeout.ms")
    try:
        return float(raw) / 1000.0 if raw is not None else _DEFAULT_ADMIN_TIMEOUT_SECONDS
    except ValueError:
        return _DEFAULT_ADMIN_TIMEOUT_SECONDS


def register_kafka_secrets(settings: Settings) -> None:
    """The Kafka and registry secrets are redacted from logs (a bridge touches no database)."""
    for secret in (
        settings.kafka.sasl_password,
        settings.kafka.ssl_key_password,
        settings.schema_registry.basic_auth_password,
    ):
        if secret is not None:
            register_secret(secret.get_secret_value())


def schema_ids(settings: Settings) -> tuple[int, int]:
    """Register the current schemas under ``<topic>-value`` (idempotent) and return their ids."""
    registry = SchemaRegistry(settings.schema_registry)
    topics = settings.topics
    try:
        # Subjects are kept BACKWARD_TRANSITIVE whoever registers first (the registry default may be NONE).
        event_id = registry.register_backward_transitive(
            subject_for(topics.events), schema_text(CONVERSATION_EVENT)
        )
        queue_id = registry.register_backward_transitive(subject_for(topics.queues), schema_text(QUEUE))
    finally:
        registry.close()
    return event_id, queue_id
