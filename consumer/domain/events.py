"""Typed domain events: what the bridge publishes and the fold consumes.

One :class:`ConversationEvent` per Genesys message (or per analytics conversation record). Its ``body`` is
either a :class:`ConversationSnapshot` (a whole-conversation view: notification conversation topics,
REST, analytics records) or a :class:`DetailEvent` (one analytics detail event, ``kind`` such as
``acd.end``). Every Genesys-sourced field is optional: Genesys omits nulls.

Conventions (normalization guarantees them; the fold relies on them):

- Times are integers, epoch milliseconds UTC.
- Enum-like strings are normalized: states, purposes, directions, media types lowercase
  (``voice|callback|chat|email|message|…``); disconnect types to one dotted lowercase spelling
  (``transfer.consult``, ``endpoint``, ``client``, …, see ``genesys/normalize.py``); detail-event
  ``acd_outcome`` lowercase (``answered``, ``abandon``, ``flow_out``).
- ``event_id`` is the lowercase hex SHA-256 of ``topic_name + "\\n" + canonical JSON of eventBody``
  (sorted keys, no whitespace), so one Genesys message delivered twice has one id.
- ``event_time`` is computed once by the bridge and never recomputed downstream (README "How it works").

Pure module: dataclasses only, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "SOURCES",
    "Communication",
    "ConversationEvent",
    "ConversationSnapshot",
    "DetailEvent",
    "Participant",
    "Source",
]

Source = Literal["notifications", "eventbridge", "analytics", "simulator", "file"]
SOURCES: Final = ("notifications", "eventbridge", "analytics", "simulator", "file")


@dataclass(frozen=True, slots=True)
class Communication:
    """One communication (session) of a participant: a call, callback, chat, email, message, …

    Detail events' ``sessionId`` is the communication id.
    """

    id: str
    media_type: str | None = None
    state: str | None = None
    initial_state: str | None = None
    held: bool | None = None
    confined: bool | None = None
    direction: str | None = None
    disconnect_type: str | None = None
    connected_time: int | None = None
    disconnected_time: int | None = None
    start_hold_time: int | None = None
    park_time: int | None = None
    resume_time: int | None = None
    callback_scheduled_time: int | None = None
    acw_state: str | None = None
    acw_start_time: int | None = None
    acw_end_time: int | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    """One participant of a conversation snapshot, with its communications."""

    id: str
    purpose: str | None = None
    name: str | None = None
    user_id: str | None = None
    queue_id: str | None = None
    queue_name: str | None = None
    connected_time: int | None = None
    end_time: int | None = None
    start_acw_time: int | None = None
    end_acw_time: int | None = None
    wrapup_required: bool | None = None
    wrapup_expected: bool | None = None
    wrapup_code: str | None = None
    wrapup_notes: str | None = None
    wrapup_duration_seconds: int | None = None
    monitored_participant_id: str | None = None
    coached_participant_id: str | None = None
    barged_participant_id: str | None = None
    address: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    communications: tuple[Communication, ...] = ()


@dataclass(frozen=True, slots=True)
class ConversationSnapshot:
    """A whole-conversation view. Analytics-only facts are set only by analytics records."""

    participants: tuple[Participant, ...] = ()
    external_tag: str | None = None
    division_ids: tuple[str, ...] = ()
    conversation_start: int | None = None
    conversation_end: int | None = None
    originating_direction: str | None = None
    conversation_initiator: str | None = None
    customer_participation: bool | None = None
    self_served: bool | None = None
    media_stats_min_conversation_mos: float | None = None
    media_stats_min_conversation_rfactor: float | None = None


@dataclass(frozen=True, slots=True)
class DetailEvent:
    """One analytics detail event (``v2.detail.events.conversation.{id}.<kind>``)."""

    kind: str
    participant_id: str | None = None
    session_id: str | None = None
    media_type: str | None = None
    direction: str | None = None
    disconnect_type: str | None = None
    queue_id: str | None = None
    user_id: str | None = None
    division_id: str | None = None
    acd_outcome: str | None = None
    answered_user_id: str | None = None
    flow_type: str | None = None
    flow_id: str | None = None
    wrapup_code: str | None = None
    wrapup_notes: str | None = None
    wrapup_duration_ms: int | None = None
    callback_scheduled_time: int | None = None
    outbound_campaign_id: str | None = None
    outbound_contact_list_id: str | None = None
    outbound_contact_id: str | None = None
    external_contact_id: str | None = None
    ani: str | None = None
    dnis: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ConversationEvent:
    """The envelope published on ``genesys.conversation.events`` (keyed by ``conversation_id``)."""

    event_id: str
    conversation_id: str
    event_time: int
    received_at: int
    source: Source
    topic_name: str
    topic_pattern: str
    body: ConversationSnapshot | DetailEvent
    correlation_id: str | None = None

    @property
    def order_key(self) -> tuple[int, str]:
        """The merge order: a field takes a value only from an event whose key is >=."""
        return (self.event_time, self.event_id)
