"""Bridge metrics for the Genesys source (docs/runbook.md), built from an injected ``CollectorRegistry``.

Names carry the ``convstream_`` prefix and base units; labels are bounded (a channel index 0..19, a
reason from a fixed set, never an id, a topic with an id or a token).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

__all__ = ["RECONNECT_REASONS", "GenesysMetrics"]

#: Why a channel's socket ended (``consumer.genesys.cloud.notifications``), the ``reason`` of reconnects.
RECONNECT_REASONS = ("closed", "heartbeat", "gone", "socket_closing")


class GenesysMetrics:
    """Counters and gauges of the Notifications source, its API client and the gap backfill."""

    def __init__(self, registry: CollectorRegistry, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_heartbeat: dict[str, float] = {}
        self.websocket_connected = Gauge(
            "convstream_bridge_websocket_connected",
            "1 while the channel's WebSocket is open",
            ["channel"],
            registry=registry,
        )
        self.reconnects = Counter(
            "convstream_bridge_websocket_reconnects_total",
            "WebSocket reconnections by cause",
            ["reason"],
            registry=registry,
        )
        self.heartbeat_age = Gauge(
            "convstream_bridge_heartbeat_age_seconds",
            "seconds since the last heartbeat, pong or message on the channel",
            ["channel"],
            registry=registry,
        )
        self.channels_created = Counter(
            "convstream_bridge_channels_created_total", "notification channels created", registry=registry
        )
        self.topics_rejected = Counter(
            "convstream_bridge_topics_rejected_total",
            "topics Genesys answered Rejected (missing permission, unknown id)",
            registry=registry,
        )
        self.gaps = Counter(
            "convstream_bridge_gaps_total", "disconnection gaps opened (start-up included)", registry=registry
        )
        self.gaps_open = Gauge(
            "convstream_bridge_gaps_open", "gaps waiting for (or in) their backfill", registry=registry
        )
        self.gap_seconds = Counter(
            "convstream_bridge_gap_seconds_total", "total length of the gaps backfilled", registry=registry
        )
        self.backfills = Counter(
            "convstream_bridge_backfills_total", "backfills run by method and outcome",
            ["method", "outcome"], registry=registry,
        )  # fmt: skip
        self.backfilled_conversations = Counter(
            "convstream_bridge_backfilled_conversations_total",
            "conversation records published by backfills",
            registry=registry,
        )
        self.token_refreshes = Counter(
            "convstream_bridge_token_refreshes_total", "OAuth tokens obtained", registry=registry
        )
        self.api_requests = Counter(
            "convstream_bridge_api_requests_total", "Genesys API responses by status class",
            ["status"], registry=registry,
        )  # fmt: skip
        self.api_429 = Counter(
            "convstream_bridge_api_rate_limited_total", "Genesys API 429 answers", registry=registry
        )
        self.messages = Counter(
            "convstream_bridge_websocket_messages_total", "WebSocket messages received by kind",
            ["kind"], registry=registry,
        )  # fmt: skip
        self.queue_syncs = Counter(
            "convstream_bridge_queue_syncs_total", "routing queue directory syncs", registry=registry
        )

        # Series of the fixed label values exist at 0 from the start (dashboards, rate() alerts).
        for reason in RECONNECT_REASONS:
            self.reconnects.labels(reason)
        for method in ("query", "job"):
            for outcome in ("ok", "retry"):
                self.backfills.labels(method, outcome)
        for status in ("2xx", "4xx", "5xx"):
            self.api_requests.labels(status)

    def beat(self, channel: str) -> None:
        """Record life on ``channel`` (heartbeat, pong or any message) now."""
        if channel not in self._last_heartbeat:
            self.heartbeat_age.labels(channel).set_function(lambda: self._age(channel))
        self._last_heartbeat[channel] = self._clock()

    def _age(self, channel: str) -> float:
        last = self._last_heartbeat.get(channel)
        return 0.0 if last is None else max(0.0, self._clock() - last)
