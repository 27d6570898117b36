"""The derived columns: the ``conversation`` table row (consumer/sql/) derived from a folded state.

Every column is a function of the merged state (and of the queue directory for the queue name), so it
is as order-insensitive as the state; ``status_changed_at`` is copied from the state.

- ``conversation_start``: earliest participant connected time, else the analytics conversation start,
  else the first event time.
- ``conversation_end``: when the status is ``ended``, the latest participant end time (a participant
  without one ends when its last communication disconnected), else the analytics conversation end;
  None while not ended (so a re-opened conversation has none).
- ``originating_direction`` / ``conversation_initiator``: the analytics value when an analytics snapshot
  carried one, else derived: the direction of the earliest customer/external communication, else of
  the earliest communication with a direction; the purpose of the earliest participant.
- ``original_media_type``: media type of the earliest communication that has one.
- ``customer_participation``, MOS, R-factor: analytics only. ``self_served``: analytics, else derived
  (ended, had a flow participant, never an agent), None while not ended.
- "Earliest" orders by connected time (a communication without one uses its participant's), unknown
  times last, then participant id, then communication id — never by arrival order.

Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from consumer.domain.queues import last_queue
from consumer.domain.state import CommunicationState, ConversationState, ParticipantState
from consumer.domain.status import AGENT_PURPOSES, FLOW_PURPOSES, participant_end

__all__ = ["ConversationRow", "derive_row"]

_LATE = 1 << 62  # sorts unknown times after every real epoch-ms value


@dataclass(frozen=True, slots=True)
class ConversationRow:
    """Exactly the columns of the ``conversation`` table (consumer/sql/), in domain types (epoch ms)."""

    conversation_id: str
    conversation_start: int | None
    conversation_end: int | None
    originating_direction: str | None
    original_media_type: str | None
    conversation_initiator: str | None
    calculated_status: str | None
    status_changed_at: int | None
    last_queue_id: str | None
    last_queue_name: str | None
    external_tag: str | None
    division_ids: tuple[str, ...]
    customer_participation: bool | None
    self_served: bool | None
    media_stats_min_conversation_mos: float | None
    media_stats_min_conversation_rfactor: float | None
    error_message: str | None
    last_event_at: int | None
    logic_version: int


def _visible(state: ConversationState) -> list[ParticipantState]:
    return [p for p in state.participants.values() if not p.is_monitor]


def _comms_in_order(
    participants: list[ParticipantState],
) -> list[tuple[ParticipantState, CommunicationState]]:
    def order(pc: tuple[ParticipantState, CommunicationState]) -> tuple[int, str, str]:
        p, c = pc
        t = c.connected_time if c.connected_time is not None else p.connected_time
        return (_LATE if t is None else t, p.id, c.id)

    return sorted(((p, c) for p in participants for c in p.communications.values()), key=order)


def _originating_direction(comms: list[tuple[ParticipantState, CommunicationState]]) -> str | None:
    fallback: str | None = None
    for p, c in comms:
        direction = c.direction
        if direction is None:
            continue
        if p.purpose in ("customer", "external"):
            return direction
        if fallback is None:
            fallback = direction
    return fallback


def _initiator(participants: list[ParticipantState]) -> str | None:
    known = [p for p in participants if p.purpose is not None]
    if not known:
        return None
    first = min(known, key=lambda p: (_LATE if p.connected_time is None else p.connected_time, p.id))
    return first.purpose


def _start(state: ConversationState, participants: list[ParticipantState]) -> int | None:
    times = [p.connected_time for p in participants if p.connected_time is not None]
    if times:
        return min(times)
    analytics = state.fact_int("conversation_start")
    return analytics if analytics is not None else state.first_event_at


def _end(state: ConversationState, participants: list[ParticipantState]) -> int | None:
    if state.calculated_status != "ended":
        return None
    ends = [e for e in (participant_end(p) for p in participants) if e is not None]
    return max(ends) if ends else state.fact_int("conversation_end")


def _self_served(state: ConversationState, participants: list[ParticipantState]) -> bool | None:
    analytics = state.fact_bool("self_served")
    if analytics is not None:
        return analytics
    if state.calculated_status != "ended":
        return None
    purposes = {p.purpose for p in participants}
    return bool(purposes & FLOW_PURPOSES) and not purposes & AGENT_PURPOSES


def derive_row(state: ConversationState, queue_names: Mapping[str, str] | None = None) -> ConversationRow:
    """The ``conversation`` row of a folded state (see the module docstring for each column).

    Args:
        state: A folded state.
        queue_names: The queue directory (queue id -> name), used when no event carried the name.
    """
    participants = _visible(state)
    comms = _comms_in_order(participants)
    queue_id, queue_name = last_queue(state.participants, state.answered, queue_names)
    return ConversationRow(
        conversation_id=state.conversation_id,
        conversation_start=_start(state, participants),
        conversation_end=_end(state, participants),
        originating_direction=state.fact_str("originating_direction") or _originating_direction(comms),
        original_media_type=next((c.media_type for _, c in comms if c.media_type is not None), None),
        conversation_initiator=state.fact_str("conversation_initiator") or _initiator(participants),
        calculated_status=state.calculated_status,
        status_changed_at=state.status_changed_at,
        last_queue_id=queue_id,
        last_queue_name=queue_name,
        external_tag=state.fact_str("external_tag"),
        division_ids=state.division_ids,
        customer_participation=state.fact_bool("customer_participation"),
        self_served=_self_served(state, participants),
        media_stats_min_conversation_mos=state.fact_float("media_stats_min_conversation_mos"),
        media_stats_min_conversation_rfactor=state.fact_float("media_stats_min_conversation_rfactor"),
        error_message=state.error_message,
        last_event_at=state.last_event_at,
        logic_version=state.logic_version,
    )
