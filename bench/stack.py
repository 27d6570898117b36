"""The local stack as the harness uses it: unique names, fresh databases, ``convstream`` subprocesses.

Like ``tests/fixtures/e2e.py``: every run gets its own topics, groups and databases (``bench_<stamp>_…``),
and every process the harness starts is ended by its own pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bench.background import Background

__all__ = ["PARTITIONS", "Proc", "RssSampler", "Stack", "rss_mb"]

PARTITIONS = 12
ROOT = Path(__file__).resolve().parent.parent


def rss_mb(pid: int) -> float | None:
    """VmRSS of ``pid`` in MB (None once it has exited)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


@dataclass
class Proc:
    """One subprocess (own session), its output files and its end."""

    name: str
    popen: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"{self.name} did not finish within {timeout:.0f}s\n{self.tail()}") from None

    def terminate(self, timeout: float = 60.0) -> int:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=30)

    def tail(self, lines: int = 15) -> str:
        text = self.stderr.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {self.name} (pid {self.pid}, rc {self.popen.poll()}):\n" + "\n".join(text)

    def log_contains(self, message: str) -> bool:
        return f'"msg": "{message}"' in self.stderr.read_text(errors="replace")


class RssSampler(Background):
    """Samples a process's VmRSS every ``interval`` seconds, with an optional probe value per sample."""

    def __init__(self, pid: int, interval: float = 0.5, probe: Callable[[], int] | None = None) -> None:
        self.pid, self.interval, self.probe = pid, interval, probe
        super().__init__()
        self.samples: list[tuple[float, float, int]] = []  # (t, rss MB, probe)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = rss_mb(self.pid)
            if rss is None:
                return
            value = 0
            if self.probe is not None:
                with contextlib.suppress(psycopg.Error):
                    value = self.probe()
            self.samples.append((time.monotonic(), rss, value))
            self._stop.wait(self.interval)

    @property
    def peak(self) -> float:
        return max((s[1] for s in self.samples), default=0.0)


def _with_database(dsn: str, dbname: str) -> str:
    parts = urllib.parse.urlsplit(dsn)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


@dataclass
class Stack:
    """Names and services of one harness run."""

    stamp: str
    workdir: Path
    bootstrap: str = field(
        default_factory=lambda: os.environ.get("CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    registry: str = field(
        default_factory=lambda: os.environ.get(
            "CONVSTREAM_SCHEMA_REGISTRY__URL", "http://127.0.0.1:18081/apis/ccompat/v7"
        )
    )
    server_dsn: str = field(
        default_factory=lambda: os.environ.get(
            "CONVSTREAM_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:15432/postgres"
        )
    )
    procs: list[Proc] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    _seq: int = 0

    def name(self, what: str) -> str:
        return f"bench_{self.stamp}_{what}".lower()

    def topic_env(self, base: str) -> dict[str, str]:
        """The events/queues/dlq topic names of topic set ``base``."""
        name = self.name(base)
        return {
            "CONVSTREAM_TOPICS__EVENTS": f"{name}.events",
            "CONVSTREAM_TOPICS__QUEUES": f"{name}.queues",
            "CONVSTREAM_TOPICS__DLQ": f"{name}.dlq",
        }

    def env(
        self, topics: str, dsn: str | None = None, group: str | None = None, **extra: str
    ) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSTREAM_")}
        env.update(
            {
                "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": self.bootstrap,
                "CONVSTREAM_SCHEMA_REGISTRY__URL": self.registry,
                "CONVSTREAM_TOPICS__PARTITIONS": str(PARTITIONS),
                "CONVSTREAM_OBSERVABILITY__METRICS_HOST": "127.0.0.1",
                "CONVSTREAM_OBSERVABILITY__METRICS_PORT": "0",
                "CONVSTREAM_OBSERVABILITY__LOG_FORMAT": "json",
                "PYTHONUNBUFFERED": "1",
                **self.topic_env(topics),
            }
        )
        if dsn:
            env["CONVSTREAM_POSTGRES__DSN"] = dsn
        if group:
            env["CONVSTREAM_CONSUMER__GROUP_ID"] = group
        env.update(extra)
        return env

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> Proc:
        """Start ``convstream ARGS`` (or ``python -m …`` when args[0] == "-m") in its own session."""
        self._seq += 1
        stem = self.workdir / f"{self._seq:02d}-{name}"
        out, err = stem.with_suffix(".out"), stem.with_suffix(".err")
        cmd = [sys.executable, *args] if args[0] == "-m" else [sys.executable, "-m", "consumer.cli", *args]
        with open(out, "wb") as o, open(err, "wb") as e:
            popen = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=o, stderr=e, start_new_session=True)
        proc = Proc(name, popen, out, err)
        self.procs.append(proc)
        return proc

    def run(self, name: str, args: list[str], env: dict[str, str], timeout: float = 600) -> Proc:
        proc = self.spawn(name, args, env)
        rc = proc.wait(timeout)
        if rc != 0:
            raise RuntimeError(f"`{' '.join(args)}` exited {rc}\n{proc.tail()}")
        return proc

    def database(self, what: str, topics: str) -> str:
        """A fresh database named after ``what``, migrated by ``convstream migrate``; returns its DSN."""
        name = self.name(what)
        with psycopg.connect(self.server_dsn, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.databases.append(name)
        dsn = _with_database(self.server_dsn, name)
        self.run(f"migrate-{what}", ["migrate"], self.env(topics, dsn))
        return dsn

    @contextlib.contextmanager
    def connect(self, dsn: str) -> Iterator[psycopg.Connection[Any]]:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
            yield conn

    def committed(self, dsn: str, group: str, topic: str) -> dict[int, int]:
        with self.connect(dsn) as conn:
            rows = conn.execute(
                "SELECT partition, next_offset FROM consumer_offset WHERE group_id = %s AND topic = %s",
                (group, topic),
            ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def count_rows(self, dsn: str) -> int:
        with self.connect(dsn) as conn:
            row = conn.execute("SELECT count(*) FROM conversation").fetchone()
        return int(row[0]) if row else 0

    def close(self, keep: bool = False) -> None:
        """Kill what is still running; drop the databases and topics unless ``keep``."""
        for proc in self.procs:
            proc.kill()
        if keep:
            return
        with contextlib.suppress(psycopg.Error), self.connect(self.server_dsn) as conn:
            for name in self.databases:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        # Also the topics others created for this run (Quix's changelog__<group>--<topic>--default).
        with contextlib.suppress(Exception):
            from confluent_kafka.admin import AdminClient

            listed = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=10).topics
            self.topics += [t for t in listed if f"bench_{self.stamp}" in t and t not in self.topics]
        if self.topics:
            from consumer.adapters.kafka.client import KafkaAdmin
            from consumer.settings import KafkaSettings

            with contextlib.suppress(Exception):
                KafkaAdmin(KafkaSettings(bootstrap_servers=self.bootstrap), timeout_seconds=15).delete_topics(
                    self.topics
                )
