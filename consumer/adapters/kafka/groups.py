"""Consumer-group administration for ``convstream replay`` / ``rebuild`` (confluent-kafka AdminClient).

Connects lazily (no network in ``__init__``); returns plain dicts of our own types; confluent errors
become :class:`~consumer.errors.BrokerUnavailableError` (unreachable, by error code) or
:class:`~consumer.errors.ConvstreamError` (any other refusal), never classified by message text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]

from consumer.adapters.kafka.client import is_unavailable
from consumer.errors import BrokerUnavailableError, ConfigError, ConvstreamError
from consumer.settings import KafkaSettings

__all__ = ["GroupState", "KafkaGroupAdmin"]


@dataclass(frozen=True, slots=True)
class GroupState:
    """A consumer group as the coordinator describes it.

    Attributes:
        state: ``STABLE``, ``EMPTY``, ``DEAD``, ``PREPARING_REBALANCE``, … (``UNKNOWN`` when not reported).
        members: client ids of the active members (host in brackets).
    """

    state: str
    members: tuple[str, ...]

    @property
    def active(self) -> bool:
        """Whether any member is in the group (a replay must then coordinate or wait)."""
        return bool(self.members)


class KafkaGroupAdmin:
    """Offsets by time, earliest/latest offsets, group description and group offset changes."""

    def __init__(self, kafka: KafkaSettings, *, timeout_seconds: float = 15.0) -> None:
        self._conf: dict[str, Any] = kafka.as_librdkafka()
        self._bootstrap = kafka.bootstrap_servers
        self._timeout = timeout_seconds
        self._admin: AdminClient | None = None

    def _client(self) -> AdminClient:
        if self._admin is None:
            try:
                self._admin = AdminClient(dict(self._conf))
            except KafkaException as exc:
                raise ConfigError(f"invalid Kafka admin configuration: {exc}") from exc
        return self._admin

    def _result(self, future: Future[Any], what: str) -> Any:
        try:
            return future.result(timeout=self._timeout + 5)
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            text = f"{what}: {error.name()}: {error.str()}" if error is not None else f"{what}: {exc}"
            if is_unavailable(error):
                raise BrokerUnavailableError(f"Kafka at {self._bootstrap}: {text}") from exc
            raise ConvstreamError(text) from exc
        except TimeoutError as exc:
            raise BrokerUnavailableError(f"Kafka at {self._bootstrap}: {what} timed out") from exc

    def partitions(self, topic: str) -> list[int]:
        """The partition numbers of ``topic``.

        Raises:
            ConvstreamError: the topic does not exist.
        """
        try:
            metadata = self._client().list_topics(topic=topic, timeout=self._timeout)
        except KafkaException as exc:
            raise BrokerUnavailableError(f"Kafka at {self._bootstrap}: metadata of {topic}: {exc}") from exc
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise ConvstreamError(f"topic {topic!r} does not exist or has no partitions")
        return sorted(info.partitions)

    def list_offsets(self, topic: str, partitions: Sequence[int], spec: str | int) -> dict[int, int]:
        """Partition -> offset for ``spec``: ``"earliest"``, ``"latest"`` or a timestamp (epoch ms).

        For a timestamp, the offset of the first record whose timestamp is at or after it, or the end
        offset when there is none (``offsets_for_times`` semantics, end instead of -1).
        """
        if spec == "earliest":
            offset_spec = OffsetSpec.earliest()  # type: ignore[no-untyped-call]
        elif spec == "latest":
            offset_spec = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        else:
            offset_spec = OffsetSpec.for_timestamp(int(spec))
        request = {TopicPartition(topic, p): offset_spec for p in partitions}
        futures = self._client().list_offsets(request, request_timeout=self._timeout)
        out = {tp.partition: int(self._result(f, f"offsets of {topic}").offset) for tp, f in futures.items()}
        if spec not in ("earliest", "latest") and any(o < 0 for o in out.values()):
            ends = self.list_offsets(topic, [p for p, o in out.items() if o < 0], "latest")
            out.update(ends)
        return dict(sorted(out.items()))

    def describe(self, group_id: str) -> GroupState:
        """The group's state and active members (an unknown group is ``DEAD`` with no member)."""
        futures = self._client().describe_consumer_groups([group_id], request_timeout=self._timeout)
        desc = self._result(futures[group_id], f"describe group {group_id}")
        state = getattr(desc.state, "name", str(desc.state))
        members = tuple(f"{m.client_id} [{m.host}]" for m in (desc.members or []))
        return GroupState(state, members)

    def committed(self, group_id: str, topic: str, partitions: Sequence[int]) -> dict[int, int]:
        """The group's committed offsets in Kafka (partitions without one are absent)."""
        request = [ConsumerGroupTopicPartitions(group_id, [TopicPartition(topic, p) for p in partitions])]
        futures = self._client().list_consumer_group_offsets(request, request_timeout=self._timeout)
        result = self._result(futures[group_id], f"committed offsets of group {group_id}")
        return {tp.partition: int(tp.offset) for tp in result.topic_partitions if tp.offset >= 0}

    def alter(self, group_id: str, offsets: Mapping[tuple[str, int], int]) -> None:
        """Set the group's committed offsets (the broker refuses while the group has members).

        Raises:
            ConvstreamError: the broker refused (e.g. the group is not empty).
        """
        if not offsets:
            return
        tps = [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())]
        request = [ConsumerGroupTopicPartitions(group_id, tps)]
        futures = self._client().alter_consumer_group_offsets(request, request_timeout=self._timeout)
        result = self._result(futures[group_id], f"alter offsets of group {group_id}")
        failed = [f"{tp.topic}[{tp.partition}]: {tp.error}" for tp in result.topic_partitions if tp.error]
        if failed:
            raise ConvstreamError(f"alter offsets of group {group_id}: {'; '.join(failed)}")
