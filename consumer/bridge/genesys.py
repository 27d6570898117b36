"""Wiring of the Genesys source for ``convstream bridge --source genesys`` and ``convstream backfill``.

Builds the client, metrics, PII policy and :class:`~consumer.genesys.cloud.source.GenesysSource` from the
settings tree, so the command modules and the tests assemble the exact same objects.
"""

from __future__ import annotations

import logging
import threading
import time

from prometheus_client import CollectorRegistry

from consumer.bridge.publish import Bridge
from consumer.codec.avro import QueueRecord, encode_queue
from consumer.errors import ConfigError
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.genesys.cloud.source import GenesysSource
from consumer.genesys.pii import PiiPolicy
from consumer.observability.health import HealthServer, HealthState
from consumer.observability.logging import register_secret
from consumer.settings import GenesysSettings, PiiSettings, Settings

__all__ = [
    "SourceHealth",
    "build_client",
    "build_source",
    "pii_policy",
    "register_genesys_secrets",
    "run_genesys_bridge",
]


def register_genesys_secrets(settings: GenesysSettings) -> None:
    """Register the client secret and the PII key with the log redactor."""
    for secret in (settings.client_secret, settings.pii.hash_key):
        if secret is not None:
            register_secret(secret.get_secret_value())


def pii_policy(settings: PiiSettings) -> PiiPolicy | None:
    """The PII policy of the settings, or None when every field is kept."""
    key = settings.hash_key.get_secret_value().encode("utf-8") if settings.hash_key is not None else b""
    policy = PiiPolicy(address=settings.address, ani=settings.ani, dnis=settings.dnis, key=key)
    return policy if policy.active else None


def build_client(
    settings: GenesysSettings, registry: CollectorRegistry
) -> tuple[GenesysClient, GenesysMetrics]:
    """The REST client and the metrics registered on ``registry``."""
    register_genesys_secrets(settings)
    metrics = GenesysMetrics(registry)
    return GenesysClient(settings, metrics), metrics


def build_source(
    settings: Settings,
    bridge: Bridge,
    queue_schema_id: int,
    client: GenesysClient,
    metrics: GenesysMetrics,
    *,
    stop: threading.Event | None = None,
) -> GenesysSource:
    """The Genesys source publishing its queue directory through ``bridge`` (same producer, same flush)."""
    topic = settings.topics.queues

    def publish_queues(records: list[QueueRecord]) -> int:
        return bridge.publish_queues(topic, queue_schema_id, encode_queue, records)

    return GenesysSource(
        client,
        settings.genesys,
        metrics,
        publish_queues=publish_queues,
        stop=stop if stop is not None else bridge.stop_event,
        queue_sync_seconds=settings.bridge.queue_sync_seconds,
        pii=pii_policy(settings.genesys.pii),
    )


class SourceHealth(HealthState):
    """``/readyz`` for the bridge: ready while every channel's WebSocket is open; live unless wedged."""

    def __init__(self, source: GenesysSource) -> None:
        super().__init__(time.monotonic)
        self._source = source

    def ready(self) -> tuple[bool, str]:
        """Ready when all channels are connected."""
        workers = self._source.workers
        if not workers:
            return False, "no channel yet"
        down = [w.index for w in workers if not w.connected.is_set()]
        if down:
            return False, f"channels not connected: {down}"
        return True, "ok"


log = logging.getLogger(__name__)


def run_genesys_bridge(
    settings: Settings,
    bridge: Bridge,
    queue_schema_id: int,
    *,
    registry: CollectorRegistry | None = None,
    metrics_port: int | None = None,
) -> int:
    """Run the bridge on the Genesys source until stopped; serves /metrics, /livez, /readyz.

    Args:
        registry: where the Genesys metrics go, next to the caller's (default: a fresh one).
        metrics_port: the port to serve on (default ``CONVSTREAM_OBSERVABILITY__METRICS_PORT``).

    Returns the exit code (0, or 2 when bad messages were reported).
    """
    registry = registry if registry is not None else CollectorRegistry()
    client, metrics = build_client(settings.genesys, registry)
    source = build_source(settings, bridge, queue_schema_id, client, metrics)
    obs = settings.observability
    port = obs.metrics_port if metrics_port is None else metrics_port
    server = HealthServer(obs.metrics_host, port, registry, SourceHealth(source))
    try:
        server.start()
    except OSError as exc:
        raise ConfigError(
            f"cannot serve metrics on {obs.metrics_host}:{port}: {exc.strerror}",
            variable="CONVSTREAM_OBSERVABILITY__METRICS_PORT",
        ) from exc
    try:
        summary = bridge.run(source.items())
    finally:
        server.stop()
        client.close()
    return summary.exit_code
