"""Facts about the machine and the stack a benchmark ran on (recorded with every result)."""

from __future__ import annotations

import glob
import importlib.metadata
import os
import platform
import re
import sys
from typing import Any

__all__ = ["load_average", "machine_facts"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_mb() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def load_average() -> list[float]:
    """The 1/5/15-minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def _kafka_version(bootstrap: str) -> str:
    """The broker version from the devstack's jar name (the protocol does not expose it)."""
    root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache")
    jars = sorted(glob.glob(os.path.join(root, "kafka-*", "libs", "kafka_2.*-*.jar")))
    jars = [j for j in jars if re.fullmatch(r"kafka_2\.\d+-[\d.]+\.jar", os.path.basename(j))]
    if jars:
        return os.path.basename(jars[-1]).removesuffix(".jar").split("-", 1)[1] + " (devstack, KRaft)"
    return f"unknown (broker {bootstrap})"


def _postgres_version(dsn: str) -> str:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            settings = conn.execute(
                "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings "
                "WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync')"
            ).fetchone()
        return f"{row[0] if row else '?'} ({settings[0] if settings else ''})"
    except psycopg.Error as exc:
        return f"unknown ({type(exc).__name__})"


def machine_facts(bootstrap: str, server_dsn: str) -> dict[str, Any]:
    """CPU model, cores, memory, OS, and the versions of Python, librdkafka, Kafka and Postgres."""
    import confluent_kafka

    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_mb": _mem_total_mb(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "confluent_kafka": importlib.metadata.version("confluent-kafka"),
        "librdkafka": confluent_kafka.libversion()[0],
        "kafka": _kafka_version(bootstrap),
        "postgres": _postgres_version(server_dsn),
    }
