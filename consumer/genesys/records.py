"""Analytics conversation detail records -> :class:`ConversationSnapshot` (reference §5.2).

A record is ``conversation → participants[] → sessions[] → segments[]``. Each participant becomes a
:class:`Participant` (``participantId``, ``participantName`` -> ``name``, ``purpose``, ``userId``); each
session becomes a :class:`Communication` whose id is ``sessionId`` (the same id detail events use).
Segments carry no communication state, so it is derived, and documented here:

1. Wrap-up segments (``segmentType: wrapup``) are after-call work, not media: the first one's start is
   the ACW start; while the last one is open ACW is ``pending``, once closed ``complete`` with its end.
   ``wrapUpCode``/``wrapUpNote`` of the last segment that has one are the participant's wrap-up.
2. The media segments (all others) decide the state: the session is ``disconnected`` once any media
   segment carries a ``disconnectType`` or the last media segment has a ``segmentEnd`` (its end is the
   disconnected time); otherwise the open last segment says: ``alert`` -> ``alerting``, ``dialing``,
   ``contacting``, ``scheduled``, ``parked`` as named, ``hold`` -> ``connected`` and held, anything else
   (``interact``, ``ivr``, ``voicemail``, …) -> ``connected``.
3. Connected time = start of the first media segment that is not ``alert``/``dialing``/``contacting``/
   ``scheduled``. A participant ends (end time = latest media ``segmentEnd``) once all its sessions
   are disconnected. Its queue id is the ``queueId`` of its latest segment that has one.
   ``participantName`` is not taken as a queue name (unconfirmed in Genesys; the directory is used).

Conversation facts ride along: ``conversationStart/End``, ``originatingDirection``,
``conversationInitiator``, ``customerParticipation``, ``selfServed``, ``externalTag``, ``divisionIds``,
``mediaStatsMinConversationMos``, ``mediaStatsMinConversationRFactor``.

Pure module: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from consumer.domain.events import Communication, ConversationSnapshot, Participant
from consumer.genesys._fields import Fields
from consumer.genesys.enums import normalize_disconnect_type, normalize_media_type

__all__ = ["record_observed_time", "record_snapshot"]

_OPEN_STATES: Final = {"alert": "alerting", "dialing": "dialing", "contacting": "contacting",
                       "scheduled": "scheduled", "parked": "parked"}  # fmt: skip
_NOT_CONNECTED: Final = frozenset({"alert", "dialing", "contacting", "scheduled"})


@dataclass(frozen=True, slots=True)
class _Segment:
    start: int | None
    end: int | None
    kind: str | None
    queue_id: str | None
    disconnect_type: str | None
    wrapup_code: str | None
    wrapup_note: str | None


@dataclass(frozen=True, slots=True)
class _Session:
    communication: Communication
    segments: tuple[_Segment, ...]
    ended_at: int | None


def record_snapshot(record: Fields) -> ConversationSnapshot:
    """One analytics conversation record -> snapshot with the analytics-only facts set."""
    return ConversationSnapshot(
        participants=tuple(_participant(p) for p in record.objs("participants")),
        external_tag=record.text("externalTag"),
        division_ids=tuple(dict.fromkeys(record.texts("divisionIds"))),
        conversation_start=record.time("conversationStart"),
        conversation_end=record.time("conversationEnd"),
        originating_direction=record.lower("originatingDirection"),
        conversation_initiator=record.lower("conversationInitiator"),
        customer_participation=record.flag("customerParticipation"),
        self_served=record.flag("selfServed"),
        media_stats_min_conversation_mos=record.number("mediaStatsMinConversationMos"),
        media_stats_min_conversation_rfactor=record.number("mediaStatsMinConversationRFactor"),
    )


def record_observed_time(record: Fields) -> int | None:
    """The latest observed time of a record: conversation start/end and every segment start/end."""
    times = [record.time("conversationStart"), record.time("conversationEnd")]
    for p in record.objs("participants"):
        for s in p.objs("sessions"):
            for seg in s.objs("segments"):
                times += [seg.time("segmentStart"), seg.time("segmentEnd")]
    present = [t for t in times if t is not None]
    return max(present) if present else None


def _segment(seg: Fields) -> _Segment:
    seg.reject_snake_case()
    return _Segment(
        start=seg.time("segmentStart"),
        end=seg.time("segmentEnd"),
        kind=seg.lower("segmentType"),
        queue_id=seg.text("queueId"),
        disconnect_type=normalize_disconnect_type(seg.text("disconnectType")),
        wrapup_code=seg.text("wrapUpCode"),
        wrapup_note=seg.text("wrapUpNote"),
    )


def _session(s: Fields) -> _Session:
    s.reject_snake_case()
    segments = tuple(sorted((_segment(x) for x in s.objs("segments")), key=lambda g: g.start or 0))
    media = [g for g in segments if g.kind != "wrapup"]
    wraps = [g for g in segments if g.kind == "wrapup"]
    disconnect = next((g.disconnect_type for g in reversed(media) if g.disconnect_type), None)
    last = media[-1] if media else None
    ended = last is None or disconnect is not None or last.end is not None
    ended_at = max((g.end for g in media if g.end is not None), default=None) if ended else None
    open_kind = None if ended or last is None else last.kind
    connected = next((g.start for g in media if g.kind not in _NOT_CONNECTED), None)
    communication = Communication(
        id=s.req_text("sessionId"),
        media_type=normalize_media_type(s.text("mediaType")),
        state="disconnected" if ended else _OPEN_STATES.get(open_kind or "", "connected"),
        held=None if ended else open_kind == "hold",
        direction=s.lower("direction"),
        disconnect_type=disconnect,
        connected_time=connected,
        disconnected_time=ended_at,
        start_hold_time=last.start if last is not None and open_kind == "hold" else None,
        park_time=last.start if last is not None and open_kind == "parked" else None,
        callback_scheduled_time=s.time("callbackScheduledTime"),
        acw_state=(None if not wraps else "pending" if wraps[-1].end is None else "complete"),
        acw_start_time=wraps[0].start if wraps else None,
        acw_end_time=wraps[-1].end if wraps else None,
    )
    return _Session(communication, segments, ended_at if ended else None)


def _participant(p: Fields) -> Participant:
    p.reject_snake_case()
    sessions = [_session(s) for s in p.objs("sessions")]
    comms = tuple(s.communication for s in sessions)
    segments = sorted((g for s in sessions for g in s.segments), key=lambda g: g.start or 0)
    all_ended = bool(sessions) and all(c.state == "disconnected" for c in comms)
    ends = [s.ended_at for s in sessions if s.ended_at is not None]
    wrap = next((g for g in reversed(segments) if g.wrapup_code is not None), None)
    acw_starts = [c.acw_start_time for c in comms if c.acw_start_time is not None]
    acw_open = any(c.acw_state == "pending" for c in comms)
    acw_ends = [c.acw_end_time for c in comms if c.acw_end_time is not None]
    connected = [c.connected_time for c in comms if c.connected_time is not None]
    return Participant(
        id=p.req_text("participantId"),
        purpose=p.lower("purpose"),
        name=p.text("participantName"),
        user_id=p.text("userId"),
        queue_id=next((g.queue_id for g in reversed(segments) if g.queue_id is not None), None),
        connected_time=min(connected) if connected else None,
        end_time=max(ends) if all_ended and ends else None,
        start_acw_time=min(acw_starts) if acw_starts else None,
        end_acw_time=max(acw_ends) if acw_ends and not acw_open else None,
        wrapup_code=wrap.wrapup_code if wrap is not None else None,
        wrapup_notes=wrap.wrapup_note if wrap is not None else None,
        communications=comms,
    )
