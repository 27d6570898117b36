"""Conversations split over partitions: fold conflicts retried, misrouted keys counted, unindexable ids."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from consumer.codec.avro import decode_value
from consumer.consume.batching import decode_records
from consumer.consume.pipeline_support import MisroutedWarnings
from consumer.domain.keys import MAX_CONVERSATION_ID_BYTES, conversation_id_problem
from consumer.ports import Record
from tests.unit.consume.pipeline_fakes import EVENTS, QUEUES, good_value, writer_schemas
from tests.unit.consume.test_pipeline import GROUP, P0, P1, Harness


def _decode(records: list[Record]) -> Any:
    return decode_records(records, lambda v: decode_value(v, writer_schemas), writer_schemas, QUEUES)


def test_a_batch_that_lost_the_race_folds_again_from_the_fresh_state() -> None:
    h = Harness(partitions=(P0, P1))
    for n in range(3):
        h.source.add(P0, b"c1", good_value("c1", n))
    load = h.store.load_states_versioned
    raced: list[Any] = []

    def other_consumer_writes_first(ids: Any) -> Any:
        loaded = load(ids)
        if not raced:  # after this batch loaded c1, another consumer commits a fold of c1
            raced.append(True)
            h.store._bump("c1")
        return loaded

    h.store.load_states_versioned = other_consumer_writes_first  # type: ignore[method-assign]
    h.run_to_end()
    assert h.store.conflicts == 1
    assert ("conflict", ["c1"]) in h.log
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 3
    assert h.metric("convstream_fold_conflicts_total") == 1
    assert h.metric("convstream_retries_total", dependency="store") == 0  # retried at once, no backoff
    assert "pause" not in h.kinds()
    assert h.pipeline.totals.processed == 3


def test_conflicts_that_keep_coming_back_off_like_any_transient_failure() -> None:
    h = Harness(partitions=(P0,))
    h.source.add(P0, b"c1", good_value("c1", 0))
    load, left = h.store.load_states_versioned, [8]

    def always_raced(ids: Any) -> Any:
        loaded = load(ids)
        if left[0]:
            left[0] -= 1
            h.store._bump("c1")
        return loaded

    h.store.load_states_versioned = always_raced  # type: ignore[method-assign]
    h.run_to_end()
    assert h.store.conflicts == 8
    assert h.metric("convstream_retries_total", dependency="store") == 3  # after 5 immediate retries
    assert "c1" in h.store.rows
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 1


def test_records_keyed_otherwise_are_folded_counted_and_warned_once_per_partition(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = Harness(partitions=(P0, P1))
    h.source.add(P0, None, good_value("c1", 0))
    h.source.add(P0, b"other", good_value("c1", 1))
    h.source.add(P1, None, good_value("c1", 2))
    h.source.add(P1, b"c2", good_value("c2", 0))
    with caplog.at_level(logging.WARNING, logger="consumer.consume.pipeline"):
        h.run_to_end()
    assert {"c1", "c2"} <= set(h.store.rows)
    assert h.metric("convstream_misrouted_records_total", kind="null") == 2
    assert h.metric("convstream_misrouted_records_total", kind="other") == 1
    warned = [r for r in caplog.records if "not their conversation id" in r.getMessage()]
    assert sorted(r.__dict__["partition"] for r in warned) == [0, 1]


def test_misrouted_warnings_are_once_per_partition() -> None:
    warnings, logged = MisroutedWarnings(), []

    class Log:
        def warning(self, msg: str, extra: dict[str, Any]) -> None:
            logged.append(extra["partition"])

    records = [(Record(EVENTS, p, o, None, b"", 0), "null") for p in (0, 1) for o in range(3)]
    warnings.note(records, Log())
    warnings.note(records, Log())
    assert logged == [0, 1]


@pytest.mark.parametrize(
    ("cid", "why"),
    [
        ("x" * (MAX_CONVERSATION_ID_BYTES + 1), "UTF-8 bytes"),
        ("é" * (MAX_CONVERSATION_ID_BYTES // 2 + 1), "UTF-8 bytes"),
        ("a\x00b", "NUL"),
        ("", "empty"),
        ("\ud800", "surrogate"),
    ],
)
def test_ids_that_cannot_be_primary_keys_are_named(cid: str, why: str) -> None:
    problem = conversation_id_problem(cid)
    assert problem is not None
    assert why in problem


def test_ordinary_ids_are_keys() -> None:
    assert conversation_id_problem("3fa85f64-5717-4562-b3fc-2c963f66afa6") is None
    assert conversation_id_problem("é" * (MAX_CONVERSATION_ID_BYTES // 2)) is None


def test_an_unindexable_conversation_id_is_dead_lettered_and_the_rest_flows() -> None:
    h = Harness(partitions=(P0,))
    long_id = "L" * 3000
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P0, long_id.encode(), good_value(long_id, 0))
    h.source.add(P0, long_id.encode(), good_value(long_id, 1))
    h.source.add(P0, b"c2", good_value("c2", 0))
    h.run_to_end()
    assert {"c1", "c2"} == set(h.store.rows)
    assert [(p.reason, p.record.offset, p.conversation_id) for p in h.dlq.sent] == [
        ("unindexable_key", 1, None),
        ("unindexable_key", 2, None),
    ]
    assert not h.store.marks  # no error mark could be written under that id either
    assert h.metric("convstream_dlq_records_total", reason="unindexable_key") == 2
    assert h.store.offsets[(GROUP, EVENTS, 0)] == 4


def test_decode_marks_misrouted_records() -> None:
    records = [
        Record(EVENTS, 0, 0, b"c1", good_value("c1", 0), 0),
        Record(EVENTS, 0, 1, None, good_value("c1", 1), 0),
        Record(EVENTS, 0, 2, b"\xff", good_value("c1", 2), 0),
        Record(EVENTS, 0, 3, b"c2", good_value("c1", 3), 0),
    ]
    decoded = _decode(records)
    assert [(r.offset, kind) for r, kind in decoded.misrouted] == [(1, "null"), (2, "null"), (3, "other")]
    assert len(decoded.events["c1"]) == 4


def test_the_health_state_sees_a_batch_pending_until_it_commits() -> None:
    h = Harness(partitions=(P0,))
    h.source.add(P0, b"c1", good_value("c1", 0))
    seen: list[float | None] = []
    write = h.store.write_batch

    def observed(batch: Any) -> Any:
        seen.append(h.health.batch_started)
        return write(batch)

    h.store.write_batch = observed  # type: ignore[method-assign]
    h.run_to_end()
    assert seen
    assert seen[0] is not None
    assert h.health.batch_started is None
