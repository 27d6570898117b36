"""``convstream consume`` as a subprocess: SIGTERM at any point of its life is a clean exit 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from consumer.ops.migrate import migrate

pytestmark = pytest.mark.integration


def consume(env: dict[str, str]) -> subprocess.Popen[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONVSTREAM_")}
    base.update(
        {
            "CONVSTREAM_OBSERVABILITY__METRICS_HOST": "127.0.0.1",
            "CONVSTREAM_OBSERVABILITY__METRICS_PORT": "0",
            "CONVSTREAM_OBSERVABILITY__LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    base.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "consumer.cli", "consume"],
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_log(proc: subprocess.Popen[str], message: str) -> None:
    """Read stderr until a log line carries ``message`` (the process must not exit first)."""
    assert proc.stderr is not None
    for line in proc.stderr:
        if f'"{message}"' in line:
            return
    raise AssertionError(f"exited with {proc.wait()} before logging {message!r}")


def stop(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """SIGTERM, then the exit code and stdout."""
    proc.send_signal(signal.SIGTERM)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return proc.returncode, out


@pytest.fixture
def silent_postgres() -> Iterator[str]:
    """A DSN whose server accepts TCP connections and never answers: the start-up hangs in its ping."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        port = server.getsockname()[1]
        yield f"postgresql://convstream@127.0.0.1:{port}/convstream"


def test_sigterm_during_startup_exits_0(silent_postgres: str) -> None:
    proc = consume(
        {
            "CONVSTREAM_POSTGRES__DSN": silent_postgres,
            "CONVSTREAM_POSTGRES__CONNECT_TIMEOUT_SECONDS": "300",
            "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:1",
        }
    )
    wait_for_log(proc, "consumer starting up")
    code, out = stop(proc)
    assert (code, out) == (0, "")


def test_sigterm_before_assignment_exits_0(pg_database: str, kafka_bootstrap: str, registry_url: str) -> None:
    migrate(pg_database)
    base = os.urandom(4).hex()
    proc = consume(
        {
            "CONVSTREAM_POSTGRES__DSN": pg_database,
            "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CONVSTREAM_SCHEMA_REGISTRY__URL": registry_url,
            "CONVSTREAM_TOPICS__EVENTS": f"sig-{base}.events",
            "CONVSTREAM_TOPICS__QUEUES": f"sig-{base}.queues",
            "CONVSTREAM_TOPICS__DLQ": f"sig-{base}.dlq",
            "CONVSTREAM_CONSUMER__GROUP_ID": f"sig-{base}",
        }
    )
    wait_for_log(proc, "consumer starting")
    code, out = stop(proc)
    assert code == 0
    assert '"batches": 0' in out
