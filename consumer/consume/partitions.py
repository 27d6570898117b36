"""What the consumer knows about each partition it owns: the fence offset, the end, the lag.

``committed`` is the next offset stored in Postgres for the partition, i.e. the ``start_offset`` the next
batch must present to the fence; None while unknown (no row yet, or Postgres could not be read at
assignment), in which case the batch's first record offset is presented and the fence decides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from consumer.ports import TP, PartitionAdvance, Record

__all__ = ["PartitionState", "Partitions"]


@dataclass(slots=True)
class PartitionState:
    """One owned partition.

    Attributes:
        committed: next offset committed in Postgres (the fence start); None when unknown.
        end: the highest end offset seen (high watermark, EOF position, or last record + 1).
        pending_since: Kafka timestamp (ms) of the oldest record fetched but not committed yet.
        last_committed_ts: Kafka timestamp (ms) of the last committed record.
        eof: the offset at which the partition last reported end-of-partition.
        delivered: the offset after the last record handed to the pipeline (None: none since assignment).
    """

    committed: int | None = None
    end: int | None = None
    pending_since: int | None = None
    last_committed_ts: int | None = None
    eof: int | None = None
    delivered: int | None = None


class Partitions:
    """The partitions this process owns and their offsets."""

    def __init__(self) -> None:
        self.owned: dict[TP, PartitionState] = {}
        # Partitions that delivered records behind the fence since :meth:`take_behind`. Usually stale
        # deliveries around a seek; but also what a topic recreated under a running consumer looks like
        # (the client restarts the out-of-range position at the new log start), so the pipeline has their
        # log end checked (consumer.consume.pipeline_offsets).
        self._behind: set[TP] = set()

    def assign(self, tps: Iterable[TP], stored: Mapping[TP, int]) -> None:
        """Own ``tps``, starting from the Postgres offsets in ``stored`` (absent: unknown)."""
        for tp in tps:
            self.owned[tp] = PartitionState(committed=stored.get(tp))

    def release(self, tps: Iterable[TP]) -> None:
        """Forget ``tps`` (revoked or lost)."""
        for tp in tps:
            self.owned.pop(tp, None)

    def reset(self, tp: TP, committed: int | None) -> None:
        """After a seek to the stored offset: nothing is pending any more.

        The end-of-partition position seen before the seek is forgotten: after a seek *back* (a replay
        lowered the stored offset) the records between the new position and that old EOF are real
        records to consume, not transaction markers that :meth:`eof_advances` may commit past.
        """
        state = self.owned.get(tp)
        if state is not None:
            state.committed = committed
            state.pending_since = None
            state.delivered = None
            state.eof = None

    def keep_new(self, records: Sequence[Record]) -> list[Record]:
        """Records of owned partitions not already committed (a delivery behind the fence is dropped)."""
        owned = self.owned
        out = [r for r in records if r.tp in owned]
        if any(r.offset < (owned[r.tp].committed or 0) for r in out):
            self._behind.update(r.tp for r in out if r.offset < (owned[r.tp].committed or 0))
            out = [r for r in out if r.offset >= (owned[r.tp].committed or 0)]
        return out

    def take_behind(self) -> set[TP]:
        """The partitions that delivered records behind the fence since the last call."""
        behind, self._behind = self._behind, set()
        return behind

    def seen(self, records: Sequence[Record]) -> None:
        """Note the oldest pending timestamp and the end offset implied by fetched records."""
        owned = self.owned
        for r in records:
            state = owned.get(r.tp)
            if state is None:
                continue
            if state.pending_since is None and r.timestamp >= 0:
                state.pending_since = r.timestamp
            state.delivered = r.offset + 1
            if state.end is None or r.offset + 1 > state.end:
                state.end = r.offset + 1

    def note_eofs(self, eofs: Mapping[TP, int]) -> None:
        """Record end-of-partition positions."""
        for tp, offset in eofs.items():
            state = self.owned.get(tp)
            if state is not None:
                state.eof = offset
                if state.end is None or offset > state.end:
                    state.end = offset

    def advances(self, records: Sequence[Record]) -> list[PartitionAdvance]:
        """The fenced offset moves of a batch: ``[committed, last delivered + 1)`` per partition.

        The end is the last record's offset in delivery order (not the maximum), so a stale delivery that
        precedes a seek can never move the offset past records not processed yet.
        """
        first: dict[TP, int] = {}
        last: dict[TP, int] = {}
        for r in records:
            tp = r.tp
            if tp not in first:
                first[tp] = r.offset
            last[tp] = r.offset
        out = []
        for tp, offset in last.items():
            committed = self.owned[tp].committed
            start = committed if committed is not None else first[tp]
            out.append(PartitionAdvance(tp[0], tp[1], start, max(offset + 1, start)))
        return out

    def eof_advances(self, exclude: Iterable[TP] = ()) -> list[PartitionAdvance]:
        """Offset moves for partitions whose end-of-partition lies past the committed offset.

        Only transaction markers (or compacted-away records) sit there, so committing them is what lets
        a bounded run see the partition as done. A partition with delivered records not committed yet is
        left alone (they must be committed by their own batch first).
        """
        skip = set(exclude)
        out = []
        for tp, state in self.owned.items():
            if tp in skip or state.eof is None:
                continue
            if state.delivered is not None and (state.committed is None or state.committed < state.delivered):
                continue
            if state.committed is None or state.eof > state.committed:
                start = state.committed if state.committed is not None else state.eof
                out.append(PartitionAdvance(tp[0], tp[1], start, state.eof))
        return out

    def committed_batch(self, advances: Sequence[PartitionAdvance], last_ts: Mapping[TP, int]) -> None:
        """After the Postgres commit: the fence offsets moved; nothing of theirs is pending."""
        for a in advances:
            state = self.owned.get((a.topic, a.partition))
            if state is None:
                continue
            state.committed = a.next_offset
            state.pending_since = None
            ts = last_ts.get((a.topic, a.partition))
            if ts is not None and ts >= 0:
                state.last_committed_ts = ts

    def lag(self, tp: TP, now_ms: int, high: int | None) -> tuple[int, float]:
        """``(records, seconds)`` of one owned partition (see ``observability.metrics``)."""
        state = self.owned[tp]
        if high is not None and (state.end is None or high > state.end):
            state.end = high
        if state.end is None or state.committed is None:
            return 0, 0.0
        records = max(0, state.end - state.committed)
        if records == 0:
            return 0, 0.0
        since = state.pending_since if state.pending_since is not None else state.last_committed_ts
        return records, 0.0 if since is None else max(0.0, (now_ms - since) / 1000.0)
