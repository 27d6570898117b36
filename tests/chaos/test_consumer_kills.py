"""Scenario 1: consumer processes SIGKILLed at random moments while three share the group.

Bounded: 10 kills over 400 conversations; full (``make chaos``): 50 kills over 3000. The data arrives in
chunks from background bridges while the kills happen; each victim is restarted at once with its static
membership id (as a pod would be). Ends with rows = truth, offsets = end offsets, no duplicated effect.
"""

from __future__ import annotations

import signal
import time

import pytest

from tests.chaos.harness import Result, finish, install_audit, pick, recover
from tests.fixtures.e2e import E2EStack, Proc, seeded_random, split_jsonl

pytestmark = pytest.mark.chaos

KILLS = pick(10, 50)
N = pick(400, 3000)
CONSUMERS = 3


def test_random_sigkills_of_three_consumers(e2e: E2EStack, request: pytest.FixtureRequest) -> None:
    rng = seeded_random(request)
    result = Result(f"1 consumer SIGKILL x{KILLS} (3 consumers)")
    sim = e2e.simulate(seed=101, conversations=N, duplicate_rate=0.1, reorder_window=40)
    install_audit(e2e)
    chunks = split_jsonl(sim.out, KILLS // 2 + 1)
    settings = {"CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "50"}

    def start(i: int) -> Proc:
        return e2e.consumer(
            f"consume-{i}", CONVSTREAM_CONSUMER__GROUP_INSTANCE_ID=f"{e2e.group}-{i}", **settings
        )

    consumers = [start(i) for i in range(CONSUMERS)]
    e2e.wait_assigned(consumers)
    e2e.bridge(chunks[0], queues=sim.queues)
    bridges: list[Proc] = []
    pending = list(chunks[1:])
    for _ in range(KILLS):
        if pending and (not bridges or not bridges[-1].alive()):
            bridges.append(
                e2e.spawn(
                    "bridge",
                    "--source",
                    "file",
                    str(pending.pop(0)),
                    "--progress-seconds",
                    "0",
                    name="bridge",
                )
            )
        time.sleep(rng.uniform(0.2, 1.0))  # a random moment: mid-batch, mid-rebalance or mid-start-up
        victim = rng.randrange(CONSUMERS)
        consumers[victim].kill()
        assert consumers[victim].popen.returncode == -signal.SIGKILL
        result.faults += 1
        consumers[victim] = start(victim)
    fault_end = time.monotonic()
    for chunk in pending:
        e2e.bridge(chunk)
    assert [b.popen.wait(timeout=120) for b in bridges] == [0] * len(bridges)
    result.recovery_s = recover(e2e, consumers, timeout=pick(180, 600), fault_end=fault_end)
    assert [c.terminate() for c in consumers] == [0] * CONSUMERS, "\n".join(c.tail() for c in consumers)
    finish(e2e, result, sim.truth)
