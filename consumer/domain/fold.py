"""The fold: ``fold(state | None, event) -> state``, pure and deterministic (SPEC §4).

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
from itertools import repeat
from operator import attrgetter, gt, is_
from typing import Final

from consumer.domain.events import ConversationEvent, ConversationSnapshot, DetailEvent
from consumer.domain.state import (
    COMMUNICATION_FIELDS,
    FACT_FIELDS,
    IMPLICIT_COMM_KEYS,
    IMPLICIT_PARTICIPANT_KEYS,
    LOGIC_VERSION,
    NO_COMM_VALUES,
    NO_PARTICIPANT_VALUES,
    PARTICIPANT_FIELDS,
    TERMINAL_STATES,
    CommunicationState,
    ConversationState,
    Keys,
    OrderKey,
    ParticipantState,
    Value,
    Values,
)
from consumer.domain.status import calculated_status

__all__ = ["flow_purpose", "fold", "fold_all", "with_error"]

_NONES = repeat(None)
_COMM_VALUES = attrgetter(*COMMUNICATION_FIELDS)
_PARTICIPANT_VALUES = attrgetter(*PARTICIPANT_FIELDS)
_SNAPSHOT_FACTS: Final = FACT_FIELDS[:9]
_SNAPSHOT_FACT_VALUES = attrgetter(*_SNAPSHOT_FACTS)
_NO_OUTBOUND: Final[Values] = (None,) * (len(FACT_FIELDS) - len(_SNAPSHOT_FACTS))

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


def _merge_relative(
    values: Values, keys: Keys, new: Values, key: OrderKey, old_rkey: OrderKey | None, rkey: OrderKey | None
) -> tuple[Values, Keys]:
    """Per-field last-writer-wins on effective keys, re-expressed relative to the new ``rkey``."""
    out_v: list[Value] = []
    out_k: list[OrderKey | None] = []
    for v, k, n in zip(values, keys, new, strict=True):
        if k is None and v is not None:
            k = old_rkey
        if n is not None and (k is None or key >= k):
            v, k = n, key
        out_v.append(v)
        out_k.append(None if k is None or k == rkey else k)
    return tuple(out_v), tuple(out_k)


def _covers(values: Values, new: Values) -> bool:
    """True when ``new`` sets every field ``values`` has set (so, if newer, it replaces them all)."""
    # C-level maps: "new is None" > "old is None" flags a field the update would leave unknown.
    return new == values or not any(map(gt, map(is_, new, _NONES), map(is_, values, _NONES)))


def _terminal(old: str | None, state: Value) -> str | None:
    """Grow-only terminal flag; ``terminated`` wins over ``disconnected`` so order does not matter."""
    if state not in TERMINAL_STATES or old == state or old == "terminated":
        return old
    return str(state)


def _merge_attributes(
    old: Mapping[str, tuple[str, OrderKey]], new: Mapping[str, str], key: OrderKey
) -> Mapping[str, tuple[str, OrderKey]]:
    out: dict[str, tuple[str, OrderKey]] | None = None
    for name, value in new.items():
        prev = old.get(name)
        if prev is None or key >= prev[1]:
            if out is None:
                out = dict(old)
            out[name] = (value, key)
    return old if out is None else out


Comms = list[tuple[str, Values]]
ParticipantUpdate = tuple[Values, Comms, Mapping[str, str], bool]
"""What one event says about one participant: values, communications, attributes, ACW complete."""


def _covering(old: ParticipantState, values: Values, comms: Comms) -> bool:
    """True when the update restates every known field of the participant and of all its communications."""
    if not _covers(old.values, values):
        return False
    if len(comms) > 1 and len({cid for cid, _ in comms}) != len(comms):
        return False  # one communication twice in one event: let the general merge combine them
    for cid, c in old.communications.items():
        for new_cid, new in comms:
            if new_cid == cid:
                if not _covers(c.values, new):
                    return False
                break
        else:
            return False
    return True


def _fast_comms(old: ParticipantState, updates: Comms) -> Mapping[str, CommunicationState]:
    """Communications after a newer covering update: the update's values, all keys implicit."""
    comms = old.communications
    out: dict[str, CommunicationState] | None = None
    for cid, values in updates:
        prev = comms.get(cid)
        terminal = _terminal(None if prev is None else prev.terminal, values[1])
        if (
            prev is not None
            and prev.terminal is terminal
            and prev.keys is IMPLICIT_COMM_KEYS
            and prev.values == values
        ):
            continue
        if out is None:
            out = dict(comms)
        out[cid] = CommunicationState(cid, values, IMPLICIT_COMM_KEYS, terminal)
    return comms if out is None else out


def _slow_comms(
    old: ParticipantState, updates: Comms, key: OrderKey, rkey: OrderKey | None
) -> Mapping[str, CommunicationState]:
    """Communications after any update: effective-key merge, every communication re-keyed to ``rkey``."""
    old_rkey = old.rkey
    out = dict(old.communications)
    if rkey != old_rkey:
        for cid, c in out.items():
            values, keys = _merge_relative(c.values, c.keys, NO_COMM_VALUES, key, old_rkey, rkey)
            out[cid] = CommunicationState(cid, values, keys, c.terminal)
    for cid, new in updates:
        prev = out.get(cid)
        if prev is None:
            prev = CommunicationState(cid)
        values, keys = _merge_relative(prev.values, prev.keys, new, key, rkey, rkey)
        out[cid] = CommunicationState(cid, values, keys, _terminal(prev.terminal, new[1]))
    return out


def _wrote(values: Values, comms: Comms) -> bool:
    if values != NO_PARTICIPANT_VALUES:
        return True
    return any(v != NO_COMM_VALUES for _, v in comms)


def _merge_participant(
    old: ParticipantState | None, pid: str, update: ParticipantUpdate, key: OrderKey
) -> ParticipantState:
    """Merge one event's view of a participant (see the module docstring of ``state`` for ``rkey``)."""
    if old is None:
        old = ParticipantState(pid)
    new_values, comms, attributes, acw_complete = update
    old_rkey = old.rkey
    wrote = _wrote(new_values, comms)
    rkey = key if wrote and (old_rkey is None or key > old_rkey) else old_rkey
    attrs = _merge_attributes(old.attributes, attributes, key) if attributes else old.attributes
    acw = old.acw_complete or acw_complete
    if rkey is key and _covering(old, new_values, comms):
        values = old.values if new_values == old.values else new_values
        merged_comms = _fast_comms(old, comms)
        return ParticipantState(pid, values, IMPLICIT_PARTICIPANT_KEYS, attrs, merged_comms, acw, rkey)
    if not wrote:
        if attrs is old.attributes and acw == old.acw_complete and not comms:
            return old
        merged_comms = _slow_comms(old, comms, key, rkey) if comms else old.communications
        return ParticipantState(pid, old.values, old.keys, attrs, merged_comms, acw, rkey)
    values, keys = _merge_relative(old.values, old.keys, new_values, key, old_rkey, rkey)
    merged = ParticipantState(pid, values, keys, attrs, _slow_comms(old, comms, key, rkey), acw, rkey)
    return old if merged == old else merged


def _apply_snapshot(
    participants: Mapping[str, ParticipantState], body: ConversationSnapshot, key: OrderKey
) -> Mapping[str, ParticipantState]:
    out: dict[str, ParticipantState] | None = None
    for p in body.participants:
        pid = p.id
        prev = participants.get(pid) if out is None else out.get(pid)
        update = (
            _PARTICIPANT_VALUES(p),
            [(c.id, _COMM_VALUES(c)) for c in p.communications],
            p.attributes,
            False,
        )
        merged = _merge_participant(prev, pid, update, key)
        if merged is not prev:
            if out is None:
                out = dict(participants)
            out[pid] = merged
    return participants if out is None else out


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


def _union(current: tuple[str, ...], extra: Iterable[str | None]) -> tuple[str, ...]:
    new = {x for x in extra if x is not None}
    if new.issubset(current):
        return current
    return tuple(sorted(new.union(current)))


def fold(state: ConversationState | None, event: ConversationEvent) -> ConversationState:
    """Fold one event into a conversation's state (pure; see the module docstring for the guarantees).

    Args:
        state: The conversation's state so far, or None for a conversation not seen yet.
        event: An event of that conversation.

    Returns:
        The new state (``state`` itself is never modified).

    Raises:
        ValueError: ``event`` belongs to another conversation than ``state``.
    """
    cid = event.conversation_id
    if state is None:
        state = ConversationState(cid)
    elif state.conversation_id != cid:
        raise ValueError(f"event of conversation {cid!r} folded into state of {state.conversation_id!r}")
    key = (event.event_time, event.event_id)
    t = event.event_time
    body = event.body
    participants = state.participants
    answered = state.answered
    facts, fact_keys = state.facts, state.fact_keys
    if isinstance(body, ConversationSnapshot):
        participants = _apply_snapshot(participants, body, key)
        new_facts: Values | None = _SNAPSHOT_FACT_VALUES(body) + _NO_OUTBOUND
        divisions = _union(state.division_ids, body.division_ids)
    else:
        update = _detail_update(body, t) if body.participant_id is not None else None
        if update is not None:
            pid = str(body.participant_id)
            prev = participants.get(pid)
            merged = _merge_participant(prev, pid, update, key)
            if merged is not prev:
                participants = {**participants, pid: merged}
        new_facts = _detail_facts(body)
        divisions = _union(state.division_ids, (body.division_id,))
        answered = _answered(answered, body, key)
    if new_facts is not None:
        facts, fact_keys = _merge(facts, fact_keys, new_facts, key)
    status = state.calculated_status
    changed_at = state.status_changed_at
    if (
        participants is not state.participants
        or answered is not state.answered
        or state.logic_version != LOGIC_VERSION
    ):
        status = calculated_status(participants, answered)
        if status != state.calculated_status:
            changed_at = t
    first, last = state.first_event_at, state.last_event_at
    return ConversationState(
        cid, facts, fact_keys, divisions, participants, answered,
        t if first is None or t < first else first,
        t if last is None or t > last else last,
        status, changed_at, state.error_message, state.error_at, LOGIC_VERSION,
    )  # fmt: skip


def _answered(answered: Mapping[str, OrderKey], d: DetailEvent, key: OrderKey) -> Mapping[str, OrderKey]:
    """Record ``acd.end`` ANSWERED as a fact about the answering user (greatest key wins)."""
    user = d.answered_user_id
    if d.kind != "acd.end" or user is None or d.acd_outcome != "answered":
        return answered
    prev = answered.get(user)
    if prev is not None and prev >= key:
        return answered
    return {**answered, user: key}


def fold_all(events: Iterable[ConversationEvent]) -> dict[str, ConversationState]:
    """Fold events, in the given order, into one state per conversation id."""
    states: dict[str, ConversationState] = {}
    for event in events:
        states[event.conversation_id] = fold(states.get(event.conversation_id), event)
    return states


def with_error(
    state: ConversationState | None, conversation_id: str, message: str, at: int
) -> ConversationState:
    """Record the last processing error that concerned this conversation (SPEC §4.5).

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
