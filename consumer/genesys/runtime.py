"""Wiring of the Genesys source for ``convstream bridge --source genesys`` and ``convstream backfill``.

Builds the client, metrics, PII policy and :class:`~consumer.genesys.source.GenesysSource` from the
settings tree, so the command modules and the tests assemble the exact same objects.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Final

from prometheus_client import CollectorRegistry

from consumer.bridge import Bridge
from consumer.codec.avro import QueueRecord, encode_queue
from consumer.errors import ConfigError
from consumer.genesys.client import GenesysClient
from consumer.genesys.metrics import GenesysMetrics
from consumer.genesys.pii import PiiPolicy
from consumer.genesys.source import GenesysSource
from consumer.observability.health import HealthServer, HealthState
from consumer.observability.logging import register_secret
from consumer.settings import GenesysSettings, PiiSettings, Settings

__all__ = [
    "GENESYS_EPILOG",
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


GENESYS_EPILOG: Final = """\
  --source genesys (Genesys Cloud; lists are JSON, e.g. '["id1","id2"]'):
  CONVSTREAM_GENESYS__REGION              us-east-1, eu-west-1, … (regions table in docs/genesys.md)
  CONVSTREAM_GENESYS__CLIENT_ID           OAuth client (client credentials grant)
  CONVSTREAM_GENESYS__CLIENT_SECRET       its secret (or CONVSTREAM_GENESYS__CLIENT_SECRET_FILE)
  CONVSTREAM_GENESYS__API_BASE_URL / _LOGIN_BASE_URL   override the region's URLs (proxies, tests)
  CONVSTREAM_GENESYS__QUEUE_IDS           queues to subscribe (v2.routing.queues.{id}.conversations)
  CONVSTREAM_GENESYS__USER_IDS            users to subscribe (v2.users.{id}.conversations)
  CONVSTREAM_GENESYS__ALL_QUEUES          true: every queue of GET /api/v2/routing/queues (default false)
  CONVSTREAM_GENESYS__DETAIL_EVENTS       reserved: detail events need per-conversation topics (use
                                          EventBridge + --source file for them); default false
  CONVSTREAM_GENESYS__TOPIC_KIND          generic | media (one topic per media type) (default generic)
  CONVSTREAM_GENESYS__MEDIA_TYPES         media topic suffixes (calls, callbacks, chats, emails, messages)
  CONVSTREAM_GENESYS__MAX_TOPICS_PER_CHANNEL  split topics across channels (default and max 1000)
  CONVSTREAM_GENESYS__MAX_CHANNELS        channels allowed per OAuth client (default and max 20)
  CONVSTREAM_GENESYS__PING_SECONDS        send {"message":"ping"} this often (default 30)
  CONVSTREAM_GENESYS__HEARTBEAT_TIMEOUT_SECONDS  reconnect after this long without any message (default 90)
  CONVSTREAM_GENESYS__RECONNECT_INITIAL_SECONDS / _RECONNECT_MAX_SECONDS  reconnect backoff (1 / 60)
  CONVSTREAM_GENESYS__RENEW_BEFORE_SECONDS  re-subscribe this long before the 24 h expiry (default 3600)
  CONVSTREAM_GENESYS__REQUEST_TIMEOUT_SECONDS  HTTP and WebSocket open timeout (default 30)
  CONVSTREAM_GENESYS__MAX_RETRIES         retries per request on 429 (Retry-After honoured) and 5xx (6)
  CONVSTREAM_GENESYS__RETRY_INITIAL_SECONDS / _RETRY_MAX_SECONDS  backoff without Retry-After (1 / 60)
  CONVSTREAM_GENESYS__BACKFILL__ENABLED   backfill every gap from the Analytics API (default true)
  CONVSTREAM_GENESYS__BACKFILL__DELAY_SECONDS  wait after reconnecting, for analytics to catch up (30)
  CONVSTREAM_GENESYS__BACKFILL__MARGIN_SECONDS  widen each gap on both sides (default 60)
  CONVSTREAM_GENESYS__BACKFILL__STARTUP_LOOKBACK_SECONDS  the gap opened at start-up (default 3600)
  CONVSTREAM_GENESYS__BACKFILL__JOB_THRESHOLD_SECONDS  longer gaps use async jobs (default 21600)
  CONVSTREAM_GENESYS__BACKFILL__PAGE_SIZE  details query page size (default and max 100)
  CONVSTREAM_GENESYS__BACKFILL__MAX_RESULTS  split sync intervals above this many hits (100000)
  CONVSTREAM_GENESYS__BACKFILL__JOB_POLL_SECONDS / _JOB_TIMEOUT_SECONDS  async jobs (5 / 1800)
  CONVSTREAM_GENESYS__PII__ADDRESS        keep | drop | hash participant addresses (default keep)
  CONVSTREAM_GENESYS__PII__ANI / __PII__DNIS  keep | drop | hash detail-event ani / dnis (default keep)
  CONVSTREAM_GENESYS__PII__HASH_KEY       HMAC-SHA256 key for hash (or _HASH_KEY_FILE); required by hash
"""

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
