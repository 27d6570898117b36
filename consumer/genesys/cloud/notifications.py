"""Genesys Notifications: channels, subscriptions and the WebSocket reader (docs/genesys.md).

One :class:`ChannelWorker` thread per channel (topics are split at ``max_topics_per_channel``, at most
``max_channels`` channels). Each worker follows this contract, in code order (``# Step n.``):

1. Create the channel (``POST /api/v2/notifications/channels``) unless it has a live one, and subscribe
   its topics (``PUT …/subscriptions?ignoreErrors=true``); ``Rejected`` topics are logged and counted,
   never fatal.
2. Open the WebSocket on ``connectUri``. A 404 on connect means the channel is gone: back to step 1
   with a new channel. Network errors and 5xx wait a capped exponential backoff.
3. Report :class:`Connected` with the **gap** ``[last moment the previous socket was known alive
   (start-up: now - startup lookback), now]``; the source backfills it.
4. Read: every message is stamped with the wall clock and handed over as :class:`WsMessage`; heartbeats
   and pongs count as life. Send ``{"message":"ping"}`` every ``ping_seconds``. Re-subscribe (PUT, which
   extends ``expires``) ``renew_before_seconds`` before the channel expires (or half way for short
   channels). Reconnect (step 2) when the socket closes, when nothing arrived for
   ``heartbeat_timeout_seconds``, on ``v2.system.socket_closing``, on a ``{"result":"404"}`` or a
   ``token_revoked`` system message (the latter two recreate the channel).
5. On stop: close the socket and return. An authentication failure (bad credentials, missing
   permission) is reported as :class:`Fatal` and ends the worker: retrying cannot fix it.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from consumer.errors import ChannelGoneError, ConfigError, ConvstreamError, GenesysApiError, GenesysAuthError
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.genesys.times import parse_time_or_none
from consumer.settings import GenesysSettings

__all__ = [
    "CHANNELS_PATH",
    "Channel",
    "ChannelWorker",
    "Connected",
    "Fatal",
    "StreamItem",
    "WsMessage",
    "build_topics",
    "chunk_topics",
    "create_channel",
    "subscribe",
]

log = logging.getLogger(__name__)

CHANNELS_PATH = "/api/v2/notifications/channels"
PING = '{"message":"ping"}'


@dataclass(frozen=True, slots=True)
class Channel:
    """A notification channel: id, WebSocket URI and expiry (epoch ms, None when not given)."""

    id: str
    connect_uri: str
    expires: int | None


@dataclass(frozen=True, slots=True)
class WsMessage:
    """One WebSocket message, decoded, with the bridge's receive time (epoch ms)."""

    channel: int
    message: dict[str, Any]
    received_at: int


@dataclass(frozen=True, slots=True)
class Connected:
    """A worker's socket is open; ``[gap_start, gap_end]`` (epoch ms) was not covered by any socket."""

    channel: int
    gap_start: int
    gap_end: int
    reason: str


@dataclass(frozen=True, slots=True)
class Fatal:
    """A worker stopped for good (authentication or configuration); the source raises ``error``."""

    channel: int
    error: ConvstreamError


StreamItem = WsMessage | Connected | Fatal


def build_topics(settings: GenesysSettings, queue_ids: Iterable[str]) -> list[str]:
    """The topic list: queue topics (generic or one per media type) then user topics, no duplicates."""
    topics: list[str] = []
    suffixes = [""] if settings.topic_kind == "generic" else [f".{m}" for m in settings.media_types]
    for family, ids in (("routing.queues", queue_ids), ("users", settings.user_ids)):
        for entity_id in ids:
            topics += [f"v2.{family}.{entity_id}.conversations{suffix}" for suffix in suffixes]
    return list(dict.fromkeys(topics))


def chunk_topics(topics: Sequence[str], size: int, max_channels: int) -> list[list[str]]:
    """Split ``topics`` into channels of at most ``size`` topics.

    Raises:
        ConfigError: more channels would be needed than Genesys allows per OAuth client.
    """
    chunks = [list(topics[i : i + size]) for i in range(0, len(topics), size)]
    if len(chunks) > max_channels:
        raise ConfigError(
            f"{len(topics)} topics need {len(chunks)} channels; Genesys allows {max_channels} per OAuth "
            "client: narrow CONVSTREAM_GENESYS__QUEUE_IDS / USER_IDS or use generic topics",
            variable="CONVSTREAM_GENESYS__QUEUE_IDS",
        )
    return chunks


def create_channel(client: GenesysClient) -> Channel:
    """``POST /api/v2/notifications/channels``."""
    body = client.post_json(CHANNELS_PATH, None)
    if not isinstance(body, dict) or not body.get("id") or not body.get("connectUri"):
        raise GenesysApiError("channel creation answered without id/connectUri", status=200)
    return Channel(str(body["id"]), str(body["connectUri"]), parse_time_or_none(body.get("expires")))


def subscribe(client: GenesysClient, channel: Channel, topics: Sequence[str]) -> list[dict[str, Any]]:
    """Replace the channel's subscriptions (PUT, ``ignoreErrors=true``); returns the rejected topics.

    Raises:
        ChannelGoneError: the channel no longer exists.
    """
    try:
        body = client.put_json(
            f"{CHANNELS_PATH}/{channel.id}/subscriptions",
            [{"id": t} for t in topics],
            {"ignoreErrors": "true"},
        )
    except GenesysApiError as exc:
        if exc.status == 404:
            raise ChannelGoneError(f"channel {channel.id} is gone", status=404) from exc
        raise
    entities = body.get("entities", []) if isinstance(body, dict) else []
    return [e for e in entities if isinstance(e, dict) and e.get("state") == "Rejected"]


def _wall_ms() -> int:
    return int(time.time() * 1000)


class ChannelWorker(threading.Thread):
    """Keeps one channel subscribed and its WebSocket read (see the module contract)."""

    def __init__(
        self,
        index: int,
        topics: Sequence[str],
        *,
        client: GenesysClient,
        settings: GenesysSettings,
        metrics: GenesysMetrics,
        out: queue.Queue[StreamItem],
        stop: threading.Event,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        super().__init__(name=f"genesys-channel-{index}", daemon=True)
        self.index = index
        self.label = str(index)
        self._topics = list(topics)
        self._topics_changed = False
        self._lock = threading.Lock()
        self._client = client
        self._settings = settings
        self._metrics = metrics
        self._out = out
        self._halt = stop
        self._wall_ms = wall_ms
        self.channel: Channel | None = None
        self.connected = threading.Event()
        self._renew_at = 0.0
        self._alive_wall = wall_ms() - int(settings.backfill.startup_lookback_seconds * 1000)

    @property
    def topics(self) -> list[str]:
        """The topics this worker keeps subscribed."""
        with self._lock:
            return list(self._topics)

    def add_topics(self, topics: Iterable[str]) -> None:
        """Subscribe more topics (applied by the worker thread, with the next renewal check)."""
        with self._lock:
            self._topics += [t for t in topics if t not in self._topics]
            self._topics_changed = True

    def run(self) -> None:
        backoff = self._settings.reconnect_initial_seconds
        reason = "startup"
        while not self._halt.is_set():
            try:
                socket = self._open()
            except GenesysAuthError as exc:
                self._out.put(Fatal(self.index, exc))
                return
            except ChannelGoneError:
                self.channel = None
                continue
            except (ConvstreamError, OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
                log.warning(
                    "genesys channel connect failed",
                    extra={"channel": self.index, "error": type(exc).__name__, "retry_seconds": backoff},
                )
                self._halt.wait(backoff * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto
                backoff = min(backoff * 2, self._settings.reconnect_max_seconds)
                continue
            backoff = self._settings.reconnect_initial_seconds
            reason = self._session(socket, reason)

    def _open(self) -> ClientConnection:
        # Step 1. Channel and subscriptions.
        if self.channel is None:
            self.channel = create_channel(self._client)
            self._metrics.channels_created.inc()
            self._subscribe()
        # Step 2. The socket; 404 -> the channel is gone.
        try:
            return connect(
                self.channel.connect_uri,
                open_timeout=self._settings.request_timeout_seconds,
                ping_interval=None,  # Genesys health checks are {"message":"ping"} text messages
                close_timeout=2,
                max_size=None,
                max_queue=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            if exc.response.status_code == 404:
                raise ChannelGoneError(f"channel {self.channel.id} is gone", status=404) from exc
            raise

    def _subscribe(self) -> None:
        assert self.channel is not None
        with self._lock:
            topics = list(self._topics)
            self._topics_changed = False
        rejected = subscribe(self._client, self.channel, topics)
        for entity in rejected:
            self._metrics.topics_rejected.inc()
            log.warning(
                "genesys topic rejected",
                extra={
                    "channel": self.index,
                    "topic": entity.get("id"),
                    "reason": entity.get("rejectionReason"),
                    "missing_permissions": entity.get("missingPermissions"),
                },
            )
        self._renew_at = self._renew_deadline()
        log.info(
            "genesys channel subscribed",
            extra={"channel": self.index, "topics": len(topics), "rejected": len(rejected)},
        )

    def _renew_deadline(self) -> float:
        """Monotonic time to re-subscribe: ``renew_before`` ahead of expiry, or half way when sooner."""
        now = time.monotonic()
        expires = self.channel.expires if self.channel is not None else None
        if expires is None:
            return now + 23 * 3600.0
        remaining = max(0.0, (expires - self._wall_ms()) / 1000)
        return now + max(min(remaining - self._settings.renew_before_seconds, remaining / 2), 0.0)

    def _session(self, socket: ClientConnection, previous: str) -> str:
        """Steps 3-5 for one open socket; returns why it ended."""
        with socket:
            # Step 3. Connected: report the gap.
            now = self._wall_ms()
            self._out.put(Connected(self.index, self._alive_wall, now, previous))
            self._alive_wall = now
            self.connected.set()
            self._metrics.websocket_connected.labels(self.label).set(1)
            self._metrics.beat(self.label)
            try:
                reason = self._read(socket)
            finally:
                self.connected.clear()
                self._metrics.websocket_connected.labels(self.label).set(0)
        if reason == "gone":
            self.channel = None
        if reason != "stop":
            self._metrics.reconnects.labels(reason).inc()
            log.warning("genesys socket lost", extra={"channel": self.index, "reason": reason})
        return reason

    def _read(self, socket: ClientConnection) -> str:
        # Step 4. Read, ping, watch, renew.
        settings = self._settings
        last_alive = next_ping = time.monotonic()
        next_ping += settings.ping_seconds
        while True:
            if self._halt.is_set():
                return "stop"  # Step 5.
            now = time.monotonic()
            wait = min(next_ping, last_alive + settings.heartbeat_timeout_seconds, self._renew_at) - now
            try:
                raw = socket.recv(timeout=min(max(wait, 0.01), 0.5))
            except TimeoutError:
                raw = None
            except ConnectionClosed:
                return "closed"
            now = time.monotonic()
            if raw is not None:
                last_alive = now
                self._alive_wall = self._wall_ms()
                self._metrics.beat(self.label)
                verdict = self._handle(raw)
                if verdict is not None:
                    return verdict
            if now - last_alive > settings.heartbeat_timeout_seconds:
                return "heartbeat"
            if now >= next_ping:
                next_ping = now + settings.ping_seconds
                try:
                    socket.send(PING)
                except ConnectionClosed:
                    return "closed"
            if now >= self._renew_at or self._topics_changed:
                verdict = self._renew()
                if verdict is not None:
                    return verdict

    def _renew(self) -> str | None:
        try:
            self._subscribe()
        except ChannelGoneError:
            return "gone"
        except GenesysAuthError as exc:
            self._out.put(Fatal(self.index, exc))
            self._halt.set()
            return "stop"
        except ConvstreamError as exc:
            log.warning("genesys re-subscribe failed", extra={"channel": self.index, "error": str(exc)})
            self._renew_at = time.monotonic() + self._settings.reconnect_initial_seconds
        return None

    def _handle(self, raw: str | bytes) -> str | None:
        """Hand a message over; returns a reconnect reason for socket_closing, 404 and token revocation."""
        message = _loads(raw)
        if message is None:
            self._metrics.messages.labels("malformed").inc()
            log.warning("genesys sent a non-JSON message", extra={"channel": self.index})
            return None
        if not isinstance(message, dict):
            self._metrics.messages.labels("malformed").inc()
            return None
        topic = message.get("topicName")
        if topic == "channel.metadata":
            self._metrics.messages.labels("metadata").inc()
        elif isinstance(topic, str) and topic.startswith("v2.system."):
            self._metrics.messages.labels("system").inc()
        else:
            self._metrics.messages.labels("event" if topic else "other").inc()
        self._out.put(WsMessage(self.index, message, self._wall_ms()))
        if str(message.get("result", "")) == "404":
            return "gone"
        if topic == "v2.system.socket_closing":
            return "socket_closing"
        if isinstance(topic, str) and topic.startswith("v2.system."):
            body = message.get("eventBody")
            if isinstance(body, dict) and body.get("systemTopicType") == "token_revoked":
                self._client.tokens.invalidate()
                return "gone"
        return None


def _loads(raw: str | bytes) -> Any:
    """The decoded message, or None when it is not JSON. orjson first (fast); what it refuses is retried with
    ``json``, which accepts lone surrogate escapes (``"\\ud800"``, legal JSON that normalization repairs to
    U+FFFD) instead of losing the whole message."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
