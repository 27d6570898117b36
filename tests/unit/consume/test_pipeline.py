"""The consumer loop's delivery contract, with fakes for Kafka, Postgres and the dead-letter topic."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import consumer.consume.batching as batching
from consumer import domain
from consumer.codec.avro import decode_value
from consumer.codec.wire import frame
from consumer.consume.pipeline import Pipeline
from consumer.consume.pipeline_support import PipelineConfig, Sink
from consumer.errors import (
    BrokerUnavailableError,
    FramingError,
    InvalidEventError,
    PayloadDecodeError,
    StoreUnavailableError,
    UnknownSchemaError,
    WedgedError,
)
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics
from consumer.ports import TP
from tests.unit.consume.pipeline_fakes import (
    EVENTS,
    QUEUES,
    FakeClock,
    FakeDLQ,
    FakeSource,
    FakeStore,
    good_value,
    writer_schemas,
)

P0: TP = (EVENTS, 0)
P1: TP = (EVENTS, 1)
GROUP = "g"


class Harness:
    def __init__(
        self, partitions: tuple[TP, ...] = (P0, P1), store: FakeStore | None = None, **config: Any
    ) -> None:
        self.log: list[tuple[str, Any]] = []
        self.clock = FakeClock()
        self.source = FakeSource(self.log, self.clock, partitions)
        self.store = FakeStore(self.log) if store is None else store
        self.dlq = FakeDLQ(self.log)
        self.registry = CollectorRegistry()
        self.health = HealthState(clock=self.clock.monotonic)
        cfg = PipelineConfig(GROUP, EVENTS, QUEUES, **{"retry_initial_seconds": 0.1, **config})
        self.pipeline = Pipeline(
            self.source,
            Sink(self.store, self.dlq),
            (lambda v: decode_value(v, writer_schemas), writer_schemas),
            cfg,
            (ConsumerMetrics.create(self.registry), self.health),
            clocks=(self.clock.monotonic, self.clock.wall),
        )

    def run_to_end(self) -> None:
        ends = {tp: len(records) for tp, records in self.source.records.items()}
        self.pipeline.run(ends)

    def metric(self, name: str, **labels: str) -> float:
        value = self.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.log]


def add_two_conversations(h: Harness) -> None:
    """Three events of c1 on P0, one of c2 on P1."""
    for n in range(3):
        h.source.add(P0, b"c1", good_value("c1", n))
    h.source.add(P1, b"c2", good_value("c2", 0))


def test_rows_and_offsets_are_committed_then_mirrored_to_kafka() -> None:
    h = Harness()
    add_two_conversations(h)
    h.run_to_end()
    assert set(h.store.rows) == {"c1", "c2"}
    assert h.store.offsets == {(GROUP, EVENTS, 0): 3, (GROUP, EVENTS, 1): 1}
    assert h.kinds().index("pg_commit") < h.kinds().index("kafka_commit")
    assert h.source.commits[0] == {P0: 3, P1: 1}
    assert h.metric("convstream_events_total", outcome="processed") == 4
    assert h.metric("convstream_rows_written_total", result="inserted") == 2
    assert h.source.closed


def test_poison_records_are_dead_lettered_before_offsets_and_never_take_good_ones() -> None:
    h = Harness()
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P0, b"bad1", b"not framed at all")
    h.source.add(P0, b"bad2", frame(99, b"\x00"))  # unknown schema id
    h.source.add(P0, b"bad3", frame(1, b"\xff\xff\xff"))  # framed garbage
    h.source.add(P0, b"c1", good_value("c1", 1))
    h.source.add(P1, b"", good_value("", 0))  # schema-valid, empty conversation id
    h.source.add(P1, b"c2", good_value("c2", 0))
    h.run_to_end()
    assert set(h.store.rows) == {"c1", "c2"}
    errors = {p.record.key: type(p.error) for p in h.dlq.sent}
    assert errors == {
        b"bad1": FramingError,
        b"bad2": UnknownSchemaError,
        b"bad3": PayloadDecodeError,
        b"": InvalidEventError,
    }
    assert h.kinds().index("dlq_ack") < h.kinds().index("pg_commit")
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 5
    assert set(h.store.marks) == {"bad1", "bad2", "bad3"}  # the key is the conversation id
    assert h.metric("convstream_dlq_records_total", reason="framing") == 1
    assert h.metric("convstream_events_total", outcome="dlq") == 4
    assert h.metric("convstream_events_total", outcome="processed") == 3


def test_a_fold_failure_dead_letters_only_that_record(monkeypatch: pytest.MonkeyPatch) -> None:
    real_fold = domain.fold  # what consumer.consume.batching folds with

    def fold(state: Any, event: Any) -> Any:
        if event.event_id == "c1-0001":
            raise RuntimeError("boom")
        return real_fold(state, event)

    monkeypatch.setattr(batching, "fold", fold)
    h = Harness(partitions=(P0,))
    for n in range(3):
        h.source.add(P0, b"c1", good_value("c1", n))
    h.run_to_end()
    assert [(p.reason, p.record.offset) for p in h.dlq.sent] == [("fold", 1)]
    assert "c1" in h.store.rows
    assert "RuntimeError: boom" in h.store.marks["c1"]


def test_a_fenced_batch_writes_nothing_and_seeks_back_to_the_stored_offset() -> None:
    h = Harness(partitions=(P0,))
    for n in range(4):
        h.source.add(P0, b"c1", good_value("c1", n))

    load = h.store.load_states

    def zombie(ids: Any) -> Any:
        # While the first batch is in flight, another owner commits up to offset 2.
        if h.store.writes == 0:
            h.store.offsets[(GROUP, EVENTS, 0)] = 2
        return load(ids)

    h.store.load_states = zombie  # type: ignore[method-assign]
    h.store.offsets[(GROUP, EVENTS, 0)] = 0
    h.run_to_end()
    fenced_at = h.kinds().index("fenced")
    assert h.log[fenced_at + 1] == ("seek", (P0, 2))
    assert "kafka_commit" not in h.kinds()[: fenced_at + 1]
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 4
    assert h.store.writes == 1  # only the batch after the seek


def test_transient_store_error_pauses_retries_the_same_batch_and_resumes() -> None:
    h = Harness()
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P1, b"c2", good_value("c2", 0))
    h.store.fail = [StoreUnavailableError("down", sqlstate="08006"), StoreUnavailableError("still down")]
    h.run_to_end()
    kinds = h.kinds()
    assert kinds.index("pause") < kinds.index("pg_commit") < kinds.index("resume")
    assert h.store.rows.keys() == {"c1", "c2"}
    assert h.store.offsets == {(GROUP, EVENTS, 0): 1, (GROUP, EVENTS, 1): 1}
    assert h.dlq.sent == []
    assert h.metric("convstream_retries_total", dependency="store") == 2


def test_dead_letters_acknowledged_before_a_transient_failure_are_not_sent_twice() -> None:
    h = Harness(partitions=(P0,))
    h.source.add(P0, b"x", b"garbage")
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.dlq.fail = [BrokerUnavailableError("dlq down")]
    h.store.fail = [StoreUnavailableError("down")]
    h.run_to_end()
    assert len(h.dlq.sent) == 1
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 2


def test_revoke_during_retries_abandons_the_revoked_partitions_records() -> None:
    h = Harness()
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P1, b"c2", good_value("c2", 0))
    h.store.fail = [StoreUnavailableError("down")]

    def revoke_p1(source: FakeSource) -> None:
        if h.pipeline._inflight and P1 in source.position:  # during the retry wait
            source.revoke([P1])

    h.source.on_poll.append(revoke_p1)
    h.pipeline.run({P0: 1})
    assert set(h.store.rows) == {"c1"}
    assert (GROUP, EVENTS, 1) not in h.store.offsets


def test_assignment_starts_at_the_offsets_stored_in_postgres() -> None:
    h = Harness(partitions=(P0,))
    for n in range(5):
        h.source.add(P0, b"c1", good_value("c1", n))
    h.store.offsets[(GROUP, EVENTS, 0)] = 3
    h.run_to_end()
    assert h.source.commits[0] == {P0: 5}
    assert h.metric("convstream_events_total", outcome="processed") == 2


def test_the_watchdog_fires_when_no_poll_succeeds() -> None:
    h = Harness(partitions=(P0,), wedge_timeout_seconds=5.0)
    h.source.fail_polls = 1000
    with pytest.raises(WedgedError):
        h.pipeline.run()
    assert h.health.live()[0] is False


def test_stop_finishes_the_batch_and_closes() -> None:
    h = Harness(partitions=(P0,))
    h.source.add(P0, b"c1", good_value("c1", 0))

    def stop_after_first_batch(source: FakeSource) -> None:
        if source.polls == 2:
            h.pipeline.stop()

    h.source.on_poll.append(stop_after_first_batch)
    totals = h.pipeline.run()
    assert totals.processed == 1
    assert h.source.closed


def test_values_postgres_rejects_are_isolated_dead_lettered_and_marked() -> None:
    h = Harness()
    h.store.reject = {"bad"}
    h.store.reject_marks = {"worse"}  # its row and its error mark are both rejected
    h.store.reject.add("worse")
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P0, b"bad", good_value("bad", 0))
    h.source.add(P0, b"worse", good_value("worse", 0))
    h.source.add(P0, b"bad", good_value("bad", 1))
    h.source.add(P0, b"c2", good_value("c2", 0))
    h.run_to_end()
    assert set(h.store.rows) == {"c1", "c2"}
    assert sorted((p.conversation_id, p.record.offset, p.reason) for p in h.dlq.sent) == [
        ("bad", 1, "store"),
        ("bad", 3, "store"),
        ("worse", 2, "store"),
    ]
    assert set(h.store.marks) == {"bad"}
    assert "UnwritableRecordError" in h.store.marks["bad"]
    # One commit, after the letters were acknowledged; the offsets moved exactly once.
    assert [k for k in h.kinds() if k in ("dlq_ack", "pg_commit")][-1] == "pg_commit"
    assert h.store.writes == 1
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 5
    assert h.metric("convstream_dlq_records_total", reason="store") == 3
    assert h.pipeline.totals.dead_lettered == 3


def test_a_store_error_not_about_the_data_is_raised() -> None:
    from consumer.errors import StoreError

    h = Harness()
    h.store.fail = [StoreError("permission denied (SQLSTATE 42501)", sqlstate="42501")]
    h.source.add(P0, b"c1", good_value("c1", 0))
    with pytest.raises(StoreError):
        h.run_to_end()
    assert h.dlq.sent == []


# -- stored offsets beyond the log end (a recreated topic) -----------------------------------------------


def _recreated(h: Harness, records: int, stored: int) -> None:
    """P0 holds ``records`` records of a new topic while Postgres still says ``stored`` (the old topic's)."""
    for n in range(records):
        h.source.add(P0, f"new-{n}".encode(), good_value(f"new-{n}", 0))
    h.store.offsets[(GROUP, EVENTS, 0)] = stored


def test_assignment_rewinds_a_stored_offset_beyond_the_log_end_to_the_log_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness()
    _recreated(h, records=4, stored=10)
    h.source.log_start[P0] = 1  # retention already removed offset 0 of the new log
    for n in range(5):
        h.source.add(P1, b"c1", good_value("c1", n))
    h.store.offsets[(GROUP, EVENTS, 1)] = 2
    with caplog.at_level("ERROR", logger="consumer.consume.pipeline_offsets"):
        h.run_to_end()
    assert h.log[0] == ("pg_reset", {P0: 1})  # fenced rewrite before anything is consumed
    assert set(h.store.rows) == {"new-1", "new-2", "new-3", "c1"}
    assert h.store.offsets == {(GROUP, EVENTS, 0): 4, (GROUP, EVENTS, 1): 5}
    assert h.metric("convstream_events_total", outcome="processed") == 3 + 3
    assert h.metric("convstream_offset_resets_total", topic=EVENTS) == 1
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "the topic was probably recreated" in error.getMessage()
    assert "reprocessing from the log start" in error.getMessage()
    fields = {k: getattr(error, k) for k in ("topic", "partition", "stored_offset", "log_start", "log_end")}
    assert fields == {"topic": EVENTS, "partition": 0, "stored_offset": 10, "log_start": 1, "log_end": 4}


def test_assignment_leaves_stored_offsets_at_or_below_the_log_end_alone() -> None:
    h = Harness()
    _recreated(h, records=4, stored=4)  # exactly at the end: caught up, not stale
    for n in range(5):
        h.source.add(P1, b"c1", good_value("c1", n))
    h.store.offsets[(GROUP, EVENTS, 1)] = 2
    h.run_to_end()
    assert "pg_reset" not in h.kinds()
    assert h.store.offsets == {(GROUP, EVENTS, 0): 4, (GROUP, EVENTS, 1): 5}
    assert h.metric("convstream_events_total", outcome="processed") == 3
    assert h.metric("convstream_offset_resets_total", topic=EVENTS) == 0
    assert set(h.source.watermark_queries) == {P0, P1}


def test_a_rewind_fenced_by_a_concurrent_owner_keeps_the_owners_offset() -> None:
    h = Harness(partitions=(P0,))
    _recreated(h, records=4, stored=10)
    watermarks = h.source.watermarks

    def concurrent_owner_moves_it(partitions: Sequence[TP]) -> dict[TP, tuple[int, int]]:
        h.store.offsets[(GROUP, EVENTS, 0)] = 2  # between our read and our conditional UPDATE
        return watermarks(partitions)

    h.source.watermarks = concurrent_owner_moves_it  # type: ignore[method-assign]
    h.run_to_end()
    assert ("reset_fenced", (GROUP, EVENTS, 0)) in h.log
    assert "pg_reset" not in h.kinds()
    assert set(h.store.rows) == {"new-2", "new-3"}  # started from the owner's offset, not ours
    assert h.metric("convstream_offset_resets_total", topic=EVENTS) == 0


def test_a_log_end_unknown_at_assignment_is_checked_again_between_batches() -> None:
    h = Harness(partitions=(P0,))
    _recreated(h, records=4, stored=10)
    h.source.watermark_failures = 1
    h.run_to_end()  # bounded mode must not count the unchecked partition as done at offset 10
    kinds = h.kinds()
    assert kinds.index("pg_reset") < kinds.index("pg_commit")
    assert ("seek", (P0, 0)) in h.log
    assert h.store.offsets == {(GROUP, EVENTS, 0): 4}
    assert h.metric("convstream_offset_resets_total", topic=EVENTS) == 1


def test_a_topic_recreated_under_a_running_consumer_is_rewound_once_records_arrive_behind_the_fence() -> None:
    h = Harness(partitions=(P0,))
    for n in range(6):
        h.source.add(P0, f"old-{n}".encode(), good_value(f"old-{n}", 0))

    def recreate_then_stop(source: FakeSource) -> None:
        if "new-2" in h.store.rows or source.polls > 200:  # bounded, should the rewind never come
            h.pipeline.stop()
        elif h.store.offsets.get((GROUP, EVENTS, 0)) == 6 and source.records[P0][0].key == b"old-0":
            source.records[P0] = []  # no rebalance: the client just restarts the out-of-range
            _recreated(h, records=3, stored=6)  # position at the new log start
            source.position[P0] = 0

    h.source.on_poll.append(recreate_then_stop)
    h.pipeline.run()
    assert ("pg_reset", {P0: 0}) in h.log
    assert {"new-0", "new-1", "new-2"} <= set(h.store.rows)
    assert h.store.offsets == {(GROUP, EVENTS, 0): 3}
    assert h.metric("convstream_offset_resets_total", topic=EVENTS) == 1


def test_fence_recovery_rewinds_a_stored_offset_beyond_the_log_end() -> None:
    h = Harness(partitions=(P0,))
    _recreated(h, records=4, stored=0)
    load = h.store.load_states
    landed: list[bool] = []

    def stale_writer(ids: Any) -> Any:
        if not landed:  # while the first batch is in flight, an offset of the old topic lands
            h.store.offsets[(GROUP, EVENTS, 0)] = 10
            landed.append(True)
        return load(ids)

    h.store.load_states = stale_writer  # type: ignore[method-assign]
    h.run_to_end()
    fenced_at = h.kinds().index("fenced")
    assert h.log[fenced_at + 1 : fenced_at + 3] == [("pg_reset", {P0: 0}), ("seek", (P0, 0))]
    assert h.store.offsets == {(GROUP, EVENTS, 0): 4}


def test_bounded_mode_ignores_another_members_stored_offset_beyond_the_log_end() -> None:
    from consumer.consume.bounded import EndWatch
    from consumer.consume.partitions import Partitions
    from consumer.consume.pipeline_offsets import StoredOffsets

    h = Harness(partitions=(P0,))
    _recreated(h, records=3, stored=10)
    metrics = ConsumerMetrics.create(CollectorRegistry())
    offsets = StoredOffsets(GROUP, (h.source, h.store), (metrics, h.health), h.clock.monotonic)
    watch = EndWatch({P0: 3}, Partitions(), offsets, h.clock.monotonic)  # P0 owned by another member
    assert not watch.reached()
    h.store.offsets[(GROUP, EVENTS, 0)] = 3  # its owner rewound it and caught up
    h.clock.now += 1.0
    assert watch.reached()
    assert "pg_reset" not in h.kinds()  # a non-owner never rewrites offsets
