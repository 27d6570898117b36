"""``/readyz`` turns 503 while the consumer cannot commit, though every dependency still answers.

A ``LOCK TABLE conversation`` held by another session blocks every write (reads, pings, the lag monitor
all keep working). Readiness must turn after ``ready_commit_timeout_seconds`` and come back once the lock
is released and the batch commits.
"""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from tests.fixtures.e2e import E2EStack, Proc
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.integration


def _readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _health_port(proc: Proc) -> int:
    def port() -> int:
        for record in proc.log_records():
            if record.get("msg") == "health server listening":
                return int(record["port"])
        return 0

    return int(wait_until(port, timeout=30, interval=0.2, what="the health server"))


def test_readyz_turns_while_writes_are_blocked_by_a_table_lock(e2e: E2EStack) -> None:
    sim = e2e.simulate(seed=7, conversations=20)
    consumer = e2e.consumer(
        CONVSTREAM_CONSUMER__READY_COMMIT_TIMEOUT_SECONDS="3",
        CONVSTREAM_POSTGRES__STATEMENT_TIMEOUT_SECONDS="0",  # the write waits on the lock, not retried
    )
    e2e.wait_assigned([consumer])
    port = _health_port(consumer)
    wait_until(lambda: _readyz(port)[0] == 200, timeout=60, interval=0.5, what="/readyz 200")
    with e2e.connect() as locker:
        locker.execute("BEGIN")
        locker.execute("LOCK TABLE conversation IN EXCLUSIVE MODE")  # reads go on, writes wait
        e2e.bridge(sim.out, queues=sim.queues)
        _, reason = wait_until(
            lambda: (r := _readyz(port))[0] == 503 and r, timeout=60, interval=0.5, what="/readyz 503"
        )
        assert "cannot commit" in reason
        assert e2e.lag() > 0
        locker.execute("ROLLBACK")
    e2e.wait_caught_up(60, [consumer])
    wait_until(lambda: _readyz(port)[0] == 200, timeout=30, interval=0.5, what="/readyz 200 again")
    assert consumer.terminate() == 0
