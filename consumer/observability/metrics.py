"""Consumer metrics (docs/runbook.md), built from an injected ``CollectorRegistry``.

Names carry the ``convstream_`` prefix and base units (seconds, records); labels are bounded (topic,
partition, consumer group, a small set of outcomes and reasons) and never a conversation id.

- ``convstream_consumer_lag_records{consumergroup,topic,partition}``: end offset (high watermark) minus
  the next offset committed in Postgres.
- ``convstream_consumer_lag_seconds{consumergroup,topic,partition}``: 0 when caught up, else the age of
  the oldest unprocessed event.

  Two writers exist. Without a lag monitor, the pipeline loop publishes the partitions this process owns
  (the age approximated by the Kafka timestamp of the oldest record fetched but not committed, else of
  the last committed record). ``convstream consume`` attaches a
  :class:`~consumer.observability.lag.LagMonitor` (:meth:`ConsumerMetrics.attach_lag_monitor`): a
  background thread that reads ``consumer_offset`` and the broker's watermarks, so the gauges stay fresh
  while the loop is idle, paused or blocked; it publishes **every** partition of the group's topics (the
  same values from every replica: aggregate with ``max by (consumergroup, topic, partition)``) and the
  age is exact (the timestamp of the record at the committed offset). The loop's writes are then ignored.
- ``convstream_events_total{outcome}``: processed | dlq | skipped | already_folded (an exact re-delivery
  recognised before decoding: see :mod:`consumer.consume.known`).
- ``convstream_batch_duration_seconds``, ``convstream_batch_events``: histograms per committed batch.
- ``convstream_rows_written_total{result}``: inserted | updated | unchanged (unchanged includes rows whose
  folded state did not change and were therefore not sent to Postgres).
- ``convstream_dlq_records_total{reason}``: framing | unknown_schema | payload | invalid_event | fold | store
  | unindexable_key (a conversation id that cannot be a primary key: :mod:`consumer.domain.keys`).
- ``convstream_misrouted_records_total{kind}``: events-topic records whose Kafka key is not their body's
  conversation id (``null``: no usable key; ``other``: another id). They are folded correctly (the row
  version check makes concurrent folds safe), but they defeat the already-folded shortcut and Kafka's
  per-key ordering, so the producer should be fixed.
- ``convstream_fold_conflicts_total``: batches rolled back and folded again because another consumer
  wrote one of their conversations after its state was loaded (conversations split over partitions).
- ``convstream_rebalances_total``, ``convstream_assigned_partitions``,
  ``convstream_last_commit_timestamp_seconds`` (Unix time of the last Postgres commit; the time the
  metrics were created until the first commit, so "no commit for N minutes" counts from start-up).
- ``convstream_consumer_committed_offset{consumergroup,topic,partition}`` (the next offset committed in
  Postgres, clamped into the retained range; the log start when none) and
  ``convstream_consumer_end_offset{…}`` (high watermark): published by the lag monitor only; a committed
  offset that does not change while lag > 0 is a commit stall (the ``ConvstreamCommitsStalled`` alert).
- ``convstream_lag_refresh_timestamp_seconds``: Unix time of the last successful lag refresh by the lag
  monitor (0 before the first); ``convstream_lag_refresh_errors_total{dependency}``: failed refreshes.
- ``convstream_event_to_row_latency_seconds``: commit time minus the newest event time of each written
  row (one observation per row, not per event, to keep the hot path cheap).
- ``convstream_retries_total{dependency}``: transient failures retried (broker | registry | store).
- ``convstream_offset_resets_total{topic}``: partitions whose offset stored in Postgres lay beyond the log
  end (the topic was recreated) and that were rewound to the log start
  (:mod:`consumer.consume.pipeline_offsets`).

Every label value of a fixed set (outcomes, results, DLQ reasons, dependencies) is initialized at 0, so
dashboards and alerts see a series (``rate(...) == 0``) instead of nothing before the first occurrence.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["DEPENDENCIES", "DLQ_REASONS", "LAG_LABELS", "MISROUTED_KINDS", "ConsumerMetrics"]

LAG_LABELS = ("consumergroup", "topic", "partition")
#: ``convstream_dlq_records_total{reason}`` values (``consumer.consume.dlq`` / the pipeline's poison classes).
DLQ_REASONS = ("framing", "unknown_schema", "payload", "invalid_event", "fold", "store", "unindexable_key")
#: ``convstream_misrouted_records_total{kind}`` values.
MISROUTED_KINDS = ("null", "other")
#: ``convstream_retries_total{dependency}`` and ``convstream_lag_refresh_errors_total{dependency}``.
DEPENDENCIES = ("broker", "registry", "store")

_BATCH_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_EVENTS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
_LATENCY_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class _LagWriter:
    """Who writes the lag gauges: the pipeline loop (default) or the lag monitor, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.monitored = False


@dataclass(frozen=True, slots=True)
class ConsumerMetrics:
    """Every consumer metric, registered on one registry.

    Thread-safety: prometheus_client metrics are thread-safe; the lag gauges additionally switch writer
    under a lock (:meth:`attach_lag_monitor`), so a loop write never lands after the monitor took over.
    """

    lag_records: Gauge
    lag_seconds: Gauge
    events: Counter
    batch_duration: Histogram
    batch_events: Histogram
    rows_written: Counter
    dlq_records: Counter
    rebalances: Counter
    assigned_partitions: Gauge
    last_commit: Gauge
    event_to_row_latency: Histogram
    retries: Counter
    committed_offset: Gauge
    end_offset: Gauge
    lag_refreshed: Gauge
    lag_refresh_errors: Counter
    offset_resets: Counter
    misrouted: Counter
    fold_conflicts: Counter
    _writer: _LagWriter = field(default_factory=_LagWriter)

    @classmethod
    def create(cls, registry: CollectorRegistry, wall: Callable[[], float] = time.time) -> ConsumerMetrics:
        """Register the consumer metrics on ``registry`` (a fresh one per test).

        Args:
            registry: where to register (never the global default registry).
            wall: Unix time, for the initial ``last_commit_timestamp_seconds``.
        """
        p = "convstream_"
        events = _init(
            Counter(p + "events", "Consumed records by outcome", ["outcome"], registry=registry),
            ("processed", "dlq", "skipped", "already_folded"),
        )
        rows = _init(
            Counter(p + "rows_written", "Conversation rows by write result", ["result"], registry=registry),
            ("inserted", "updated", "unchanged"),
        )
        last_commit = Gauge(
            p + "last_commit_timestamp_seconds",
            "Unix time of the last batch committed to Postgres (start-up time before the first)",
            registry=registry,
        )
        last_commit.set(wall())
        return cls(
            lag_records=Gauge(
                p + "consumer_lag_records",
                "End offset minus the next offset committed in Postgres",
                LAG_LABELS,
                registry=registry,
            ),
            lag_seconds=Gauge(
                p + "consumer_lag_seconds",
                "Age of the oldest unprocessed event (0 when caught up)",
                LAG_LABELS,
                registry=registry,
            ),
            events=events,
            batch_duration=Histogram(
                p + "batch_duration_seconds",
                "Time from the first poll of a batch to its commit",
                buckets=_BATCH_SECONDS,
                registry=registry,
            ),
            batch_events=Histogram(
                p + "batch_events", "Records per committed batch", buckets=_BATCH_EVENTS, registry=registry
            ),
            rows_written=rows,
            dlq_records=_init(
                Counter(
                    p + "dlq_records", "Records sent to the dead-letter topic", ["reason"], registry=registry
                ),
                DLQ_REASONS,
            ),
            rebalances=Counter(p + "rebalances", "Partition assignments and revocations", registry=registry),
            assigned_partitions=Gauge(
                p + "assigned_partitions", "Partitions assigned to this process", registry=registry
            ),
            last_commit=last_commit,
            event_to_row_latency=Histogram(
                p + "event_to_row_latency_seconds",
                "Commit time minus the newest event time of each written row",
                buckets=_LATENCY_SECONDS,
                registry=registry,
            ),
            retries=_init(
                Counter(
                    p + "retries",
                    "Transient failures retried, by dependency",
                    ["dependency"],
                    registry=registry,
                ),
                DEPENDENCIES,
            ),
            committed_offset=Gauge(
                p + "consumer_committed_offset",
                "Next offset committed in Postgres (log start when none), from the lag monitor",
                LAG_LABELS,
                registry=registry,
            ),
            end_offset=Gauge(
                p + "consumer_end_offset", "High watermark (lag monitor)", LAG_LABELS, registry=registry
            ),
            lag_refreshed=Gauge(
                p + "lag_refresh_timestamp_seconds",
                "Unix time of the last successful lag refresh from Postgres and the broker",
                registry=registry,
            ),
            lag_refresh_errors=_init(
                Counter(
                    p + "lag_refresh_errors",
                    "Lag refreshes that failed, by dependency",
                    ["dependency"],
                    registry=registry,
                ),
                DEPENDENCIES,
            ),
            offset_resets=Counter(
                p + "offset_resets",
                "Stored offsets found beyond the log end (topic recreated) and rewound to the log start",
                ["topic"],
                registry=registry,
            ),
            misrouted=_init(
                Counter(
                    p + "misrouted_records",
                    "Events-topic records whose key is not their conversation id, by kind",
                    ["kind"],
                    registry=registry,
                ),
                MISROUTED_KINDS,
            ),
            fold_conflicts=Counter(
                p + "fold_conflicts",
                "Batches folded again because another consumer wrote one of their conversations meanwhile",
                registry=registry,
            ),
        )

    @property
    def lag_monitored(self) -> bool:
        """Whether a lag monitor owns the lag gauges (the loop's writes are ignored)."""
        return self._writer.monitored

    def attach_lag_monitor(self) -> None:
        """From now on only :meth:`publish_lag` / :meth:`retain_lag` write the lag gauges."""
        with self._writer.lock:
            self._writer.monitored = True

    def set_lag(self, group: str, topic: str, partition: int, records: int, seconds: float) -> None:
        """Publish one partition's lag (the pipeline loop; ignored once a lag monitor is attached)."""
        with self._writer.lock:
            if not self._writer.monitored:
                self._set(group, topic, partition, records, seconds)

    def drop_lag(self, group: str, topic: str, partition: int) -> None:
        """Stop publishing the lag of a partition this process no longer owns (ignored when monitored:
        the monitor publishes every partition of the group, owned or not)."""
        with self._writer.lock:
            if not self._writer.monitored:
                self._remove((group, topic, str(partition)))

    def publish_lag(
        self, group: str, topic: str, partition: int, lag: tuple[int, float], offsets: tuple[int, int]
    ) -> None:
        """The lag monitor's write: ``lag`` is ``(records, seconds)``, ``offsets`` ``(committed, end)``."""
        with self._writer.lock:
            self._set(group, topic, partition, *lag)
            labels = (group, topic, str(partition))
            self.committed_offset.labels(*labels).set(offsets[0])
            self.end_offset.labels(*labels).set(offsets[1])

    def retain_lag(self, group: str, keep: set[tuple[str, int]]) -> None:
        """The lag monitor's clean-up: drop ``group``'s series whose ``(topic, partition)`` is not kept."""
        with self._writer.lock:
            for labels in _label_sets(self.lag_records):
                if labels[0] == group and (labels[1], int(labels[2])) not in keep:
                    self._remove(labels)

    def _set(self, group: str, topic: str, partition: int, records: int, seconds: float) -> None:
        labels = (group, topic, str(partition))
        self.lag_records.labels(*labels).set(records)
        self.lag_seconds.labels(*labels).set(seconds)

    def _remove(self, labels: tuple[str, ...]) -> None:
        for gauge in (self.lag_records, self.lag_seconds, self.committed_offset, self.end_offset):
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)


def _init(counter: Counter, values: tuple[str, ...]) -> Counter:
    """Create the series of every known label value at 0."""
    for value in values:
        counter.labels(value)
    return counter


def _label_sets(gauge: Gauge) -> list[tuple[str, ...]]:
    """The label values of every series of ``gauge``."""
    out = []
    for metric in gauge.collect():
        for sample in metric.samples:
            out.append(tuple(sample.labels[name] for name in LAG_LABELS))
    return out
