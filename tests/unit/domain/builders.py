"""Small builders for hand-written domain events in table tests."""

from __future__ import annotations

import hashlib
from typing import Any

from consumer.domain import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    ConversationState,
    DetailEvent,
    Participant,
    fold,
)

__all__ = ["T0", "comm", "det", "fold_events", "part", "snap"]

T0 = 1_735_725_600_000
_counter = iter(range(1_000_000_000))


def _event(t: int, body: ConversationSnapshot | DetailEvent, cid: str) -> ConversationEvent:
    event_id = hashlib.sha256(f"{cid}/{next(_counter)}".encode()).hexdigest()
    return ConversationEvent(
        event_id=event_id,
        conversation_id=cid,
        event_time=t,
        received_at=t,
        source="file",
        topic_name="test",
        topic_pattern="test",
        body=body,
    )


def comm(cid: str = "c1", state: str | None = "connected", **kw: Any) -> Communication:
    return Communication(id=cid, state=state, **kw)


def part(pid: str, purpose: str | None, *comms: Communication, **kw: Any) -> Participant:
    return Participant(id=pid, purpose=purpose, communications=comms, **kw)


def snap(t: int, *participants: Participant, cid: str = "conv-1", **kw: Any) -> ConversationEvent:
    return _event(T0 + t, ConversationSnapshot(participants=participants, **kw), cid)


def det(
    t: int, kind: str, pid: str | None = None, sid: str | None = None, cid: str = "conv-1", **kw: Any
) -> ConversationEvent:
    return _event(T0 + t, DetailEvent(kind=kind, participant_id=pid, session_id=sid, **kw), cid)


def fold_events(*events: ConversationEvent) -> ConversationState:
    state: ConversationState | None = None
    for e in events:
        state = fold(state, e)
    assert state is not None
    return state
