"""The consumer loop (SPEC §5, §6): Kafka -> decode -> fold -> Postgres, exactly-once effects.

Delivery contract of one batch (:meth:`Pipeline._run_batch`, steps in code order):

1. Poll a batch: records until N events, B bytes or T ms after the first one, whichever comes first
   (``ConsumerSettings.batch_max_*``). Records of partitions not owned any more, or behind the offset
   committed in Postgres, are dropped.
2. Decode each record (writer schemas cached by id). Poison records (not framed, unknown schema id after
   a successful registry lookup, undecodable body, semantically invalid) are set aside; the others are
   grouped per conversation.
3. Load the batch's conversation states from Postgres, fold each conversation's events (a fold that
   raises makes that record poison, the rest still applies), derive the rows, keep only changed ones;
   queue-topic records update the queue directory.
4. Produce the poison records to the dead-letter topic and wait for their acknowledgement; each one whose
   conversation id is known becomes an error mark on that conversation.
5. One Postgres transaction: changed rows, error marks and each partition's offset moved with the fenced
   conditional update. A failed fence (:class:`FencedError`) rolls it all back: the batch is dropped, the
   partitions are sought back to the offsets stored in Postgres, nothing is written.
6. After the commit, mirror the same offsets to Kafka with an asynchronous commit (lag tools, KEDA).
7. Record the metrics.

Transient errors (broker, registry, Postgres unavailable; serialization failure; deadlock) in steps 2-5
pause the owned partitions and retry the same batch with capped exponential backoff, polling meanwhile
so the group membership stays alive, then resume: never dead-lettered, never skipped. A rebalance during
the retries abandons the revoked partitions' records (the fence would refuse them anyway).

On assignment, partitions start at the offsets stored in Postgres (else Kafka's committed offset, then
``auto.offset.reset``). The wedge watchdog raises :class:`WedgedError` (exit 5) when no poll succeeded,
or no batch committed while lag > 0, for ``wedge_timeout_seconds``; ``/livez`` turns 503 first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from consumer.adapters.kafka_consumer import TP, Record
from consumer.adapters.postgres_types import BatchWrite, ErrorMark, WriteResult
from consumer.batching import (
    DecodedBatch,
    EventDecoder,
    FoldedBatch,
    WriterSchemas,
    decode_records,
    fold_batch,
)
from consumer.dlq import Poison
from consumer.errors import (
    BrokerUnavailableError,
    ConvstreamError,
    FencedError,
    RegistryUnavailableError,
    TransientError,
)
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics
from consumer.partitions import Partitions
from consumer.pipeline_support import (
    BatchOutcome,
    PipelineConfig,
    QueueNames,
    Sink,
    Source,
    Totals,
    record_batch,
)
from consumer.watchdog import Watchdog

__all__ = ["Pipeline"]

log = logging.getLogger(__name__)


class _Abandoned(Exception):
    """Shutdown grace ran out while retrying; the batch is dropped uncommitted (safe: redelivered)."""


@dataclass(slots=True)
class _Attempt:
    """State that survives the retries of one batch."""

    started: float
    dead_lettered: set[tuple[TP, int]]


class Pipeline:
    """The consumer loop; also the :class:`~consumer.adapters.kafka_consumer.RebalanceListener`.

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
    ) -> None:
        self._source = source
        self._store = sink.store
        self._dlq = sink.dead_letters
        self._decode_event, self._writer_schemas = decoders
        self.config = config
        self._metrics, self._health = observe
        self._clock, self._wall = clocks
        self._parts = Partitions()
        self._queues = QueueNames(self._store, config.queue_name_ttl_seconds, self._clock)
        self._inflight: list[Record] = []
        self._carry: list[Record] = []
        self._stop = threading.Event()
        self._stop_deadline = float("inf")
        self._watchdog = Watchdog(config, self._parts, source, observe, clocks)
        self._remote: dict[TP, int] = {}
        self._next_remote_check = 0.0
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
        self._source.subscribe([self.config.events_topic, self.config.queues_topic], self)
        try:
            while not self._stop.is_set():
                self._tick()
                if end_offsets is not None and self._reached(end_offsets):
                    log.info("end offsets reached", extra={"partitions": len(end_offsets)})
                    break
        finally:
            self._close()
        return self.totals

    def _tick(self) -> None:
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
        attempt = _Attempt(self._clock(), set())
        paused: list[TP] = []
        fenced = False
        failures = 0
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
            if paused:
                self._source.resume([tp for tp in paused if tp in self._parts.owned])

    def _run_batch(self, attempt: _Attempt) -> None:
        records = self._inflight
        # Step 2. Decode; poison records are set aside.
        decoded = decode_records(records, self._decode_event, self._writer_schemas, self.config.queues_topic)
        # Step 3. Load states, fold per conversation, derive and keep the changed rows.
        states = self._store.load_states(list(decoded.events))
        self._health.store_ok()
        folded = fold_batch(states, decoded, self._queues.directory(decoded.queues.values()))
        self._queues.fill(folded)
        poisons = decoded.poisons + folded.poisons
        # Step 4. Dead letters acknowledged before any offset passes them.
        self._send_dead_letters(poisons, attempt)
        marks = self._error_marks(poisons)
        # Step 5. One transaction: rows, error marks, fenced offsets.
        if decoded.queues:
            self._store.upsert_queues(list(decoded.queues.values()))
        advances = self._parts.advances(records)
        advances += self._parts.eof_advances(exclude={(a.topic, a.partition) for a in advances})
        result = self._store.write_batch(BatchWrite(self.config.group_id, advances, folded.writes, marks))
        committed_at = self._wall()
        # Step 6. Mirror the committed offsets to Kafka.
        self._parts.committed_batch(advances, _last_timestamps(records))
        self._source.commit_async({(a.topic, a.partition): a.next_offset for a in advances})
        # Step 7. Metrics.
        self._record(records, decoded, folded, poisons, result, attempt, committed_at)

    def _send_dead_letters(self, poisons: Sequence[Poison], attempt: _Attempt) -> None:
        todo = [p for p in poisons if (p.record.tp, p.record.offset) not in attempt.dead_lettered]
        self._dlq.send(todo)
        attempt.dead_lettered.update((p.record.tp, p.record.offset) for p in todo)

    def _error_marks(self, poisons: Sequence[Poison]) -> list[ErrorMark]:
        now_ms = int(self._wall() * 1000)
        return [
            ErrorMark(p.conversation_id, p.description, now_ms)
            for p in poisons
            if p.conversation_id is not None and p.record.topic == self.config.events_topic
        ]

    def _record(
        self,
        records: Sequence[Record],
        decoded: DecodedBatch,
        folded: FoldedBatch,
        poisons: Sequence[Poison],
        result: WriteResult,
        attempt: _Attempt,
        committed_at: float,
    ) -> None:
        outcome = BatchOutcome(
            events=len(records),
            skipped=decoded.skipped,
            poisons=poisons,
            result=result,
            unchanged=result.unchanged + folded.unchanged,
            newest_event=folded.newest_event,
            duration=self._clock() - attempt.started,
            committed_at=committed_at,
        )
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
        self._metrics.retries.labels(_dependency(exc)).inc()
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
        stored = self._stored_offsets({t for t, _ in tps})
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

    def _stored_offsets(self, topics: set[str]) -> dict[TP, int]:
        out: dict[TP, int] = {}
        for topic in sorted(topics):
            for partition, offset in self._store.stored_offsets(self.config.group_id, topic).items():
                out[(topic, partition)] = offset
        self._health.store_ok()
        return out

    # -- rebalance listener ------------------------------------------------------------------------

    def on_assign(self, partitions: Sequence[TP]) -> Mapping[TP, int]:
        """Start new partitions at the offsets stored in Postgres (fallback: Kafka, then the reset)."""
        self._health.joined = True
        if not partitions:
            return {}
        self._metrics.rebalances.inc()
        try:
            stored = self._stored_offsets({t for t, _ in partitions})
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

    # -- lag, watchdog, bounded mode, shutdown ------------------------------------------------------

    def _reached(self, end_offsets: Mapping[TP, int]) -> bool:
        missing = []
        for tp, end in end_offsets.items():
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
        return all(self._remote.get(tp, -1) >= end_offsets[tp] for tp in missing)

    def _close(self) -> None:
        final = {tp: s.committed for tp, s in self._parts.owned.items() if s.committed is not None}
        self._source.commit_async(final, wait=True)
        self._source.close()
        log.info("consumer closed", extra=self.totals.as_fields())


def _last_timestamps(records: Sequence[Record]) -> dict[TP, int]:
    return {r.tp: r.timestamp for r in records}


def _dependency(exc: TransientError) -> str:
    if isinstance(exc, BrokerUnavailableError):
        return "broker"
    if isinstance(exc, RegistryUnavailableError):
        return "registry"
    return "store"


def _names(partitions: Sequence[TP] | set[TP]) -> list[str]:
    return [f"{t}[{p}]" for t, p in sorted(partitions)]
