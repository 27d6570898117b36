"""Scenario: one conversation's records in several partitions, folded by two or three consumers at once.

The records the bridge published are copied into the test's events topic the way a careless producer
would: a third with a null key, the others keyed but spread by librdkafka's default ``consistent_random``
(CRC32) partitioner or by ``murmur2_random`` (the bridge's), and the topic's partition count is raised
mid-stream (12 -> 16). So nearly every conversation straddles partitions owned by different consumers,
which fold it at the same moments. Consumers are SIGKILLed meanwhile and restarted with their static
membership id. After the kills one more member joins (a rebalance that assigns the new
partitions). Ends with rows = the offline fold (every column), offsets = end offsets, no duplicated
effect, nothing dead-lettered.

Bounded: 250 conversations, 6 kills; full (``make chaos``): 2000 conversations, 24 kills.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.chaos.harness import Result, finish, install_audit, pick, recover
from tests.fixtures.e2e import PARTITIONS, E2EStack, Proc, seeded_random

pytestmark = pytest.mark.chaos

N = pick(250, 2000)
KILLS = pick(6, 24)
GROWN = PARTITIONS + 4


def _read_all(e2e: E2EStack, topic: str) -> list[list[tuple[bytes | None, bytes]]]:
    """Every record of ``topic``, per partition, in offset order."""
    from confluent_kafka import Consumer, TopicPartition

    ends = e2e.end_offsets(topic)
    consumer = Consumer({"bootstrap.servers": e2e.bootstrap, "group.id": f"{e2e.group}-copy",
                         "enable.auto.commit": False})  # fmt: skip
    consumer.assign([TopicPartition(topic, p, 0) for p in ends])
    out: dict[int, list[tuple[bytes | None, bytes]]] = {p: [] for p in ends}
    deadline = time.monotonic() + 120
    while sum(map(len, out.values())) < sum(ends.values()):
        assert time.monotonic() < deadline, "could not read the staging topic back"
        for msg in consumer.consume(500, timeout=1.0):
            partition, value = msg.partition(), msg.value()
            if msg.error() is None and partition is not None and value is not None:
                out[partition].append((msg.key(), value))
    consumer.close()
    return [out[p] for p in sorted(out)]


def _interleave(parts: list[list[Any]], rng: random.Random) -> list[Any]:
    """One stream keeping each partition's order (so each conversation's), partitions mixed at random."""
    queues = [list(reversed(p)) for p in parts if p]
    out = []
    while queues:
        q = rng.choice(queues)
        out.append(q.pop())
        if not q:
            queues.remove(q)
    return out


class Copier:
    """Produces the records to the events topic with null keys and two partitioners."""

    def __init__(self, e2e: E2EStack, rng: random.Random) -> None:
        self.e2e, self.rng = e2e, rng
        self.null_keys = self.foreign = 0
        self._connect()

    def _connect(self) -> None:
        from confluent_kafka import Producer

        def producer(partitioner: str) -> Any:
            return Producer({"bootstrap.servers": self.e2e.bootstrap, "partitioner": partitioner,
                             "enable.idempotence": True, "linger.ms": 5})  # fmt: skip

        self.producers = [producer("consistent_random"), producer("murmur2_random")]

    def _has(self, partitions: int) -> bool:
        from consumer.errors import BrokerUnavailableError

        try:
            return len(self.e2e.end_offsets()) >= partitions
        except BrokerUnavailableError:  # leaders of the new partitions not elected yet
            return False

    def send(self, records: list[tuple[bytes | None, bytes]]) -> None:
        for key, value in records:
            draw = self.rng.random()
            if draw < 1 / 3:
                key = None
                self.null_keys += 1
            producer = self.producers[0 if draw < 2 / 3 else 1]
            producer.produce(self.e2e.events, value=value, key=key)
            producer.poll(0)
        for producer in self.producers:
            assert producer.flush(60) == 0

    def grow(self, partitions: int) -> None:
        """Raise the topic's partition count; new producers see the new partitions at once."""
        from confluent_kafka.admin import AdminClient, NewPartitions  # type: ignore[attr-defined]  # re-exported without __all__

        admin = AdminClient({"bootstrap.servers": self.e2e.bootstrap})
        for future in admin.create_partitions([NewPartitions(self.e2e.events, partitions)]).values():
            future.result(timeout=30)
        deadline = time.monotonic() + 30
        while not self._has(partitions):
            assert time.monotonic() < deadline, "the new partitions did not show up"
            time.sleep(0.2)
        self._connect()


def _wait_all_assigned(e2e: E2EStack, procs: list[Proc]) -> None:
    from tests.fixtures.services import wait_until

    wanted = {f"{e2e.events}[{p}]" for p in range(GROWN)}
    wait_until(
        lambda: wanted <= set().union(*(p.assigned() for p in procs)),
        timeout=90,
        interval=0.5,
        what=f"all {GROWN} partitions to be assigned",
    )


def _scenario(e2e: E2EStack, rng: random.Random, consumers_n: int) -> tuple[Result, Any]:
    result = Result(f"straddling partitions, {consumers_n} consumers, SIGKILL x{KILLS}")
    sim = e2e.simulate(seed=181 + consumers_n, conversations=N, duplicate_rate=0.1, reorder_window=20)
    staging = f"{e2e.events}.staging"
    e2e.run("bridge", "--source", "file", str(sim.out), "--queues", str(sim.queues),
            "--progress-seconds", "0", timeout=300, CONVSTREAM_TOPICS__EVENTS=staging)  # fmt: skip
    stream = _interleave(_read_all(e2e, staging), rng)
    install_audit(e2e)
    start: Callable[[int], Proc] = lambda i: e2e.consumer(  # noqa: E731
        f"consume-{i}", CONVSTREAM_CONSUMER__GROUP_INSTANCE_ID=f"{e2e.group}-{i}",
        CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS="50",
        # New partitions are seen at the next metadata refresh (librdkafka: every 5 min by default).
        CONVSTREAM_KAFKA__EXTRA='{"topic.metadata.refresh.interval.ms": "2000"}',
    )  # fmt: skip
    consumers = [start(i) for i in range(consumers_n)]
    e2e.wait_assigned(consumers)
    copier = Copier(e2e, rng)
    chunks = [stream[i * len(stream) // KILLS : (i + 1) * len(stream) // KILLS] for i in range(KILLS)]
    for n, chunk in enumerate(chunks):
        if n == KILLS // 3:
            copier.grow(GROWN)
        copier.send(chunk)
        time.sleep(rng.uniform(0.2, 1.0))  # mid-batch, mid-rebalance or mid-start-up
        victim = rng.randrange(consumers_n)
        consumers[victim].kill()
        assert consumers[victim].popen.returncode == -signal.SIGKILL
        result.faults += 1
        consumers[victim] = start(victim)
    fault_end = time.monotonic()
    # One more member joins: a rebalance in which the leader assigns the new partitions (a restarted
    # static member gets its old assignment back without one, so a static leader may never notice them).
    consumers.append(start(consumers_n))
    _wait_all_assigned(e2e, consumers)
    result.recovery_s = recover(e2e, consumers, timeout=pick(150, 600), fault_end=fault_end)
    assert [c.terminate() for c in consumers] == [0] * len(consumers), "\n".join(c.tail() for c in consumers)
    refolded = sum(p.logged("fold conflict; folding the batch again") for p in e2e.procs)
    result.notes.append(f"{refolded} batches refolded after a lost race")
    result.notes.append(
        f"{copier.null_keys} null keys, {len(stream)} records copied, {PARTITIONS}->{GROWN} partitions"
    )
    return result, sim


@pytest.mark.parametrize("consumers_n", [2, 3])
def test_conversations_straddling_partitions_fold_like_the_offline_fold(
    e2e: E2EStack, request: pytest.FixtureRequest, consumers_n: int
) -> None:
    result, sim = _scenario(e2e, seeded_random(request), consumers_n)
    finish(e2e, result, sim.truth)
    assert len(e2e.end_offsets()) == GROWN
