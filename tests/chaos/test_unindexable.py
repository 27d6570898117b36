"""Scenario: records PostgreSQL cannot index, produced past the bridge, amid consumer SIGKILLs.

Conversation ids of 3,000 and 9,000 random characters (with and without a key) and conversations whose
queue id is 3,000 random characters (an index entry too large: SQLSTATE 54000) are mixed into a
simulated stream. Two consumers share the group and are SIGKILLed meanwhile. The bad records are
dead-lettered (``unindexable_key`` before folding, ``store`` by the isolation; each at least once),
the long-queue conversations carry an error mark, every other row equals the offline fold, no consumer
ever exits.

Bounded: 200 conversations, 12 bad records, 3 kills; full: 1500 conversations, 60 bad records, 12 kills.
"""

from __future__ import annotations

import random
import signal
import time

import pytest
from confluent_kafka import Producer

from consumer.codec.avro import encode_event
from consumer.codec.wire import frame
from consumer.consume.dlq import HEADER_OFFSET, HEADER_PARTITION
from tests.chaos.harness import Result, finish, install_audit, measure, pick, recover
from tests.fixtures.e2e import PARTITIONS, E2EStack, Proc, seeded_random
from tests.integration.test_consumer import _dead_letters, _schema_id
from tests.integration.test_consumer_unindexable import _long_queue_event, _random_text
from tests.unit.consume.pipeline_fakes import make_event

pytestmark = pytest.mark.chaos

N = pick(200, 1500)
BAD_ROUNDS = pick(4, 20)  # three bad records per round
KILLS = pick(3, 12)
CONSUMERS = 2


def _bad_records(
    e2e: E2EStack, rng: random.Random, rounds: int
) -> tuple[list[tuple[bytes | None, bytes]], set[str]]:
    schema_id = _schema_id(e2e)
    records: list[tuple[bytes | None, bytes]] = []
    marked: set[str] = set()
    for i in range(rounds):
        long_3k, long_9k = (
            _random_text(3000, rng.randrange(1 << 30)),
            _random_text(9000, rng.randrange(1 << 30)),
        )
        queue_cid = f"long-queue-{i}"
        marked.add(queue_cid)
        records += [
            (long_3k.encode(), frame(schema_id, encode_event(make_event(long_3k, 0)))),
            (None, frame(schema_id, encode_event(make_event(long_9k, 0)))),
            (queue_cid.encode(), frame(schema_id, _long_queue_event(queue_cid, _random_text(3000, i)))),
        ]
    return records, marked


def test_unindexable_records_amid_consumer_kills(e2e: E2EStack, request: pytest.FixtureRequest) -> None:
    rng = seeded_random(request)
    result = Result(f"unindexable ids/values x{BAD_ROUNDS * 3}, consumer SIGKILL x{KILLS} (2 consumers)")
    sim = e2e.simulate(seed=1802, conversations=N, duplicate_rate=0.1, reorder_window=20)
    install_audit(e2e)
    bad, marked = _bad_records(e2e, rng, BAD_ROUNDS)

    def start(i: int) -> Proc:
        return e2e.consumer(f"consume-{i}", CONVSTREAM_CONSUMER__GROUP_INSTANCE_ID=f"{e2e.group}-{i}",
                            CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS="100")  # fmt: skip

    consumers = [start(i) for i in range(CONSUMERS)]
    e2e.wait_assigned(consumers)
    bridge = e2e.spawn("bridge", "--source", "file", str(sim.out), "--queues", str(sim.queues),
                       "--progress-seconds", "0", name="bridge")  # fmt: skip
    producer = Producer({"bootstrap.servers": e2e.bootstrap, "enable.idempotence": True})
    per_kill = [bad[i * len(bad) // KILLS : (i + 1) * len(bad) // KILLS] for i in range(KILLS)]
    for chunk in per_kill:
        for key, value in chunk:
            producer.produce(e2e.events, value, key, partition=rng.randrange(PARTITIONS))
        assert producer.flush(30) == 0
        time.sleep(rng.uniform(0.3, 1.0))
        victim = rng.randrange(CONSUMERS)
        consumers[victim].kill()
        assert consumers[victim].popen.returncode == -signal.SIGKILL
        result.faults += 1
        consumers[victim] = start(victim)
    fault_end = time.monotonic()
    assert bridge.popen.wait(timeout=120) == 0, bridge.tail()
    result.recovery_s = recover(e2e, consumers, timeout=pick(120, 600), fault_end=fault_end)
    assert [c.terminate() for c in consumers] == [0] * CONSUMERS, "\n".join(c.tail() for c in consumers)
    rows = e2e.raw_rows()
    for cid in marked:
        assert rows[cid]["state"] is None
        assert "UnwritableRecordError" in rows[cid]["error_message"]
    measured = measure(e2e, result, sim.truth, allowed_extra=frozenset(marked))
    # Each bad record is dead-lettered; a kill between a letter's acknowledgement and its batch's commit
    # sends it again when the batch is redelivered (letters are at-least-once, rows exactly-once).
    letters = [dict(m.headers() or []) for m in _dead_letters(e2e)]
    distinct = {(h[HEADER_PARTITION], h[HEADER_OFFSET]) for h in letters}
    assert len(distinct) == len(bad), f"{len(distinct)} distinct dead letters for {len(bad)} bad records"
    if result.dlq is not None and result.dlq != len(bad):
        result.notes.append(f"{result.dlq - len(bad)} letters repeated after a kill")
    finish(
        e2e, result, sim.truth, allowed_extra=frozenset(marked), expected_dlq=len(letters), measured=measured
    )
