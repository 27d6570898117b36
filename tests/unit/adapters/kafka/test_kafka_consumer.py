"""KafkaConsumerAdapter without a broker: batch flush policy, EOF and error translation, configuration."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition

from consumer.adapters.kafka.consumer import KafkaConsumerAdapter, consumer_config
from consumer.errors import BrokerUnavailableError, ConvstreamError, TransientError
from consumer.settings import ConsumerSettings, KafkaSettings


@dataclass
class Msg:
    offset_: int
    value_: bytes = b"x" * 100
    err: KafkaError | None = None
    partition_: int = 0

    def error(self) -> KafkaError | None:
        return self.err

    def topic(self) -> str:
        return "t"

    def partition(self) -> int:
        return self.partition_

    def offset(self) -> int:
        return self.offset_

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return self.value_

    def timestamp(self) -> tuple[int, int]:
        return (1, 1000 + self.offset_)

    def headers(self) -> None:
        return None


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeConsumer:
    """Hands out ``per_call`` messages per consume() call, each call taking ``call_seconds``."""

    def __init__(self, clock: Clock, messages: list[Any], per_call: int, call_seconds: float = 0.01) -> None:
        self.clock = clock
        self.messages = messages
        self.per_call = per_call
        self.call_seconds = call_seconds
        self.calls: list[tuple[int, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[Any]:
        self.calls.append((num_messages, timeout))
        n = min(num_messages, self.per_call)
        out, self.messages = self.messages[:n], self.messages[n:]
        self.clock.now += self.call_seconds if out else timeout
        return out


def adapter(messages: list[Any], per_call: int = 10, call_seconds: float = 0.01) -> KafkaConsumerAdapter:
    clock = Clock()
    a = KafkaConsumerAdapter(KafkaSettings(), ConsumerSettings(), clock=clock)
    a._consumer = FakeConsumer(clock, messages, per_call, call_seconds)  # type: ignore[assignment]
    return a


def test_flushes_at_max_events() -> None:
    a = adapter([Msg(i) for i in range(100)])
    records = a.poll_batch(max_events=25, max_bytes=10**9, max_ms=10_000)
    assert [r.offset for r in records] == list(range(25))
    assert records[0].timestamp == 1000
    assert records[0].key == b"k"


def test_flushes_at_max_bytes() -> None:
    a = adapter([Msg(i) for i in range(100)])  # 101 bytes each
    records = a.poll_batch(max_events=1000, max_bytes=2000, max_ms=10_000)
    assert 2000 <= sum(r.size for r in records) < 2000 + 10 * 101
    assert len(records) == 21  # one (the first record is asked for alone), then two chunks of 10


def test_flushes_after_max_ms_from_the_first_record() -> None:
    a = adapter([Msg(i) for i in range(1000)], per_call=1, call_seconds=0.05)
    records = a.poll_batch(max_events=1000, max_bytes=10**9, max_ms=200)
    assert 3 <= len(records) <= 5


def test_asks_for_one_record_first_so_the_window_starts_when_data_arrives() -> None:
    # librdkafka's consume(n, timeout) blocks until it has n messages or the timeout passed: asking for a
    # full chunk first would hold a lone record back for max_ms before its own max_ms window even began.
    a = adapter([Msg(i) for i in range(5)])
    records = a.poll_batch(max_events=1000, max_bytes=10**9, max_ms=250)
    assert [r.offset for r in records] == [0, 1, 2, 3, 4]
    calls = a._consumer.calls  # type: ignore[union-attr]
    assert calls[0] == (1, 0.25)
    assert calls[1][0] == 999
    assert calls[1][1] == pytest.approx(0.25)  # the window restarts at the first record (fake clock)


def test_returns_empty_after_waiting_max_ms_for_a_first_record() -> None:
    a = adapter([])
    assert a.poll_batch(10, 10**6, 250) == []


def test_partition_eof_is_recorded_not_returned() -> None:
    eof = KafkaError(KafkaError._PARTITION_EOF)
    a = adapter([Msg(0), Msg(1), Msg(2, err=eof)])
    records = a.poll_batch(10, 10**6, 50)
    assert [r.offset for r in records] == [0, 1]
    assert a.take_eofs() == {("t", 0): 2}
    assert a.take_eofs() == {}


def test_transient_error_raises_only_when_nothing_was_consumed() -> None:
    down = KafkaError(KafkaError._TRANSPORT)
    a = adapter([Msg(0, err=down)])
    with pytest.raises(BrokerUnavailableError):
        a.poll_batch(10, 10**6, 50)
    b = adapter([Msg(0, err=down), Msg(1)])
    assert [r.offset for r in b.poll_batch(10, 10**6, 50)] == [1]


class ListOffsetsConsumer:
    """``offsets_for_times`` answering log start 3 and log end 17 (sentinels -2 and -1), or ``fail``."""

    def __init__(self, fail: Any = None) -> None:
        self.fail = fail
        self.calls: list[tuple[list[tuple[str, int, int]], float]] = []

    def offsets_for_times(self, partitions: list[TopicPartition], timeout: float) -> Any:
        self.calls.append(([(p.topic, p.partition, p.offset) for p in partitions], timeout))
        if isinstance(self.fail, BaseException):
            raise self.fail
        marks = {-2: 3, -1: 17}
        answers = [
            SimpleNamespace(topic=p.topic, partition=p.partition, offset=marks[p.offset], error=None)
            for p in partitions
        ]
        if isinstance(self.fail, KafkaError):  # a per-partition error in the answer
            answers[-1].offset, answers[-1].error = -1, self.fail
        return answers


def test_watermarks_ask_every_partition_in_two_requests() -> None:
    a = KafkaConsumerAdapter(KafkaSettings(), ConsumerSettings())
    a._consumer = fake = ListOffsetsConsumer()  # type: ignore[assignment]
    assert a.watermarks([("t", 0), ("t", 2)]) == {("t", 0): (3, 17), ("t", 2): (3, 17)}
    assert fake.calls == [([("t", 0, -2), ("t", 2, -2)], 5.0), ([("t", 0, -1), ("t", 2, -1)], 5.0)]
    assert a.watermarks([]) == {}
    assert len(fake.calls) == 2


@pytest.mark.parametrize(
    ("fail", "error"),
    [
        (KafkaException(KafkaError(KafkaError._TIMED_OUT)), BrokerUnavailableError),
        (KafkaError(KafkaError.LEADER_NOT_AVAILABLE), BrokerUnavailableError),
        (KafkaException(KafkaError(KafkaError._UNKNOWN_PARTITION)), ConvstreamError),
        (KafkaError(KafkaError.UNKNOWN_TOPIC_OR_PART), ConvstreamError),
    ],
)
def test_watermarks_errors_become_ours(fail: Any, error: type[Exception]) -> None:
    a = KafkaConsumerAdapter(KafkaSettings(), ConsumerSettings())
    a._consumer = ListOffsetsConsumer(fail)  # type: ignore[assignment]
    with pytest.raises(error) as raised:
        a.watermarks([("t", 0), ("t", 2)])
    assert isinstance(raised.value, TransientError) == (error is BrokerUnavailableError)


def test_delivery_guarantees_cannot_be_weakened_by_the_passthrough() -> None:
    kafka = KafkaSettings(extra={"enable.auto.commit": "true", "isolation.level": "read_uncommitted"})
    conf = consumer_config(kafka, ConsumerSettings(group_instance_id="pod-0"), "grp")
    assert conf["enable.auto.commit"] == "false"
    assert conf["enable.auto.offset.store"] == "false"
    assert conf["isolation.level"] == "read_committed"
    assert conf["partition.assignment.strategy"] == "cooperative-sticky"
    assert conf["group.instance.id"] == "pod-0"
    assert conf["group.id"] == "grp"


def test_prefetch_is_bounded_and_refilled_quickly_and_the_passthrough_may_tune_it() -> None:
    conf = consumer_config(KafkaSettings(), ConsumerSettings(), "grp")
    assert int(conf["queued.max.messages.kbytes"]) * 1024 <= 8 * 1024 * 1024  # RSS ≤ 150 MB
    # librdkafka's 1 s backoff after a full queue starved fast consumers (BENCHMARKS.md, replay).
    assert int(conf["fetch.queue.backoff.ms"]) <= 50
    tuned = consumer_config(KafkaSettings(extra={"fetch.queue.backoff.ms": "5"}), ConsumerSettings(), "grp")
    assert tuned["fetch.queue.backoff.ms"] == "5"
