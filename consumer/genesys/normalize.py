"""Genesys JSON messages -> typed :class:`~consumer.domain.events.ConversationEvent` s.

Entry point: :func:`normalize_message`. Accepted shapes (reference §1.3, §2, §3, §4, §5):

1. Notifications envelope ``{topicName, version, eventBody, metadata: {CorrelationId}}`` for

   - generic conversation topics ``v2.routing.queues.{id}.conversations`` and
     ``v2.users.{id}.conversations`` -> one snapshot event (see :mod:`consumer.genesys.snapshots`);
   - media-specific topics ``….conversations.calls|callbacks|chats|emails|messages|cobrowsesessions|
     screenshares|socialexpressions|videos`` -> one snapshot event (communication id
     ``"<participant id>:<media type>"``);
   - detail events ``v2.detail.events.conversation.{id}.<kind>`` for the kinds in
     :data:`~consumer.genesys.details.DETAIL_KINDS` -> one detail event.
2. EventBridge event ``{detail-type, source: aws.partner/genesys.com…, detail: {topicName, version,
   eventBody, metadata, timestamp}}`` -> as 1., with ``source="eventbridge"`` and ``received_at`` =
   ``detail.timestamp`` when present.
3. Analytics conversation detail record ``{conversationId, conversationStart, participants[…]}`` -> one
   snapshot event with ``source="analytics"`` and topic name/pattern :data:`ANALYTICS_TOPIC`
   (``analytics.conversation.details``); a details-query page ``{conversations: [record, …]}`` gives one
   event per record. The record itself is the hashed body.

Guarantees:

- ``event_id`` = lowercase hex SHA-256 of ``topic_name + "\\n" + canonical JSON of the body``
  (``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``, UTF-8): the same
  message delivered twice, whatever its whitespace or key order, has one id.
- ``event_time``: detail events -> ``eventTime``; snapshots -> max(latest observed time in the body,
  ``received_at``) (SPEC §3; ``resumeTime``/``callbackScheduledTime`` never count).
- ``topic_pattern`` = the topic with ids replaced by ``{id}``; ``conversation_id`` from the body
  (``id`` for conversation topics, ``conversationId`` for detail events and analytics records).
- Heartbeats, pongs and other ``channel.metadata``, subscribe acknowledgements (``{"result": …}``) and
  ``v2.system.*`` messages return :class:`Ignored`, never an error.
- An unrecognized topic raises :class:`~consumer.errors.UnknownTopicError` (never guessed); a malformed
  message raises :class:`~consumer.errors.NormalizeError` naming the JSON path (``eventBody.id missing``).

Pure module: no I/O, clock, logging or randomness.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from consumer.domain.events import ConversationEvent, ConversationSnapshot, DetailEvent, Source
from consumer.errors import NormalizeError, UnknownTopicError
from consumer.genesys._fields import Fields
from consumer.genesys.details import DETAIL_KINDS, detail_event
from consumer.genesys.enums import MEDIA_TOPIC_SUFFIXES
from consumer.genesys.records import record_observed_time, record_snapshot
from consumer.genesys.snapshots import generic_snapshot, media_snapshot, snapshot_observed_time

__all__ = [
    "ANALYTICS_TOPIC",
    "EVENTBRIDGE_SOURCE_PREFIX",
    "Ignored",
    "NormalizeResult",
    "Normalized",
    "canonical_json",
    "compute_event_id",
    "is_analytics_record",
    "is_eventbridge_event",
    "normalize_message",
    "topic_pattern",
]

#: Topic name (and pattern) given to events built from analytics conversation detail records.
ANALYTICS_TOPIC: Final = "analytics.conversation.details"
#: EventBridge partner sources start with this (test orgs use ``aws.partner/genesys.com.test/…``).
EVENTBRIDGE_SOURCE_PREFIX: Final = "aws.partner/genesys.com"

_CONVERSATION_TOPIC: Final = re.compile(r"^v2\.(routing\.queues|users)\.([^.]+)\.conversations(?:\.(\w+))?$")
_DETAIL_TOPIC: Final = re.compile(r"^v2\.detail\.events\.conversation\.([^.]+)\.(.+)$")


@dataclass(frozen=True, slots=True)
class Normalized:
    """The message produced events (normally exactly one)."""

    events: tuple[ConversationEvent, ...]


@dataclass(frozen=True, slots=True)
class Ignored:
    """A recognized non-event message: ``heartbeat``, ``pong``, ``channel.metadata``, ``subscribe-ack``,
    ``system`` (``v2.system.*``)."""

    reason: str


NormalizeResult = Normalized | Ignored


def canonical_json(body: object) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: the text hashed into ``event_id``."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compute_event_id(topic_name: str, body: object) -> str:
    """Lowercase hex SHA-256 of ``topic_name + "\\n" + canonical_json(body)`` (UTF-8)."""
    return hashlib.sha256(f"{topic_name}\n{canonical_json(body)}".encode()).hexdigest()


def topic_pattern(topic_name: str) -> str:
    """The topic with its id replaced by ``{id}``; raises UnknownTopicError for unhandled topics."""
    return _classify(topic_name)[0]


def is_eventbridge_event(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` has the EventBridge event shape (``detail-type`` and ``detail``)."""
    return "detail-type" in message and "detail" in message


def is_analytics_record(message: Mapping[str, Any]) -> bool:
    """Whether ``message`` looks like an analytics record (or a details-query page of them)."""
    if "topicName" in message or "eventTime" in message:
        return False
    if "conversationId" in message:
        return "participants" in message or "conversationStart" in message
    return isinstance(message.get("conversations"), list)


def normalize_message(message: Mapping[str, Any], *, received_at: int, source: Source) -> NormalizeResult:
    """Normalize one Genesys message (any accepted shape) received at ``received_at`` (epoch ms).

    ``source`` labels Notifications envelopes; EventBridge events are always ``"eventbridge"`` and
    analytics records ``"analytics"``.

    Raises:
        UnknownTopicError: the topic is not one convstream handles.
        NormalizeError: the message is malformed (the message names the field).
    """
    if not isinstance(message, Mapping):
        raise NormalizeError("message is not a JSON object")
    if is_eventbridge_event(message):
        return _eventbridge(message, received_at)
    if "topicName" in message:
        return _envelope(Fields(message, "message"), received_at, source, prefix="")
    if "result" in message:
        return Ignored("subscribe-ack")
    if is_analytics_record(message):
        return _analytics(message, received_at)
    raise NormalizeError(
        "unrecognized message: expected a Notifications envelope (topicName), an EventBridge event "
        "(detail-type) or an analytics conversation record (conversationId)"
    )


def _eventbridge(message: Mapping[str, Any], received_at: int) -> NormalizeResult:
    event = Fields(message, "event")
    origin = event.text("source")
    if origin is None or not origin.startswith(EVENTBRIDGE_SOURCE_PREFIX):
        raise NormalizeError(f"EventBridge source {origin!r} is not {EVENTBRIDGE_SOURCE_PREFIX}/…")
    detail = event.obj("detail")
    if detail is None:
        raise NormalizeError("detail missing")
    stamp = detail.time("timestamp")
    return _envelope(detail, received_at if stamp is None else stamp, "eventbridge", prefix="detail.")


def _envelope(env: Fields, received_at: int, source: Source, *, prefix: str) -> NormalizeResult:
    topic = env.text("topicName")
    if topic is None:
        raise NormalizeError(f"{prefix}topicName missing")
    if topic == "channel.metadata":
        return Ignored(_channel_metadata_reason(env.data.get("eventBody")))
    if topic.startswith("v2.system."):
        return Ignored("system")
    pattern, kind, media = _classify(topic)
    raw_body = env.data.get("eventBody")
    body = Fields(raw_body, f"{prefix}eventBody") if raw_body is not None else None
    if body is None:
        raise NormalizeError(f"{prefix}eventBody missing")
    metadata = env.obj("metadata")
    correlation_id = metadata.text("CorrelationId") if metadata is not None else None
    event_id = compute_event_id(topic, raw_body)
    if kind is not None:
        conversation_id = _detail_conversation_id(topic, body)
        event_time = body.time("eventTime")
        if event_time is None:
            raise NormalizeError(f"{body.at('eventTime')} missing")
        detail: ConversationSnapshot | DetailEvent = detail_event(kind, body)
    else:
        conversation_id = body.req_text("id")
        detail = generic_snapshot(body) if media is None else media_snapshot(body, media)
        observed = snapshot_observed_time(detail)
        event_time = received_at if observed is None else max(observed, received_at)
    event = ConversationEvent(
        event_id=event_id,
        conversation_id=conversation_id,
        event_time=event_time,
        received_at=received_at,
        source=source,
        topic_name=topic,
        topic_pattern=pattern,
        body=detail,
        correlation_id=correlation_id,
    )
    return Normalized((event,))


def _channel_metadata_reason(body: object) -> str:
    message = body.get("message") if isinstance(body, Mapping) else None
    if message == "pong":
        return "pong"
    if isinstance(message, str) and "heartbeat" in message.lower():
        return "heartbeat"
    return "channel.metadata"


def _classify(topic: str) -> tuple[str, str | None, str | None]:
    """(topic pattern, detail kind or None, media type of a media-specific topic or None)."""
    match = _CONVERSATION_TOPIC.match(topic)
    if match is not None:
        family, _, suffix = match.groups()
        if suffix is None:
            return f"v2.{family}.{{id}}.conversations", None, None
        media = MEDIA_TOPIC_SUFFIXES.get(suffix.lower())
        if media is not None:
            return f"v2.{family}.{{id}}.conversations.{suffix}", None, media
    detail = _DETAIL_TOPIC.match(topic)
    if detail is not None and detail.group(2) in DETAIL_KINDS:
        return f"v2.detail.events.conversation.{{id}}.{detail.group(2)}", detail.group(2), None
    raise UnknownTopicError(topic)


def _detail_conversation_id(topic: str, body: Fields) -> str:
    """``eventBody.conversationId``; it must agree with the topic's id (absent: the topic's id)."""
    match = _DETAIL_TOPIC.match(topic)
    topic_id = match.group(1) if match is not None else None
    body_id = body.text("conversationId")
    if body_id is not None and topic_id is not None and body_id != topic_id:
        raise NormalizeError(
            f"{body.at('conversationId')} {body_id!r} differs from the topic's id {topic_id!r}"
        )
    conversation_id = body_id or topic_id
    if conversation_id is None:
        raise NormalizeError(f"{body.at('conversationId')} missing")
    return conversation_id


def _analytics(message: Mapping[str, Any], received_at: int) -> NormalizeResult:
    raw = message.get("conversations")
    if isinstance(raw, list) and "conversationId" not in message:
        events = tuple(
            _analytics_event(Fields(record, f"conversations[{index}]"), received_at)
            for index, record in enumerate(raw)
        )
        return Normalized(events)
    return Normalized((_analytics_event(Fields(message, "record"), received_at),))


def _analytics_event(record: Fields, received_at: int) -> ConversationEvent:
    conversation_id = record.req_text("conversationId")
    observed = record_observed_time(record)
    return ConversationEvent(
        event_id=compute_event_id(ANALYTICS_TOPIC, record.data),
        conversation_id=conversation_id,
        event_time=received_at if observed is None else max(observed, received_at),
        received_at=received_at,
        source="analytics",
        topic_name=ANALYTICS_TOPIC,
        topic_pattern=ANALYTICS_TOPIC,
        body=record_snapshot(record),
    )
