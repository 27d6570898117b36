"""Conversation-topic bodies -> :class:`~consumer.domain.events.ConversationSnapshot`.

Two shapes (reference §2):

- **Generic** (``v2.routing.queues.{id}.conversations``, ``v2.users.{id}.conversations``): participants
  carry per-media arrays (``calls[]``, ``callbacks[]``, ``chats[]``, ``emails[]``, ``messages[]``, …);
  each element becomes one :class:`Communication` with its own ``id`` and the array's media type.
  The generic participant has no queue name; ``conversationRoutingData.queue.name`` is used when that
  queue is the participant's ``queueId``.
- **Media-specific** (``….conversations.calls|callbacks|chats|emails|messages|…``): a flattened
  MediaParticipant is one participant plus its one communication. Genesys gives that communication no
  id, so its id is ``"<participant id>:<media type>"`` (e.g. ``"P-agent:voice"``), stable across every
  snapshot of the conversation. ``queue{id,name}`` and ``user{id,name}`` give queue id/name and user id.

Pure module: no I/O.
"""

from __future__ import annotations

from consumer.domain.events import Communication, ConversationSnapshot, Participant
from consumer.genesys._fields import Fields
from consumer.genesys.enums import MEDIA_ARRAYS, normalize_disconnect_type

__all__ = ["generic_snapshot", "media_communication_id", "media_snapshot", "snapshot_observed_time"]


def media_communication_id(participant_id: str, media_type: str) -> str:
    """The communication id given to a media-specific topic participant's one communication."""
    return f"{participant_id}:{media_type}"


def generic_snapshot(body: Fields) -> ConversationSnapshot:
    """A generic conversation-topic ``eventBody`` -> snapshot (participants with media arrays)."""
    return ConversationSnapshot(
        participants=tuple(_generic_participant(p) for p in body.objs("participants")),
        external_tag=body.text("externalTag"),
        division_ids=_division_ids(body),
    )


def media_snapshot(body: Fields, media_type: str) -> ConversationSnapshot:
    """A media-specific topic ``eventBody`` (flattened MediaParticipants) -> snapshot."""
    return ConversationSnapshot(
        participants=tuple(_media_participant(p, media_type) for p in body.objs("participants")),
        external_tag=body.text("externalTag"),
        division_ids=_division_ids(body),
    )


def snapshot_observed_time(snapshot: ConversationSnapshot) -> int | None:
    """The latest *observed* time in a snapshot (the event-time rule), or ``None`` if it carries none.

    Counts connected, disconnected, end, hold-start, ACW and park times; never scheduled future times
    (``resume_time``, ``callback_scheduled_time``).
    """
    times = [snapshot.conversation_start, snapshot.conversation_end]
    times += [participant_observed_time(p) for p in snapshot.participants]
    present = [t for t in times if t is not None]
    return max(present) if present else None


def participant_observed_time(p: Participant) -> int | None:
    """The latest observed time of one participant and its communications (the rule of
    :func:`snapshot_observed_time`; also used by the per-participant caches of normalization)."""
    times = [p.connected_time, p.end_time, p.start_acw_time, p.end_acw_time]
    for c in p.communications:
        times += [c.connected_time, c.disconnected_time, c.start_hold_time, c.park_time]
        times += [c.acw_start_time, c.acw_end_time]
    present = [t for t in times if t is not None]
    return max(present) if present else None


def _division_ids(body: Fields) -> tuple[str, ...]:
    """``divisions[].division.id`` (generic) — deduplicated, in Genesys's order."""
    ids: list[str] = []
    for entry in body.objs("divisions"):
        division = entry.obj("division")
        division_id = division.text("id") if division is not None else entry.text("id")
        if division_id is not None and division_id not in ids:
            ids.append(division_id)
    return tuple(ids)


def _wrapup(owner: Fields) -> tuple[str | None, str | None, int | None]:
    """``wrapup{code, notes, durationSeconds}`` -> (code, notes, duration seconds)."""
    wrapup = owner.obj("wrapup")
    if wrapup is None:
        return None, None, None
    return wrapup.text("code"), wrapup.text("notes"), wrapup.integer("durationSeconds")


def _generic_participant(p: Fields) -> Participant:
    p.reject_snake_case()
    participant_id = p.req_text("id")
    queue_id = p.text("queueId")
    communications: list[Communication] = []
    comm_wrapups: list[tuple[str | None, str | None, int | None]] = []
    for key, value in p.data.items():
        media_type = MEDIA_ARRAYS.get(key.lower())
        if media_type is None or value is None:
            continue
        for comm in p.objs(key):
            communications.append(_generic_communication(comm, media_type))
            comm_wrapups.append(_wrapup(comm))
    code, notes, duration = _wrapup(p)
    if code is None:
        # Some payloads put the wrap-up on the communication only; the last one recorded wins.
        code, notes, duration = next((w for w in reversed(comm_wrapups) if w[0] is not None), (None,) * 3)
    return Participant(
        id=participant_id,
        purpose=p.lower("purpose"),
        name=p.text("name"),
        user_id=p.text("userId"),
        queue_id=queue_id,
        queue_name=_routing_queue_name(p, queue_id),
        connected_time=p.time("connectedTime"),
        end_time=p.time("endTime"),
        start_acw_time=p.time("startAcwTime"),
        end_acw_time=p.time("endAcwTime"),
        wrapup_required=p.flag("wrapupRequired"),
        wrapup_expected=p.flag("wrapupExpected"),
        wrapup_code=code,
        wrapup_notes=notes,
        wrapup_duration_seconds=duration,
        monitored_participant_id=p.text("monitoredParticipantId") or p.text("screenMonitoredParticipantId"),
        coached_participant_id=p.text("coachedParticipantId"),
        barged_participant_id=p.text("bargedParticipantId"),
        address=p.text("address"),
        attributes=p.text_map("attributes"),
        communications=tuple(communications),
    )


def _routing_queue_name(p: Fields, queue_id: str | None) -> str | None:
    """``conversationRoutingData.queue.name`` when that queue is the participant's own queue."""
    routing = p.obj("conversationRoutingData")
    queue = routing.obj("queue") if routing is not None else None
    if queue is None or queue_id is None or queue.text("id") != queue_id:
        return None
    return queue.text("name")


def _generic_communication(c: Fields, media_type: str) -> Communication:
    c.reject_snake_case()
    acw = c.obj("afterCallWork")
    return Communication(
        id=c.req_text("id"),
        media_type=media_type,
        state=c.lower("state"),
        initial_state=c.lower("initialState"),
        held=c.flag("held"),
        confined=c.flag("confined"),
        direction=c.lower("direction"),
        disconnect_type=normalize_disconnect_type(c.text("disconnectType")),
        connected_time=c.time("connectedTime"),
        disconnected_time=c.time("disconnectedTime"),
        start_hold_time=c.time("startHoldTime"),
        park_time=c.time("parkTime"),
        resume_time=c.time("resumeTime"),
        callback_scheduled_time=c.time("callbackScheduledTime"),
        acw_state=acw.lower("state") if acw is not None else None,
        acw_start_time=acw.time("startTime") if acw is not None else None,
        acw_end_time=acw.time("endTime") if acw is not None else None,
    )


def _media_participant(p: Fields, media_type: str) -> Participant:
    p.reject_snake_case()
    participant_id = p.req_text("id")
    queue = p.obj("queue")
    user = p.obj("user")
    code, notes, duration = _wrapup(p)
    communication = Communication(
        id=media_communication_id(participant_id, media_type),
        media_type=media_type,
        state=p.lower("state"),
        initial_state=p.lower("initialState"),
        held=p.flag("held"),
        confined=p.flag("confined"),
        direction=p.lower("direction"),
        disconnect_type=normalize_disconnect_type(p.text("disconnectType")),
        connected_time=p.time("connectedTime"),
        start_hold_time=p.time("startHoldTime"),
        park_time=p.time("parkTime"),
        resume_time=p.time("resumeTime"),
        callback_scheduled_time=p.time("callbackScheduledTime"),
    )
    return Participant(
        id=participant_id,
        purpose=p.lower("purpose"),
        name=p.text("name"),
        user_id=user.text("id") if user is not None else p.text("userId"),
        queue_id=queue.text("id") if queue is not None else p.text("queueId"),
        queue_name=queue.text("name") if queue is not None else None,
        connected_time=p.time("connectedTime"),
        end_time=p.time("endTime"),
        start_acw_time=p.time("startAcwTime"),
        end_acw_time=p.time("endAcwTime"),
        wrapup_required=p.flag("wrapupRequired"),
        wrapup_code=code,
        wrapup_notes=notes,
        wrapup_duration_seconds=duration,
        monitored_participant_id=p.text("monitoredParticipantId"),
        coached_participant_id=p.text("coachedParticipantId"),
        barged_participant_id=p.text("bargedParticipantId"),
        address=p.text("address") or p.text("ani"),
        attributes=p.text_map("attributes"),
        communications=(communication,),
    )
