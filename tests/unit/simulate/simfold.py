"""Shared helper: fold a simulation's delivered messages with the real fold (not the simulator's model)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from consumer.commands.fold import row_to_json
from consumer.domain import ConversationState, derive_row, fold
from consumer.genesys.jsonl import FileClock, LineBad, LineEvents, LineUnknownTopic, read_lines
from consumer.simulate import Simulation, SimulationOptions

__all__ = ["fold_rows", "simulate_lines"]


def simulate_lines(options: SimulationOptions) -> tuple[list[str], Simulation]:
    """The JSONL lines a `convstream simulate --out` would write, and the finished simulation."""
    sim = Simulation(options)
    lines = [orjson.dumps(m.message).decode() for m in sim]
    return lines, sim


def fold_rows(lines: Iterable[str], queues: list[dict[str, str]]) -> list[dict[str, Any]]:
    """What `convstream fold --queues Q FILE` prints for these lines, as dicts (in-process, same code)."""
    names = {q["id"]: q["name"] for q in queues}
    states: dict[str, ConversationState] = {}
    for outcome in read_lines(lines, source_name="sim.jsonl", clock=FileClock()):
        assert not isinstance(outcome, LineBad | LineUnknownTopic), outcome
        if isinstance(outcome, LineEvents):
            for event in outcome.events:
                states[event.conversation_id] = fold(states.get(event.conversation_id), event)
    return [row_to_json(derive_row(states[cid], names)) for cid in sorted(states)]
