"""The offsets stored in Postgres, checked against the log before the consumer loop seeks to them.

If a topic is deleted and recreated (or the cluster re-formatted) while ``consumer_offset`` keeps the old
offsets, a partition's stored offset can lie beyond its log end. Seeking there would silently drop every
new record until the new log reaches the old offset: they are "behind the fence"
(:meth:`consumer.consume.partitions.Partitions.keep_new`). So wherever :mod:`consumer.consume.pipeline`
(re)starts partitions from the stored offsets -- assignment, fence recovery, a replay -- it asks
:meth:`StoredOffsets.start_offsets`, whose contract is:

1. Read the partitions' stored offsets from Postgres (a transient failure propagates: each caller has its
   own fallback).
2. Ask the broker for the stored partitions' ``(log start, log end)``, all in one go. If it does not
   answer, they start from their stored offsets for now and stay *unchecked*:
   :meth:`StoredOffsets.recheck`, called between batches, tries again every :data:`RECHECK_SECONDS`, and
   bounded mode does not count them as done.
3. Stored offset <= log end: start there (the normal case).
4. Stored offset > log end: log an ERROR naming the partition, the offsets and the fix, then rewrite the
   stored offset to the log start, fenced on the value read in step 1 (an owner that moved it since keeps
   its move, and we start from what is stored now), count ``convstream_offset_resets_total{topic}`` and
   start from the log start. Reprocessing is safe: the fold is idempotent and unchanged rows are not
   rewritten.

A topic recreated under a running consumer causes no rebalance: the client finds its position out of range
and restarts it at the new log start (``auto.offset.reset``), so the partition delivers records behind the
fence. Such partitions are checked the same way by :meth:`StoredOffsets.recheck`, and when it rewinds any
the loop seeks its partitions to the stored offsets again.

A stored offset is never legitimately beyond the log end: it is the offset after a consumed record or an
end-of-partition position, both at most the log end (the last stable offset, for our ``read_committed``
consumer), which the broker never reports lower than before, even across leader changes (KIP-207). Only
a recreated topic or a truncated log (unclean leader election) gets there, and in both cases the log start
is the first offset not processed yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from typing import Final

from consumer.errors import ConvstreamError, TransientError
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics
from consumer.ports import TP, Source, Store

__all__ = ["RECHECK_SECONDS", "REWIND_MESSAGE", "StoredOffsets"]

log = logging.getLogger(__name__)

#: Seconds between two attempts to check partitions whose log end could not be read.
RECHECK_SECONDS: Final = 5.0

#: The ERROR logged for each rewound partition (with topic, partition, offsets and group as fields).
REWIND_MESSAGE: Final = (
    "stored offset is beyond the log end: the topic was probably recreated; "
    "reprocessing from the log start; the fold is idempotent"
)


class StoredOffsets:
    """The group's stored offsets, with stale ones beyond the log end rewound (see the module docstring).

    Single-threaded, like the loop that owns it.
    """

    def __init__(
        self,
        group_id: str,
        ports: tuple[Source, Store],
        observe: tuple[ConsumerMetrics, HealthState],
        clock: Callable[[], float],
    ) -> None:
        self._group = group_id
        self._source, self._store = ports
        self._metrics, self._health = observe
        self._clock = clock
        self._next_recheck = 0.0
        #: Partitions whose stored offset could not be compared with the log end yet.
        self.unchecked: set[TP] = set()

    def read(self, topics: Collection[str]) -> dict[TP, int]:
        """Step 1 alone: the stored offset of every partition of ``topics`` (no check)."""
        out: dict[TP, int] = {}
        for topic in sorted(topics):
            for partition, offset in self._store.stored_offsets(self._group, topic).items():
                out[(topic, partition)] = offset
        self._health.store_ok()
        return out

    def start_offsets(self, tps: Collection[TP]) -> dict[TP, int]:
        """Where ``tps`` start: their stored offsets, stale ones rewound; absent when nothing is stored.

        Raises:
            StoreUnavailableError: Postgres cannot be read or written now (step 1 or 4).
        """
        return self._checked(self._stored(tps))

    def recheck(self, owned: Collection[TP], suspects: Collection[TP] = ()) -> dict[TP, int]:
        """Check the unchecked partitions, and ``suspects``, when due; returns the ones rewound (seek them).

        Suspects are partitions that delivered records behind the fence: a topic recreated under a running
        consumer shows no rebalance, only that (the client restarts an out-of-range position at the log
        start, far behind the stored offset).
        """
        self.unchecked.update(suspects)
        self.unchecked.intersection_update(owned)
        now = self._clock()
        if not self.unchecked or now < self._next_recheck:
            return {}
        self._next_recheck = now + RECHECK_SECONDS
        try:
            before = self._stored(set(self.unchecked))
            after = self._checked(before)
        except TransientError as exc:
            log.warning("stored offsets unavailable for the log end check", extra={"error": str(exc)})
            return {}
        return {tp: offset for tp, offset in after.items() if offset != before[tp]}

    def stale(self, stored: Mapping[TP, int]) -> set[TP]:
        """The partitions whose ``stored`` offset is past the log end, or whose log end is unknown (bounded
        mode: such a stored offset of a partition another member owns does not count as done)."""
        if not stored:
            return set()
        try:
            marks = self._source.watermarks(sorted(stored))
        except ConvstreamError:
            return set(stored)
        return {tp for tp, offset in stored.items() if offset > marks[tp][1]}

    def _stored(self, tps: Collection[TP]) -> dict[TP, int]:
        """Step 1 for ``tps``: those with a stored offset (the others have nothing to check)."""
        stored = self.read({t for t, _ in tps})
        self.unchecked.difference_update(tp for tp in tps if tp not in stored)
        return {tp: stored[tp] for tp in tps if tp in stored}

    def _checked(self, stored: Mapping[TP, int]) -> dict[TP, int]:
        """Steps 2-4 for partitions with a stored offset."""
        if not stored:
            return {}
        try:
            marks = self._source.watermarks(sorted(stored))
        except ConvstreamError as exc:
            self.unchecked.update(stored)
            self._next_recheck = self._clock() + RECHECK_SECONDS
            log.warning(
                "log end unknown: starting from the stored offsets, checking again later",
                extra={"partitions": [f"{t}[{p}]" for t, p in sorted(stored)], "error": str(exc)},
            )
            return dict(stored)
        self.unchecked.difference_update(stored)
        out = dict(stored)
        for tp in sorted(stored):
            if stored[tp] > marks[tp][1]:
                rewound = self._rewind(tp, stored[tp], marks[tp])
                if rewound is None:
                    del out[tp]
                else:
                    out[tp] = rewound
        return out

    def _rewind(self, tp: TP, stored: int, marks: tuple[int, int]) -> int | None:
        """Step 4 for one partition; returns where it starts (None: its row vanished meanwhile)."""
        (topic, partition), (low, high) = tp, marks
        fields = {"consumergroup": self._group, "topic": topic, "partition": partition}
        offsets = {"stored_offset": stored, "log_start": low, "log_end": high}
        log.error(REWIND_MESSAGE, extra={**fields, **offsets})
        if self._store.reset_offset(self._group, topic, partition, stored, low):
            self._metrics.offset_resets.labels(topic).inc()
            return low
        # Another consumer moved it since we read it (we are losing the partition): its move stands.
        now = self._store.stored_offsets(self._group, topic).get(partition)
        log.warning("stored offset moved concurrently; not rewound", extra={**fields, "stored_offset": now})
        return now
