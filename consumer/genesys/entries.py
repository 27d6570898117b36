"""Participants normalized once, when their source creates them (the simulator's path to the bridge).

Why: a snapshot repeats every participant of its conversation. Normalization caches participants by
their JSON text (:mod:`consumer.genesys._fast`), which still costs a serialization per participant per
snapshot, plus a miss each time the bounded cache is cleared. A source that builds its participants
itself as copy-on-write dicts (:class:`consumer.simulate.model.Conversation`: a change replaces the
dict, never mutates it) can normalize each new dict once, when it creates it, and hand the results to
:func:`consumer.genesys.normalize.normalize_message` (``participants=``), which then does not read the
participant dicts again. Measured on the simulator's default mix: ~15 µs less per published event.

Guarantees (tested on every snapshot of several simulations in ``tests/unit/genesys/test_entries.py``):

- :func:`participant_entry` ``(p)`` is exactly what normalization derives from the participant dict
  ``p``: the :class:`~consumer.domain.events.Participant` and its latest observed time (event-time rule). The
  third member, the participant's canonical JSON, is ``None`` here: the event id is then computed from
  the whole body at once (one serialization per snapshot costs less than one per participant version).
- It returns ``None`` when ``p`` is not the plain, well-typed common case; the caller then passes no
  entries and normalization reads the dicts (and reports any error) as usual.

Pure module: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consumer.genesys._fast import Irregular, ParticipantEntry, participant_from_dict
from consumer.genesys.snapshots import participant_observed_time

__all__ = ["ParticipantEntry", "participant_entry"]


def participant_entry(p: Mapping[str, Any]) -> ParticipantEntry | None:
    """The normalized participant of the dict ``p`` and its observed time, or None (see the module)."""
    try:
        participant = participant_from_dict(p)
    except Irregular:
        return None
    return participant, participant_observed_time(participant), None
