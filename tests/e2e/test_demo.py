"""``convstream demo`` (``make demo``) end to end, against this test's own topics, group and database."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.fixtures.e2e import E2EStack

pytestmark = pytest.mark.e2e


#: A busy little contact center: in 15 s, ~60 arrivals on 10 agents with 5 s handle times.
LIVE = ("--arrival-rate", "4", "--handle-time", "5", "--agents", "10")


def test_demo_runs_and_summarises(e2e: E2EStack) -> None:
    started = datetime.now(UTC)
    result = e2e.run(
        "demo", "--seconds", "15", *LIVE, "--seed", "7", "--log-dir", str(e2e.workdir / "demo"), timeout=170
    )
    finished = datetime.now(UTC)
    out = result.stdout
    # The progress line shows the contact center now: statuses in progress, then the ended ones.
    progress = [line for line in out.splitlines() if line.startswith("[") and " | now: " in line]
    assert progress, out
    assert re.search(r"\| ended [\d,]+$", progress[-1]), progress[-1]

    assert "conversations by status" in out, out
    table = out.split("conversations by status", 1)[1].split("total", 1)[0]
    statuses = dict(re.findall(r"^\s+([a-z_]+)\s+([\d,]+)\s*$", table, flags=re.M))
    assert len(statuses) >= 3, f"expected several statuses in the summary:\n{out}"
    assert re.search(r"dead-lettered \(DLQ records\)\s+0\s*$", out, flags=re.M), out
    for hint in ("last queue (top 5)", "convstream status", "psql", "/metrics", "/graph?g0.expr="):
        assert hint in out, out

    rows = e2e.raw_rows()
    assert rows
    # Live, not a calendar from the past: every conversation started and changed during the run.
    margin = timedelta(seconds=2)
    for row in rows.values():
        assert started - margin <= row["conversation_start"] <= finished, row
        assert started - margin <= row["status_changed_at"] <= finished, row
    assert sum(int(n.replace(",", "")) for n in statuses.values()) == len(rows)
    assert e2e.dlq_records() == 0
    assert e2e.lag() == 0


def test_demo_again_on_the_same_names_works(e2e: E2EStack) -> None:
    """Idempotent: a second run on the same topics, group and database succeeds and adds to the table."""
    e2e.run(
        "demo",
        "--seconds",
        "4",
        *LIVE,
        "--seed",
        "1",
        "--log-dir",
        str(e2e.workdir / "d1"),
        timeout=120,
    )
    first = len(e2e.raw_rows())
    e2e.run(
        "demo",
        "--seconds",
        "4",
        *LIVE,
        "--seed",
        "2",
        "--log-dir",
        str(e2e.workdir / "d2"),
        timeout=120,
    )
    assert len(e2e.raw_rows()) > first > 0
    assert e2e.dlq_records() == 0
