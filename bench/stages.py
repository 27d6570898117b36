"""Per-stage breakdown from the existing measurement scripts (``scripts/*_speed.py``), run as subprocesses.

Each script prints one JSON object on stdout (pg_write_speed writes it with ``--json``); the harness keeps
it as is and derives microseconds per event for the table.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.stack import ROOT

__all__ = ["run_stages"]


def _script(args: list[str], timeout: float) -> dict[str, Any]:
    try:
        proc = subprocess.run(
            [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f}s"}
    text = proc.stdout
    start = text.find("{")
    if proc.returncode == 0 and start < 0:
        return _text_rates(text)
    if proc.returncode != 0 or start < 0:
        return {"error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
    try:
        return dict(json.loads(text[start:]))
    except ValueError:
        return {"raw": text[-2000:]}


_RATE = re.compile(r"^(\S.*?)\s+median of \d+: wall [\d.]+ s = *([\d,]+) events/s; cpu [\d.]+ s = *([\d,]+)")


def _text_rates(text: str) -> dict[str, Any]:
    """fold_speed.py prints text lines: ``label  median of N: wall … = R events/s; cpu … = R events/s``."""
    out: dict[str, Any] = {}
    for line in text.splitlines():
        m = _RATE.match(line)
        if m:
            key = re.sub(r"\W+", "_", m.group(1).strip()).strip("_")
            out[f"{key}_wall_per_s"] = int(m.group(2).replace(",", ""))
            out[f"{key}_cpu_per_s"] = int(m.group(3).replace(",", ""))
    return out or {"raw": text[-2000:]}


def run_stages(server_dsn: str) -> dict[str, Any]:
    """codec_speed (decode/encode), fold_speed (fold), pg_write_speed (COPY and executemany writes)."""
    out: dict[str, Any] = {"codec": _script(["scripts/codec_speed.py", "--seconds", "1"], 120)}
    out["fold"] = _script(["scripts/fold_speed.py", "--events", "30000", "--repeat", "1"], 240)
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "pg.json"
        pg = _script(
            [
                "scripts/pg_write_speed.py",
                "--dsn",
                server_dsn,
                "--batches",
                "10",
                "--repeat",
                "1",
                "--json",
                str(target),
            ],
            240,
        )
        if target.exists():
            pg = json.loads(target.read_text())
        out["pg_write"] = pg
    return out
