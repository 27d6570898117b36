"""Consumer metrics (SPEC §9), built from an injected ``CollectorRegistry``.

Names carry the ``convstream_`` prefix and base units (seconds, records); labels are bounded (topic,
partition, consumer group, a small set of outcomes and reasons) and never a conversation id.

- ``convstream_consumer_lag_records{consumergroup,topic,partition}``: end offset (high watermark) minus
  the next offset committed in Postgres, for the partitions this process owns.
- ``convstream_consumer_lag_seconds{consumergroup,topic,partition}``: 0 when caught up, else the age of
  the oldest unprocessed event, approximated by the Kafka timestamp of the oldest record fetched but not
  yet committed; before any such record is fetched (e.g. while paused), by the timestamp of the last
  committed record (an upper bound, since every unprocessed record is newer).
- ``convstream_events_total{outcome}``: processed | dlq | skipped.
- ``convstream_batch_duration_seconds``, ``convstream_batch_events``: histograms per committed batch.
- ``convstream_rows_written_total{result}``: inserted | updated | unchanged (unchanged includes rows whose
  folded state did not change and were therefore not sent to Postgres).
- ``convstream_dlq_records_total{reason}``: framing | unknown_schema | payload | invalid_event | fold.
- ``convstream_rebalances_total``, ``convstream_assigned_partitions``,
  ``convstream_last_commit_timestamp_seconds`` (Unix time of the last Postgres commit).
- ``convstream_event_to_row_latency_seconds``: commit time minus the newest event time of each written
  row (one observation per row, not per event, to keep the hot path cheap).
- ``convstream_retries_total{dependency}``: transient failures retried (broker | registry | store).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["LAG_LABELS", "ConsumerMetrics"]

LAG_LABELS = ("consumergroup", "topic", "partition")

_BATCH_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_BATCH_EVENTS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000)
_LATENCY_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True, slots=True)
class ConsumerMetrics:
    """Every consumer metric, registered on one registry."""

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

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        """Register the consumer metrics on ``registry`` (a fresh one per test)."""
        p = "convstream_"
        events = Counter(p + "events", "Consumed records by outcome", ["outcome"], registry=registry)
        rows = Counter(p + "rows_written", "Conversation rows by write result", ["result"], registry=registry)
        for outcome in ("processed", "dlq", "skipped"):
            events.labels(outcome)
        for result in ("inserted", "updated", "unchanged"):
            rows.labels(result)
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
            dlq_records=Counter(
                p + "dlq_records", "Records sent to the dead-letter topic", ["reason"], registry=registry
            ),
            rebalances=Counter(p + "rebalances", "Partition assignments and revocations", registry=registry),
            assigned_partitions=Gauge(
                p + "assigned_partitions", "Partitions assigned to this process", registry=registry
            ),
            last_commit=Gauge(
                p + "last_commit_timestamp_seconds",
                "Unix time of the last batch committed to Postgres",
                registry=registry,
            ),
            event_to_row_latency=Histogram(
                p + "event_to_row_latency_seconds",
                "Commit time minus the newest event time of each written row",
                buckets=_LATENCY_SECONDS,
                registry=registry,
            ),
            retries=Counter(
                p + "retries", "Transient failures retried, by dependency", ["dependency"], registry=registry
            ),
        )

    def set_lag(self, group: str, topic: str, partition: int, records: int, seconds: float) -> None:
        """Publish one partition's lag."""
        labels = (group, topic, str(partition))
        self.lag_records.labels(*labels).set(records)
        self.lag_seconds.labels(*labels).set(seconds)

    def drop_lag(self, group: str, topic: str, partition: int) -> None:
        """Stop publishing the lag of a partition this process no longer owns."""
        labels = (group, topic, str(partition))
        for gauge in (self.lag_records, self.lag_seconds):
            with contextlib.suppress(KeyError):
                gauge.remove(*labels)
