"""Smoke test of the benchmark harness: ``python -m bench --quick`` completes and every scenario has a number.

Never asserts speed (CONTRIBUTING: performance is measured by ``make bench``, never by timed assertions).
``--no-write``: no results file, BENCHMARKS.md untouched; the JSON goes to a temporary file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ("bridge", "ceiling", "naive", "convstream", "scale", "latency", "memory", "replay")


@pytest.mark.timeout(300)
def test_quick_bench_completes_with_a_number_per_scenario(
    kafka_bootstrap: str, registry_url: str, postgres_dsn: str, tmp_path: Path
) -> None:
    from bench.report import headline

    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVSTREAM_")}
    env.update(
        CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS=kafka_bootstrap,
        CONVSTREAM_SCHEMA_REGISTRY__URL=registry_url,
        CONVSTREAM_BENCH_POSTGRES_DSN=postgres_dsn,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-write", "--json-out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    numbers = headline(doc)
    for name in SCENARIOS:
        assert isinstance(numbers[name], float), f"{name}: {doc['results'].get(name)}"
    peer = doc["results"]["peer"]
    assert isinstance(numbers["peer"], float) or peer.get("error"), "the peer is measured or explained"
    for key in ("cpu_model", "cores", "memory_mb", "python", "librdkafka", "postgres"):
        assert doc["machine"][key], key
