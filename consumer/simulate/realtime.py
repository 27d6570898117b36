"""Real-time runs of the simulator: the simulated clock is the wall clock from the start instant.

Usage::

    stop = threading.Event()                     # set it (e.g. from SIGTERM) to end the run
    options = live(SimulationOptions(seed=1, realtime=True, arrival_rate=1.0))
    for m in paced(Simulation(options), stop):   # each message when the wall clock reaches received_at
        publish(m.message)

Guarantees:

1. :func:`live` only sets ``start_ms`` to the current wall-clock instant: the model, the disorder and the
   presentation are those of the same options started then, so two runs with the same seed differ only
   by the start instant (every timestamp shifted by the difference between their starts).
2. :func:`paced` yields each message once the wall clock has reached its ``received_at`` (messages the
   reorder window moved behind later ones are yielded at once), never earlier.
3. Setting ``stop`` ends :func:`paced` promptly, also while it waits: the message it was waiting for and
   everything after it are not yielded (the caller then flushes what it has and exits normally).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace

from consumer.simulate.engine import SimMessage
from consumer.simulate.options import SimulationOptions

__all__ = ["live", "now_ms", "paced"]


def now_ms() -> int:
    """The wall clock in epoch milliseconds."""
    return time.time_ns() // 1_000_000


def live(options: SimulationOptions, start_ms: int | None = None) -> SimulationOptions:
    """Step 1: ``options`` as a real-time run starting at ``start_ms`` (default: now)."""
    return replace(options, realtime=True, start_ms=now_ms() if start_ms is None else start_ms)


def paced(
    messages: Iterable[SimMessage],
    stop: threading.Event,
    clock: Callable[[], int] = now_ms,
) -> Iterator[SimMessage]:
    """Steps 2-3: ``messages`` at wall-clock pace (``clock`` in epoch ms) until ``stop`` is set."""
    for message in messages:
        wait_ms = message.received_at - clock()
        # The event's wait both sleeps and wakes up on stop; a sleep would delay a SIGTERM by a whole gap.
        if (wait_ms > 0 and stop.wait(wait_ms / 1000)) or stop.is_set():
            return
        yield message
