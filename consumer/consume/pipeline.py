"""The consumer loop (README "How it works"): Kafka -> decode -> fold -> Postgres, exactly-once effects.

Delivery contract of one batch (:meth:`Pipeline._run_batch`, steps in code order):

1. Poll a batch: records until N events, B bytes or T ms after the first one, whichever comes first
   (``ConsumerSettings.batch_max_*``). Records of partitions not owned any more, or behind the offset
   committed in Postgres, are dropped.
2. Set aside the records already folded into their conversation's stored row (exact re-deliveries: a
   replay with unchanged logic, a duplicate publish; :mod:`consumer.consume.known`), without decoding them.
   Decode the others (writer schemas cached by id). Poison records (not framed, unknown schema id after
   a successful registry lookup, undecodable body, semantically invalid) are set aside; the others are
   grouped per conversation.
3. Load the batch's conversation states from Postgres with each row's version, fold each conversation's
   events (a fold that raises makes that record poison, the rest still applies), derive the rows (queue
   names only as events carried them), keep only changed ones; each keeps its folded records' digests.
   Records whose key is not their conversation id (null key, another partitioner) are folded like the
   others, counted (``convstream_misrouted_records_total``) and warned about once per partition.
4. Produce the poison records to the dead-letter topic and wait for their acknowledgement; each one whose
   conversation id is known becomes an error mark on that conversation.
5. One Postgres transaction: the queue-topic entries (directory upsert and refresh of the rows showing a
   directory name), changed rows (directory queue names resolved in SQL, under per-queue advisory locks),
   error marks and each partition's offset moved with the fenced conditional update. After the fence the
   transaction locks every conversation of the batch and checks that no row changed since step 3 (one
   conversation's records may sit in several partitions, folded by several consumers at once): a changed
   one raises :class:`ConcurrentFoldError`, everything rolls back and the batch starts again at step 2
   from the fresh state (immediately, then with backoff) -- no fold is ever lost. A failed fence
   (:class:`FencedError`) rolls it all back: the batch is dropped, the partitions are sought back to the
   offsets stored in Postgres (checked against the log end, see below), nothing is written. If Postgres
   rejects values of some conversations or queues (a non-transient :class:`StoreError`), those are
   isolated by splitting, their records of this batch dead-lettered (acknowledged first) with an error
   mark, and the rest is written with the offsets (:func:`consumer.consume.pipeline_isolate.write_isolating`).
6. After the commit, mirror the same offsets to Kafka with an asynchronous commit (lag tools, KEDA).
7. Record the metrics.

Transient errors (broker, registry, Postgres unavailable; serialization failure; deadlock) in steps 2-5
pause the owned partitions and retry the same batch with capped exponential backoff, polling meanwhile
so the group membership stays alive, then resume: never dead-lettered, never skipped. A rebalance during
the retries abandons the revoked partitions' records (the fence would refuse them anyway).

On assignment, partitions start at the offsets stored in Postgres (else Kafka's committed offset, then
``auto.offset.reset``). There, after a fence, after a replay, and when a partition delivers records behind
its stored offset, a stored offset beyond the partition's log end (the topic was recreated) is rewritten
to the log start, fenced, and counted (:mod:`consumer.consume.pipeline_offsets`): seeking to it would skip
every new record up to the old offset. The wedge watchdog raises :class:`WedgedError` (exit 5) when no poll
succeeded, or no batch committed while lag > 0, for ``wedge_timeout_seconds``; ``/livez`` turns 503 first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from consumer.consume.batching import (
    Digests,
    EventDecoder,
    WriterSchemas,
    decode_records,
    fold_batch,
)
from consumer.consume.bounded import EndWatch
from consumer.consume.dlq import Poison
from consumer.consume.known import conversation_keys, split_known
from consumer.consume.partitions import Partitions
from consumer.consume.pipeline_isolate import write_isolating
from consumer.consume.pipeline_offsets import StoredOffsets
from consumer.consume.pipeline_support import (
    BatchOutcome,
    MisroutedWarnings,
    PipelineConfig,
    Sink,
    Totals,
    dependency_label,
    record_batch,
)
from consumer.consume.watchdog import Watchdog
from consumer.domain import fold_logic_version
from consumer.errors import (
    BrokerUnavailableError,
    ConcurrentFoldError,
    ConvstreamError,
    FencedError,
    TransientError,
)
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics
from consumer.ports import TP, BatchWrite, ErrorMark, Record, Source

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)

#: Fold conflicts retried at once (no pause, no backoff) before they count as a transient failure: a
#: conflict means another batch committed, so the next attempt reads a newer state and usually wins.
_IMMEDIATE_CONFLICT_RETRIES = 5


class _Abandoned(Exception):
    """Shutdown grace ran out while retrying; the batch is dropped uncommitted (safe: redelivered)."""


@dataclass(slots=True)
class _Attempt:
    """State that survives the retries of one batch."""

    started: float
    dead_lettered: set[tuple[TP, int]]


class Pipeline:
    """The consumer loop; also the :class:`~consumer.ports.RebalanceListener`.

    Single-threaded: everything but :meth:`stop` runs in the thread that calls :meth:`run`.
    """

    def __init__(
        self,
        source: Source,
        sink: Sink,
        decoders: tuple[EventDecoder, WriterSchemas],
        config: PipelineConfig,
        observe: tuple[ConsumerMetrics, HealthState],
        *,
        clocks: tuple[Callable[[], float], Callable[[], float]] = (time.monotonic, time.time),
        replay_changed: Callable[[], bool] | None = None,
    ) -> None:
        self._source = source
        # A coordinated replay moved the stored offsets (consumer.consume.replay_watch.ReplayWatch.changed).
        self._replay_changed = replay_changed
        self._replay_pending = False
        self._store = sink.store
        self._dlq = sink.dead_letters
        self._decode_event, self._writer_schemas = decoders
        self.config = config
        self._metrics, self._health = observe
        self._clock, self._wall = clocks
        self._parts = Partitions()
        self._misrouted = MisroutedWarnings()
        self._inflight: list[Record] = []
        self._carry: list[Record] = []
        self._stop = threading.Event()
        self._stop_deadline = float("inf")
        self._watchdog = Watchdog(config, self._parts, source, observe, clocks)
        self._offsets = StoredOffsets(config.group_id, (source, sink.store), observe, self._clock)
        self.totals = Totals()

    # -- control -----------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop fetching; the current batch is finished and committed (safe from a signal handler)."""
        if not self._stop.is_set():
            self._stop_deadline = self._clock() + self.config.shutdown_grace_seconds
            self._stop.set()

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stop.is_set()

    def run(self, end_offsets: Mapping[TP, int] | None = None) -> Totals:
        """Consume until :meth:`stop` (or, in bounded mode, until every ``end_offsets`` is committed).

        Raises:
            WedgedError: the watchdog fired.
            ConvstreamError: a non-transient failure (bad SQL, fatal Kafka error, …).
        """
        watch = (
            None if end_offsets is None else EndWatch(end_offsets, self._parts, self._offsets, self._clock)
        )
        self._source.subscribe([self.config.events_topic, self.config.queues_topic], self)
        try:
            while not self._stop.is_set():
                self._tick()
                if watch is not None and watch.reached():
                    log.info("end offsets reached", extra={"partitions": len(watch.end_offsets)})
                    break
        finally:
            self._close()
        return self.totals

    def _tick(self) -> None:
        if self._replay_pending or (self._replay_changed is not None and self._replay_changed()):
            self._obey_replay()
        elif self._offsets.recheck(self._parts.owned, self._parts.take_behind()):  # rewound: seek there
            self._obey_replay("sought to the rewound offsets")
        records = self._poll()
        eof_moves = self._parts.eof_advances()
        if records or eof_moves:
            self._process(records)
        self._watchdog.tick(busy=False)

    # -- Step 1 ------------------------------------------------------------------------------------

    def _poll(self) -> list[Record]:
        c = self.config
        try:
            fresh = self._source.poll_batch(c.batch_max_events, c.batch_max_bytes, c.batch_max_ms)
        except BrokerUnavailableError as exc:
            log.warning("kafka unavailable", extra={"error": str(exc)})
            fresh = []
        else:
            self._health.poll_ok()
        self._parts.note_eofs(self._source.take_eofs())
        carried, self._carry = self._carry, []
        records = self._parts.keep_new(carried + fresh if carried else fresh)
        self._parts.seen(records)
        return records

    # -- one batch, with retries -------------------------------------------------------------------

    def _process(self, records: list[Record]) -> None:
        self._inflight = records
        self._health.batch_begins()
        attempt = _Attempt(self._clock(), set())
        paused: list[TP] = []
        fenced = False
        failures = conflicts = 0
        try:
            while True:
                try:
                    if fenced:
                        self._recover_fence()
                    else:
                        self._run_batch(attempt)
                    return
                except FencedError as exc:
                    log.warning("batch fenced: another consumer owns a partition", extra={"error": str(exc)})
                    fenced = True
                except ConcurrentFoldError as exc:
                    conflicts += 1
                    self._metrics.fold_conflicts.inc()
                    log.info("fold conflict; folding the batch again", extra={"error": str(exc)})
                    if conflicts > _IMMEDIATE_CONFLICT_RETRIES:
                        paused = paused or self._pause()
                        self._backoff(failures, exc)
                        failures += 1
                except TransientError as exc:
                    paused = paused or self._pause()
                    self._backoff(failures, exc)
                    failures += 1
        except _Abandoned:
            log.warning(
                "shutdown grace exceeded; batch abandoned uncommitted", extra={"records": len(records)}
            )
        finally:
            self._inflight = []
            self._health.batch_ends()
            if paused:
                self._source.resume([tp for tp in paused if tp in self._parts.owned])

    def _run_batch(self, attempt: _Attempt) -> None:
        records = self._inflight
        # Step 2. Set aside records already folded into their stored rows; decode the rest (poison aside).
        c = self.config
        keys = conversation_keys(records, c.events_topic)
        version = fold_logic_version()
        stored = self._store.load_folded_digests(keys, version)
        known = split_known(records, stored, c.events_topic)
        decoded = decode_records(known.fresh, self._decode_event, self._writer_schemas, c.queues_topic)
        # Step 3. Load states, fold per conversation, derive and keep the changed rows.
        unkeyed = decoded.events.keys() - set(keys)  # keys that are not their body's conversation id
        if unkeyed:
            stored |= self._store.load_folded_digests(sorted(unkeyed), version)
        loaded = self._store.load_states_versioned(list(decoded.events))
        self._health.store_ok()
        folded = fold_batch(loaded.states, decoded, Digests(known.digests, stored))
        versions = {cid: loaded.versions.get(cid) for cid in decoded.events}
        poisons = decoded.poisons + folded.poisons
        # Step 4. Dead letters acknowledged before any offset passes them.
        self._send_dead_letters(poisons, attempt)
        marks = self._error_marks(poisons)
        # Step 5. One transaction: queue entries, rows, error marks, fenced offsets (isolating rejects).
        advances = self._parts.advances(records)
        advances += self._parts.eof_advances(exclude={(a.topic, a.partition) for a in advances})
        queues = list(decoded.queues.values())
        batch = BatchWrite(self.config.group_id, advances, folded.writes, marks, queues, versions)
        result, rejected = write_isolating(
            self._store, batch, decoded, lambda p: self._send_dead_letters(p, attempt), self._now_ms
        )
        poisons += rejected
        committed_at = self._wall()
        # Step 6. Mirror the committed offsets to Kafka.
        self._parts.committed_batch(advances, _last_timestamps(records))
        self._source.commit_async({(a.topic, a.partition): a.next_offset for a in advances})
        # Step 7. Metrics.
        self._record(
            BatchOutcome(
                events=len(records),
                skipped=decoded.skipped,
                poisons=poisons,
                result=result,
                unchanged=result.unchanged + folded.unchanged,
                newest_event=folded.newest_event,
                duration=self._clock() - attempt.started,
                committed_at=committed_at,
                already_folded=known.already_folded,
                misrouted=decoded.misrouted,
            )
        )
        self._misrouted.note(decoded.misrouted, log)

    def _send_dead_letters(self, poisons: Sequence[Poison], attempt: _Attempt) -> None:
        todo = [p for p in poisons if (p.record.tp, p.record.offset) not in attempt.dead_lettered]
        self._dlq.send(todo)
        attempt.dead_lettered.update((p.record.tp, p.record.offset) for p in todo)

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def _error_marks(self, poisons: Sequence[Poison]) -> list[ErrorMark]:
        now_ms = self._now_ms()
        return [
            ErrorMark(p.conversation_id, p.description, now_ms)
            for p in poisons
            if p.conversation_id is not None and p.record.topic == self.config.events_topic
        ]

    def _record(self, outcome: BatchOutcome) -> None:
        record_batch(self._metrics, outcome)
        self.totals.add(outcome)
        self._health.progress()

    # -- failures ----------------------------------------------------------------------------------

    def _pause(self) -> list[TP]:
        owned = list(self._parts.owned)
        try:
            self._source.pause(owned)
        except ConvstreamError as exc:
            log.warning("pause failed", extra={"error": str(exc)})
        return owned

    def _backoff(self, failures: int, exc: TransientError) -> None:
        """Wait before the next attempt, polling the (paused) consumer to stay in the group."""
        c = self.config
        delay = min(c.retry_max_seconds, c.retry_initial_seconds * (2**failures))
        self._metrics.retries.labels(dependency_label(exc)).inc()
        log.warning(
            "transient failure; retrying the batch",
            extra={"error": str(exc), "error_class": type(exc).__name__, "retry_in_seconds": delay},
        )
        deadline = self._clock() + delay
        while True:
            if self._stop.is_set() and self._clock() >= self._stop_deadline:
                raise _Abandoned
            remaining = deadline - self._clock()
            if remaining <= 0 or not self._inflight:
                return
            self._keep_alive(min(remaining, 0.5))
            self._watchdog.tick(busy=True)

    def _keep_alive(self, seconds: float) -> None:
        try:
            fresh = self._source.poll_batch(self.config.batch_max_events, self.config.batch_max_bytes,
                                            max(1, int(seconds * 1000)))  # fmt: skip
        except BrokerUnavailableError:
            return
        self._health.poll_ok()
        self._carry.extend(fresh)  # fetched before the pause took effect: next batch

    def _recover_fence(self) -> None:
        """Seek the fenced batch's partitions back to the offsets stored in Postgres; drop the batch."""
        tps = sorted({r.tp for r in self._inflight} | {tp for tp, s in self._parts.owned.items() if s.eof})
        tps = [tp for tp in tps if tp in self._parts.owned]
        stored = self._offsets.start_offsets(tps)
        for tp in tps:
            offset = stored.get(tp)
            if offset is not None:
                try:
                    self._source.seek(tp, offset)
                except BrokerUnavailableError:
                    raise
                except ConvstreamError as exc:  # being revoked right now: the new owner seeks itself
                    log.warning("seek after fence failed", extra={"partition": tp[1], "error": str(exc)})
            self._parts.reset(tp, offset)
        dropped = set(tps)
        self._carry = [r for r in self._carry if r.tp not in dropped]
        self._inflight = []

    def _obey_replay(self, what: str = "sought to the replayed offsets") -> None:
        """A replay rewrote the stored offsets (or a late log end check rewound some): drop what was
        fetched, seek every owned partition there.

        Runs between batches (nothing in flight); a batch that was in flight when the replay committed
        already failed its fence and sought back (:meth:`_recover_fence`).
        """
        self._replay_pending = True  # until done: a transient failure retries at the next tick
        tps = sorted(self._parts.owned)
        try:
            stored = self._offsets.start_offsets(tps)
        except TransientError as exc:
            log.warning("stored offsets unavailable after a replay", extra={"error": str(exc)})
            return
        self._replay_pending = False
        for tp in tps:
            if tp in stored:
                try:
                    self._source.seek(tp, stored[tp])
                except ConvstreamError as exc:  # e.g. fetch not started yet: try again next tick
                    log.warning("seek after replay failed", extra={"partition": tp[1], "error": str(exc)})
                    self._replay_pending = True
                    continue
                self._parts.reset(tp, stored[tp])
        self._carry = []
        moved = [tp for tp in tps if tp in stored]
        log.info(what, extra={"partitions": _names(moved)})

    # -- rebalance listener ------------------------------------------------------------------------

    def on_assign(self, partitions: Sequence[TP]) -> Mapping[TP, int]:
        """Start new partitions at their stored offsets, checked against the log end (else Kafka's)."""
        self._health.joined = True
        if not partitions:
            return {}
        self._metrics.rebalances.inc()
        try:
            stored = self._offsets.start_offsets(partitions)
        except TransientError as exc:
            # The fence still protects: a batch from the wrong offset fails it and seeks back.
            log.warning("stored offsets unavailable at assignment", extra={"error": str(exc)})
            stored = {}
        positions = {tp: stored[tp] for tp in partitions if tp in stored}
        self._parts.assign(partitions, positions)
        self._assigned_changed()
        log.info("partitions assigned", extra={"partitions": _names(partitions), "positions": len(positions)})
        return positions

    def on_revoke(self, partitions: Sequence[TP]) -> None:
        """Abandon the in-flight records of revoked partitions, then release them."""
        self._release(partitions, "revoked")

    def on_lost(self, partitions: Sequence[TP]) -> None:
        """Same as a revoke: the fence refuses anything we would still write for them."""
        self._release(partitions, "lost")

    def _release(self, partitions: Sequence[TP], how: str) -> None:
        if not partitions:
            return
        self._metrics.rebalances.inc()
        gone = set(partitions)
        self._inflight = [r for r in self._inflight if r.tp not in gone]
        self._carry = [r for r in self._carry if r.tp not in gone]
        self._parts.release(gone)
        for topic, partition in gone:
            self._metrics.drop_lag(self.config.group_id, topic, partition)
        self._assigned_changed()
        log.info(f"partitions {how}", extra={"partitions": _names(partitions)})

    def _assigned_changed(self) -> None:
        count = len(self._parts.owned)
        self._metrics.assigned_partitions.set(count)
        self._health.assigned = count

    # -- shutdown ----------------------------------------------------------------------------------

    def _close(self) -> None:
        final = {tp: s.committed for tp, s in self._parts.owned.items() if s.committed is not None}
        self._source.commit_async(final, wait=True)
        self._source.close()
        log.info("consumer closed", extra=self.totals.as_fields())


def _last_timestamps(records: Sequence[Record]) -> dict[TP, int]:
    return {r.tp: r.timestamp for r in records}


def _names(partitions: Sequence[TP] | set[TP]) -> list[str]:
    return [f"{t}[{p}]" for t, p in sorted(partitions)]
