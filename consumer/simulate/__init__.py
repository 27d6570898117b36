"""Contact-center simulator: a seeded, deterministic model that emits Genesys messages.

API (for the bridge and the ``convstream simulate`` command)::

    from consumer.simulate import Simulation, SimulationOptions, simulate

    sim = Simulation(SimulationOptions(seed=1, conversations=10_000))
    for m in sim:            # SimMessage: .message (Genesys JSON object), .received_at (epoch ms),
        ...                  #             .conversation_id (the Kafka key)
    sim.truth()              # ground-truth rows, as `convstream fold` prints them
    sim.queue_directory()    # [{"id", "name"}] for `convstream fold --queues`
    sim.stats                # counters (kinds, variants, snapshots, detail events, drops, duplicates…)

``simulate(options)`` is the iterator alone. See :mod:`consumer.simulate.simulation` for the guarantees
and :mod:`consumer.simulate.model` for how the truth is defined. Real time (``--realtime``):
``paced(Simulation(live(options)), stop)`` delivers each message when the wall clock reaches it
(:mod:`consumer.simulate.realtime`).
"""

from consumer.simulate.engine import SimMessage
from consumer.simulate.options import (
    DEFAULT_MIX,
    DEFAULT_START,
    KINDS,
    SimulationOptions,
    parse_mix,
    parse_start,
)
from consumer.simulate.realtime import live, paced
from consumer.simulate.simulation import Simulation, simulate

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_START",
    "KINDS",
    "SimMessage",
    "Simulation",
    "SimulationOptions",
    "live",
    "paced",
    "parse_mix",
    "parse_start",
    "simulate",
]
