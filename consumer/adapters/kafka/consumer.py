"""The Kafka consumer adapter (confluent-kafka), returning our own types and errors.

:class:`KafkaConsumerAdapter` wraps one ``confluent_kafka.Consumer``, created on first use (no network in
``__init__``), with the delivery settings the pipeline relies on and that a librdkafka passthrough cannot
weaken: ``enable.auto.commit=false``, ``enable.auto.offset.store=false`` (Postgres is the source of truth
for offsets; Kafka only gets a mirror through :meth:`commit_async`), ``isolation.level=read_committed``,
``partition.assignment.strategy=cooperative-sticky`` and ``enable.partition.eof=true`` (bounded mode and
"caught up" detection). ``group.instance.id`` turns on static membership.

Errors are classified by :meth:`KafkaError.code`, never by message text:

- a fatal client error -> :class:`~consumer.errors.ConvstreamError`;
- a transient one (broker down, timeouts, see :data:`consumer.adapters.kafka.client.UNAVAILABLE_CODES`) is
  remembered in :attr:`KafkaConsumerAdapter.broker_error` (librdkafka keeps retrying on its own) and raised
  as :class:`~consumer.errors.BrokerUnavailableError` only from a poll that returned no record, so a
  record handed out by librdkafka is never lost to an exception;
- a partition EOF is not an error: it is recorded in :meth:`KafkaConsumerAdapter.take_eofs`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.adapters.kafka.client import AUTH_CODES, auth_failure, consumer_error, is_unavailable
from consumer.adapters.kafka.watermarks import query_watermarks
from consumer.errors import BrokerUnavailableError, ConfigError, ConvstreamError
from consumer.ports import TP, RebalanceListener, Record
from consumer.settings import ConsumerSettings, KafkaSettings

__all__ = [
    "KafkaConsumerAdapter",
    "consumer_config",
]

log = logging.getLogger(__name__)

#: The largest ``num_messages`` one ``consume()`` call asks for (bounds the byte overshoot of a batch).
_CONSUME_CHUNK: Final = 2000
#: Bound of each request of :meth:`KafkaConsumerAdapter.watermarks` (it may run in a rebalance callback).
_WATERMARK_TIMEOUT_SECONDS: Final = 5.0


def consumer_config(kafka: KafkaSettings, consumer: ConsumerSettings, group_id: str) -> dict[str, Any]:
    """The librdkafka consumer configuration: defaults, settings, then our guarantees.

    The delivery guarantees are applied after ``KafkaSettings.extra`` so a passthrough cannot weaken them.
    """
    # Prefetch sized for RSS (BENCHMARKS.md). A partition whose fetch found the local queue full fetches
    # again after fetch.queue.backoff.ms: librdkafka's 1 s left a fast consumer (a replay) idle most of the
    # time (14 k -> 38 k events/s) and made small queues look too small. With 20 ms, a 6 MB queue and 2 MB
    # fetches keep one process fed at full speed (RSS peak 153 -> 128 MB; 64 MB only adds memory).
    conf: dict[str, Any] = {
        "fetch.max.bytes": str(2 * 1024 * 1024),
        "queued.max.messages.kbytes": str(6 * 1024),
        "fetch.queue.backoff.ms": "20",
        "session.timeout.ms": "45000",
    }
    conf.update(kafka.as_librdkafka())
    conf.update(
        {
            "group.id": group_id,
            "enable.auto.commit": "false",
            "enable.auto.offset.store": "false",
            "enable.partition.eof": "true",
            "isolation.level": "read_committed",
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": consumer.auto_offset_reset,
        }
    )
    if consumer.group_instance_id:
        conf["group.instance.id"] = consumer.group_instance_id
    return conf


def _tps(partitions: Iterable[TopicPartition]) -> list[TP]:
    return [(p.topic, p.partition) for p in partitions]


class KafkaConsumerAdapter:
    """A group consumer that hands out :class:`Record` batches and reports rebalances as our types.

    Not thread-safe: one thread polls, pauses, seeks and commits (librdkafka's rebalance callbacks run in
    that thread, inside :meth:`poll_batch`).
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        consumer: ConsumerSettings,
        *,
        group_id: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group_id = group_id or consumer.group_id
        self._conf = consumer_config(kafka, consumer, self.group_id)
        self._bootstrap = kafka.bootstrap_servers
        self._clock = clock
        self._consumer: Consumer | None = None
        self._listener: RebalanceListener | None = None
        self._callback_error: BaseException | None = None
        self._eofs: dict[TP, int] = {}
        self.broker_error: KafkaError | None = None
        self.commit_failures = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    def _client(self) -> Consumer:
        if self._consumer is None:
            conf = dict(self._conf)
            conf["error_cb"] = self._on_error
            conf["on_commit"] = self._on_commit
            try:
                self._consumer = Consumer(conf)
            except KafkaException as exc:
                raise ConfigError(f"invalid Kafka consumer configuration: {exc}") from exc
        return self._consumer

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        """Join the group for ``topics``; assignments reach ``listener`` during :meth:`poll_batch`."""
        self._listener = listener
        try:
            self._client().subscribe(
                list(topics), on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
        except KafkaException as exc:
            raise consumer_error(exc, "subscribe") from exc

    def close(self) -> None:
        """Leave the group (revoking partitions through the listener) and drop the client; idempotent."""
        if self._consumer is not None:
            consumer, self._consumer = self._consumer, None
            try:
                consumer.close()
            except (KafkaException, RuntimeError) as exc:
                log.warning("kafka consumer close failed", extra={"error": str(exc)})

    # -- callbacks (run inside consume()) --------------------------------------------------------------

    def _on_error(self, err: KafkaError) -> None:
        sticky = self.broker_error is not None and self.broker_error.code() in AUTH_CODES
        if err.code() in AUTH_CODES or (is_unavailable(err) and not sticky):
            self.broker_error = err
        log.warning("kafka consumer error", extra={"kafka_error": err.name(), "detail": err.str()})

    def _on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        if err is not None and err.code() != KafkaError._NO_OFFSET:
            # The Kafka commit is only a mirror for lag tools; Postgres already holds the truth.
            self.commit_failures += 1
            log.warning("kafka offset mirror commit failed", extra={"kafka_error": err.name()})

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        tps = _tps(partitions)
        offsets: Mapping[TP, int] = {}
        try:
            if self._listener is not None:
                offsets = self._listener.on_assign(tps)
        except BaseException as exc:  # surfaced after consume() returns; the assignment must still happen
            self._callback_error = exc
        positioned = [TopicPartition(t, p, offsets.get((t, p), OFFSET_STORED)) for t, p in tps]
        consumer.incremental_assign(positioned)

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        self._notify(lambda listener: listener.on_revoke(_tps(partitions)))

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._forget(partitions)
        self._notify(lambda listener: listener.on_lost(_tps(partitions)))

    def _forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in _tps(partitions):
            self._eofs.pop(tp, None)

    def _notify(self, call: Callable[[RebalanceListener], None]) -> None:
        if self._listener is None:
            return
        try:
            call(self._listener)
        except BaseException as exc:
            self._callback_error = exc

    # -- polling ---------------------------------------------------------------------------------------

    def poll_batch(self, max_events: int, max_bytes: int, max_ms: int) -> list[Record]:
        """Records until ``max_events`` or ``max_bytes`` are reached or ``max_ms`` passed since the first.

        Waits up to ``max_ms`` for a first record; returns ``[]`` when none came.

        Raises:
            BrokerUnavailableError: nothing was consumed and the cluster is unreachable.
            ConfigError: the broker rejected the credentials (SASL authentication failed).
            ConvstreamError: a fatal client error, or a rebalance listener failed.
        """
        records: list[Record] = []
        size = 0
        window = max_ms / 1000.0
        deadline = self._clock() + window  # for a first record; then max_ms from its arrival
        while len(records) < max_events and size < max_bytes:
            timeout = deadline - self._clock()
            if timeout <= 0:
                break
            # Until the first record, ask for one: consume() returns as soon as it has it, so the window
            # starts when data arrives (asking for a full chunk would hold it back up to max_ms first).
            wanted = min(max_events - len(records), _CONSUME_CHUNK) if records else 1
            chunk = self._consume(wanted, timeout)
            if chunk and not records:
                deadline = self._clock() + window
            for record in chunk:
                size += record.size
            records.extend(chunk)
        if not records and self.broker_error is not None:
            err = self.broker_error
            auth = auth_failure(err, self._bootstrap)
            if auth is not None:
                raise auth
            raise BrokerUnavailableError(f"Kafka at {self._bootstrap}: {err.name()}: {err.str()}")
        return records

    def _consume(self, num: int, timeout: float) -> list[Record]:
        try:
            messages = self._client().consume(num_messages=num, timeout=timeout)
        except KafkaException as exc:
            raise consumer_error(exc, "consume") from exc
        finally:
            self._raise_callback_error()
        out: list[Record] = []
        append = out.append
        for m in messages:
            err = m.error()
            if err is not None:
                self._on_message_error(m, err)
                continue
            append(_record(m))
        if out:
            self.broker_error = None
        return out

    def _on_message_error(self, m: Message, err: KafkaError) -> None:
        code = err.code()
        if code == KafkaError._PARTITION_EOF:
            self._eofs[(str(m.topic()), int(m.partition() or 0))] = int(m.offset() or 0)
            return
        if err.fatal():
            raise ConvstreamError(f"fatal Kafka consumer error: {err.name()}: {err.str()}")
        if is_unavailable(err):
            self.broker_error = err
        log.warning(
            "kafka consume error",
            extra={"kafka_error": err.name(), "detail": err.str(), "topic": m.topic()},
        )

    def _raise_callback_error(self) -> None:
        if self._callback_error is not None:
            exc, self._callback_error = self._callback_error, None
            raise exc

    def take_eofs(self) -> dict[TP, int]:
        """Partitions that reached their end since the last call: partition -> the end offset seen."""
        eofs, self._eofs = self._eofs, {}
        return eofs

    # -- positions and the offset mirror ---------------------------------------------------------------

    def assignment(self) -> list[TP]:
        """The partitions currently assigned to this member."""
        if self._consumer is None:
            return []
        return _tps(self._consumer.assignment())

    def pause(self, partitions: Sequence[TP]) -> None:
        """Stop fetching these partitions (membership stays alive while :meth:`poll_batch` is called)."""
        if partitions:
            self._call("pause", lambda c: c.pause([TopicPartition(t, p) for t, p in partitions]))

    def resume(self, partitions: Sequence[TP]) -> None:
        """Fetch these partitions again, from the position after the last record handed out."""
        if partitions:
            self._call("resume", lambda c: c.resume([TopicPartition(t, p) for t, p in partitions]))

    def seek(self, partition: TP, offset: int) -> None:
        """Make the next record of ``partition`` the one at ``offset`` (it must be assigned)."""
        topic, number = partition
        self._call("seek", lambda c: c.seek(TopicPartition(topic, number, offset)))

    def commit_async(self, offsets: Mapping[TP, int], *, wait: bool = False) -> None:
        """Mirror ``partition -> next offset`` to the group's Kafka offsets.

        Fire and forget unless ``wait`` (the last commit before closing); failures are only logged and
        counted, since Postgres already holds the committed offsets.
        """
        if not offsets or self._consumer is None:
            return
        tps = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if wait:
                self._consumer.commit(offsets=tps, asynchronous=False)
            else:
                self._consumer.commit(offsets=tps, asynchronous=True)
        except KafkaException as exc:
            self.commit_failures += 1
            log.warning("kafka offset mirror commit failed", extra={"error": str(exc)})

    def high_watermark(self, partition: TP) -> int | None:
        """The partition's end offset as last reported by a fetch (no network); None when unknown."""
        if self._consumer is None:
            return None
        try:
            _low, high = self._consumer.get_watermark_offsets(TopicPartition(*partition), cached=True)
        except KafkaException:
            return None
        return None if high is None or high < 0 else int(high)

    def watermarks(self, partitions: Sequence[TP]) -> dict[TP, tuple[int, int]]:
        """``(log start, log end)`` of each partition, asked from the leaders now (the cached
        :meth:`high_watermark` is unknown before a fetch); see :func:`query_watermarks` for the errors."""
        return query_watermarks(self._client(), partitions, _WATERMARK_TIMEOUT_SECONDS)

    def _call(self, action: str, call: Callable[[Consumer], Any]) -> None:
        try:
            call(self._client())
        except KafkaException as exc:
            raise consumer_error(exc, action) from exc


def _record(m: Any) -> Record:
    # ``Any``: a message without error always has topic, partition and offset (the stubs say Optional).
    _kind, ts = m.timestamp()
    headers = m.headers()
    return Record(
        m.topic(),
        m.partition(),
        m.offset(),
        m.key(),
        m.value(),
        ts,
        tuple(headers) if headers else (),
    )
