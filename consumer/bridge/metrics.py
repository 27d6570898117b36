"""Bridge metrics for every source (docs/runbook.md), read from the bridge's counters at scrape time.

The bridge loop counts in plain integers (:class:`consumer.bridge.publish.BridgeSummary`), which costs nothing
on its hot path; :class:`BridgeCollector` turns them into Prometheus samples when ``/metrics`` is scraped.
Label values are bounded: a topic *pattern* (``v2.routing.queues.{id}.conversations``, never an id) and a
skip reason from a fixed set.

- ``convstream_bridge_events_published_total{topic_pattern}``: events handed to the producer.
- ``convstream_bridge_queues_published_total``: queue directory records handed to the producer.
- ``convstream_bridge_messages_skipped_total{reason}``: heartbeat | system | unknown_topic.
- ``convstream_bridge_bad_lines_total``: malformed input lines (reported with their position).
- ``convstream_bridge_delivery_failures_total``: messages Kafka did not acknowledge.
- ``convstream_bridge_info{source}``: 1, naming the source (genesys | file | simulator).

The Genesys source adds its own (:mod:`consumer.genesys.cloud.metrics`: WebSocket connected, reconnects,
heartbeat age, gaps and backfills, token refreshes, API 429s) on the same registry.

The bridge serves them on its own port: ``CONVSTREAM_OBSERVABILITY__METRICS_PORT``, default
:data:`BRIDGE_METRICS_PORT` (9410) when the variable is not set, so a bridge and a consumer (9400) can share
a host.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from consumer.bridge.publish import BridgeSummary
from consumer.errors import ConfigError
from consumer.observability.health import HealthServer, HealthState
from consumer.settings import ObservabilitySettings

__all__ = [
    "BRIDGE_METRICS_PORT",
    "SKIP_REASONS",
    "BridgeCollector",
    "BridgeHealth",
    "CountingBridge",
    "bridge_metrics_port",
    "serve_bridge_metrics",
]

log = logging.getLogger(__name__)

BRIDGE_METRICS_PORT: Final = 9410
SKIP_REASONS: Final = ("heartbeat", "system", "unknown_topic")


class CountingBridge(Protocol):
    """What the collector reads (:class:`consumer.bridge.publish.Bridge`)."""

    @property
    def summary(self) -> BridgeSummary: ...

    @property
    def delivery_failures(self) -> int: ...


def bridge_metrics_port(obs: ObservabilitySettings) -> int:
    """The bridge's metrics port: the configured one, else :data:`BRIDGE_METRICS_PORT`."""
    return obs.metrics_port if "metrics_port" in obs.model_fields_set else BRIDGE_METRICS_PORT


class BridgeCollector(Collector):
    """Exports a bridge's counters (see the module docstring) on each scrape.

    Reads are racy by design and harmless: each counter is one integer read under the GIL, and the
    published-by-pattern dict is copied in one C-level call.
    """

    def __init__(self, bridge: CountingBridge, source: str) -> None:
        self._bridge = bridge
        self._source = source

    def register(self, registry: CollectorRegistry) -> BridgeCollector:
        """Register on ``registry`` (never the global default one); returns self."""
        registry.register(self)
        return self

    def describe(self) -> list[Metric]:
        """No samples at registration (a live bridge's counters must not be read twice)."""
        return []

    def collect(self) -> Iterator[Metric]:
        """The bridge's counters as samples."""
        s = self._bridge.summary
        published = CounterMetricFamily(
            "convstream_bridge_events_published",
            "Events handed to the producer, by Genesys topic pattern",
            labels=["topic_pattern"],
        )
        for pattern, count in sorted(dict(s.published).items()):
            published.add_metric([pattern], count)
        yield published
        yield CounterMetricFamily(
            "convstream_bridge_queues_published", "Queue directory records produced", value=s.queues_published
        )
        skipped = CounterMetricFamily(
            "convstream_bridge_messages_skipped", "Messages counted and skipped, by reason", labels=["reason"]
        )
        for reason, count in zip(SKIP_REASONS, (s.heartbeats, s.system, s.unknown_topics), strict=True):
            skipped.add_metric([reason], count)
        yield skipped
        yield CounterMetricFamily(
            "convstream_bridge_bad_lines", "Malformed input lines reported and skipped", value=s.bad_lines
        )
        yield CounterMetricFamily(
            "convstream_bridge_delivery_failures",
            "Messages Kafka did not acknowledge",
            value=max(s.delivery_failures, self._bridge.delivery_failures),
        )
        info = GaugeMetricFamily("convstream_bridge_info", "The bridge's source", labels=["source"])
        info.add_metric([self._source], 1)
        yield info


class BridgeHealth(HealthState):
    """Probes of a file or simulator bridge: live unless wedged; ready once started and while every
    delivery so far was acknowledged."""

    def __init__(self, bridge: CountingBridge) -> None:
        super().__init__()
        self._bridge = bridge
        self.started = False

    def ready(self) -> tuple[bool, str]:
        """Ready after start-up (Kafka reached, schemas registered) and without delivery failures."""
        if not self.started:
            return False, "starting"
        failed = self._bridge.delivery_failures
        if failed:
            return False, f"{failed} deliveries failed"
        return True, "ok"


@contextmanager
def serve_bridge_metrics(
    obs: ObservabilitySettings, bridge: CountingBridge, registry: CollectorRegistry, *, port_offset: int = 0
) -> Iterator[None]:
    """/metrics /livez /readyz of a file or simulator bridge on its port + ``port_offset`` while the block
    runs (``port_offset``: the worker index of ``--workers N``).

    The port being taken is fatal only when it was configured explicitly: a one-shot import must not fail
    because another bridge holds the default port.

    Raises:
        ConfigError: the explicitly configured port cannot be bound.
    """
    port = bridge_metrics_port(obs) + port_offset
    health = BridgeHealth(bridge)
    server = HealthServer(obs.metrics_host, port, registry, health)
    try:
        server.start()
    except OSError as exc:
        if "metrics_port" in obs.model_fields_set:
            raise ConfigError(
                f"cannot serve metrics on {obs.metrics_host}:{port}: {exc.strerror}",
                variable="CONVSTREAM_OBSERVABILITY__METRICS_PORT",
            ) from exc
        log.warning("metrics not served", extra={"port": port, "error": exc.strerror})
        yield
        return
    health.started = True
    try:
        yield
    finally:
        server.stop()
