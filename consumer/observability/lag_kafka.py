"""The lag monitor's view of the broker: watermarks and the timestamp of the record at an offset.

One dedicated librdkafka consumer that never joins a group, never subscribes and never commits: it only
``assign``\\ s partitions to read one record each, so it cannot disturb the pipeline's group. Fetch sizes are
small (one record per lagging partition is all it needs). Connects lazily; third-party errors become
:class:`~consumer.errors.BrokerUnavailableError`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

from confluent_kafka import Consumer, KafkaException, TopicPartition

from consumer.errors import BrokerUnavailableError
from consumer.settings import KafkaSettings

__all__ = ["KafkaLagReader"]

TP = tuple[str, int]

_SMALL_FETCH: Final = {
    "fetch.max.bytes": str(1024 * 1024),
    "max.partition.fetch.bytes": str(64 * 1024),
    "queued.max.messages.kbytes": "1024",
}


class KafkaLagReader:
    """Watermarks and record timestamps for :class:`~consumer.observability.lag.LagMonitor`.

    Args:
        kafka: the connection settings (security, passthrough).
        group: the monitored group; the reader's own ``group.id`` is derived from it but never joined.
        timeout_seconds: bound of each metadata/watermark call and of one :meth:`timestamps` call.
    """

    def __init__(self, kafka: KafkaSettings, group: str, *, timeout_seconds: float = 5.0) -> None:
        self._kafka = kafka
        self._group = f"{group}.lag-monitor"
        self._timeout = timeout_seconds
        self._consumer: Consumer | None = None

    def _client(self) -> Consumer:
        if self._consumer is None:
            conf: dict[str, Any] = dict(_SMALL_FETCH)
            conf.update(self._kafka.as_librdkafka())
            conf.update(
                {
                    "group.id": self._group,
                    "enable.auto.commit": "false",
                    "enable.auto.offset.store": "false",
                    "enable.partition.eof": "false",
                    "isolation.level": "read_committed",
                    "auto.offset.reset": "earliest",
                }
            )
            try:
                self._consumer = Consumer(conf)
            except KafkaException as exc:
                raise BrokerUnavailableError(f"lag monitor: cannot create a Kafka consumer: {exc}") from exc
        return self._consumer

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        """Partition -> ``(low, high)`` watermarks of ``topic``; empty when the topic does not exist."""
        client = self._client()
        try:
            metadata = client.list_topics(topic=topic, timeout=self._timeout)
            info = metadata.topics.get(topic)
            if info is None or info.error is not None:
                return {}
            out: dict[int, tuple[int, int]] = {}
            for partition in sorted(info.partitions):
                low, high = client.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=self._timeout, cached=False
                )
                out[partition] = (int(low), int(high))
        except KafkaException as exc:
            raise BrokerUnavailableError(f"lag monitor: watermarks of {topic}: {exc}") from exc
        return out

    def timestamps(self, positions: Mapping[TP, int]) -> dict[TP, int]:
        """The Kafka timestamp (epoch ms) of the first readable record at or after each position.

        Partitions whose record did not arrive within the timeout are left out.
        """
        if not positions:
            return {}
        client = self._client()
        missing = dict(positions)
        found: dict[TP, int] = {}
        deadline = time.monotonic() + self._timeout
        try:
            client.assign([TopicPartition(t, p, o) for (t, p), o in positions.items()])
            while missing and time.monotonic() < deadline:
                for message in client.consume(num_messages=len(missing) * 4, timeout=0.2):
                    tp = (str(message.topic()), int(message.partition() or 0))
                    if message.error() is not None or tp not in missing:
                        continue
                    offset = message.offset()
                    if offset is not None and offset >= missing[tp]:
                        found[tp] = int(message.timestamp()[1])
                        del missing[tp]
                        client.pause([TopicPartition(tp[0], tp[1])])
            client.unassign()
        except KafkaException as exc:
            raise BrokerUnavailableError(f"lag monitor: reading record timestamps: {exc}") from exc
        return found

    def close(self) -> None:
        """Close the consumer (idempotent); it never joined a group, so nothing is left behind."""
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            consumer.close()
