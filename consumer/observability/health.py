"""One HTTP server per process: ``/metrics``, ``/livez`` and ``/readyz``.

- ``/livez`` (liveness) answers 200 while the loop makes progress and 503 once the wedge watchdog has
  fired, or (with ``live_timeout_seconds``) once the loop has not completed a poll for that long: a loop
  blocked for good cannot run its own watchdog, so the probe thread judges by the last poll's age. It
  checks no external dependency, so a database outage never turns into a restart storm (the loop keeps
  polling while it retries).
- ``/readyz`` (readiness) answers 200 when the group is joined (or partitions are assigned), Postgres,
  the broker and (with ``require_registry``) the schema registry answered within the readiness window,
  and no batch has waited longer than ``commit_timeout_seconds`` to commit (answering is not enough:
  writes blocked by a table lock leave every read working); else 503 with the reason. The consumer's
  lag monitor (:mod:`consumer.observability.lag`) contacts all three every few seconds, so readiness
  stays current while the loop is idle.
- ``/metrics``: the Prometheus text format of the injected registry.

:class:`HealthState` is written by the pipeline thread and read by the server thread; its fields are
plain attribute assignments (atomic under the GIL), so no lock is needed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

__all__ = ["HealthServer", "HealthState"]

log = logging.getLogger(__name__)

_READY_WINDOW_SECONDS: Final = 60.0


class HealthState:
    """What the probes report; updated by the consumer loop.

    Args:
        clock: monotonic seconds (injected in tests).
        ready_window_seconds: how recent the last successful Postgres and broker contact must be.
        live_timeout_seconds: ``/livez`` fails when no poll completed for this long (None: only when the
            watchdog fired); the consumer passes its wedge timeout.
        require_registry: ``/readyz`` also needs a recent schema registry answer.
        commit_timeout_seconds: ``/readyz`` fails while a batch has been waiting to commit for longer
            (None: never on this ground).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        ready_window_seconds: float = _READY_WINDOW_SECONDS,
        *,
        live_timeout_seconds: float | None = None,
        require_registry: bool = False,
        commit_timeout_seconds: float | None = None,
    ) -> None:
        self._clock = clock
        self._window = ready_window_seconds
        self._live_timeout = live_timeout_seconds
        self._require_registry = require_registry
        self._commit_timeout = commit_timeout_seconds
        now = clock()
        self.last_poll_ok = now
        self.last_progress = now
        self.last_store_ok: float | None = None
        self.last_broker_ok: float | None = None
        self.last_registry_ok: float | None = None
        self.joined = False
        self.assigned = 0
        self.wedged_reason: str | None = None
        self.batch_started: float | None = None  # the batch being written (with its retries) began then

    def poll_ok(self) -> None:
        """A poll returned without a broker error."""
        self.last_poll_ok = self.last_broker_ok = self._clock()

    def store_ok(self) -> None:
        """Postgres answered."""
        self.last_store_ok = self._clock()

    def broker_ok(self) -> None:
        """The broker answered (outside the loop's poll, e.g. the lag monitor's watermark read)."""
        self.last_broker_ok = self._clock()

    def registry_ok(self) -> None:
        """The schema registry answered."""
        self.last_registry_ok = self._clock()

    def progress(self) -> None:
        """A batch committed (or there was nothing to commit)."""
        self.last_progress = self._clock()

    def batch_begins(self) -> None:
        """A batch is being processed; it is pending until :meth:`batch_ends`."""
        self.batch_started = self._clock()

    def batch_ends(self) -> None:
        """The batch committed, or was dropped (fenced, revoked, abandoned)."""
        self.batch_started = None

    def wedge(self, reason: str) -> None:
        """The watchdog fired: ``/livez`` turns 503 from now on."""
        self.wedged_reason = reason

    def live(self) -> tuple[bool, str]:
        """``(ok, reason)`` for ``/livez``."""
        if self.wedged_reason is not None:
            return False, f"wedged: {self.wedged_reason}"
        if self._live_timeout is not None:
            idle = self._clock() - self.last_poll_ok
            if idle > self._live_timeout:
                return False, f"stuck: no poll completed for {idle:.0f} s (limit {self._live_timeout:g} s)"
        return True, "ok"

    def ready(self) -> tuple[bool, str]:
        """``(ok, reason)`` for ``/readyz``."""
        now = self._clock()
        if self.wedged_reason is not None:
            return False, f"wedged: {self.wedged_reason}"
        if not (self.joined or self.assigned):
            return False, "not in the consumer group yet"
        if self.last_store_ok is None or now - self.last_store_ok > self._window:
            return False, "postgres not reached recently"
        if self.last_broker_ok is None or now - self.last_broker_ok > self._window:
            return False, "kafka not reached recently"
        if self._require_registry and (
            self.last_registry_ok is None or now - self.last_registry_ok > self._window
        ):
            return False, "schema registry not reached recently"
        started = self.batch_started
        if self._commit_timeout is not None and started is not None and now - started > self._commit_timeout:
            return False, (
                f"cannot commit: a batch has waited {now - started:.0f} s "
                f"(limit {self._commit_timeout:g} s; locked table or Postgres refusing writes?)"
            )
        return True, "ok"


class HealthServer:
    """Serves the probes and metrics on ``host:port`` from a daemon thread (port 0: any free port)."""

    def __init__(self, host: str, port: int, registry: CollectorRegistry, state: HealthState) -> None:
        self._address = (host, port)
        self._registry = registry
        self._state = state
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is None:
            raise RuntimeError("health server not started")
        return int(self._server.server_address[1])

    def start(self) -> int:
        """Bind and serve in the background; returns the bound port."""
        handler = _handler(self._registry, self._state)
        self._server = ThreadingHTTPServer(self._address, handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="health", daemon=True)
        self._thread.start()
        log.info("health server listening", extra={"host": self._address[0], "port": self.port})
        return self.port

    def stop(self) -> None:
        """Stop serving; idempotent."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _handler(registry: CollectorRegistry, state: HealthState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/livez", "/healthz"):
                self._probe(state.live())
            elif path == "/readyz":
                self._probe(state.ready())
            else:
                self._send(404, b"not found\n", "text/plain")

        def _probe(self, result: tuple[bool, str]) -> None:
            ok, reason = result
            self._send(200 if ok else 503, f"{reason}\n".encode(), "text/plain; charset=utf-8")

        def _send(self, code: int, body: bytes, content_type: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds would flood the logs

    return Handler
