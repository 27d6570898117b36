"""The lag monitor: a background thread that keeps the lag gauges true while the loop is busy or stuck.

The pipeline loop can block (a batch waiting on a Postgres lock, a long retry), and a blocked loop can
neither refresh gauges nor tell anyone it is behind. :class:`LagMonitor` therefore computes the lag of the
consumer group from the two sources of truth, on its own thread and its own connections:

1. Every ``interval`` seconds, read the partitions and watermarks of each topic from the broker.
2. Read the group's committed offsets from ``consumer_offset`` (a plain ``SELECT``: row locks held by a
   stuck writer never block it). A partition without a row counts from its log start offset.
3. ``records = high watermark - committed`` (committed clamped into ``[low, high]``).
4. ``seconds`` = 0 when ``records == 0``, else now minus the Kafka timestamp of the record at the committed
   offset (the oldest unprocessed one), read once per committed offset and cached.
5. Publish every partition (:meth:`ConsumerMetrics.publish_lag`: lag, committed and end offsets), drop
   the series of partitions that no longer exist, and stamp ``convstream_lag_refresh_timestamp_seconds``.
6. Tell :class:`~consumer.observability.health.HealthState` that Postgres, the broker and (when a probe is
   given) the schema registry answered, so ``/readyz`` reflects reachability even while the loop waits.

A failed step counts ``convstream_lag_refresh_errors_total{dependency}`` and keeps the previous values (a
stale ``lag_refresh_timestamp_seconds`` shows it); the thread never dies on an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from consumer.errors import ConvstreamError
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics

__all__ = ["LAG_MONITOR_SECONDS", "BrokerView", "LagMonitor", "OffsetStore", "PartitionLag"]

log = logging.getLogger(__name__)

#: Default seconds between refreshes (one metadata call and a watermark call per partition, one SELECT
#: per topic; record timestamps only when a committed offset moved).
LAG_MONITOR_SECONDS = 2.0

TP = tuple[str, int]
_T = TypeVar("_T")


class OffsetStore(Protocol):
    """The committed offsets (:class:`consumer.adapters.postgres.store.PostgresStore`)."""

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]: ...


class BrokerView(Protocol):
    """Watermarks and record timestamps (:class:`consumer.observability.lag_kafka.KafkaLagReader`)."""

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]: ...
    def timestamps(self, positions: Mapping[TP, int]) -> dict[TP, int]: ...


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One partition's lag as published."""

    topic: str
    partition: int
    records: int
    seconds: float
    committed: int
    end: int


class LagMonitor:
    """Refreshes the lag gauges of ``group`` over ``topics`` from Postgres and the broker.

    Args:
        group: the consumer group (``consumergroup`` label, ``consumer_offset.group_id``).
        topics: the topics the group consumes (missing topics are skipped).
        sources: the committed offsets and the broker view.
        observe: the metrics (a monitor is attached on :meth:`start`) and the health state.
        interval: seconds between refreshes.
        registry_ping: raises unless the schema registry answers (``/readyz``); None: not probed.
        wall: Unix time (injected in tests).
    """

    def __init__(
        self,
        group: str,
        topics: Sequence[str],
        sources: tuple[OffsetStore, BrokerView],
        observe: tuple[ConsumerMetrics, HealthState],
        *,
        interval: float = LAG_MONITOR_SECONDS,
        registry_ping: Callable[[], None] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._group = group
        self._topics = list(dict.fromkeys(topics))
        self._store, self._broker = sources
        self._metrics, self._health = observe
        self._interval = interval
        self._registry_ping = registry_ping
        self._wall = wall
        self._oldest: dict[TP, tuple[int, int]] = {}  # tp -> (committed offset, its record's timestamp)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Own the lag gauges and refresh them from a daemon thread until :meth:`stop`."""
        self._metrics.attach_lag_monitor()
        self._thread = threading.Thread(target=self._run, name="lag-monitor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (idempotent; a refresh in progress is bounded by the clients' timeouts)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except Exception:  # the monitor must outlive any bug in one refresh
                log.exception("lag refresh failed")
            self._stop.wait(self._interval)

    def refresh(self) -> list[PartitionLag] | None:
        """One refresh (steps 1-6 of the module docstring); None when a dependency failed."""
        self._probe_registry()
        # Step 1.
        marks = self._read("broker", self._watermarks)
        if marks is None:
            return None
        self._health.broker_ok()
        # Step 2.
        stored = self._read("store", lambda: self._stored(marks))
        if stored is None:
            return None
        self._health.store_ok()
        # Step 3.
        committed = {tp: _clamp(stored.get(tp), low, high) for tp, (low, high) in marks.items()}
        lagging = {tp: offset for tp, offset in committed.items() if marks[tp][1] > offset}
        # Step 4.
        stamps = self._timestamps(lagging)
        now = self._wall()
        out = []
        for tp, offset in sorted(committed.items()):
            records = marks[tp][1] - offset
            ts = stamps.get(tp)
            seconds = 0.0 if records == 0 or ts is None else max(0.0, now - ts / 1000.0)
            out.append(PartitionLag(tp[0], tp[1], records, seconds, offset, marks[tp][1]))
        # Step 5.
        for lag in out:
            self._metrics.publish_lag(
                self._group, lag.topic, lag.partition, (lag.records, lag.seconds), (lag.committed, lag.end)
            )
        self._metrics.retain_lag(self._group, set(committed))
        self._metrics.lag_refreshed.set(now)
        return out

    def _probe_registry(self) -> None:
        # Step 6 (the registry part; Postgres and the broker are marked by their reads).
        if self._registry_ping is None:
            return
        try:
            self._registry_ping()
        except ConvstreamError as exc:
            self._failed("registry", exc)
        else:
            self._health.registry_ok()

    def _read(self, dependency: str, call: Callable[[], _T]) -> _T | None:
        try:
            return call()
        except ConvstreamError as exc:
            self._failed(dependency, exc)
            return None

    def _failed(self, dependency: str, exc: ConvstreamError) -> None:
        self._metrics.lag_refresh_errors.labels(dependency).inc()
        log.warning("lag refresh: dependency failed", extra={"dependency": dependency, "error": str(exc)})

    def _watermarks(self) -> dict[TP, tuple[int, int]]:
        out: dict[TP, tuple[int, int]] = {}
        for topic in self._topics:
            for partition, marks in self._broker.watermarks(topic).items():
                out[(topic, partition)] = marks
        return out

    def _stored(self, marks: Mapping[TP, tuple[int, int]]) -> dict[TP, int]:
        out: dict[TP, int] = {}
        for topic in sorted({tp[0] for tp in marks}):
            for partition, offset in self._store.stored_offsets(self._group, topic).items():
                out[(topic, partition)] = offset
        return out

    def _timestamps(self, lagging: Mapping[TP, int]) -> dict[TP, int]:
        """The timestamp of the record at each committed offset; fetched only when the offset moved."""
        self._oldest = {tp: v for tp, v in self._oldest.items() if tp in lagging}
        missing = {tp: offset for tp, offset in lagging.items() if self._oldest.get(tp, (-1, 0))[0] != offset}
        if missing:
            fetched = self._read("broker", lambda: self._broker.timestamps(missing)) or {}
            for tp, ts in fetched.items():
                self._oldest[tp] = (missing[tp], ts)
        # A partition whose record could not be read keeps the older timestamp (an upper bound on the age)
        return {tp: ts for tp, (_offset, ts) in self._oldest.items()}


def _clamp(offset: int | None, low: int, high: int) -> int:
    """The committed offset within the partition's retained range (absent: its log start)."""
    if offset is None:
        return low
    return max(low, min(offset, high))
