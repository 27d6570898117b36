"""Dependency outages mid-run (transient errors): the consumer retries, recovers, loses nothing
and dead-letters nothing.

These tests stop and restart the shared devstack's PostgreSQL and Kafka (``scripts/devstack down|up``,
the same pg_ctl / pid-file commands the devstack itself uses), so they run only against the devstack, run last
(``make test`` orders the tiers: unit, deploy, integration, e2e, chaos), and always restore the service in a
``finally``. Tests run sequentially (no xdist).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.fixtures.e2e import DISORDER_IGNORED, E2EStack, assert_rows_match, split_jsonl
from tests.fixtures.services import DEVSTACK, ROOT

pytestmark = pytest.mark.chaos

N = 1000
DISORDER = {"duplicate_rate": 0.1, "reorder_window": 40}
OUTAGE_SECONDS = 20.0
SETTINGS = {"CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "100"}


def _devstack(action: str, service: str) -> None:
    proc = subprocess.run(
        [str(DEVSTACK), action, service], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"scripts/devstack {action} {service} exited {proc.returncode}:\n{proc.stderr}\n{proc.stdout}",
            pytrace=False,
        )


@contextmanager
def _stopped(service: str) -> Iterator[None]:
    """Stop a devstack service for the block; it is started again whatever happens."""
    _devstack("down", service)
    try:
        yield
    finally:
        _devstack("up", service)


def _require_devstack(e2e: E2EStack, service: str) -> None:
    if e2e.sources.get(service) != "devstack":
        pytest.skip(f"{service} is not the local devstack ({e2e.sources.get(service)}): not stopping it")


def test_postgres_stopped_for_20s_mid_run(e2e: E2EStack) -> None:
    _require_devstack(e2e, "postgres")
    sim = e2e.simulate(seed=21, conversations=N, **DISORDER)
    chunks = split_jsonl(sim.out, 3)
    consumer = e2e.consumer(**SETTINGS)
    e2e.wait_assigned([consumer])
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.wait_progress(0, timeout=60, procs=[consumer])

    with _stopped("postgres"):
        started = time.monotonic()
        e2e.bridge(chunks[1])  # work arrives while the database is down
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - started)))
        assert consumer.alive(), consumer.tail()
    e2e.bridge(chunks[2])
    e2e.wait_caught_up(180, [consumer])

    assert consumer.terminate() == 0, consumer.tail()
    assert consumer.logged("transient failure; retrying the batch") > 0, "the outage was never noticed"
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()
    assert e2e.dlq_records() == 0


def test_broker_restarted_mid_run(e2e: E2EStack) -> None:
    _require_devstack(e2e, "kafka")
    sim = e2e.simulate(seed=22, conversations=N, **DISORDER)
    chunks = split_jsonl(sim.out, 3)
    consumer = e2e.consumer(**SETTINGS)
    e2e.wait_assigned([consumer])
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.bridge(chunks[1])
    e2e.wait_progress(0, timeout=60, procs=[consumer])

    with _stopped("kafka"):
        time.sleep(5)
        assert consumer.alive(), consumer.tail()
    e2e.bridge(chunks[2])
    e2e.wait_caught_up(180, [consumer])

    assert consumer.terminate() == 0, consumer.tail()
    assert_rows_match(e2e.rows(), sim.truth, ignore=DISORDER_IGNORED)
    e2e.assert_offsets_at_end()
    assert e2e.dlq_records() == 0
