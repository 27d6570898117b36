"""Replay without I/O: argument parsing, the plan table, the replay watch, partition reset."""

from __future__ import annotations

import pytest

from consumer.consume.partitions import Partitions
from consumer.consume.replay_watch import ReplayWatch
from consumer.errors import StoreError, StoreUnavailableError
from consumer.ops.replay import (
    PartitionPlan,
    ReplayPlan,
    ReplayUsageError,
    Target,
    format_plan,
    parse_datetime,
    parse_offsets,
)


def test_parse_offsets() -> None:
    assert parse_offsets(["0:100", "3:42"]) == {0: 100, 3: 42}
    for bad in (["0"], ["a:1"], ["1:-2"], ["1:2", "1:3"]):
        with pytest.raises(ReplayUsageError):
            parse_offsets(bad)


def test_parse_datetime_is_utc_unless_told() -> None:
    assert parse_datetime("1970-01-01T00:00:01Z") == 1000
    assert parse_datetime("1970-01-01T00:00:01.5") == 1500
    assert parse_datetime("1970-01-01T01:00:01+01:00") == 1000
    with pytest.raises(ReplayUsageError):
        parse_datetime("yesterday")


def test_plan_table_counts_events_to_reprocess() -> None:
    plan = ReplayPlan(
        "g", "t", Target(earliest=True), (PartitionPlan(0, 10, 0, 0, 12), PartitionPlan(1, None, 5, 0, 5))
    )
    text = format_plan(plan)
    assert "total events to reprocess: 12" in text
    assert plan.targets == {("t", 0): 0, ("t", 1): 5}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_watch_fires_once_per_new_generation_and_is_rate_limited() -> None:
    clock, values = _Clock(), [3]
    watch = ReplayWatch(lambda: values[0], interval=2.0, clock=clock)
    assert watch.changed() is False  # baseline
    values[0] = 4
    assert watch.changed() is False  # not due yet
    clock.now = 2.0
    assert watch.changed() is True
    clock.now = 4.0
    assert watch.changed() is False


def test_watch_survives_outages_and_disables_without_the_table() -> None:
    clock = _Clock()

    def down() -> int:
        raise StoreUnavailableError("down")

    assert ReplayWatch(down, clock=clock).changed() is False

    def missing() -> int:
        raise StoreError("no table", sqlstate="42P01")

    watch = ReplayWatch(missing, clock=clock)
    assert watch.changed() is False
    clock.now = 100.0
    assert watch.changed() is False


def test_reset_forgets_the_old_end_of_partition() -> None:
    """After a seek back, the records up to the old EOF must be consumed, not committed past."""
    parts = Partitions()
    tp = ("t", 0)
    parts.assign([tp], {tp: 50})
    parts.note_eofs({tp: 50})
    parts.reset(tp, 0)
    assert parts.eof_advances() == []
