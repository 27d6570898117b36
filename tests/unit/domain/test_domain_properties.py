"""Property tests of the fold's merge guarantees over realistic and noisy conversations."""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import any_event_sets, conversations

from consumer.domain import (
    STATUSES,
    ConversationEvent,
    ConversationState,
    derive_row,
    fold,
    fold_all,
    state_from_json,
    state_to_json,
    with_error,
)


def _fold(events: list[ConversationEvent]) -> ConversationState | None:
    state: ConversationState | None = None
    for e in events:
        state = fold(state, e)
    return state


def _comparable(state: ConversationState | None) -> ConversationState | None:
    return None if state is None else replace(state, status_changed_at=None)


def _in_order(events: list[ConversationEvent]) -> list[ConversationEvent]:
    return sorted(events, key=lambda e: e.order_key)


@st.composite
def _shuffled_with_duplicates(draw: st.DrawFn, events: list[ConversationEvent]) -> list[ConversationEvent]:
    out = list(draw(st.permutations(events)))
    if events:
        for dup in draw(st.lists(st.sampled_from(events), max_size=5)):
            out.insert(draw(st.integers(0, len(out))), dup)
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data(), events=any_event_sets())
def test_any_permutation_with_duplicates_folds_to_the_in_order_state(
    data: st.DataObject, events: list[ConversationEvent]
) -> None:
    expected = _fold(_in_order(events))
    shuffled = data.draw(_shuffled_with_duplicates(events))
    got = _fold(shuffled)
    assert _comparable(got) == _comparable(expected)
    if got is not None and expected is not None:
        assert replace(derive_row(got), status_changed_at=None) == replace(
            derive_row(expected), status_changed_at=None
        )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), events=conversations())
def test_realistic_conversations_converge_and_end_in_a_known_status(
    data: st.DataObject, events: list[ConversationEvent]
) -> None:
    expected = _fold(events)
    got = _fold(data.draw(_shuffled_with_duplicates(events)))
    assert _comparable(got) == _comparable(expected)
    assert expected is not None
    assert expected.calculated_status in STATUSES


@settings(max_examples=200, deadline=None)
@given(data=st.data(), events=any_event_sets())
def test_folding_an_event_twice_is_folding_it_once(
    data: st.DataObject, events: list[ConversationEvent]
) -> None:
    prefix = events[: data.draw(st.integers(0, len(events)))]
    state = _fold(prefix)
    for e in events:
        once = fold(state, e)
        assert fold(once, e) == once
        state = once


@settings(max_examples=200, deadline=None)
@given(data=st.data(), events=any_event_sets())
def test_state_json_round_trip_is_exact(data: st.DataObject, events: list[ConversationEvent]) -> None:
    state = _fold(data.draw(st.permutations(events)))
    if state is None:
        return
    if data.draw(st.booleans()):
        state = with_error(state, state.conversation_id, "dead-lettered: bad payload", 1_735_725_700_000)
    doc = state_to_json(state)
    assert state_from_json(doc) == state
    assert state_from_json(json.loads(json.dumps(doc))) == state


@settings(max_examples=50, deadline=None)
@given(events=any_event_sets())
def test_fold_all_groups_by_conversation(events: list[ConversationEvent]) -> None:
    other = [replace(e, conversation_id="conv-2") for e in events]
    states = fold_all([*events, *other])
    if events:
        assert set(states) == {"conv-1", "conv-2"}
        assert states["conv-1"] == _fold(events)
        assert replace(states["conv-2"], conversation_id="conv-1") == _fold(events)
