"""Bounded mode (``convstream consume --until-end``, SPEC §6.5): are all captured end offsets committed?"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from consumer.adapters.kafka_consumer import TP
from consumer.errors import TransientError
from consumer.partitions import Partitions

__all__ = ["EndWatch"]


class EndWatch:
    """Whether every partition's committed offset reached the end offset captured at start.

    Partitions this process owns are checked from its own commits; partitions another group member owns
    are checked from the offsets stored in Postgres, at most once a second.
    """

    def __init__(
        self,
        end_offsets: Mapping[TP, int],
        parts: Partitions,
        stored_offsets: Callable[[set[str]], dict[TP, int]],
        clock: Callable[[], float],
    ) -> None:
        self.end_offsets = end_offsets
        self._parts = parts
        self._stored_offsets = stored_offsets
        self._clock = clock
        self._remote: dict[TP, int] = {}
        self._next_remote_check = 0.0

    def reached(self) -> bool:
        """True once every end offset is committed (a transient store failure answers False)."""
        missing = []
        for tp, end in self.end_offsets.items():
            state = self._parts.owned.get(tp)
            committed = state.committed if state is not None else self._remote.get(tp)
            if end > 0 and (committed is None or committed < end):
                if state is not None:
                    return False
                missing.append(tp)
        if not missing:
            return True
        now = self._clock()
        if now >= self._next_remote_check:  # partitions another member owns: ask Postgres
            self._next_remote_check = now + 1.0
            try:
                self._remote.update(self._stored_offsets({t for t, _ in missing}))
            except TransientError:
                return False
        return all(self._remote.get(tp, -1) >= self.end_offsets[tp] for tp in missing)
