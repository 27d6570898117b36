"""Bounded mode (``convstream consume --until-end``): are all captured end offsets committed?"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from consumer.consume.partitions import Partitions
from consumer.consume.pipeline_offsets import StoredOffsets
from consumer.errors import TransientError
from consumer.ports import TP

__all__ = ["EndWatch"]


class EndWatch:
    """Whether every partition's committed offset reached the end offset captured at start.

    Partitions this process owns are checked from its own commits; partitions another group member owns
    are checked from the offsets stored in Postgres, at most once a second. A stored offset beyond the log
    end is not progress but a stale one of a recreated topic (:mod:`consumer.consume.pipeline_offsets`): it
    does not count until its owner rewound it, nor does an owned partition whose log end is not checked yet.
    """

    def __init__(
        self,
        end_offsets: Mapping[TP, int],
        parts: Partitions,
        offsets: StoredOffsets,
        clock: Callable[[], float],
    ) -> None:
        self.end_offsets = end_offsets
        self._parts = parts
        self._offsets = offsets
        self._clock = clock
        self._remote: dict[TP, int] = {}
        self._next_remote_check = 0.0

    def reached(self) -> bool:
        """True once every end offset is committed (a transient store failure answers False)."""
        missing = []
        for tp, end in self.end_offsets.items():
            state = self._parts.owned.get(tp)
            committed = state.committed if state is not None else self._remote.get(tp)
            if state is not None and tp in self._offsets.unchecked:
                return False
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
                stored = self._offsets.read({t for t, _ in missing})
            except TransientError:
                return False
            self._remote.update(stored)
            # Only a would-be "done" costs a watermark query; the log end is read after the stored offset,
            # so a legitimate stored offset is never beyond it.
            done = {tp: stored[tp] for tp in missing if stored.get(tp, -1) >= self.end_offsets[tp]}
            for tp in self._offsets.stale(done):
                del self._remote[tp]
        return all(self._remote.get(tp, -1) >= self.end_offsets[tp] for tp in missing)
