"""Shards of a simulation for ``convstream bridge --workers N`` (the processes are tested in integration)."""

from __future__ import annotations

import pytest

from consumer import cli
from consumer.bridge.workers import SEED_STRIDE, shard_options
from consumer.simulate import Simulation, SimulationOptions


def test_one_worker_is_the_unsharded_simulation() -> None:
    options = SimulationOptions(seed=3, events=100)
    assert shard_options(options, 0, 1) is options


@pytest.mark.parametrize("workers", [2, 3, 7])
def test_shards_split_the_load_and_keep_the_shape(workers: int) -> None:
    options = SimulationOptions(seed=9, conversations=1000, agents=61, arrival_rate=1.5, detail_events=0.3)
    shards = [shard_options(options, k, workers) for k in range(workers)]
    assert sum(s.conversations or 0 for s in shards) == 1000
    assert sum(s.agents for s in shards) == 61
    assert sum(s.arrival_rate for s in shards) == pytest.approx(1.5)
    assert [s.seed for s in shards] == [9 * SEED_STRIDE + k for k in range(workers)]
    for shard in shards:
        assert (shard.queues, shard.mix, shard.detail_events, shard.start_ms) == (
            options.queues, options.mix, options.detail_events, options.start_ms
        )  # fmt: skip


def test_event_budget_is_split_and_duration_kept() -> None:
    events = [shard_options(SimulationOptions(events=10), k, 3).events for k in range(3)]
    assert events == [4, 3, 3]
    timed = SimulationOptions(duration_s=60, arrival_rate=2.0)
    assert [shard_options(timed, k, 2).duration_s for k in range(2)] == [60, 60]


def test_too_small_a_run_for_the_workers_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="--workers 4 needs at least 4 conversations"):
        shard_options(SimulationOptions(conversations=3), 0, 4)
    with pytest.raises(ValueError, match="agents"):
        shard_options(SimulationOptions(events=100, agents=2), 0, 3)


def test_shards_are_different_conversations() -> None:
    ids = [
        {m.conversation_id for m in Simulation(shard_options(SimulationOptions(conversations=40), k, 2))}
        for k in range(2)
    ]
    assert ids[0]
    assert ids[1]
    assert not ids[0] & ids[1]


def test_a_shard_publishes_the_same_messages_every_time() -> None:
    shard = shard_options(SimulationOptions(seed=5, conversations=30), 1, 2)
    runs = [[(m.conversation_id, m.received_at) for m in Simulation(shard)] for _ in range(2)]
    assert runs[0]
    assert runs[0] == runs[1]


def test_workers_usage_errors_before_any_connection(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["bridge", "--source", "simulator", "--workers", "3", "--conversations", "2"]) == 2
    assert "--workers 3 needs at least 3 conversations" in capsys.readouterr().err
    assert cli.main(["bridge", "--source", "file", "--workers", "2", "-"]) == 2
    assert "--workers 2 needs --source simulator (the file source is one stream)" in capsys.readouterr().err
    assert cli.main(["bridge", "--source", "simulator", "--workers", "0"]) == 2
    assert "--workers must be at least 1 (got 0)" in capsys.readouterr().err
