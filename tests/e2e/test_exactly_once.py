"""Exactly-once effects end to end (README "How it works"): simulator -> bridge -> Kafka (12 partitions) ->
``convstream consume`` processes -> Postgres, compared with the simulator's ground truth.

Every test has its own topics, group and database (``tests/fixtures/e2e.py``); nothing is timed: waits
are bounded only so that a hang fails instead of blocking the suite.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import replace
from typing import Any

import pytest
from pydantic import SecretStr

from consumer.adapters.postgres.store import PostgresStore
from consumer.domain import derive_row, state_to_json
from consumer.errors import FencedError
from consumer.ports import BatchWrite, PartitionAdvance, RowWrite
from consumer.settings import PostgresSettings
from tests.fixtures.e2e import (
    DISORDER_IGNORED,
    E2EStack,
    Proc,
    assert_rows_match,
    consume_totals,
    seeded_random,
    split_jsonl,
)

pytestmark = pytest.mark.e2e

#: Conversations per test: enough for every partition and many batches, small enough for a 2-core box.
N = int(os.environ.get("CONVSTREAM_E2E_CONVERSATIONS", "1500"))
DISORDER: dict[str, Any] = {"duplicate_rate": 0.1, "reorder_window": 40}
CATCH_UP_SECONDS = 120.0


def test_two_consumers_match_ground_truth(e2e: E2EStack) -> None:
    """Two consumers in one group share 12 partitions; rows equal the truth, offsets the end offsets."""
    sim = e2e.simulate(seed=11, conversations=N, **DISORDER)
    consumers = [e2e.consumer("consume-a"), e2e.consumer("consume-b")]
    e2e.wait_assigned(consumers)

    e2e.bridge(sim.out, queues=sim.queues)
    e2e.wait_caught_up(CATCH_UP_SECONDS, consumers)

    codes = [c.terminate() for c in consumers]
    assert codes == [0, 0], "\n".join(c.tail() for c in consumers)
    processed = [c.totals().get("processed", 0) for c in consumers]
    assert all(n > 0 for n in processed), f"one consumer did no work: {processed}"
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()
    assert sum(e2e.end_offsets().values()) == sim.messages
    assert e2e.dlq_records() == 0


def test_kill_9_and_restart(e2e: E2EStack, request: pytest.FixtureRequest) -> None:
    """SIGKILL a consumer at random points (>= 10 times) mid-run and restart it: no loss, no double."""
    rng = seeded_random(request)
    sim = e2e.simulate(seed=12, conversations=N, **DISORDER)
    chunks = split_jsonl(sim.out, 12)
    # Static membership: a restarted pod takes its partitions back at once (no session-timeout wait).
    settings = {"CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "100"}
    names = ["consume-a", "consume-b"]

    def start(i: int) -> Proc:
        return e2e.consumer(names[i], CONVSTREAM_CONSUMER__GROUP_INSTANCE_ID=f"{e2e.group}-{i}", **settings)

    consumers = [start(0), start(1)]
    e2e.wait_assigned(consumers)
    e2e.bridge(chunks[0], queues=sim.queues)
    kills = 0
    for chunk in chunks[1:]:
        before = e2e.committed()
        e2e.bridge(chunk)
        e2e.wait_progress(before, timeout=60, procs=consumers)
        time.sleep(rng.uniform(0.0, 0.4))  # a random point within the run, usually mid-batch
        victim = rng.randrange(2)
        consumers[victim].kill()
        assert consumers[victim].popen.returncode == -signal.SIGKILL
        kills += 1
        consumers[victim] = start(victim)
    assert kills >= 10
    e2e.wait_assigned(consumers)  # the last restarted one is running (its SIGTERM handler installed)
    e2e.wait_caught_up(CATCH_UP_SECONDS, consumers)
    codes = [c.terminate() for c in consumers]
    assert codes == [0, 0]
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()
    assert e2e.dlq_records() == 0


def test_stale_batch_of_a_zombie_is_fenced(e2e: E2EStack) -> None:
    """A delayed consumer committing a batch from an old start offset writes nothing (FencedError)."""
    sim = e2e.simulate(seed=13, conversations=200)
    e2e.bridge(sim.out, queues=sim.queues)
    e2e.run("consume", "--until-end", timeout=180)
    before = e2e.raw_rows()
    offsets = e2e.stored_offsets()
    partition, stored = max(offsets.items(), key=lambda kv: kv[1])
    assert stored > 1

    with PostgresStore(PostgresSettings(dsn=SecretStr(e2e.dsn))) as store:
        victim = sorted(before)[0]
        state = store.load_states([victim])[victim]
        row = derive_row(state, {})
        # What the zombie folded long ago: a different status, and no queue name.
        stale = RowWrite(
            row=replace(row, calculated_status="connected", last_queue_name=None),
            state_json=state_to_json(state),
        )
        batch = BatchWrite(
            group_id=e2e.group,
            offsets=[PartitionAdvance(e2e.events, partition, start_offset=stored - 1, next_offset=stored)],
            rows=[stale],
        )
        with pytest.raises(FencedError):
            store.write_batch(batch)
        # Another consumer's partition moved on from the offset the zombie started at: same outcome.
        behind = BatchWrite(
            group_id=e2e.group,
            offsets=[PartitionAdvance(e2e.events, partition, start_offset=0, next_offset=stored + 5)],
            rows=[stale],
        )
        with pytest.raises(FencedError):
            store.write_batch(behind)

    assert e2e.raw_rows() == before  # content and db_last_updated untouched
    assert e2e.stored_offsets() == offsets
    assert_rows_match(e2e.rows(), sim.truth)


def test_stopped_consumer_resumed_later_is_fenced(e2e: E2EStack) -> None:
    """A real zombie: SIGSTOP one consumer mid-run until the group gives its partitions away, SIGCONT it;
    whatever it had in flight is refused by the fence, and the table still equals the truth."""
    sim = e2e.simulate(seed=14, conversations=N, **DISORDER)
    chunks = split_jsonl(sim.out, 4)
    fast_session = {
        "CONVSTREAM_KAFKA__EXTRA": json.dumps(
            {"session.timeout.ms": "6000", "heartbeat.interval.ms": "1000"}
        ),
        "CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "100",
    }
    zombie, peer = e2e.consumer("zombie", **fast_session), e2e.consumer("peer", **fast_session)
    e2e.wait_assigned([zombie, peer])
    e2e.bridge(chunks[0], queues=sim.queues)
    before = e2e.committed()
    e2e.bridge(chunks[1])
    e2e.wait_progress(before, timeout=60, procs=[zombie, peer])
    os.kill(zombie.pid, signal.SIGSTOP)
    try:
        e2e.bridge(chunks[2])
        # The peer is given every partition once the zombie's session expires, and catches up alone.
        e2e.wait_caught_up(CATCH_UP_SECONDS, [peer])
    finally:
        os.kill(zombie.pid, signal.SIGCONT)
    e2e.bridge(chunks[3])
    e2e.wait_caught_up(CATCH_UP_SECONDS, [zombie, peer])
    assert [zombie.terminate(), peer.terminate()] == [0, 0]
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()
    assert e2e.dlq_records() == 0


def test_reconsume_from_earliest_changes_nothing(e2e: E2EStack) -> None:
    """Offsets reset to 0 and the whole topic consumed again: no row rewritten (db_last_updated kept)."""
    sim = e2e.simulate(seed=15, conversations=N)  # in order: status_changed_at is exact too
    e2e.bridge(sim.out, queues=sim.queues)
    e2e.run("consume", "--until-end", timeout=180)
    assert_rows_match(e2e.rows(), sim.truth)
    before = e2e.raw_rows()

    with e2e.connect() as conn:
        reset = conn.execute("UPDATE consumer_offset SET next_offset = 0 WHERE group_id = %s", (e2e.group,))
        assert reset.rowcount > 0
    result = e2e.run("consume", "--until-end", timeout=180)
    totals = consume_totals(result.stdout)
    assert totals["processed"] + totals["already_folded"] >= sim.messages, totals
    assert totals["already_folded"] > 0, totals  # recognised without decoding (consumer.consume.known)

    assert e2e.raw_rows() == before
    e2e.assert_offsets_at_end()
    assert e2e.dlq_records() == 0
