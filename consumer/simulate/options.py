"""Simulation options: one frozen dataclass, validated, shared by the API and ``convstream simulate``.

Stopping rules (exactly one applies, in this order of precedence):

- ``conversations``: N conversations arrive; the simulation ends at the N-th arrival, so the latest
  arrivals are still in progress (waiting, in IVR, alerting, …) when it stops.
- ``duration_s``: simulated seconds from ``start``; whatever is in progress then stays in progress.
- ``events``: the model stops at the first transition boundary at or after N *model* messages
  (snapshots and detail events before disorder: duplicates are extra, dropped snapshots still count).
- none, only with ``realtime``: the run never ends by itself; the caller stops reading it (see
  :mod:`consumer.simulate.realtime`, which paces it to the wall clock until a stop event is set).

Disorder (``duplicate_rate``, ``reorder_window``, ``drop_rate``) and presentation (``eventbridge``,
``detail_events``) draw from their own random streams, so they never change the model: the same seed
gives the same conversations, the same transitions and the same ground truth whatever they are set to
(except that ``detail_events`` moves ``status_changed_at`` to the detail event's time, see
:mod:`consumer.simulate.model`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

__all__ = ["DEFAULT_MIX", "DEFAULT_START", "KINDS", "SimulationOptions", "parse_mix", "parse_start"]

#: Scenario kinds (the keys of ``--mix``).
KINDS: Final = ("voice", "abandon", "callback", "outbound", "chat", "message", "email")

#: Default scenario weights (percent-like; only ratios matter).
DEFAULT_MIX: Final[Mapping[str, float]] = MappingProxyType(
    {"voice": 45, "abandon": 8, "callback": 7, "outbound": 10, "chat": 10, "message": 10, "email": 10}
)

#: Default simulated start: 2025-01-01T08:00:00Z in epoch milliseconds.
DEFAULT_START: Final = 1735718400000


def parse_start(text: str) -> int:
    """An ISO-8601 instant (``Z`` or an offset; naive means UTC) -> epoch milliseconds."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp() * 1000)


def parse_mix(text: str) -> dict[str, float]:
    """``voice=60,chat=10`` -> ``{"voice": 60.0, "chat": 10.0}``; kinds not named get weight 0.

    Raises:
        ValueError: unknown kind, malformed pair, negative weight, or all weights zero.
    """
    mix = dict.fromkeys(KINDS, 0.0)
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, sep, weight = pair.partition("=")
        if not sep or name.strip() not in mix:
            raise ValueError(f"bad mix entry {pair!r}: use KIND=WEIGHT with KIND in {', '.join(KINDS)}")
        mix[name.strip()] = float(weight)
    if any(w < 0 for w in mix.values()) or not any(mix.values()):
        raise ValueError("mix weights must be >= 0 and not all zero")
    return mix


@dataclass(frozen=True, slots=True)
class SimulationOptions:
    """Everything that determines a simulation's output (same options -> byte-identical output).

    Attributes:
        seed: Model seed. Disorder and presentation use streams derived from it.
        conversations: Stop after this many arrivals (see the module docstring).
        duration_s: Simulated seconds to run when ``conversations`` is not set.
        events: Stop after about this many model messages when neither of the above is set.
        queues: Number of queues (>= 1). agents: number of agents (>= 1).
        arrival_rate: Mean arrivals per simulated second (Poisson).
        handle_time_s: Mean agent talk/handle time in seconds (exponential, min 5 s).
        start_ms: Simulated start, epoch ms.
        mix: Scenario weights by kind (:data:`KINDS`).
        detail_events: Fraction of conversations that also emit detail events (0..1).
        eventbridge: Fraction of messages wrapped as EventBridge events (0..1).
        duplicate_rate: Probability that a message is delivered twice (0..1).
        reorder_window: Shuffle delivery within a window of this many messages (0 = in order).
        drop_rate: Probability that a droppable intermediate snapshot is not delivered (0..1).
        realtime: The run is read at wall-clock pace from ``start_ms`` = now
            (:mod:`consumer.simulate.realtime`); no stopping rule is needed then. It changes nothing in the
            output: a real-time run is the run of the same options started at that instant.
    """

    seed: int = 1
    conversations: int | None = None
    duration_s: float | None = None
    events: int | None = None
    queues: int = 8
    agents: int = 60
    arrival_rate: float = 0.2
    handle_time_s: float = 180.0
    start_ms: int = DEFAULT_START
    mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    detail_events: float = 0.0
    eventbridge: float = 0.0
    duplicate_rate: float = 0.0
    reorder_window: int = 0
    drop_rate: float = 0.0
    realtime: bool = False

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid option."""
        if self.unbounded and not self.realtime:
            raise ValueError("one of conversations, duration_s or events is required (or realtime)")
        for name in ("conversations", "events"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError("duration_s must be > 0")
        if self.queues < 1 or self.agents < 1:
            raise ValueError("queues and agents must be >= 1")
        if self.arrival_rate <= 0 or self.handle_time_s <= 0:
            raise ValueError("arrival_rate and handle_time_s must be > 0")
        for name in ("detail_events", "eventbridge", "duplicate_rate", "drop_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.reorder_window < 0:
            raise ValueError("reorder_window must be >= 0")
        unknown = set(self.mix) - set(KINDS)
        if unknown or any(w < 0 for w in self.mix.values()) or not any(self.mix.values()):
            raise ValueError(f"mix must weight some of {', '.join(KINDS)} with weights >= 0")

    @property
    def unbounded(self) -> bool:
        """True when no stopping rule is set: a real-time run that lasts until its reader stops."""
        return self.conversations is None and self.duration_s is None and self.events is None

    @property
    def disordered(self) -> bool:
        """True when delivery order differs from model order (duplicates, reordering or drops)."""
        return self.duplicate_rate > 0 or self.reorder_window > 1 or self.drop_rate > 0
