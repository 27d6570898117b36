"""Scenario 3: network faults between the consumer and its dependencies.

PostgreSQL: the consumer connects through :class:`tests.chaos.fault_proxy.FaultProxy` (its DSN points at
the proxy port on 127.0.0.1), which in turn drops every connection, blackholes (accepts, never forwards:
the consumer's in-flight statement sees silence, then the held bytes flow), and delays every chunk.
Kafka: the broker advertises its own address, so a TCP proxy would only cover the bootstrap; a partition
is emulated by SIGSTOP of the devstack broker process (pid file) for a while, then SIGCONT.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.chaos.fault_proxy import FaultProxy
from tests.chaos.harness import (
    Result,
    devstack_pid,
    finish,
    install_audit,
    pick,
    recover,
    require_devstack,
)
from tests.fixtures.e2e import E2EStack, split_jsonl

pytestmark = pytest.mark.chaos

N = pick(300, 1500)
DISORDER: dict[str, Any] = {"duplicate_rate": 0.1, "reorder_window": 40}
SETTINGS = {"CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "50"}
WINDOW = pick(4.0, 30.0)
MODES = [("drop", 0.0), ("blackhole", 0.0), ("delay", 0.2)]


def test_postgres_link_drop_blackhole_delay(e2e: E2EStack) -> None:
    result = Result(f"3a pg proxy drop/blackhole/delay {WINDOW:.0f}s each")
    sim = e2e.simulate(seed=301, conversations=N, **DISORDER)
    install_audit(e2e)
    chunks = split_jsonl(sim.out, len(MODES) + 2)
    info = conninfo_to_dict(e2e.dsn)
    with FaultProxy(str(info.get("host") or "127.0.0.1"), int(info.get("port") or 5432)) as proxy:
        dsn = make_conninfo(e2e.dsn, host="127.0.0.1", port=str(proxy.port))
        consumer = e2e.consumer(CONVSTREAM_POSTGRES__DSN=dsn, **SETTINGS)
        e2e.wait_assigned([consumer])
        e2e.bridge(chunks[0], queues=sim.queues)
        e2e.wait_progress(0, timeout=60, procs=[consumer])
        for (mode, delay), chunk in zip(MODES, chunks[1:-1], strict=True):
            e2e.bridge(chunk)
            proxy.set(mode, delay)
            result.faults += 1
            time.sleep(WINDOW)
            assert consumer.alive(), f"{mode}: {consumer.tail()}"
            proxy.set("pass")
        fault_end = time.monotonic()
        e2e.bridge(chunks[-1])
        result.recovery_s = recover(e2e, [consumer], pick(180.0, 600.0), fault_end)
        assert consumer.terminate() == 0, consumer.tail()
        result.notes.append(f"{proxy.connections} proxied connections")
    finish(e2e, result, sim.truth)


def test_broker_paused(e2e: E2EStack) -> None:
    require_devstack(e2e, "kafka")
    seconds = pick(6.0, 30.0)
    result = Result(f"3b broker SIGSTOP {seconds:.0f}s")
    sim = e2e.simulate(seed=302, conversations=N, **DISORDER)
    install_audit(e2e)
    chunks = split_jsonl(sim.out, 3)
    consumer = e2e.consumer(**SETTINGS)
    e2e.wait_assigned([consumer])
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.bridge(chunks[1])
    e2e.wait_progress(0, timeout=60, procs=[consumer])
    pid = devstack_pid("kafka")
    os.kill(pid, signal.SIGSTOP)
    try:
        result.faults += 1
        time.sleep(seconds)
        assert consumer.alive(), consumer.tail()
    finally:
        os.kill(pid, signal.SIGCONT)
    fault_end = time.monotonic()
    e2e.bridge(chunks[2])
    result.recovery_s = recover(e2e, [consumer], pick(180.0, 600.0), fault_end)
    assert consumer.terminate() == 0, consumer.tail()
    finish(e2e, result, sim.truth)
