"""The public simulator API: :class:`Simulation` and :func:`simulate`.

Usage::

    sim = Simulation(SimulationOptions(seed=7, conversations=1000, duplicate_rate=0.05))
    for m in sim:                      # SimMessage(message=dict, received_at=epoch ms, conversation_id)
        publish(m.message)
    rows = sim.truth()                 # one dict per conversation, as `convstream fold` prints them
    directory = sim.queue_directory()  # [{"id": …, "name": …}] for `convstream fold --queues`

Guarantees:

- Same options -> the same messages in the same order (byte-identical once serialized); the model (and
  so the truth) does not depend on the disorder and presentation options.
- Without disorder the delivered order is model order and ``received_at`` never decreases.
- :meth:`Simulation.truth` is what the fold must produce from the delivered messages with the queue
  directory. ``status_changed_at`` is exact for in-order delivery; with duplicates, reordering or drops
  the fold may legitimately report a different one (it records when *processing* saw the status
  change, consumer/domain/merge.py), so compare every other key then.
- ``events`` mode with ``drop_rate``: the run is first simulated once without delivery to find where it
  ends (drops need to know whether a conversation has a later transition), so it costs twice the time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from consumer.simulate.engine import Engine, SimMessage
from consumer.simulate.options import SimulationOptions

__all__ = ["Simulation", "simulate"]


class Simulation:
    """One run of the model. Iterate it once; then ask for :meth:`truth` and :attr:`stats`."""

    def __init__(self, options: SimulationOptions, *, keep_entries: bool = False) -> None:
        """``keep_entries``: attach each snapshot's normalized participants (:class:`SimMessage`), which
        makes publishing faster and generating slightly slower; it changes nothing else."""
        options.validate()
        self.options = options
        cutoff = None
        if options.events is not None and options.drop_rate > 0:
            probe = Engine(replace(options, drop_rate=0.0))
            for _ in probe.run():
                pass
            cutoff = probe.last_key
        self._engine = Engine(options, cutoff, keep_entries=keep_entries)
        self._started = False
        self._finished = False
        self.delivered = 0

    def __iter__(self) -> Iterator[SimMessage]:
        if self._started:
            raise RuntimeError("a Simulation can be iterated only once")
        self._started = True
        return self._deliver()

    def _deliver(self) -> Iterator[SimMessage]:
        opts = self.options
        rng = random.Random(f"{opts.seed}:disorder")  # noqa: S311 - a seeded simulation
        window: list[SimMessage] = []
        duplicates = 0
        for message in self._engine.run():
            copies = 1
            if opts.duplicate_rate > 0 and rng.random() < opts.duplicate_rate:
                copies, duplicates = 2, duplicates + 1
            for _ in range(copies):
                if opts.reorder_window > 1:
                    window.append(message)
                    if len(window) < opts.reorder_window:
                        continue
                    i = rng.randrange(len(window))
                    message_out = window[i]
                    window[i] = window[-1]
                    window.pop()
                else:
                    message_out = message
                self.delivered += 1
                yield message_out
        while window:
            i = rng.randrange(len(window))
            window[i], window[-1] = window[-1], window[i]
            self.delivered += 1
            yield window.pop()
        self._engine.stats["duplicates"] = duplicates
        self._finished = True

    @property
    def stats(self) -> dict[str, int]:
        """Counters: ``snapshots``, ``detail_events``, ``dropped``, ``duplicates``, ``eventbridge``,
        ``kind.<kind>``, ``variant.<kind>.<variant>``, ``conversations``, ``model_messages``,
        ``delivered``."""
        stats = dict(self._engine.stats)
        for c in self._engine.conversations:
            key = f"variant.{c.kind}.{c.variant}"
            stats[key] = stats.get(key, 0) + 1
        stats["conversations"] = self._engine.arrived
        stats["model_messages"] = self._engine.model_messages
        stats["snapshots"] = self._engine.snapshots
        stats["delivered"] = self.delivered
        return stats

    def truth(self) -> list[dict[str, Any]]:
        """Ground-truth rows, sorted by ``conversation_id`` (see :mod:`consumer.simulate.model`).

        Raises:
            RuntimeError: the simulation has not been iterated to the end yet.
        """
        if not self._finished:
            raise RuntimeError("iterate the simulation to the end before asking for its truth")
        from consumer.domain import LOGIC_VERSION  # the fold's version constant, not the fold

        rows = [c.truth(LOGIC_VERSION) for c in self._engine.conversations]
        rows.sort(key=lambda row: str(row["conversation_id"]))
        return rows

    def queue_directory(self) -> list[dict[str, str]]:
        """The simulated org's queues as ``{"id", "name"}`` (the ``--queues-out`` file's lines)."""
        return [{"id": q.id, "name": q.name} for q in self._engine.queues]


def simulate(options: SimulationOptions) -> Iterator[SimMessage]:
    """The delivered messages of a new :class:`Simulation` (use the class to get the truth too)."""
    return iter(Simulation(options))
