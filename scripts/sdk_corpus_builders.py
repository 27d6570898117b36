"""Builders shared by the scenario modules of :mod:`sdk_corpus`: SDK bodies of the generic and media-specific
conversation topics, analytics segments and sessions, topic names.

Conventions of every scenario: a snapshot line's ``receivedAt`` is 100 ms after the latest observed time in
its body, so its event time is the ``receivedAt``; detail events are delivered through EventBridge 80 ms
after their ``eventTime`` and take ``eventTime`` as event time. ``status_changed_at`` is the event time of
the line that changed the status; ``last_event_at`` the latest event time. Expected values follow Genesys'
meaning and the documented rules (``tests/data/README.md``), never the fold's output.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sdk_corpus import at, model, uid

DIV = uid("division")


Q = "QueueConversationEventTopic"


U = "ConversationEventTopic"


COMMON = {"external_tag": None, "customer_participation": None}


DELIVERY = timedelta(milliseconds=80)


VOICE_IN = {"media_type": "VOICE", "direction": "INBOUND"}


def generic(prefix: str, conversation: str, participants: list[Any], *, divisions: bool = True) -> Any:
    """A generic conversation-topic body (``QueueConversationEventTopic…`` or ``ConversationEventTopic…``)."""
    fields: dict[str, Any] = {"id": conversation, "participants": participants}
    if divisions:
        ref = model(f"{prefix}DivisionEntityRef", id=DIV)
        fields["divisions"] = [model(f"{prefix}ConversationDivisionMembership", division=ref, entities=[])]
    return model(f"{prefix}Conversation", **fields)


def gp(prefix: str, pid: str, purpose: str, media: str, comms: list[dict[str, Any]], **fields: Any) -> Any:
    """A generic participant with communications of one media array (``calls``, ``emails``…)."""
    cls = {
        "calls": "Call",
        "callbacks": "Callback",
        "emails": "Email",
        "chats": "Chat",
        "messages": "Message",
    }
    built = []
    for comm in comms:
        comm = dict(comm)
        if "after_call_work" in comm:
            comm["after_call_work"] = model(f"{prefix}AfterCallWork", **comm["after_call_work"])
        built.append(model(f"{prefix}{cls[media]}", **comm))
    if "wrapup" in fields:
        fields["wrapup"] = model(f"{prefix}Wrapup", **fields["wrapup"])
    return model(f"{prefix}Participant", id=pid, purpose=purpose, **{media: built}, **fields)


def media_body(prefix: str, stem: str, conversation: str, participants: list[dict[str, Any]]) -> Any:
    """A media-specific topic body (``QueueConversationCallEventTopicCallConversation`` …)."""
    built = []
    for p in participants:
        p = dict(p)
        if "queue" in p:
            p["queue"] = model(f"{prefix}{stem}EventTopicUriReference", **p["queue"])
        if "user" in p:
            p["user"] = model(f"{prefix}{stem}EventTopicUriReference", id=p["user"])
        if "wrapup" in p:
            p["wrapup"] = model(f"{prefix}{stem}EventTopicWrapup", **p["wrapup"])
        built.append(model(f"{prefix}{stem}EventTopic{stem}MediaParticipant", **p))
    return model(f"{prefix}{stem}EventTopic{stem}Conversation", id=conversation, participants=built)


def mp(
    pid: str, purpose: str, state: str, connected: datetime | None, end: datetime | None = None, **more: Any
) -> dict[str, Any]:
    """A media-specific participant's fields (its one communication is the participant itself)."""
    fields: dict[str, Any] = {"id": pid, "purpose": purpose, "state": state, **more}
    if connected is not None:
        fields["connected_time"] = connected
    if end is not None:
        fields["end_time"] = end
    return fields


def queue_topic(queue: str, suffix: str = "") -> str:
    return f"v2.routing.queues.{queue}.conversations{suffix}"


def user_topic(user: str, suffix: str = "") -> str:
    return f"v2.users.{user}.conversations{suffix}"


def segment(kind: str, start: str, end: str | None = None, **more: Any) -> Any:
    fields: dict[str, Any] = {"segment_type": kind, "segment_start": at(start), **more}
    if end is not None:
        fields["segment_end"] = at(end)
    return model("AnalyticsConversationSegment", **fields)


def session(sid: str, media: str, direction: str, segments: list[Any]) -> Any:
    return model("AnalyticsSession", session_id=sid, media_type=media, direction=direction, segments=segments)
