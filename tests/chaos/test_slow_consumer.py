"""Scenario 4: a slow consumer exceeds ``max.poll.interval.ms`` in the middle of a batch.

The test holds row locks (``SELECT … FOR UPDATE``) on the ``consumer_offset`` rows of the partitions one
consumer ("slow") owns, so that consumer's batch blocks inside its write transaction (after folding,
before commit) while its heartbeat thread keeps running: the group evicts it for exceeding
``max.poll.interval.ms`` (6 s here) and hands its partitions to the peer, which reads the same stored
offsets and folds the same records. When the locks are released both batches race for the same offset
rows; the fence (``UPDATE … WHERE next_offset = start``) lets exactly one commit each range, the other is
refused (FencedError) and recovers. The audit log shows whether any range was committed twice.
(SIGSTOP of a consumer past its session timeout is tests/e2e/test_exactly_once.py.)
"""

from __future__ import annotations

import json
import time

import pytest

from tests.chaos.harness import Result, finish, install_audit, pick, recover
from tests.fixtures.e2e import E2EStack, split_jsonl

pytestmark = pytest.mark.chaos

N = pick(300, 1500)
ROUNDS = pick(1, 3)
KAFKA = {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000", "max.poll.interval.ms": "6000"}


def test_max_poll_interval_exceeded_mid_batch(e2e: E2EStack) -> None:
    result = Result(f"4 max.poll.interval exceeded mid-batch x{ROUNDS}")
    sim = e2e.simulate(seed=401, conversations=N, duplicate_rate=0.1, reorder_window=40)
    install_audit(e2e)
    chunks = split_jsonl(sim.out, ROUNDS + 2)
    env = {"CONVSTREAM_KAFKA__EXTRA": json.dumps(KAFKA), "CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "50"}
    slow, peer = e2e.consumer("slow", **env), e2e.consumer("peer", **env)
    e2e.wait_assigned([slow, peer])
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.wait_caught_up(120, [slow, peer])
    for chunk in chunks[1:-1]:
        # The slow one: whichever consumer holds events partitions (cooperative-sticky may give one of
        # them only queues partitions); its batches of this chunk block on the locked offset rows.
        slow, peer = sorted([slow, peer], key=lambda c: -sum(p.startswith(e2e.events) for p in c.assigned()))
        owned = sorted(int(p.rsplit("[", 1)[1][:-1]) for p in slow.assigned() if p.startswith(e2e.events))
        assert owned, slow.tail()
        with e2e.connect() as lock, lock.transaction():
            lock.execute(
                "SELECT 1 FROM consumer_offset WHERE group_id = %s AND topic = %s "
                "AND partition = ANY(%s) FOR UPDATE",
                (e2e.group, e2e.events, owned),
            )
            result.faults += 1
            e2e.bridge(chunk)
            time.sleep(10)  # > max.poll.interval.ms + the rebalance: the slow one is evicted mid-batch
            assert slow.alive(), slow.tail()
            assert peer.alive(), peer.tail()
        e2e.wait_caught_up(120, [slow, peer])
    fault_end = time.monotonic()
    e2e.bridge(chunks[-1])
    result.recovery_s = recover(e2e, [slow, peer], 180, fault_end)
    assert [slow.terminate(), peer.terminate()] == [0, 0], slow.tail() + peer.tail()
    fenced = "batch fenced: another consumer owns a partition"
    msgs = {m: slow.logged(m) + peer.logged(m) for m in ("partitions lost", "partitions revoked", fenced)}
    result.notes.append(", ".join(f"{m.split(':')[0]}: {n}" for m, n in msgs.items()))
    finish(e2e, result, sim.truth)
