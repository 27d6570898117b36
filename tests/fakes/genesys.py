"""A fake Genesys Cloud on 127.0.0.1: OAuth, notifications (REST + WebSocket), analytics, routing queues.

Real HTTP (``http.server``) and a real WebSocket server (``websockets``), so the bridge's real client code
runs against it. Its traffic comes from the simulator (:class:`consumer.simulate.Simulation`): the
simulator's generic queue-topic snapshots are replayed in real time, ``speed`` times faster, with every
timestamp mapped onto the wall clock (or, with ``simulated_times=True``, left at the simulator's simulated
times, so a fold's time columns can equal the truth's; the analytics API then maps the wall-clock intervals
it is asked for onto simulated time), and delivered to the sockets of channels subscribed to the topic.
Like Genesys, it **loses** what it sends while a channel has no socket, while its analytics API knows
every conversation's latest state (the last snapshot turned into an analytics record,
:mod:`tests.fakes.genesys_records`). :meth:`FakeGenesys.truth` is the simulator's ground truth.

Knobs: token lifetime and :meth:`revoke_tokens` (401), channel lifetime (accelerated 24 h expiry),
:meth:`expire_channels` (404 on connect), heartbeat interval and :meth:`silence` (no heartbeats/pongs),
:meth:`socket_closing`, :meth:`drop_sockets` (abrupt, optionally refusing reconnects for a while),
:meth:`inject_429` (bursts with ``Retry-After``), forbidden topics (``Rejected``), the 1,000-topic and
20-channel limits, the sync query's 100,000-result limit (``max_results``) and async jobs.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.sync.server import ServerConnection, serve

from consumer.genesys.times import format_iso_ms, parse_time
from consumer.simulate import Simulation, SimulationOptions
from tests.fakes.genesys_api import Api, Response
from tests.fakes.genesys_records import record_bounds, snapshot_record

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "FAST_BRIDGE_ENV", "FakeGenesys"]

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-7f3a9c"
#: The fake's WebSocket server logs here, warnings only: its "server listening" info line, written from a
#: thread after a test's captured stream was closed, made logging print tracebacks into the test output.
_WS_LOG = logging.getLogger("tests.fakes.genesys.ws")
_WS_LOG.setLevel(logging.WARNING)
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

#: Bridge settings scaled down for tests against this fake: fast pings, heartbeat timeouts, reconnects and
#: backfills, so drops and gaps play out in seconds.
FAST_BRIDGE_ENV: dict[str, str] = {
    "CONVSTREAM_BRIDGE__LINGER_MS": "5",
    "CONVSTREAM_GENESYS__ALL_QUEUES": "true",
    "CONVSTREAM_GENESYS__PING_SECONDS": "0.3",
    "CONVSTREAM_GENESYS__HEARTBEAT_TIMEOUT_SECONDS": "1.5",
    "CONVSTREAM_GENESYS__RECONNECT_INITIAL_SECONDS": "0.05",
    "CONVSTREAM_GENESYS__RECONNECT_MAX_SECONDS": "0.3",
    "CONVSTREAM_GENESYS__RETRY_INITIAL_SECONDS": "0.05",
    "CONVSTREAM_GENESYS__BACKFILL__DELAY_SECONDS": "0.1",
    "CONVSTREAM_GENESYS__BACKFILL__MARGIN_SECONDS": "1",
    "CONVSTREAM_GENESYS__BACKFILL__STARTUP_LOOKBACK_SECONDS": "5",
}


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class FakeChannel:
    id: str
    created: int
    expires: int
    token: str
    topics: list[str] = field(default_factory=list)
    socket: ServerConnection | None = None


class FakeGenesys:
    """The fake org. Use as a context manager; :meth:`start_stream` begins the simulated traffic."""

    def __init__(
        self,
        options: SimulationOptions,
        *,
        speed: float = 20.0,
        heartbeat_seconds: float = 0.5,
        token_ttl_seconds: float = 3600.0,
        channel_ttl_seconds: float = 86400.0,
        forbidden_topics: Iterable[str] = (),
        extra_queues: int = 0,
        max_results: int = 100_000,
        simulated_times: bool = False,
    ) -> None:
        self.sim = Simulation(options)
        self.messages = [m for m in self.sim if m.message.get("topicName", "").startswith("v2.routing.")]
        self.speed = speed
        self.heartbeat_seconds = heartbeat_seconds
        self.token_ttl_seconds = token_ttl_seconds
        self.channel_ttl_seconds = channel_ttl_seconds
        self.forbidden = set(forbidden_topics)
        self.max_results = max_results
        self.simulated_times = simulated_times
        self.clock: tuple[int, int] | None = None  # (simulated, wall) epoch ms of the stream's start
        self.queues = [{"id": q["id"], "name": q["name"]} for q in self.sim.queue_directory()]
        self.queues += [{"id": f"extra-queue-{i:05d}", "name": f"Extra {i}"} for i in range(extra_queues)]
        self.lock = threading.RLock()
        self.tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self.issued: list[str] = []  # every token ever issued (revocation clears ``tokens``, not this)
        self.channels: dict[str, FakeChannel] = {}
        self.records: dict[str, dict[str, Any]] = {}  # conversation id -> latest analytics record
        self.jobs: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.pending_429: list[float] = []
        self.refuse_until = 0.0
        self.silent = False
        self.sent = self.lost = 0
        self.requests: list[tuple[str, str, int]] = []
        self.stream_done = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: ThreadingHTTPServer | None = None
        self._ws: Any = None
        self.ws_port = 0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> FakeGenesys:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> None:
        api = Api(self)
        handler = _handler(api)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        self._ws = serve(
            self._ws_session, "127.0.0.1", 0, process_request=self._ws_handshake, ping_interval=None,
            compression=None, logger=_WS_LOG,
        )  # fmt: skip
        self.ws_port = self._ws.socket.getsockname()[1]
        for target in (self._http.serve_forever, self._ws.serve_forever, self._heartbeats):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self.lock:
            sockets = [c.socket for c in self.channels.values() if c.socket is not None]
        for sock in sockets:
            sock.close_socket()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._ws is not None:
            self._ws.shutdown()

    def env(self) -> dict[str, str]:
        """CONVSTREAM_GENESYS__* variables pointing a bridge at this fake."""
        return {
            "CONVSTREAM_GENESYS__CLIENT_ID": CLIENT_ID,
            "CONVSTREAM_GENESYS__CLIENT_SECRET": CLIENT_SECRET,
            "CONVSTREAM_GENESYS__API_BASE_URL": self.base_url,
            "CONVSTREAM_GENESYS__LOGIN_BASE_URL": self.base_url,
        }

    # ------------------------------------------------------------------ stream

    def start_stream(self) -> None:
        """Replay the simulation in a background thread (``speed`` times faster than simulated)."""
        thread = threading.Thread(target=self._pump, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _pump(self) -> None:
        if not self.messages:
            self.stream_done.set()
            return
        sim0 = self.messages[0].received_at
        wall0 = now_ms() + 50
        self.clock = (sim0, wall0)
        to_wall = lambda t: int(wall0 + (t - sim0) / self.speed)  # noqa: E731
        for sim in self.messages:
            due = to_wall(sim.received_at)
            while not self._stop.is_set() and now_ms() < due:
                time.sleep(min(0.05, (due - now_ms()) / 1000))
            if self._stop.is_set():
                return
            if self.simulated_times:
                message, seen_at = orjson.loads(orjson.dumps(sim.message)), sim.received_at
            else:
                message, seen_at = _retime(sim.message, to_wall), now_ms()
            message.pop("receivedAt", None)
            self._publish(message, seen_at)
        self.stream_done.set()

    def _publish(self, message: dict[str, Any], seen_at: int) -> None:
        body = message["eventBody"]
        with self.lock:
            self.records[body["id"]] = snapshot_record(body, seen_at)
            targets = [
                c.socket
                for c in self.channels.values()
                if c.socket is not None and message["topicName"] in c.topics
            ]
        data = orjson.dumps(message).decode()
        delivered = False
        for sock in targets:
            try:
                sock.send(data)
                delivered = True
            except Exception:
                continue
        with self.lock:
            if delivered:
                self.sent += 1
            else:
                self.lost += 1

    def truth(self) -> list[dict[str, Any]]:
        """The simulator's ground-truth rows (after the stream ended)."""
        return self.sim.truth()

    # ------------------------------------------------------------------ knobs

    def revoke_tokens(self, *, kill_channels: bool = False) -> None:
        """Every issued token now answers 401; with ``kill_channels`` the channels die (token_revoked)."""
        with self.lock:
            self.tokens.clear()
            doomed = list(self.channels.values()) if kill_channels else []
            for channel in doomed:
                del self.channels[channel.id]
        for channel in doomed:
            self._system(channel, {"systemTopicType": "token_revoked", "reason": "user_tokens_revoked"})
            self._close(channel, abrupt=False)

    def expire_channels(self) -> None:
        """Every channel disappears (HEAD and connect answer 404); sockets are closed."""
        with self.lock:
            doomed = list(self.channels.values())
            self.channels.clear()
        for channel in doomed:
            self._close(channel, abrupt=True)

    def drop_sockets(self, refuse_seconds: float = 0.0) -> None:
        """Abruptly drop every socket; refuse new ones (503) for ``refuse_seconds``."""
        with self.lock:
            self.refuse_until = time.monotonic() + refuse_seconds
            channels = list(self.channels.values())
        for channel in channels:
            self._close(channel, abrupt=True)

    def socket_closing(self, grace_seconds: float = 0.3) -> None:
        """Send ``v2.system.socket_closing`` to every socket, then close them after ``grace_seconds``."""
        with self.lock:
            channels = list(self.channels.values())
        for channel in channels:
            self._system(channel, {"message": "socket closing"}, topic="v2.system.socket_closing")
        doomed = [(c, c.socket) for c in channels]  # the sockets warned now, not their successors

        def close_doomed() -> None:
            for c, s in doomed:
                self._close(c, abrupt=False, only=s)

        timer = threading.Timer(grace_seconds, close_doomed)
        timer.daemon = True
        timer.start()

    def silence(self, silent: bool = True) -> None:
        """Stop (or resume) heartbeats and pong answers: the bridge's watchdog must reconnect."""
        self.silent = silent

    def inject_429(self, count: int, retry_after: float = 1.0) -> None:
        """The next ``count`` API requests answer 429 with ``Retry-After: retry_after``."""
        with self.lock:
            self.pending_429 += [retry_after] * count

    def connected_channels(self) -> int:
        with self.lock:
            return sum(1 for c in self.channels.values() if c.socket is not None)

    # ------------------------------------------------------------------ WebSocket

    def _ws_handshake(self, connection: ServerConnection, request: Any) -> Any:
        match = re.fullmatch(r"/channels/([^/?]+)", urlsplit(request.path).path)
        with self.lock:
            if time.monotonic() < self.refuse_until:
                return connection.respond(503, "unavailable\n")
            channel = self.channels.get(match.group(1)) if match else None
            if channel is None or channel.expires < now_ms():
                return connection.respond(404, "channel not found\n")
        return None

    def _ws_session(self, connection: ServerConnection) -> None:
        channel_id = urlsplit(connection.request.path).path.rsplit("/", 1)[-1]  # type: ignore[union-attr]
        with self.lock:
            channel = self.channels.get(channel_id)
            if channel is None:
                return
            previous, channel.socket = channel.socket, connection  # one socket per channel
        if previous is not None:
            previous.close_socket()
        try:
            for raw in connection:
                if raw == '{"message":"ping"}' and not self.silent:
                    connection.send('{"topicName":"channel.metadata","eventBody":{"message":"pong"}}')
        except Exception:
            pass
        finally:
            with self.lock:
                if channel.socket is connection:
                    channel.socket = None

    def _heartbeats(self) -> None:
        beat = '{"topicName":"channel.metadata","eventBody":{"message":"WebSocket Heartbeat"}}'
        while not self._stop.wait(self.heartbeat_seconds):
            if self.silent:
                continue
            with self.lock:
                sockets = [c.socket for c in self.channels.values() if c.socket is not None]
            for sock in sockets:
                try:
                    sock.send(beat)
                except Exception:
                    continue

    def _system(self, channel: FakeChannel, body: dict[str, Any], topic: str = "v2.system.message") -> None:
        sock = channel.socket
        if sock is not None:
            with contextlib.suppress(Exception):
                sock.send(orjson.dumps({"topicName": topic, "eventBody": body}).decode())

    def _close(self, channel: FakeChannel, *, abrupt: bool, only: ServerConnection | None = None) -> None:
        sock = channel.socket if only is None else only
        if sock is None:
            return
        if abrupt:
            sock.close_socket()
        else:
            with contextlib.suppress(Exception):
                sock.close()

    # ------------------------------------------------------------------ analytics (used by the API)

    def record_time(self, wall: int) -> int:
        """A wall-clock instant (an API interval bound) in the records' time base."""
        if not self.simulated_times or self.clock is None:
            return wall
        sim0, wall0 = self.clock
        return int(sim0 + (wall - wall0) * self.speed)

    def sync_query(self, start: int, end: int) -> list[dict[str, Any]]:
        """Conversations that started on a day touched by ``[start, end]`` and were active in it."""
        start, end = self.record_time(start), self.record_time(end)
        days = {_day(start), _day(end)}
        with self.lock:
            records = list(self.records.values())
        out = []
        for record in records:
            began, ended = record_bounds(record)
            if _day(began) in days and began <= end and (ended is None or ended >= start):
                out.append(record)
        out.sort(key=lambda r: (r["conversationStart"], r["conversationId"]))
        return out

    def job_query(self, start: int, end: int) -> list[dict[str, Any]]:
        """Conversations with activity during ``[start, end]``, whenever they started."""
        start, end = self.record_time(start), self.record_time(end)
        with self.lock:
            records = list(self.records.values())
        out = [r for r in records if record_bounds(r)[0] <= end and (record_bounds(r)[1] or end) >= start]
        out.sort(key=lambda r: (r["conversationStart"], r["conversationId"]))
        return out

    def new_channel(self, token: str) -> FakeChannel:
        """A channel (the 21st replaces the oldest, preferring one without a socket)."""
        with self.lock:
            if len(self.channels) >= 20:
                victims = sorted(self.channels.values(), key=lambda c: (c.socket is not None, c.created))
                del self.channels[victims[0].id]
            channel_id = f"streaming-0-{uuid.uuid4().hex[:12]}"
            now = now_ms()
            channel = FakeChannel(channel_id, now, now + int(self.channel_ttl_seconds * 1000), token)
            self.channels[channel_id] = channel
            return channel

    def connect_uri(self, channel: FakeChannel) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/channels/{channel.id}"

    def issue_token(self) -> str:
        token = f"tok-{uuid.uuid4().hex}"
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_ttl_seconds
            self.issued.append(token)
        return token

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expiry = self.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def take_429(self) -> float | None:
        with self.lock:
            return self.pending_429.pop(0) if self.pending_429 else None


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


def _retime(value: Any, to_wall: Any) -> Any:
    """A deep copy of ``value`` with every ISO-8601 millisecond timestamp mapped to the wall clock."""
    if isinstance(value, dict):
        return {k: _retime(v, to_wall) for k, v in value.items()}
    if isinstance(value, list):
        return [_retime(v, to_wall) for v in value]
    if isinstance(value, str) and _ISO.match(value):
        return format_iso_ms(to_wall(parse_time(value)))
    return value


def _handler(api: Api) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body are two writes: without TCP_NODELAY each response waits out Nagle's algorithm
        # against the client's delayed ACK (tens of ms a request, seconds a test).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            response: Response = api.handle(self.command, parts.path, query, dict(self.headers), raw)
            body = b"" if response.body is None else orjson.dumps(response.body)
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else 0))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = _serve

    return Handler
