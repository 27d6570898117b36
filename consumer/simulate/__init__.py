"""Contact-center simulator (SPEC §7.4): a seeded, deterministic model that emits Genesys messages.

API (for the bridge and the ``convstream simulate`` command)::

    from consumer.simulate import Simulation, SimulationOptions, simulate

    sim = Simulation(SimulationOptions(seed=1, conversations=10_000))
    for m in sim:            # SimMessage: .message (Genesys JSON object), .received_at (epoch ms),
        ...                  #             .conversation_id (the Kafka key)
    sim.truth()              # ground-truth rows, as `convstream fold` prints them
    sim.queue_directory()    # [{"id", "name"}] for `convstream fold --queues`
    sim.stats                # counters (kinds, variants, snapshots, detail events, drops, duplicates…)

``simulate(options)`` is the iterator alone. See :mod:`consumer.simulate.simulation` for the guarantees
and :mod:`consumer.simulate.model` for how the truth is defined.
"""

from consumer.simulate.engine import SimMessage
from consumer.simulate.options import DEFAULT_MIX, KINDS, SimulationOptions, parse_mix, parse_start
from consumer.simulate.simulation import Simulation, simulate

__all__ = [
    "DEFAULT_MIX",
    "KINDS",
    "SimMessage",
    "Simulation",
    "SimulationOptions",
    "parse_mix",
    "parse_start",
    "simulate",
]
