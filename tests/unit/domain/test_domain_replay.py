"""The replay fast path of the snapshot merge (``consumer.domain.merge._restated``).

A replay re-folds events the stored state already contains. ``_restated`` decides from comparisons alone
that a snapshot participant changes nothing, and the merge then keeps the stored participant. It must be
sound (whenever it says "nothing changes", the general merge agrees) and it must fire on replays (that
is the point of it).
"""

from __future__ import annotations

from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from consumer.domain import ConversationEvent, ConversationSnapshot, ConversationState, fold, fold_all
from consumer.domain.events import Participant
from consumer.domain.merge import (
    _COMM_VALUES,
    _PARTICIPANT_VALUES,
    ParticipantUpdate,
    _restated,
    apply_snapshot,
    merge_participant,
)
from consumer.domain.state import NO_PARTICIPANT_VALUES, PARTICIPANT_FIELDS, OrderKey, Values
from tests.unit.domain.strategies import any_event_sets, conversations
from tests.unit.hypothesis_budget import examples


def _snapshot_updates(
    events: list[ConversationEvent],
) -> Iterator[tuple[Participant, ParticipantUpdate, OrderKey]]:
    for e in events:
        if isinstance(e.body, ConversationSnapshot):
            key = (e.event_time, e.event_id)
            for position, p in enumerate(e.body.participants):
                comms = [(c.id, _COMM_VALUES(c)) for c in p.communications]
                values = (*_PARTICIPANT_VALUES(p), position)  # as apply_snapshot builds them
                yield p, (values, comms, p.attributes, False), key


@settings(max_examples=examples(300), deadline=None)
@given(data=st.data(), events=any_event_sets())
def test_restated_only_when_the_general_merge_changes_nothing(
    data: st.DataObject, events: list[ConversationEvent]
) -> None:
    order = data.draw(st.permutations(events))
    states: dict[str, ConversationState] = {}
    for step, event in enumerate(order):
        # Against the state after every prefix: each snapshot participant of the whole set, older or newer.
        for e in order if step % 3 == 0 else ():
            state = states.get(e.conversation_id)
            if state is None:
                continue
            for p, update, key in _snapshot_updates([e]):
                prev = state.participants.get(p.id)
                if prev is None:
                    continue
                values, comms, attributes, _ = update
                if _restated(prev, values, comms, attributes, key):
                    assert merge_participant(prev, p.id, update, key) == prev
        states[event.conversation_id] = fold(states.get(event.conversation_id), event)


@settings(max_examples=examples(200), deadline=None)
@given(events=conversations())
def test_replaying_a_conversation_keeps_every_stored_participant(events: list[ConversationEvent]) -> None:
    final = fold_all(events)
    for e in events:
        if not isinstance(e.body, ConversationSnapshot):
            continue
        stored = final[e.conversation_id]
        participants, reshaped = apply_snapshot(stored.participants, e.body, (e.event_time, e.event_id))
        assert participants is stored.participants
        assert reshaped is False


@settings(max_examples=examples(100), deadline=None)
@given(events=conversations())
def test_replay_through_the_fold_leaves_the_state_equal(events: list[ConversationEvent]) -> None:
    final = fold_all(events)
    for e in events:
        state = final[e.conversation_id]
        assert fold(state, e) == state


def test_restated_refuses_what_the_merge_would_take() -> None:
    merge = merge_participant
    purpose = PARTICIPANT_FIELDS.index("purpose")
    older, newer = (1, "a"), (2, "b")
    values: Values = tuple("agent" if i == purpose else None for i in range(len(NO_PARTICIPANT_VALUES)))
    stored = merge(None, "p", (values, [("c", ("voice",) + (None,) * 9)], {"k": "v"}, False), newer)
    assert stored.rkey == newer

    def restated(vals: Values, comms: list[tuple[str, Values]],
                 attrs: dict[str, str], key: OrderKey) -> bool:  # fmt: skip
        return _restated(stored, vals, comms, attrs, key)

    comm: Values = ("voice",) + (None,) * 9
    assert restated(values, [("c", comm)], {"k": "v"}, newer)  # the same event again
    assert restated(values, [("c", comm)], {"k": "v"}, older)  # an older one saying the same
    other: Values = tuple("customer" if i == purpose else None for i in range(len(NO_PARTICIPANT_VALUES)))
    assert not restated(other, [], {}, newer)  # same key, other value
    assert restated(other, [], {}, older)  # older, other value: the newer one stays
    assert not restated(values, [("new-comm", comm)], {}, older)  # a communication not known yet
    learn = tuple("x" if i == purpose + 1 else None for i in range(len(NO_PARTICIPANT_VALUES)))
    assert not restated(learn, [], {}, older)  # a field not known yet is learned even from older
    assert not restated(values, [], {"k2": "v"}, older)  # an attribute not known yet
    assert not restated(values, [], {"k": "w"}, newer)  # same key, other attribute value
    assert not restated(values, [], {}, (3, "c"))  # newer than everything: the general merge decides
    talking: Values = ("voice", "connected") + (None,) * 8
    on_call = merge(stored, "p", (values, [("c", talking)], {}, False), newer)
    hung_up: Values = ("voice", "disconnected") + (None,) * 8
    # An older "disconnected" loses the state register to the newer "connected", but terminal is sticky:
    assert on_call.communications["c"].terminal is None
    assert merge(on_call, "p", (values, [("c", hung_up)], {}, False), older) != on_call
    assert not _restated(on_call, values, [("c", hung_up)], {}, older)
    assert _restated(on_call, values, [("c", talking)], {}, older)
    for vals, comms, attrs, key in [
        (values, [("c", comm)], {"k": "v"}, newer),
        (other, [], {}, older),
    ]:
        assert merge(stored, "p", (vals, comms, attrs, False), key) == stored
    assert merge(stored, "p", (other, [], {}, False), newer) != stored
