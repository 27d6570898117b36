"""Acceptance: the simulator's ground truth equals the fold of its own output.

The truth comes from the simulator's model (phases, queues, times it decided), never from the fold, so
agreement checks both sides. With duplicates, reordering and drops, ``status_changed_at`` is the one key
that may legitimately differ (it records when processing saw the change), so it is ignored
there and only there.

Size: the unit tier folds 1,000 conversations per case (about a second of CPU each); the e2e tier
(``tests/e2e/test_simulator_truth.py``) repeats the checks with 10,000 conversations (the fold takes
~10-30 s per case on the 2-core reference machine, too slow for unit).
"""

from __future__ import annotations

from typing import Any

import pytest
from simfold import fold_rows, simulate_lines

from consumer.simulate import SimulationOptions

IN_ORDER = {"detail_events": 0.5, "eventbridge": 0.3}
DISORDER = {
    "detail_events": 0.5, "eventbridge": 0.3, "duplicate_rate": 0.1, "reorder_window": 64, "drop_rate": 0.3,
}  # fmt: skip


def compare(truth: list[dict[str, Any]], rows: list[dict[str, Any]], ignore: frozenset[str]) -> None:
    assert [r["conversation_id"] for r in rows] == [t["conversation_id"] for t in truth]
    mismatches = [
        (t["conversation_id"], key, t[key], r[key])
        for t, r in zip(truth, rows, strict=True)
        for key in t
        if key not in ignore and t[key] != r[key]
    ]
    assert not mismatches, f"{len(mismatches)} mismatches (id, key, truth, fold), first: {mismatches[:5]}"
    assert list(rows[0]) == list(truth[0]), "truth keys must be the fold's keys, in order"


def check(conversations: int, seed: int, extra: dict[str, Any], ignore: frozenset[str]) -> None:
    options = SimulationOptions(seed=seed, conversations=conversations, arrival_rate=0.5, **extra)
    lines, sim = simulate_lines(options)
    truth = sim.truth()
    assert len({t["calculated_status"] for t in truth}) >= 6  # in-progress conversations, not just "ended"
    compare(truth, fold_rows(lines, sim.queue_directory()), ignore)


@pytest.mark.parametrize("seed", [11, 12])
def test_in_order_truth_equals_fold(seed: int) -> None:
    check(1_000, seed, IN_ORDER, frozenset())


@pytest.mark.parametrize("seed", [21, 22])
def test_disordered_truth_equals_fold_except_status_changed_at(seed: int) -> None:
    check(1_000, seed, DISORDER, frozenset({"status_changed_at"}))


def test_drops_alone_keep_status_changed_at_exact() -> None:
    """Dropped snapshots never carry a status change, so in-order delivery keeps every key exact."""
    check(1_000, 31, {"drop_rate": 0.5, "detail_events": 0.3}, frozenset())
