"""consume.batching.fold_batch: the ``folded_digests`` a written row carries (consumer.consume.known)."""

from __future__ import annotations

from dataclasses import replace

import pytest

import consumer.consume.batching as batching
from consumer.consume.batching import DecodedBatch, Digests, fold_batch
from consumer.consume.known import digest, parse
from consumer.domain import LOGIC_VERSION, ConversationState, fold
from consumer.ports import Record
from tests.unit.consume.pipeline_fakes import EVENTS, make_event

STORED = digest(b"stored")


def _batch(n: int) -> tuple[DecodedBatch, dict[tuple[int, int], bytes]]:
    items = [(Record(EVENTS, 0, i, b"c1", f"v{i}".encode(), 0), make_event("c1", i)) for i in range(n)]
    return DecodedBatch(events={"c1": items}), {(0, i): digest(f"v{i}".encode()) for i in range(n)}


def _before() -> ConversationState:
    state = fold(None, make_event("c1", 100))
    assert state.logic_version == LOGIC_VERSION
    return state


def test_a_row_carries_its_stored_digests_and_those_of_the_records_folded() -> None:
    decoded, of_record = _batch(2)
    out = fold_batch({"c1": _before()}, decoded, Digests(of_record, {"c1": STORED}))
    (write,) = out.writes
    assert write.folded_digests is not None
    assert write.folded_digests.startswith(STORED)
    assert parse(write.folded_digests) == {STORED, *of_record.values()}


def test_a_record_whose_fold_failed_is_not_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded, of_record = _batch(2)
    real = fold  # what consumer.consume.batching folds with

    def failing(state: ConversationState | None, event: object) -> ConversationState:
        if getattr(event, "event_id", "").endswith("0001"):
            raise ValueError("boom")
        return real(state, event)  # type: ignore[arg-type]

    monkeypatch.setattr(batching, "fold", failing)
    out = fold_batch({}, decoded, Digests(of_record, {}))
    assert len(out.poisons) == 1
    (write,) = out.writes
    assert parse(write.folded_digests) == {of_record[(0, 0)]}


def test_stored_digests_of_another_logic_version_or_without_state_are_dropped() -> None:
    decoded, of_record = _batch(1)
    older = replace(_before(), logic_version=LOGIC_VERSION - 1)
    for states in ({"c1": older}, {}):
        out = fold_batch(states, decoded, Digests(of_record, {"c1": STORED}))
        (write,) = out.writes
        assert parse(write.folded_digests) == {of_record[(0, 0)]}


def test_without_digests_a_row_carries_none() -> None:
    decoded, _ = _batch(1)
    (write,) = fold_batch({}, decoded).writes
    assert write.folded_digests is None
