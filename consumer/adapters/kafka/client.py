"""Kafka producer and admin adapters (confluent-kafka), returning our own types and errors.

Both classes connect lazily: constructing one does no network I/O. Third-party errors are translated
into :mod:`consumer.errors` classes by :meth:`KafkaError.code`, never by message text:

- broker unreachable or not answering in time (``_TRANSPORT``, ``_ALL_BROKERS_DOWN``, ``_TIMED_OUT``,
  ``_MSG_TIMED_OUT``, ``_RESOLVE``, leader/coordinator not available, …) -> :class:`BrokerUnavailableError`;
- a bad topic layout request (replication factor, partitions) -> :class:`ConfigError`;
- any other produce failure -> :class:`PublishError`.

The consumer-side wrapper lives in ``consumer/adapters/kafka/consumer.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (  # type: ignore[attr-defined]  # re-exported without __all__
    AdminClient,
    ConfigResource,
    NewTopic,
    OffsetSpec,
)

from consumer.errors import BrokerUnavailableError, ConfigError, ConvstreamError, PublishError
from consumer.settings import BridgeSettings, KafkaSettings, TopicSettings

__all__ = [
    "UNAVAILABLE_CODES",
    "KafkaAdmin",
    "KafkaProducerAdapter",
    "is_unavailable",
    "producer_config",
]

log = logging.getLogger(__name__)
_client_log = logging.getLogger(f"{__name__}.librdkafka")


class _ClientLogger:
    """librdkafka's own log lines (connect retries, …) go to DEBUG; errors reach us through ``error_cb``.

    Without this, librdkafka writes ``%3|…|FAIL|…`` lines straight to stderr every reconnect attempt.
    """

    def log(self, _level: int, msg: str, *args: Any, **_kwargs: Any) -> None:
        _client_log.debug(msg, *args)


class _ErrorLog:
    """``error_cb``: one warning per distinct client-level error code until the client recovers."""

    def __init__(self, role: str) -> None:
        self._role = role
        self._seen: set[int] = set()
        self.last: KafkaError | None = None
        self.auth: KafkaError | None = None  # sticky: later "all brokers down" must not hide it

    def __call__(self, err: KafkaError) -> None:
        self.last = err
        if err.code() in AUTH_CODES:
            self.auth = err
        if err.code() in self._seen:
            return
        self._seen.add(err.code())
        log.warning(
            "kafka %s: %s", self._role, err.str(), extra={"kafka_error": err.name(), "fatal": err.fatal()}
        )


#: Error codes that mean "the cluster cannot be reached or cannot serve this now": retry later.
UNAVAILABLE_CODES: frozenset[int] = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError._WAIT_COORD,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    }
)

#: Error codes that mean "the broker refused our credentials": retrying unchanged will not help.
AUTH_CODES: frozenset[int] = frozenset({KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED})

_BAD_LAYOUT_CODES: frozenset[int] = frozenset(
    {KafkaError.INVALID_REPLICATION_FACTOR, KafkaError.INVALID_PARTITIONS}
)

#: How long one produce() waits in total for room in a full local queue before giving up.
_QUEUE_FULL_WAIT_SECONDS = 0.1


def kafka_error(exc: BaseException) -> KafkaError | None:
    """The ``KafkaError`` a confluent-kafka exception carries (None when it carries something else)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def is_unavailable(error: KafkaError | None) -> bool:
    """True when ``error`` means the cluster is unreachable or temporarily unable to serve."""
    return error is not None and error.code() in UNAVAILABLE_CODES


def consumer_error(exc: KafkaException, action: str) -> ConvstreamError:
    """Our error for a failed consumer call, classified by error code (unavailable: transient)."""
    error = kafka_error(exc)
    if error is None:
        return ConvstreamError(f"kafka consumer {action}: {exc}")
    text = f"kafka consumer {action}: {error.name()}: {error.str()}"
    if is_unavailable(error):
        return BrokerUnavailableError(text)
    return ConvstreamError(text)


def auth_failure(error: KafkaError | None, bootstrap: str) -> ConfigError | None:
    """A one-line :class:`ConfigError` when ``error`` is an authentication failure (by code), else None."""
    if error is None or error.code() not in AUTH_CODES:
        return None
    return ConfigError(
        f"Kafka at {bootstrap} rejected the credentials ({error.name()}): check "
        "CONVSTREAM_KAFKA__SASL_USERNAME / CONVSTREAM_KAFKA__SASL_PASSWORD "
        "and CONVSTREAM_KAFKA__SASL_MECHANISM",
        variable="CONVSTREAM_KAFKA__SASL_PASSWORD",
    )


def _translate(exc: BaseException, what: str) -> ConvstreamError:
    """Our error for a confluent-kafka exception, classified by error code."""
    error = kafka_error(exc)
    if error is None:
        return PublishError(f"{what}: {exc}")
    text = f"{what}: {error.name()}: {error.str()}"
    if error.code() in AUTH_CODES:
        return ConfigError(text, variable="CONVSTREAM_KAFKA__SASL_PASSWORD")
    if is_unavailable(error):
        return BrokerUnavailableError(text)
    if error.code() in _BAD_LAYOUT_CODES:
        return ConfigError(text, variable="CONVSTREAM_TOPICS__PARTITIONS")
    return PublishError(text)


def producer_config(
    kafka: KafkaSettings, bridge: BridgeSettings, overrides: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The librdkafka producer configuration: settings, then our guarantees, then ``overrides``.

    Idempotence, ``acks=all`` and the Java-compatible ``murmur2_random`` partitioner are the delivery
    contract and are applied after ``KafkaSettings.extra`` so a passthrough cannot weaken
    them; ``overrides`` (tests, benchmarks) may.
    """
    conf: dict[str, Any] = {
        "linger.ms": str(bridge.linger_ms),
        "batch.size": str(1_000_000),
        "queue.buffering.max.messages": str(500_000),
        "compression.type": bridge.compression,
    }
    conf.update(kafka.as_librdkafka())
    conf.update(
        {
            "enable.idempotence": "true",
            "acks": "all",
            "partitioner": "murmur2_random",
        }
    )
    conf.update(overrides or {})
    return conf


class KafkaProducerAdapter:
    """An idempotent producer that counts deliveries and surfaces failures at :meth:`flush`.

    Guarantees:
        - :meth:`produce` never blocks on the network; when the local queue is full it serves delivery
          reports (``poll``) until there is room, so a slow broker slows the caller instead of failing it.
        - Every message is either counted in :attr:`delivered` or in :attr:`failed` once its delivery
          report arrives; :meth:`flush` raises if any failed since the last :meth:`flush`.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        bridge: BridgeSettings | None = None,
        *,
        overrides: Mapping[str, str] | None = None,
    ) -> None:
        self._config = producer_config(kafka, bridge or BridgeSettings(), overrides)
        self._producer: Producer | None = None
        self.produced = 0
        self.delivered = 0
        self.failed = 0
        self.first_error: KafkaError | None = None
        self._reported_failures = 0
        self._errors = _ErrorLog("producer")

    @property
    def config(self) -> dict[str, Any]:
        """The librdkafka configuration in use (secrets included: never log it)."""
        return dict(self._config)

    def _client(self) -> Producer:
        if self._producer is None:
            conf = dict(self._config)
            conf["on_delivery"] = self._on_delivery
            conf.update({"logger": _ClientLogger(), "error_cb": self._errors})
            try:
                self._producer = Producer(conf)
            except KafkaException as exc:
                raise ConfigError(f"invalid Kafka producer configuration: {exc}") from exc
        return self._producer

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = err

    def produce(
        self,
        topic: str,
        key: bytes | str,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        """Queue one message; delivery is reported asynchronously and checked by :meth:`flush`.

        Raises:
            PublishError: the message can never be produced (too large, unknown topic, …).
            BrokerUnavailableError: the client refuses the message because the cluster is unreachable.
        """
        producer = self._client()
        while True:
            try:
                if headers:
                    producer.produce(topic, value, key, headers=list(headers))
                else:
                    producer.produce(topic, value, key)
            except BufferError:
                # The local queue is full; serve delivery reports to make room, then retry.
                producer.poll(_QUEUE_FULL_WAIT_SECONDS)
                continue
            except KafkaException as exc:
                raise _translate(exc, f"produce to {topic}") from exc
            self.produced += 1
            return

    def poll(self, timeout: float = 0.0) -> int:
        """Serve delivery reports; returns how many were served."""
        if self._producer is None:
            return 0
        served: int = self._producer.poll(timeout)
        return served

    def pending(self) -> int:
        """Messages queued or in flight, not yet reported."""
        return 0 if self._producer is None else len(self._producer)

    def flush(self, timeout: float = 30.0) -> int:
        """Wait up to ``timeout`` seconds for outstanding deliveries; returns how many are still pending.

        Raises:
            BrokerUnavailableError: deliveries failed because the cluster could not be reached in time.
            PublishError: other deliveries failed (counts and the first error in the message).
        """
        remaining = 0
        if self._producer is not None:
            remaining = int(self._producer.flush(timeout))
        self.raise_for_failures()
        return remaining

    def raise_for_failures(self) -> None:
        """Raise if deliveries failed since the last call (each failure is raised once)."""
        new_failures = self.failed - self._reported_failures
        if new_failures <= 0:
            return
        self._reported_failures = self.failed
        error = self.first_error
        detail = f"{error.name()}: {error.str()}" if error is not None else "unknown error"
        text = (
            f"{new_failures} of {self.produced} messages were not delivered "
            f"({self.delivered} delivered); first error: {detail}"
        )
        auth = auth_failure(self._errors.auth, str(self._config["bootstrap.servers"]))
        if auth is not None:
            raise auth
        if is_unavailable(error):
            raise BrokerUnavailableError(f"Kafka at {self._config['bootstrap.servers']}: {text}")
        raise PublishError(text)

    def close(self, timeout: float = 10.0) -> None:
        """Flush what can be flushed within ``timeout`` and drop the client (no error raised)."""
        if self._producer is not None:
            self._producer.flush(timeout)
            self._producer = None


class KafkaAdmin:
    """Topic administration and cluster metadata.

    Args:
        kafka: connection settings.
        timeout_seconds: bound on every admin call, so an unreachable broker turns into
            :class:`BrokerUnavailableError` instead of a hang.
    """

    def __init__(self, kafka: KafkaSettings, *, timeout_seconds: float = 10.0) -> None:
        self._conf: dict[str, Any] = kafka.as_librdkafka()
        self._bootstrap = kafka.bootstrap_servers
        self._timeout = timeout_seconds
        self._admin: AdminClient | None = None
        self._errors = _ErrorLog("admin")

    def _client(self) -> AdminClient:
        if self._admin is None:
            try:
                conf: dict[str, Any] = {**self._conf, "logger": _ClientLogger(), "error_cb": self._errors}
                self._admin = AdminClient(conf)
            except KafkaException as exc:
                raise ConfigError(f"invalid Kafka admin configuration: {exc}") from exc
        return self._admin

    def _unreachable(self, exc: BaseException) -> ConvstreamError:
        auth = auth_failure(self._errors.auth, self._bootstrap)
        if auth is not None:
            return auth
        error = kafka_error(exc)
        detail = f"{error.name()}: {error.str()}" if error is not None else str(exc)
        return BrokerUnavailableError(
            f"Kafka at {self._bootstrap} did not answer within {self._timeout:g} s ({detail})"
        )

    def ping(self) -> None:
        """Fetch cluster metadata within the timeout.

        Raises:
            BrokerUnavailableError: no broker answered in time.
        """
        self.list_topics()

    def _metadata(self) -> Any:
        """Cluster metadata within the timeout, asked in slices of at most one second.

        Between slices the client's error callbacks are served, so rejected credentials surface as a
        :class:`ConfigError` after about a second instead of a :class:`BrokerUnavailableError` at the
        end of the whole timeout.
        """
        client = self._client()
        deadline = time.monotonic() + self._timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                return client.list_topics(timeout=max(0.01, min(1.0, remaining)))
            except KafkaException as exc:
                client.poll(0)
                if remaining <= 1.0 or auth_failure(self._errors.auth, self._bootstrap) is not None:
                    raise self._unreachable(exc) from exc

    def list_topics(self) -> dict[str, int]:
        """Topic name -> partition count, internal topics (``__*``) excluded.

        Raises:
            ConfigError: the broker rejected the credentials (SASL authentication failed).
            BrokerUnavailableError: no broker answered in time.
        """
        metadata = self._metadata()
        return {
            name: len(topic.partitions)
            for name, topic in metadata.topics.items()
            if not name.startswith("__") and topic.error is None
        }

    def ensure_topics(self, topics: TopicSettings) -> list[str]:
        """Create the events, queues (compacted, ``queues_partitions``) and dead-letter topics when missing.

        Idempotent.
        Existing topics are left as they are (never re-partitioned). Returns the names created by this
        call, after waiting until the cluster's metadata shows every topic with its partitions.

        Raises:
            BrokerUnavailableError: the cluster cannot be reached.
            ConfigError: the cluster rejects the partitions or replication factor.
        """
        wanted = {
            topics.events: (topics.partitions, {}),
            topics.queues: (topics.queues_partitions, {"cleanup.policy": "compact"}),
            topics.dlq: (topics.partitions, {}),
        }
        existing = self.list_topics()
        missing = [
            NewTopic(
                name,
                num_partitions=partitions,
                replication_factor=topics.replication_factor,
                config=config,
            )
            for name, (partitions, config) in wanted.items()
            if name not in existing
        ]
        created: list[str] = []
        if missing:
            futures = self._client().create_topics(missing, request_timeout=self._timeout)
            for name, future in futures.items():
                try:
                    future.result()
                    created.append(name)
                except KafkaException as exc:
                    error = kafka_error(exc)
                    if error is not None and error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                        continue  # created concurrently by another bridge replica
                    raise _translate(exc, f"create topic {name}") from exc
            log.info("created kafka topics", extra={"topics": created})
        self._wait_for(list(wanted))
        return created

    def _wait_for(self, names: Sequence[str]) -> None:
        deadline = time.monotonic() + self._timeout
        while True:
            present = self.list_topics()
            if all(present.get(name, 0) > 0 for name in names):
                return
            if time.monotonic() >= deadline:
                missing = sorted(n for n in names if present.get(n, 0) == 0)
                raise BrokerUnavailableError(f"topics {missing} not visible after {self._timeout:g} s")
            time.sleep(0.1)

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> end offset (the offset the next produced record will get) of ``topic``.

        Raises:
            BrokerUnavailableError: the cluster cannot be reached.
            PublishError: the topic does not exist (or another broker-side refusal).
        """
        partitions = self._partitions(topic)
        request = {TopicPartition(topic, p): OffsetSpec.latest() for p in partitions}  # type: ignore[no-untyped-call]
        futures = self._client().list_offsets(request, request_timeout=self._timeout)
        offsets: dict[int, int] = {}
        for tp, future in futures.items():
            try:
                offsets[tp.partition] = int(future.result().offset)
            except KafkaException as exc:
                raise _translate(exc, f"end offsets of {topic}") from exc
        return dict(sorted(offsets.items()))

    def _partitions(self, topic: str) -> list[int]:
        try:
            metadata = self._client().list_topics(topic=topic, timeout=self._timeout)
        except KafkaException as exc:
            raise self._unreachable(exc) from exc
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            reason = info.error.str() if info is not None and info.error is not None else "no partitions"
            raise PublishError(f"topic {topic!r} is not available: {reason}")
        return sorted(info.partitions)

    def topic_config(self, topic: str) -> dict[str, str]:
        """The effective configuration of ``topic`` (e.g. ``{"cleanup.policy": "compact", …}``)."""
        resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
        futures = self._client().describe_configs([resource], request_timeout=self._timeout)
        try:
            entries = futures[resource].result()
        except KafkaException as exc:
            raise _translate(exc, f"describe topic {topic}") from exc
        return {name: str(entry.value) for name, entry in entries.items()}

    def delete_topics(self, names: Sequence[str]) -> None:
        """Delete topics (tests, tooling); missing topics are ignored."""
        if not names:
            return
        futures = self._client().delete_topics(list(names), request_timeout=self._timeout)
        for name, future in futures.items():
            try:
                future.result()
            except KafkaException as exc:
                error = kafka_error(exc)
                if error is not None and error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                    continue
                raise _translate(exc, f"delete topic {name}") from exc
