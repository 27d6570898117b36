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
  message delivered twice, whatever its whitespace or key order, has one id. The bytes come from orjson
  when they are provably the same (see :func:`canonical_json_bytes`), else from ``json``.
- ``event_time``: detail events -> ``eventTime``; snapshots -> max(latest observed time in the body,
  ``received_at``) (``resumeTime``/``callbackScheduledTime`` never count).
- ``topic_pattern`` = the topic with ids replaced by ``{id}``; ``conversation_id`` from the body
  (``id`` for conversation topics, ``conversationId`` for detail events and analytics records).
- Heartbeats, pongs and other ``channel.metadata``, subscribe acknowledgements (``{"result": …}``) and
  ``v2.system.*`` messages return :class:`Ignored`, never an error.
- An unrecognized topic raises :class:`~consumer.errors.UnknownTopicError` (never guessed); a malformed
  message raises :class:`~consumer.errors.NormalizeError` naming the JSON path (``eventBody.id missing``).

Generic conversation topics and detail events in the usual well-typed shape take a fast path
(:mod:`consumer.genesys._fast`); anything else, and every error, goes through the checked path, so results
and error messages are the checked path's.

Pure module: no I/O, clock, logging or randomness.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson

from consumer.domain.events import ConversationEvent, ConversationSnapshot, DetailEvent, Source
from consumer.errors import NormalizeError, UnknownTopicError
from consumer.genesys._fast import (
    CANONICAL_OPTIONS,
    FLOAT_EXPONENT,
    FLOAT_FRACTION,
    Irregular,
    ParticipantEntry,
    detail_event_fast,
    generic_snapshot_observed_fast,
    new_event,
)
from consumer.genesys._fields import Fields
from consumer.genesys.details import DETAIL_KINDS, detail_event
from consumer.genesys.enums import MEDIA_TOPIC_SUFFIXES
from consumer.genesys.records import record_observed_time, record_snapshot
from consumer.genesys.snapshots import generic_snapshot, media_snapshot, snapshot_observed_time
from consumer.genesys.text import has_lone_surrogate, repair_surrogates
from consumer.genesys.times import MAX_TIME_MS, MIN_TIME_MS

__all__ = [
    "ANALYTICS_TOPIC",
    "EVENTBRIDGE_SOURCE_PREFIX",
    "Ignored",
    "NormalizeResult",
    "Normalized",
    "canonical_json",
    "canonical_json_bytes",
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
_GENERIC_PATTERNS: Final = {
    family: f"v2.{family}.{{id}}.conversations" for family in ("routing.queues", "users")
}
_DETAIL_PATTERNS: Final = {kind: f"v2.detail.events.conversation.{{id}}.{kind}" for kind in DETAIL_KINDS}


@dataclass(frozen=True, slots=True)
class Normalized:
    """The message produced events (normally exactly one).

    ``rejected``: why records of an analytics details page were left out (``conversations[3].conversationId
    missing``); the page's other records are still in ``events``.
    """

    events: tuple[ConversationEvent, ...]
    rejected: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ignored:
    """A recognized non-event message: ``heartbeat``, ``pong``, ``channel.metadata``, ``subscribe-ack``,
    ``system`` (``v2.system.*``)."""

    reason: str


NormalizeResult = Normalized | Ignored


def canonical_json(body: object) -> str:
    """Sorted keys, no whitespace, non-ASCII kept: the text hashed into ``event_id``."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


#: orjson and ``json`` agree on objects, arrays, strings (same escapes, keys sorted by code point), ints of
#: up to 64 bits, booleans and null; they differ on floats (``1e-05`` vs ``0.00001``; NaN/Infinity, which
#: orjson writes as ``null``). orjson writes a finite float as ``<digits>.<digits>`` or ``<digits>e±<digits>``
#: (``1.5``, ``1e+16``, ``1.5e-07``), and inside a container a number token is followed by ``,``, ``}`` or
#: ``]``. So these two patterns (a fraction then a terminator or an exponent; an exponent then a terminator)
#: find every float; ``"10:00:00.100Z"`` does not match, a string such as ``"v1.5,"`` may, which only costs
#: the fallback. Two literal-led patterns: an alternation or a leading character class scans slowly.
#: (Defined in :mod:`consumer.genesys._fast`, which also builds canonical JSON of participants.)
_FLOAT_FRACTION: Final = FLOAT_FRACTION
_FLOAT_EXPONENT: Final = FLOAT_EXPONENT
#: Subclasses of str/int/dict/list, dataclasses and datetimes raise instead (json would treat them
#: differently or not at all), so they take the fallback too; so do ints beyond 64 bits and non-str keys.
_ORJSON_OPTIONS: Final = CANONICAL_OPTIONS


def _has_float(value: object) -> bool:
    if type(value) is float:
        return True
    if type(value) is dict:
        return any(_has_float(item) for item in value.values())
    if type(value) is list or type(value) is tuple:
        return any(_has_float(item) for item in value)
    return False


def canonical_json_bytes(body: object) -> bytes:
    """``canonical_json(body).encode()``, byte for byte, computed by orjson when that is provably equal.

    The fallback to ``json`` covers floats (formatted differently), NaN/Infinity (orjson writes ``null``, so
    a ``null`` in the output is checked for floats in the body) and everything orjson refuses; errors are
    therefore ``json``'s (``TypeError``, ``UnicodeEncodeError`` for lone surrogates, ``RecursionError``).
    """
    try:
        fast = orjson.dumps(body, option=_ORJSON_OPTIONS)
    except (orjson.JSONEncodeError, TypeError):
        return canonical_json(body).encode()
    if (
        fast[:1] in (b"{", b"[")  # a bare scalar would have no terminator after a float
        and _FLOAT_FRACTION.search(fast) is None
        and _FLOAT_EXPONENT.search(fast) is None
        and (b"null" not in fast or not _has_float(body))
    ):
        return fast
    return canonical_json(body).encode()


#: Stands for the participants in the canonical JSON of the rest of a body (an int: no float question).
_PARTICIPANTS_PLACEHOLDER: Final = b'"participants":0'


def _spliced_canonical_json(body: dict[str, Any], fragments: list[bytes]) -> bytes | None:
    """``canonical_json_bytes(body)`` from the participants' canonical JSON (cached by the fast path).

    Exact: canonical JSON is compositional (each value is written independently of its context), the
    fragments are ``json``'s own text (float-free, see :func:`consumer.genesys._fast._participant_entry`)
    and the rest is :func:`canonical_json_bytes`'s. ``None`` when the placeholder is ambiguous (a nested
    ``"participants": 0``): the caller then serializes the whole body.
    """
    rest = dict(body)
    rest["participants"] = 0
    text = canonical_json_bytes(rest)
    at = text.find(_PARTICIPANTS_PLACEHOLDER)
    if at < 0 or text.find(_PARTICIPANTS_PLACEHOLDER, at + 1) >= 0:
        return None
    end = at + len(_PARTICIPANTS_PLACEHOLDER)
    return b"".join((text[:at], b'"participants":[', b",".join(fragments), b"]", text[end:]))


def compute_event_id(topic_name: str, body: object) -> str:
    """Lowercase hex SHA-256 of ``topic_name + "\\n" + canonical_json(body)`` (UTF-8)."""
    canonical = canonical_json_bytes(body)
    return hashlib.sha256(topic_name.encode() + b"\n" + canonical).hexdigest()


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


def normalize_message(
    message: Mapping[str, Any],
    *,
    received_at: int,
    source: Source,
    participants: Sequence[ParticipantEntry] | None = None,
) -> NormalizeResult:
    """Normalize one Genesys message (any accepted shape) received at ``received_at`` (epoch ms).

    ``source`` labels Notifications envelopes; EventBridge events are always ``"eventbridge"`` and
    analytics records ``"analytics"``. ``participants``: the entries of a generic snapshot's participants
    (:func:`consumer.genesys.entries.participant_entry` of each, in order) when the caller keeps them
    already (the simulator); for Notifications envelopes they replace reading the participant dicts
    again (EventBridge events and any other shape read the dicts).

    Strings holding a lone surrogate (``"\\ud800"``) are repaired to U+FFFD (:mod:`consumer.genesys.text`),
    the event id then hashes the repaired body. No other exception escapes: a message nested too deeply
    or with an out-of-range time or integer is a :class:`~consumer.errors.NormalizeError`.

    Raises:
        UnknownTopicError: the topic is not one convstream handles.
        NormalizeError: the message is malformed (the message names the field).
    """
    try:
        return _normalize_checked(message, received_at, source, participants)
    except (UnicodeEncodeError, _LoneSurrogate):
        pass
    except RecursionError:
        raise NormalizeError("JSON nested too deeply to be a Genesys message") from None
    # A lone surrogate somewhere (the body's hash, an id, the topic): repair every string, then again.
    try:
        return _normalize_checked(repair_surrogates(message), received_at, source, None)  # type: ignore[arg-type]
    except (UnicodeEncodeError, _LoneSurrogate, RecursionError):
        raise NormalizeError("text that cannot be encoded as UTF-8, even after repair") from None


class _LoneSurrogate(Exception):
    """A string outside the hashed body (topic, correlation id) holds a lone surrogate."""


def _normalize_checked(
    message: Mapping[str, Any],
    received_at: int,
    source: Source,
    participants: Sequence[ParticipantEntry] | None,
) -> NormalizeResult:
    try:
        result = _normalize_any(message, received_at, source, participants)
    except UnknownTopicError as exc:
        if has_lone_surrogate(exc.topic_name):
            raise _LoneSurrogate from None
        raise
    if isinstance(result, Normalized):
        for event in result.events:
            # Postgres text cannot hold NUL: such an id could never be stored or even looked up.
            if "\x00" in event.conversation_id:
                raise NormalizeError(f"conversation id {event.conversation_id!r} contains a NUL character")
            # The body's strings are checked by hashing it; these come from outside the body.
            if has_lone_surrogate(event.topic_name) or has_lone_surrogate(event.correlation_id or ""):
                raise _LoneSurrogate
    return result


def _normalize_any(
    message: Mapping[str, Any],
    received_at: int,
    source: Source,
    participants: Sequence[ParticipantEntry] | None = None,
) -> NormalizeResult:
    if type(message) is dict and "detail-type" not in message:
        fast = _envelope_fast(message, received_at, source, participants)
        if fast is not None:
            return fast
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
    Fields(message, "record").reject_snake_case()  # e.g. an analytics record written by to_json()
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
    correlation_id = _correlation_id(metadata) if metadata is not None else None
    event_id = compute_event_id(topic, raw_body)
    body.reject_snake_case()
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


def _envelope_fast(
    message: dict[str, Any],
    received_at: int,
    source: Source,
    participants: Sequence[ParticipantEntry] | None = None,
) -> Normalized | None:
    """:func:`_envelope` for generic conversation topics and detail events in the usual well-typed shape;
    ``None`` sends the message to the checked path (other topics, anything irregular, every error)."""
    topic = message.get("topicName")
    body = message.get("eventBody")
    metadata = message.get("metadata")
    if type(topic) is not str or type(body) is not dict:
        return None
    correlation_id = None
    if metadata is not None:
        if type(metadata) is not dict:
            return None
        correlation_id = metadata.get("CorrelationId")
        if correlation_id is not None:
            if type(correlation_id) is not str:
                return None
            correlation_id = correlation_id or None
    try:
        match = _CONVERSATION_TOPIC.match(topic)
        if match is not None:
            if match.group(3) is not None:
                return None  # media-specific topics: checked path
            pattern = _GENERIC_PATTERNS[match.group(1)]
            event = _snapshot_fast(topic, pattern, body, received_at, source, correlation_id, participants)
        else:
            event = _detail_fast(topic, body, received_at, source, correlation_id)
    except Irregular:
        return None
    return None if event is None else Normalized((event,))


def _snapshot_fast(
    topic: str,
    pattern: str,
    body: dict[str, Any],
    received_at: int,
    source: Source,
    correlation_id: str | None,
    participants: Sequence[ParticipantEntry] | None,
) -> ConversationEvent | None:
    conversation_id = body.get("id")
    if type(conversation_id) is not str or not conversation_id:
        return None
    snapshot, observed, fragments = generic_snapshot_observed_fast(body, participants)
    event_time = received_at if observed is None or observed < received_at else observed
    canonical = None if fragments is None else _spliced_canonical_json(body, fragments)
    if canonical is None:
        event_id = compute_event_id(topic, body)
    else:
        event_id = hashlib.sha256(topic.encode() + b"\n" + canonical).hexdigest()
    event: ConversationEvent = new_event(
        event_id, conversation_id, event_time, received_at, source, topic, pattern, snapshot, correlation_id
    )
    return event


def _detail_fast(
    topic: str, body: dict[str, Any], received_at: int, source: Source, correlation_id: str | None
) -> ConversationEvent | None:
    match = _DETAIL_TOPIC.match(topic)
    if match is None or (kind := match.group(2)) not in DETAIL_KINDS:
        return None
    topic_id = match.group(1)
    body_id = body.get("conversationId")
    event_time = body.get("eventTime")
    if (
        type(event_time) is not int
        or not MIN_TIME_MS <= event_time <= MAX_TIME_MS
        or not (body_id is None or (type(body_id) is str and body_id == topic_id))
    ):
        return None  # epoch ms is the usual form; anything else (and every error) is the checked path's
    detail = detail_event_fast(kind, body)
    event_id = compute_event_id(topic, body)
    pattern = _DETAIL_PATTERNS[kind]
    event: ConversationEvent = new_event(
        event_id, topic_id, event_time, received_at, source, topic, pattern, detail, correlation_id
    )
    return event


def _correlation_id(metadata: Fields) -> str | None:
    """``metadata.CorrelationId``; a number is kept as its decimal text (it is an opaque trace id, and
    one odd id must not lose the event)."""
    value = metadata.data.get("CorrelationId")
    if type(value) is int:
        return str(value)
    return metadata.text("CorrelationId")


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
        # One bad record of a page is reported; the page's good records are kept.
        events: list[ConversationEvent] = []
        rejected: list[str] = []
        for index, record in enumerate(raw):
            try:
                events.append(_analytics_event(Fields(record, f"conversations[{index}]"), received_at))
            except UnknownTopicError:
                raise
            except NormalizeError as exc:
                rejected.append(str(exc))
        if rejected and not events:
            raise NormalizeError("; ".join(rejected))
        return Normalized(tuple(events), tuple(rejected))
    return Normalized((_analytics_event(Fields(message, "record"), received_at),))


def _analytics_event(record: Fields, received_at: int) -> ConversationEvent:
    record.reject_snake_case()
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
