"""Records already folded (consume/known.py) through the consumer loop: a replay and a duplicate publish."""

from __future__ import annotations

from dataclasses import replace

from consumer.consume.known import parse
from consumer.domain import LOGIC_VERSION
from tests.unit.consume.pipeline_fakes import EVENTS, good_value
from tests.unit.consume.test_pipeline import GROUP, P0, Harness, add_two_conversations


def _first_pass() -> Harness:
    h = Harness()
    add_two_conversations(h)
    h.run_to_end()
    assert h.metric("convstream_events_total", outcome="processed") == 4
    return h


def _replay(first: Harness) -> Harness:
    """A second consumer over the same store and records, after a replay moved the offsets to 0."""
    for key in list(first.store.offsets):
        first.store.offsets[key] = 0
    h = Harness(store=first.store)
    h.source.records = {tp: list(records) for tp, records in first.source.records.items()}
    return h


def test_rows_record_the_digests_of_the_records_folded_into_them() -> None:
    h = _first_pass()
    assert len(parse(h.store.digests["c1"])) == 3
    assert len(parse(h.store.digests["c2"])) == 1


def test_a_replay_with_unchanged_logic_recognises_every_record_and_writes_no_row() -> None:
    first = _first_pass()
    rows = dict(first.store.rows)
    h = _replay(first)
    h.source.add(P0, b"c1", good_value("c1", 3))  # a new record after the replayed ones
    h.run_to_end()
    assert h.metric("convstream_events_total", outcome="already_folded") == 4
    assert h.metric("convstream_events_total", outcome="processed") == 1
    assert h.pipeline.totals.already_folded == 4
    assert h.store.rows["c2"] == rows["c2"]
    assert h.store.offsets == {(GROUP, EVENTS, 0): 4, (GROUP, EVENTS, 1): 1}
    assert len(parse(h.store.digests["c1"])) == 4  # the new one joined the set


def test_records_are_recognised_without_being_decoded() -> None:
    first = _first_pass()
    h = _replay(first)
    decoded: list[bytes | None] = []
    decode = h.pipeline._decode_event

    def counting(value: bytes | None) -> object:
        decoded.append(value)
        return decode(value)

    h.pipeline._decode_event = counting  # type: ignore[assignment]
    h.run_to_end()
    assert decoded == []
    assert h.metric("convstream_events_total", outcome="already_folded") == 4


def test_rows_of_another_logic_version_are_never_trusted() -> None:
    first = _first_pass()
    old = first.store.states["c1"]
    first.store.states["c1"] = replace(old, logic_version=LOGIC_VERSION - 1)
    h = _replay(first)
    h.run_to_end()
    assert h.metric("convstream_events_total", outcome="already_folded") == 1  # c2 only
    assert h.metric("convstream_events_total", outcome="processed") == 3
    assert h.store.states["c1"].logic_version == LOGIC_VERSION  # recomputed under this logic
    assert len(parse(h.store.digests["c1"])) == 3  # a new set: what this version folded


def test_a_record_keyed_by_another_conversation_is_folded_again() -> None:
    h = Harness()
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P0, b"c2", good_value("c1", 1))  # body says c1, key says c2
    h.run_to_end()
    assert set(h.store.rows) == {"c1"}
    replayed = _replay(h)
    replayed.run_to_end()
    assert replayed.metric("convstream_events_total", outcome="already_folded") == 1
    assert replayed.metric("convstream_events_total", outcome="processed") == 1
    assert replayed.metric("convstream_rows_written_total", result="updated") == 0


def test_a_duplicate_publish_in_a_later_batch_is_recognised() -> None:
    h = Harness(batch_max_events=2)
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P0, b"c1", good_value("c1", 1))
    h.source.add(P0, b"c1", good_value("c1", 0))  # the bridge published the first one again
    h.run_to_end()
    assert h.metric("convstream_events_total", outcome="already_folded") == 1
    assert h.metric("convstream_events_total", outcome="processed") == 2


def test_a_miskeyed_record_keeps_its_conversations_stored_digests() -> None:
    h = Harness(batch_max_events=1)
    h.source.add(P0, b"c1", good_value("c1", 0))
    h.source.add(P0, b"c2", good_value("c1", 1))  # body says c1: its row's digests are loaded after decode
    h.run_to_end()
    assert ["c2"] in h.store.digest_loads
    assert ["c1"] in h.store.digest_loads[h.store.digest_loads.index(["c2"]) :]
    assert len(parse(h.store.digests["c1"])) == 2  # the first record's digest was not dropped
