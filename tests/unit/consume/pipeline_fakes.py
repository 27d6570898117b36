"""Fakes for the consumer pipeline's ports (unit tests only): Kafka source, Postgres store, DLQ.

Every fake appends to one shared ``log`` so tests can assert the order of effects across them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from consumer.codec.avro import encode_event
from consumer.codec.schemas import CONVERSATION_EVENT, AvroSchema, current
from consumer.codec.wire import frame
from consumer.consume.dlq import Poison
from consumer.domain import ConversationEvent, ConversationState, DetailEvent
from consumer.errors import ConcurrentFoldError, FencedError, StoreError, UnknownSchemaError
from consumer.ports import (
    TP,
    BatchWrite,
    QueueInfo,
    RebalanceListener,
    Record,
    StoredStates,
    Unwritable,
    WriteResult,
)

EVENTS = "events"
QUEUES = "queues"
SCHEMA_ID = 1
T0 = 1_735_725_600_000


def make_event(cid: str, n: int, kind: str = "customer.start") -> ConversationEvent:
    return ConversationEvent(
        event_id=f"{cid}-{n:04d}",
        conversation_id=cid,
        event_time=T0 + n,
        received_at=T0 + n,
        source="simulator",
        topic_name=f"v2.detail.events.conversation.{cid}.{kind}",
        topic_pattern=f"v2.detail.events.conversation.{{id}}.{kind}",
        body=DetailEvent(kind=kind, participant_id=f"{cid}-p", session_id=f"{cid}-s", media_type="voice"),
    )


def good_value(cid: str, n: int, kind: str = "customer.start") -> bytes:
    return frame(SCHEMA_ID, encode_event(make_event(cid, n, kind)))


def writer_schemas(schema_id: int) -> AvroSchema:
    if schema_id != SCHEMA_ID:
        raise UnknownSchemaError(f"no schema id {schema_id}", schema_id=schema_id)
    return current(CONVERSATION_EVENT)


@dataclass
class FakeClock:
    now: float = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now


class FakeSource:
    """Partitions with records; assigns all of them on the first poll; honours pause/seek."""

    def __init__(self, log: list[tuple[str, Any]], clock: FakeClock, partitions: Sequence[TP]) -> None:
        self.log = log
        self.clock = clock
        self.records: dict[TP, list[Record]] = {tp: [] for tp in partitions}
        self.position: dict[TP, int] = {}
        self.paused: set[TP] = set()
        self.listener: RebalanceListener | None = None
        self.pending_assign = list(partitions)
        self.eofs: dict[TP, int] = {}
        self.commits: list[dict[TP, int]] = []
        self.polls = 0
        self.fail_polls = 0
        self.on_poll: list[Any] = []  # callables run at the start of a poll (e.g. trigger a revoke)
        self.closed = False
        self.log_start: dict[TP, int] = {}  # first offset still in the log (default 0)
        self.watermark_failures = 0  # the next watermarks() calls raise BrokerUnavailableError
        self.watermark_queries: list[TP] = []

    def add(self, tp: TP, key: bytes | None, value: bytes | None) -> Record:
        records = self.records[tp]
        record = Record(tp[0], tp[1], len(records), key, value, int(T0 + len(records)))
        records.append(record)
        return record

    def subscribe(self, topics: Sequence[str], listener: RebalanceListener) -> None:
        self.listener = listener

    def poll_batch(self, max_events: int, max_bytes: int, max_ms: int) -> list[Record]:
        from consumer.errors import BrokerUnavailableError

        self.polls += 1
        self.clock.now += max_ms / 1000.0
        for hook in list(self.on_poll):
            hook(self)
        if self.fail_polls:
            self.fail_polls -= 1
            raise BrokerUnavailableError("broker down")
        if self.pending_assign and self.listener is not None:
            tps, self.pending_assign = self.pending_assign, []
            positions = self.listener.on_assign(tps)
            for tp in tps:
                self.position[tp] = positions.get(tp, 0)
        out: list[Record] = []
        size = 0
        for tp in sorted(self.position):
            if tp in self.paused:
                continue
            for record in self.records[tp][self.position[tp] :]:
                if len(out) >= max_events or size >= max_bytes:
                    break
                out.append(record)
                size += record.size
                self.position[tp] = record.offset + 1
            if self.position[tp] >= len(self.records[tp]):
                self.eofs[tp] = len(self.records[tp])
        return out

    def take_eofs(self) -> dict[TP, int]:
        eofs, self.eofs = self.eofs, {}
        return eofs

    def revoke(self, tps: Sequence[TP]) -> None:
        assert self.listener is not None
        self.listener.on_revoke(tps)
        for tp in tps:
            self.position.pop(tp, None)

    def pause(self, partitions: Sequence[TP]) -> None:
        self.log.append(("pause", sorted(partitions)))
        self.paused.update(partitions)

    def resume(self, partitions: Sequence[TP]) -> None:
        self.log.append(("resume", sorted(partitions)))
        self.paused.difference_update(partitions)

    def seek(self, partition: TP, offset: int) -> None:
        self.log.append(("seek", (partition, offset)))
        self.position[partition] = offset

    def commit_async(self, offsets: Mapping[TP, int], *, wait: bool = False) -> None:
        if offsets:
            self.log.append(("kafka_commit", dict(offsets)))
            self.commits.append(dict(offsets))

    def high_watermark(self, partition: TP) -> int | None:
        return len(self.records.get(partition, []))

    def watermarks(self, partitions: Sequence[TP]) -> dict[TP, tuple[int, int]]:
        from consumer.errors import BrokerUnavailableError

        self.watermark_queries.extend(partitions)
        if self.watermark_failures:
            self.watermark_failures -= 1
            raise BrokerUnavailableError("no watermarks in time")
        return {tp: (self.log_start.get(tp, 0), len(self.records[tp])) for tp in partitions}

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeStore:
    log: list[tuple[str, Any]]
    states: dict[str, ConversationState] = field(default_factory=dict)
    offsets: dict[tuple[str, str, int], int] = field(default_factory=dict)
    rows: dict[str, Any] = field(default_factory=dict)
    marks: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)
    fail: list[Exception] = field(default_factory=list)  # raised by the next write_batch calls
    fail_loads: list[Exception] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)  # conversations whose rows Postgres "rejects"
    reject_marks: set[str] = field(default_factory=set)  # ... whose error marks it rejects
    writes: int = 0
    digests: dict[str, bytes] = field(default_factory=dict)  # folded_digests, as written
    digest_loads: list[list[str]] = field(default_factory=list)
    versions: dict[str, int] = field(default_factory=dict)  # row versions (bumped by every write)
    conflicts: int = 0  # writes refused because a row version moved

    def load_folded_digests(self, ids: Sequence[str], logic_version: int) -> dict[str, bytes]:
        self.digest_loads.append(list(ids))
        return {
            i: self.digests[i]
            for i in ids
            if i in self.digests and i in self.states and self.states[i].logic_version == logic_version
        }

    def load_states(self, ids: Sequence[str]) -> dict[str, ConversationState]:
        if self.fail_loads:
            raise self.fail_loads.pop(0)
        return {i: self.states[i] for i in ids if i in self.states}

    def load_states_versioned(self, ids: Sequence[str]) -> StoredStates:
        versions = {i: self.versions[i] for i in ids if i in self.versions}  # read with the states
        return StoredStates(self.load_states(ids), versions)

    def _bump(self, cid: str) -> None:
        self.versions[cid] = self.versions.get(cid, 0) + 1

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        return {p: o for (g, t, p), o in self.offsets.items() if g == group_id and t == topic}

    def reset_offset(self, group_id: str, topic: str, partition: int, expected: int, offset: int) -> bool:
        key = (group_id, topic, partition)
        if self.offsets.get(key) != expected:  # the fenced UPDATE matched no row
            self.log.append(("reset_fenced", key))
            return False
        self.offsets[key] = offset
        self.log.append(("pg_reset", {(topic, partition): offset}))
        return True

    def upsert_queues(self, queues: Sequence[QueueInfo]) -> int:
        for q in queues:
            if q.name is not None:
                self.queues[q.queue_id] = q.name
        return len(queues)

    def unwritable(self, batch: BatchWrite) -> Unwritable:
        bad = {r.row.conversation_id: "rejected" for r in batch.rows if r.row.conversation_id in self.reject}
        bad |= {m.conversation_id: "rejected" for m in batch.errors if m.conversation_id in self.reject_marks}
        return Unwritable(conversations=bad)

    def write_batch(self, batch: BatchWrite) -> WriteResult:
        from consumer.domain import state_from_json

        if self.fail:
            raise self.fail.pop(0)
        if any(r.row.conversation_id in self.reject for r in batch.rows) or any(
            m.conversation_id in self.reject_marks for m in batch.errors
        ):
            raise StoreError("value rejected (SQLSTATE 22P05)", sqlstate="22P05")
        for a in batch.offsets:
            key = (batch.group_id, a.topic, a.partition)
            if key in self.offsets and self.offsets[key] != a.start_offset:
                self.log.append(("fenced", key))
                raise FencedError(f"fence failed for {key}")
        moved = [c for c, v in batch.versions.items() if self.versions.get(c) != v]
        if moved:
            self.conflicts += 1
            self.log.append(("conflict", sorted(moved)))
            raise ConcurrentFoldError(f"{moved} changed", conversations=len(moved))
        self.upsert_queues(batch.queues)
        inserted = updated = 0
        for w in batch.rows:
            cid = w.row.conversation_id
            if cid in self.rows:
                updated += 1
            else:
                inserted += 1
            row = w.row
            if row.last_queue_name is None and row.last_queue_id in self.queues:  # resolved in SQL
                row = replace(row, last_queue_name=self.queues[row.last_queue_id])
            self.rows[cid] = row
            self.states[cid] = state_from_json(w.state_json)
            self._bump(cid)
            if w.folded_digests is None:
                self.digests.pop(cid, None)
            else:
                self.digests[cid] = w.folded_digests
        for m in batch.errors:
            self.marks[m.conversation_id] = m.message
            self._bump(m.conversation_id)
        for a in batch.offsets:
            self.offsets[(batch.group_id, a.topic, a.partition)] = a.next_offset
        self.writes += 1
        self.log.append(("pg_commit", {(a.topic, a.partition): a.next_offset for a in batch.offsets}))
        return WriteResult(inserted=inserted, updated=updated, errors_marked=len(batch.errors))


@dataclass
class FakeDLQ:
    log: list[tuple[str, Any]]
    sent: list[Poison] = field(default_factory=list)
    fail: list[Exception] = field(default_factory=list)

    def send(self, poisons: Sequence[Poison]) -> None:
        if not poisons:
            return
        if self.fail:
            raise self.fail.pop(0)
        self.sent.extend(poisons)
        self.log.append(("dlq_ack", [(p.record.tp, p.record.offset) for p in poisons]))
