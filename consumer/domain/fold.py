"""The fold: ``fold(state | None, event) -> state``, pure and deterministic (README "How it works").

Guarantees (property-tested in ``tests/unit/domain``):

1. For any set of events with distinct ``(event_time, event_id)``, folding any permutation of it, with
   any events duplicated, yields the same state as folding it in order, except ``status_changed_at``.
2. ``fold(fold(s, e), e) == fold(s, e)``.

How: every field of every record is a last-writer-wins register keyed by the event's order key; a field
absent from an event (None) is unknown, never a clear. A communication seen ``disconnected``/
``terminated`` keeps that terminal state; a participant's end time, once known, stays. ``acd.end``
ANSWERED is recorded as a fact about the answering user, applied whenever the status is evaluated, so it
reaches the agent participant whether that participant appears before or after it. The status is then
computed from the merged records (:mod:`consumer.domain.status`).

Detail events address the same records as snapshots: ``participant_id`` is the participant and
``session_id`` the communication (a detail event without ``session_id`` addresses a communication whose
id is the participant id; one without ``participant_id`` only contributes conversation-level facts).

Pure module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from operator import attrgetter
from typing import Final

from consumer.domain.events import ConversationEvent, ConversationSnapshot, DetailEvent
from consumer.domain.merge import ParticipantUpdate, apply_snapshot, merge_participant
from consumer.domain.state import (
    COMMUNICATION_FIELDS,
    FACT_FIELDS,
    LOGIC_VERSION,
    PARTICIPANT_FIELDS,
    ConversationState,
    Keys,
    OrderKey,
    ParticipantState,
    Value,
    Values,
    new_conversation,
)
from consumer.domain.status import calculated_status

__all__ = ["flow_purpose", "fold", "fold_all", "fold_logic_version", "with_error"]

_SNAPSHOT_FACTS: Final = FACT_FIELDS[:9]
_SNAPSHOT_FACT_VALUES = attrgetter(*_SNAPSHOT_FACTS)
_NO_SNAPSHOT_FACTS: Final[Values] = (None,) * len(_SNAPSHOT_FACTS)

_START_KINDS: Final = {
    "customer.start": "customer",
    "flow.start": "ivr",
    "acd.start": "acd",
    "user.start": "agent",
    "voicemail.start": "voicemail",
}
_END_KINDS: Final = {
    "customer.end": "customer",
    "flow.end": "ivr",
    "acd.end": "acd",
    "user.end": "agent",
    "voicemail.end": "voicemail",
}
_FLOW_PURPOSES_BY_TYPE: Final = {
    "workflow": "workflow",
    "workitem": "workflow",
    "bot": "botflow",
    "botflow": "botflow",
    "digitalbot": "botflow",
    "voicesurvey": "voicesurveyflow",
    "voicesurveyflow": "voicesurveyflow",
}


def flow_purpose(flow_type: str | None) -> str:
    """The participant purpose of a flow: ``ivr`` unless the flow type says otherwise."""
    if flow_type is None:
        return "ivr"
    return _FLOW_PURPOSES_BY_TYPE.get(flow_type.lower(), "ivr")


def _merge(values: Values, keys: Keys, new: Values, key: OrderKey) -> tuple[Values, Keys]:
    """Per-field last-writer-wins with explicit keys; returns the very same tuples when nothing was taken."""
    out_v: list[Value] | None = None
    out_k: list[OrderKey | None] = []
    for i, v in enumerate(new):
        if v is not None:
            k = keys[i]
            if k is None or key >= k:
                if out_v is None:
                    out_v = list(values)
                    out_k = list(keys)
                out_v[i] = v
                out_k[i] = key
    if out_v is None:
        return values, keys
    return tuple(out_v), tuple(out_k)


def _values(fields: tuple[str, ...], **given: Value) -> Values:
    return tuple(given.get(name) for name in fields)


def _detail_update(d: DetailEvent, t: int) -> ParticipantUpdate | None:
    """The participant/communication writes of one detail event (None: it touches no record)."""
    kind = d.kind
    comm: Values | None = None
    if kind in _START_KINDS or kind in _END_KINDS:
        start = kind in _START_KINDS
        purpose = _START_KINDS[kind] if start else _END_KINDS[kind]
        if purpose == "ivr":
            purpose = flow_purpose(d.flow_type)
        times: dict[str, Value] = {"connected_time": t} if start else {"end_time": t}
        pvals = _values(PARTICIPANT_FIELDS, purpose=purpose, user_id=d.user_id, queue_id=d.queue_id, **times)
        if start:
            state = "alerting" if kind == "user.start" else "connected"
            ctimes: dict[str, Value] = {} if kind == "user.start" else {"connected_time": t}
        else:
            state, ctimes = "disconnected", {"disconnected_time": t}
        comm = _values(
            COMMUNICATION_FIELDS, media_type=d.media_type, state=state, direction=d.direction, **ctimes
        )
    elif kind in ("acw", "wrapup"):
        pvals = _values(
            PARTICIPANT_FIELDS, purpose="agent", user_id=d.user_id, queue_id=d.queue_id,
            wrapup_code=d.wrapup_code,
        )  # fmt: skip
    elif kind == "attributes":
        pvals = _values(PARTICIPANT_FIELDS)
    else:
        return None
    comms = [] if comm is None else [(d.session_id or str(d.participant_id), comm)]
    return pvals, comms, d.attributes, kind in ("acw", "wrapup")


def _detail_facts(d: DetailEvent) -> Values | None:
    if d.kind != "outbound":
        return None
    return (None,) * len(_SNAPSHOT_FACTS) + (
        d.outbound_campaign_id,
        d.outbound_contact_list_id,
        d.outbound_contact_id,
    )


def _union(current: tuple[str, ...], extra: tuple[str | None, ...]) -> tuple[str, ...]:
    if extra == current:
        return current  # the common re-statement; ``current`` is already sorted and unique
    new = {x for x in extra if x is not None}
    if new.issubset(current):
        return current
    return tuple(sorted(new.union(current)))


_Parts = tuple[Mapping[str, ParticipantState], bool, Mapping[str, OrderKey], Values | None, tuple[str, ...]]
"""What one event changes: participants, whether a status input other than ``rkey`` changed, answered
facts, conversation-level fact values (positions of :data:`FACT_FIELDS`; None: none), division ids."""


def _snapshot_parts(state: ConversationState, body: ConversationSnapshot, key: OrderKey) -> _Parts:
    participants, reshaped = apply_snapshot(state.participants, body, key)
    facts: Values | None = _SNAPSHOT_FACT_VALUES(body)
    if facts == _NO_SNAPSHOT_FACTS:
        facts = None  # most snapshots carry no conversation-level fact: skip the register merge
    return participants, reshaped, state.answered, facts, _union(state.division_ids, body.division_ids)


def _detail_parts(state: ConversationState, body: DetailEvent, key: OrderKey) -> _Parts:
    participants = state.participants
    update = _detail_update(body, key[0]) if body.participant_id is not None else None
    reshaped = False
    if update is not None:
        pid = str(body.participant_id)
        prev = participants.get(pid)
        merged = merge_participant(prev, pid, update, key)
        if merged is not prev:
            participants, reshaped = {**participants, pid: merged}, True
    divisions = _union(state.division_ids, (body.division_id,))
    return participants, reshaped, _answered(state.answered, body, key), _detail_facts(body), divisions


def fold(state: ConversationState | None, event: ConversationEvent) -> ConversationState:
    """Fold one event into a conversation's state (pure; see the module docstring for the guarantees).

    Args:
        state: The conversation's state so far, or None for a conversation not seen yet.
        event: An event of that conversation.

    Returns:
        The new state (``state`` itself is never modified; it is returned as is when the event adds
        nothing, e.g. a duplicate).

    Raises:
        ValueError: ``event`` belongs to another conversation than ``state``.
    """
    cid = event.conversation_id
    if state is None:
        state = ConversationState(cid)
    elif state.conversation_id != cid:
        raise ValueError(f"event of conversation {cid!r} folded into state of {state.conversation_id!r}")
    t = event.event_time
    key = (t, event.event_id)
    body = event.body
    if isinstance(body, ConversationSnapshot):
        participants, reshaped, answered, new_facts, divisions = _snapshot_parts(state, body, key)
    else:
        participants, reshaped, answered, new_facts, divisions = _detail_parts(state, body, key)
    facts, fact_keys = state.facts, state.fact_keys
    if new_facts is not None:
        facts, fact_keys = _merge(facts, fact_keys, new_facts, key)
    first, last = state.first_event_at, state.last_event_at
    first = t if first is None or t < first else first
    last = t if last is None or t > last else last
    status = _status(state, participants, reshaped, answered, t)
    if status is None:
        same_records = participants is state.participants and facts is state.facts
        same_times = first == state.first_event_at and last == state.last_event_at
        if same_records and same_times and divisions is state.division_ids:
            return state  # nothing new (a duplicate, or an older event re-stating what is known)
        status = state.calculated_status, state.status_changed_at
    return new_conversation(
        cid, facts, fact_keys, divisions, participants, answered, first, last,
        *status, state.error_message, state.error_at, LOGIC_VERSION,
    )  # fmt: skip


def _status(
    state: ConversationState,
    participants: Mapping[str, ParticipantState],
    reshaped: bool,
    answered: Mapping[str, OrderKey],
    t: int,
) -> tuple[str | None, int | None] | None:
    """``(calculated_status, status_changed_at)`` after an event at ``t``; None when it cannot have changed.

    The status is a function of the merged records (:mod:`consumer.domain.status`). An event that only
    moved ``rkey`` values (a snapshot re-stating participants) cannot change it unless ``answered`` facts
    exist: they are the only status input that reads ``rkey``.
    """
    if not (
        reshaped
        or answered is not state.answered
        or (answered and participants is not state.participants)
        or state.logic_version != LOGIC_VERSION
    ):
        return None
    status = calculated_status(participants, answered)
    return status, t if status != state.calculated_status else state.status_changed_at


def _answered(answered: Mapping[str, OrderKey], d: DetailEvent, key: OrderKey) -> Mapping[str, OrderKey]:
    """Record ``acd.end`` ANSWERED as a fact about the answering user (greatest key wins)."""
    user = d.answered_user_id
    if d.kind != "acd.end" or user is None or d.acd_outcome != "answered":
        return answered
    prev = answered.get(user)
    if prev is not None and prev >= key:
        return answered
    return {**answered, user: key}


def fold_logic_version() -> int:
    """The ``logic_version`` this fold writes into the states it changes (read at call time)."""
    return LOGIC_VERSION


def fold_all(events: Iterable[ConversationEvent]) -> dict[str, ConversationState]:
    """Fold events, in the given order, into one state per conversation id."""
    states: dict[str, ConversationState] = {}
    for event in events:
        states[event.conversation_id] = fold(states.get(event.conversation_id), event)
    return states


def with_error(
    state: ConversationState | None, conversation_id: str, message: str, at: int
) -> ConversationState:
    """Record the last processing error that concerned this conversation (consumer/domain/row.py).

    An error older than the one recorded is ignored, so recording errors is order-insensitive too.
    """
    if state is None:
        state = ConversationState(conversation_id)
    elif state.conversation_id != conversation_id:
        raise ValueError(f"error of conversation {conversation_id!r} recorded on {state.conversation_id!r}")
    if state.error_at is not None and at < state.error_at:
        return state
    return ConversationState(
        state.conversation_id, state.facts, state.fact_keys, state.division_ids, state.participants,
        state.answered, state.first_event_at, state.last_event_at, state.calculated_status,
        state.status_changed_at, message, at, state.logic_version,
    )  # fmt: skip
