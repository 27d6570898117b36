"""Acceptance at full size: 10,000 simulated conversations, truth == fold (see the unit-tier twin,
``tests/unit/simulate/test_truth_matches_fold.py``, for what is compared and why)."""

from __future__ import annotations

import pytest

from tests.unit.simulate.test_truth_matches_fold import DISORDER, IN_ORDER, check

pytestmark = pytest.mark.e2e


def test_ten_thousand_conversations_in_order() -> None:
    check(10_000, 41, IN_ORDER, frozenset())


def test_ten_thousand_conversations_disordered() -> None:
    check(10_000, 42, DISORDER, frozenset({"status_changed_at"}))
