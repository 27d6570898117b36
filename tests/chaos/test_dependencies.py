"""Scenario 2: the dependencies fail under a running consumer (transient errors -> pause, retry,
never skip, never dead-letter).

- the broker SIGKILLed (pid from the devstack pid file) and restarted with ``scripts/devstack up kafka``;
- the schema registry stopped (``scripts/devstack down registry``) for 15 s / 60 s (full) and started again.
  The devstack Apicurio keeps schemas in memory: after a restart every id is gone and ids may be reused
  for other schemas. Records framed with old ids that no consumer has decoded yet would then be
  unknown-schema poison (DLQ) -- a real hazard of in-memory registries. The test therefore lets the
  consumer drain the topic before the outage (its writer schemas are cached by id), checks that a bridge
  started during the outage refuses to publish (exit 4), and publishes the rest after the restart (the
  bridge registers the schemas again). The registry being *unreachable* while undecoded records wait is
  covered separately through a fault proxy (the registry keeps its state): a cold consumer must retry;
- PostgreSQL restarted (``scripts/devstack down postgres`` + ``up postgres``) mid-run;
- the test database made read-only (``ALTER DATABASE … SET default_transaction_read_only = on`` and its
  sessions terminated; reverted the same way);
- the server out of connections (the test opens connections up to ``max_connections`` and holds them,
  after terminating the consumer's sessions).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.chaos.fault_proxy import FaultProxy
from tests.chaos.harness import (
    Result,
    devstack,
    devstack_pid,
    finish,
    install_audit,
    pick,
    pid_gone,
    recover,
    require_devstack,
)
from tests.fixtures.e2e import E2EStack, Proc, SimRun, split_jsonl
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.chaos

N = pick(300, 1500)
DISORDER: dict[str, Any] = {"duplicate_rate": 0.1, "reorder_window": 40}
SETTINGS = {"CONVSTREAM_CONSUMER__BATCH_MAX_EVENTS": "50"}
CATCH_UP = pick(180.0, 600.0)


def _start(e2e: E2EStack, seed: int, parts: int = 3, **env: str) -> tuple[SimRun, list[Any], Proc]:
    sim = e2e.simulate(seed=seed, conversations=N, **DISORDER)
    install_audit(e2e)
    consumer = e2e.consumer(**SETTINGS, **env)
    e2e.wait_assigned([consumer])
    return sim, split_jsonl(sim.out, parts), consumer


def _end(e2e: E2EStack, result: Result, sim: SimRun, consumer: Proc, fault_end: float) -> None:
    result.recovery_s = recover(e2e, [consumer], CATCH_UP, fault_end)
    assert consumer.terminate() == 0, consumer.tail()
    finish(e2e, result, sim.truth)


def test_broker_sigkilled_and_restarted(e2e: E2EStack) -> None:
    require_devstack(e2e, "kafka")
    result = Result(f"2a broker SIGKILL+restart x{pick(1, 3)}")
    sim, chunks, consumer = _start(e2e, seed=201, parts=pick(1, 3) + 2)
    e2e.bridge(chunks[0], queues=sim.queues)
    for chunk in chunks[1:-1]:
        before = e2e.committed()
        e2e.bridge(chunk)
        e2e.wait_progress(before, timeout=60, procs=[consumer])
        pid = devstack_pid("kafka")
        try:
            os.kill(pid, signal.SIGKILL)
            result.faults += 1
            wait_until(functools.partial(pid_gone, pid), timeout=30, what="the broker to die")
            time.sleep(pick(1.0, 5.0))
            assert consumer.alive(), consumer.tail()
        finally:
            devstack("up", "kafka")
    fault_end = time.monotonic()
    e2e.bridge(chunks[-1])
    _end(e2e, result, sim, consumer, fault_end)


def test_registry_stopped_and_restarted(e2e: E2EStack) -> None:
    require_devstack(e2e, "registry")
    outage = pick(15.0, 60.0)
    result = Result(f"2b registry down {outage:.0f}s (restart)")
    sim, chunks, consumer = _start(e2e, seed=202)
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.bridge(chunks[1])
    e2e.wait_caught_up(CATCH_UP, [consumer])  # no undecoded record framed with the soon-lost ids
    before = _schema_id(e2e)
    devstack("down", "registry")
    try:
        result.faults += 1
        started = time.monotonic()
        refused = e2e.run(
            "bridge", "--source", "file", str(chunks[2]), "--progress-seconds", "0", check=False
        )
        assert refused.returncode == 4, f"bridge during the registry outage: rc {refused.returncode}"
        time.sleep(max(0.0, outage - (time.monotonic() - started)))
        assert consumer.alive(), consumer.tail()
    finally:
        devstack("up", "registry")
    fault_end = time.monotonic()
    result.notes.append("bridge refused during outage (rc 4)")
    e2e.bridge(chunks[2])  # registers the schemas again (new ids), then publishes
    result.notes.append(f"events schema id {before} -> {_schema_id(e2e)} after the restart")
    _end(e2e, result, sim, consumer, fault_end)


def _schema_id(e2e: E2EStack) -> int:
    import httpx

    reply = httpx.get(f"{e2e.registry}/subjects/{e2e.events}-value/versions/latest", timeout=10)
    reply.raise_for_status()
    return int(reply.json()["id"])


def test_registry_unreachable_with_undecoded_records(e2e: E2EStack) -> None:
    outage = pick(15.0, 60.0)
    result = Result(f"2c registry unreachable {outage:.0f}s (proxy)")
    sim = e2e.simulate(seed=203, conversations=N, **DISORDER)
    install_audit(e2e)
    e2e.bridge(sim.out, queues=sim.queues)  # every record framed with ids no consumer has cached
    url = e2e.registry.split("//", 1)[1]
    hostport, _, path = url.partition("/")
    host, port = hostport.rsplit(":", 1)
    with FaultProxy("127.0.0.1" if host == "localhost" else host, int(port)) as proxy:
        proxy.set("drop")
        consumer = e2e.consumer(
            CONVSTREAM_SCHEMA_REGISTRY__URL=f"http://127.0.0.1:{proxy.port}/{path}",
            CONVSTREAM_SCHEMA_REGISTRY__TIMEOUT_SECONDS="2",
            **SETTINGS,
        )
        result.faults += 1
        time.sleep(outage)
        assert consumer.alive(), consumer.tail()
        assert e2e.committed() == 0, "records were committed while their schemas were unknowable"
        assert e2e.dlq_records() == 0, "records dead-lettered while the registry was unreachable"
        proxy.set("pass")
        fault_end = time.monotonic()
        _end(e2e, result, sim, consumer, fault_end)


def test_postgres_restarted(e2e: E2EStack) -> None:
    require_devstack(e2e, "postgres")
    restarts = pick(1, 3)
    result = Result(f"2d postgres restart x{restarts}")
    sim, chunks, consumer = _start(e2e, seed=204, parts=restarts + 2)
    e2e.bridge(chunks[0], queues=sim.queues)
    for chunk in chunks[1:-1]:
        before = e2e.committed()
        e2e.bridge(chunk)
        e2e.wait_progress(before, timeout=60, procs=[consumer])
        devstack("down", "postgres")
        try:
            result.faults += 1
            time.sleep(2)
        finally:
            devstack("up", "postgres")
    fault_end = time.monotonic()
    e2e.bridge(chunks[-1])
    _end(e2e, result, sim, consumer, fault_end)


def _dbname(e2e: E2EStack) -> str:
    return str(conninfo_to_dict(e2e.dsn)["dbname"])


def _terminate_sessions(admin: psycopg.Connection[Any], dbname: str) -> int:
    rows = admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = %s AND pid <> pg_backend_pid()",
        (dbname,),
    ).fetchall()
    return len(rows)


def test_postgres_read_only(e2e: E2EStack) -> None:
    seconds = pick(6.0, 30.0)
    result = Result(f"2e postgres read-only {seconds:.0f}s")
    sim, chunks, consumer = _start(e2e, seed=205)
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.wait_progress(0, timeout=60, procs=[consumer])
    db = _dbname(e2e)
    with e2e.connect() as admin:
        ident = sql.Identifier(db)
        admin.execute(sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(ident))
        try:
            result.faults += 1
            _terminate_sessions(admin, db)
            e2e.bridge(chunks[1])
            time.sleep(seconds)
            assert consumer.alive(), consumer.tail()
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} RESET default_transaction_read_only").format(ident))
            _terminate_sessions(admin, db)  # sessions opened meanwhile keep the read-only default
    fault_end = time.monotonic()
    assert consumer.logged("transient failure; retrying the batch") > 0, "the fault was never noticed"
    e2e.bridge(chunks[2])
    _end(e2e, result, sim, consumer, fault_end)


def test_postgres_out_of_connections(e2e: E2EStack, postgres_dsn: str) -> None:
    require_devstack(e2e, "postgres")
    seconds = pick(6.0, 30.0)
    result = Result(f"2f postgres out of connections {seconds:.0f}s")
    sim, chunks, consumer = _start(e2e, seed=206)
    e2e.bridge(chunks[0], queues=sim.queues)
    e2e.wait_progress(0, timeout=60, procs=[consumer])
    held: list[psycopg.Connection[Any]] = []
    refusal = ""
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        limit = int(admin.execute("SHOW max_connections").fetchone()[0])  # type: ignore[index]
        try:
            result.faults += 1
            _terminate_sessions(admin, _dbname(e2e))
            for _ in range(limit + 5):
                try:
                    held.append(psycopg.connect(e2e.dsn, autocommit=True, connect_timeout=5))
                except psycopg.OperationalError as exc:
                    refusal = str(exc).strip().splitlines()[-1]
                    break
            assert refusal, f"opened {len(held)} connections without a refusal (max_connections {limit})"
            e2e.run("bridge", "--source", "file", str(chunks[1]), "--progress-seconds", "0")
            time.sleep(seconds)
            assert consumer.alive(), consumer.tail()
        finally:
            for conn in held:
                with contextlib.suppress(Exception):
                    conn.close()
    fault_end = time.monotonic()
    result.notes.append(f"held {len(held)} conns; refusal: {refusal[:60]}")
    e2e.bridge(chunks[2])
    _end(e2e, result, sim, consumer, fault_end)
