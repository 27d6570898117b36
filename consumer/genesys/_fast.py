"""Fast paths of normalization for the common, well-typed payloads (internal to ``consumer.genesys``).

Why: the checked normalizers (:mod:`consumer.genesys.snapshots`, :mod:`consumer.genesys.details`) wrap every
JSON object in a path-aware :class:`~consumer.genesys._fields.Fields` and go through one accessor call per
field, which made normalization the bridge's most expensive stage (~100 µs per snapshot). The functions
here read the plain dicts directly and build the dataclasses with generated positional constructors.

Guarantees (property-tested against the checked path in ``tests/unit/genesys/test_fast.py``):

- On a payload the fast path accepts, the result is equal to the checked path's.
- The fast path never reports an error itself: anything that is not the exact common case (a field of the
  wrong type, an empty required id, a non-``dict`` object, an unparseable time, a string subclass) raises
  :class:`Irregular`, and the caller runs the checked path, which gives the result or the precise
  :class:`~consumer.errors.NormalizeError`. So behaviour, error messages included, is the checked path's.

Pure module: no I/O.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

import orjson

from consumer.domain.events import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)
from consumer.genesys.enums import MEDIA_ARRAYS, normalize_disconnect_type, normalize_media_type
from consumer.genesys.snapshots import participant_observed_time
from consumer.genesys.times import INT64_MAX, INT64_MIN, parse_time

__all__ = [
    "CANONICAL_OPTIONS",
    "PARTICIPANT_CACHE_SIZE",
    "Irregular",
    "ParticipantEntry",
    "detail_event_fast",
    "generic_snapshot_fast",
    "generic_snapshot_observed_fast",
    "new_event",
    "participant_from_dict",
]


class Irregular(Exception):
    """The payload is not the well-typed common case; the caller falls back to the checked path."""


def positional_constructor(cls: type) -> Callable[..., Any]:
    """A function building ``cls`` from all its fields, positionally, without the dataclass ``__init__``.

    Why: a frozen dataclass ``__init__`` sets each field through ``object.__setattr__``; setting the slots
    through their descriptors gives the same object in about half the time. Only for slots dataclasses
    without ``__post_init__`` (checked), and every field must be passed.
    """
    if hasattr(cls, "__post_init__") or not hasattr(cls, "__slots__"):
        raise ValueError(f"{cls.__name__} must be a slots dataclass without __post_init__")
    names = [f.name for f in dataclasses.fields(cls)]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    lines = [f"def new_{cls.__name__}({', '.join(names)}):", "    o = _new(_cls)"]
    for index, name in enumerate(names):
        namespace[f"_set{index}"] = getattr(cls, name).__set__
        lines.append(f"    _set{index}(o, {name})")
    lines.append("    return o")
    # Why exec: the source is built from a dataclass's own field names (identifiers).
    exec("\n".join(lines), namespace)  # noqa: S102
    constructor: Callable[..., Any] = namespace[f"new_{cls.__name__}"]
    return constructor


_new_communication: Final = positional_constructor(Communication)
_new_participant: Final = positional_constructor(Participant)
_new_snapshot: Final = positional_constructor(ConversationSnapshot)
_new_detail: Final = positional_constructor(DetailEvent)
#: ``new_event(event_id, conversation_id, event_time, received_at, source, topic_name, topic_pattern,
#: body, correlation_id)``: a :class:`ConversationEvent` without the dataclass ``__init__``.
new_event: Final = positional_constructor(ConversationEvent)

# Field readers with the checked accessors' semantics (``Fields.text`` etc.), raising Irregular instead of
# NormalizeError. ``type(v) is str`` (not isinstance) keeps subclasses on the checked path.


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return value or None
    raise Irregular


def _lower(value: Any) -> str | None:
    if value is None:
        return None
    if type(value) is str:
        return value.lower() if value else None
    raise Irregular


def _flag(value: Any) -> bool | None:
    if value is None or value is True or value is False:
        return value
    raise Irregular


def _integer(value: Any) -> int | None:
    if value is None or (type(value) is int and INT64_MIN <= value <= INT64_MAX):
        return value
    raise Irregular


#: Bound on :data:`_TIMES` (entries of ~100 B).
_TIME_CACHE_SIZE: Final = 65_536
#: ISO string -> epoch ms. Why: a snapshot repeats its times (participant and communication connected
#: times; a conversation's later snapshots), and a dict lookup is ~20x cheaper than a parse. Keyed by exact
#: ``str`` only, whose parse depends on nothing else.
_TIMES: dict[str, int] = {}


def _time(value: Any) -> int | None:
    if type(value) is str:
        ms = _TIMES.get(value)
        if ms is not None:
            return ms
    if value is None or value == "":
        return None
    try:
        ms = parse_time(value)
    except ValueError:
        raise Irregular from None
    if type(value) is str:
        if len(_TIMES) >= _TIME_CACHE_SIZE:
            _TIMES.clear()
        _TIMES[value] = ms
    return ms


def _text_map(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise Irregular
    return {
        str(name): item if isinstance(item, str) else json.dumps(item, sort_keys=True)
        for name, item in value.items()
    }


def _wrapup(value: Any) -> tuple[str | None, str | None, int | None]:
    if value is None:
        return None, None, None
    if type(value) is not dict:
        raise Irregular
    get = value.get
    return _text(get("code")), _text(get("notes")), _integer(get("durationSeconds"))


def _disconnect_type(value: Any) -> str | None:
    return normalize_disconnect_type(_text(value))


def _acw_state(value: Any) -> str | None:
    if type(value) is not dict:
        raise Irregular
    return _lower(value.get("state"))


def _acw_start(value: Any) -> int | None:
    return _time(value.get("startTime"))


def _acw_end(value: Any) -> int | None:
    return _time(value.get("endTime"))


# Why iterate the keys present instead of probing every field: a Genesys object carries a third of the
# fields the domain knows, so this reads each present value once and skips the absent ones for free.
#: Communication JSON key -> (slot in the Communication positional arguments, reader); ``afterCallWork``
#: fills three slots and is read apart.
_COMMUNICATION_SLOTS: Final[dict[str, tuple[int, Callable[[Any], Any]]]] = {
    "state": (2, _lower),
    "initialState": (3, _lower),
    "held": (4, _flag),
    "confined": (5, _flag),
    "direction": (6, _lower),
    "disconnectType": (7, _disconnect_type),
    "connectedTime": (8, _time),
    "disconnectedTime": (9, _time),
    "startHoldTime": (10, _time),
    "parkTime": (11, _time),
    "resumeTime": (12, _time),
    "callbackScheduledTime": (13, _time),
}
_COMMUNICATION_SIZE: Final = 17


def _communication(c: Any, media_type: str) -> Communication:
    if type(c) is not dict:
        raise Irregular
    comm_id = c.get("id")
    if type(comm_id) is not str or not comm_id:
        raise Irregular
    values: list[Any] = [None] * _COMMUNICATION_SIZE
    values[0] = comm_id
    values[1] = media_type
    slot_of = _COMMUNICATION_SLOTS.get
    for key, value in c.items():
        if value is None:
            continue
        slot = slot_of(key)
        if slot is not None:
            values[slot[0]] = slot[1](value)
        elif key == "afterCallWork":
            values[14], values[15], values[16] = _acw_state(value), _acw_start(value), _acw_end(value)
        elif "_" in key:
            raise Irregular  # perhaps the SDK's snake_case to_json() form: the checked path rejects it
    return _new_communication(*values)  # type: ignore[no-any-return]


def _routing_queue_name(routing: Any, queue_id: str | None) -> str | None:
    if routing is None:
        return None
    if type(routing) is not dict:
        raise Irregular
    queue = routing.get("queue")
    if queue is None:
        return None
    if type(queue) is not dict:
        raise Irregular
    if queue_id is None or _text(queue.get("id")) != queue_id:
        return None
    return _text(queue.get("name"))


#: Participant JSON key -> (slot in the Participant positional arguments, reader). Slot 21 (past the
#: dataclass's 21 fields) holds ``screenMonitoredParticipantId``, the fallback of slot 15.
_PARTICIPANT_SLOTS: Final[dict[str, tuple[int, Callable[[Any], Any]]]] = {
    "purpose": (1, _lower),
    "name": (2, _text),
    "userId": (3, _text),
    "queueId": (4, _text),
    "connectedTime": (6, _time),
    "endTime": (7, _time),
    "startAcwTime": (8, _time),
    "endAcwTime": (9, _time),
    "wrapupRequired": (10, _flag),
    "wrapupExpected": (11, _flag),
    "monitoredParticipantId": (15, _text),
    "coachedParticipantId": (16, _text),
    "bargedParticipantId": (17, _text),
    "address": (18, _text),
    "screenMonitoredParticipantId": (21, _text),
    # Read after the loop (they depend on other fields), listed so they are not taken for media arrays:
    "id": (-1, _text),
    "wrapup": (-1, _text),
    "conversationRoutingData": (-1, _text),
    "attributes": (-1, _text),
}


def _media_array(
    value: Any, media_type: str, communications: list[Communication]
) -> tuple[str | None, str | None, int | None] | None:
    """Append the communications of one media array; the last wrap-up with a code among them, if any."""
    if type(value) is not list:
        raise Irregular
    found = None
    for comm in value:
        communications.append(_communication(comm, media_type))
        wrapup = comm.get("wrapup")
        if wrapup is not None:
            candidate = _wrapup(wrapup)
            if candidate[0] is not None:
                found = candidate  # the last communication wrap-up with a code wins
    return found


def participant_from_dict(p: Any) -> Participant:
    if type(p) is not dict:
        raise Irregular
    get = p.get
    participant_id = get("id")
    if type(participant_id) is not str or not participant_id:
        raise Irregular
    values: list[Any] = [None] * 22
    communications: list[Communication] = []
    comm_wrapup: tuple[str | None, str | None, int | None] = (None, None, None)
    slot_of = _PARTICIPANT_SLOTS.get
    for key, value in p.items():
        if value is None:
            continue
        slot = slot_of(key)
        if slot is not None:
            if slot[0] >= 0:
                values[slot[0]] = slot[1](value)
            continue
        media_type = MEDIA_ARRAYS.get(key.lower())
        if media_type is not None:
            comm_wrapup = _media_array(value, media_type, communications) or comm_wrapup
        elif "_" in key:
            raise Irregular  # perhaps the SDK's snake_case to_json() form: the checked path rejects it
    code, notes, duration = _wrapup(get("wrapup"))
    if code is None:
        code, notes, duration = comm_wrapup
    values[0] = participant_id
    values[5] = _routing_queue_name(get("conversationRoutingData"), values[4])
    values[12], values[13], values[14] = code, notes, duration
    values[15] = values[15] or values.pop()  # monitored, else screen-monitored (as the checked path)
    values[19] = _text_map(get("attributes"))
    values[20] = tuple(communications)
    return _new_participant(*values[:21])  # type: ignore[no-any-return]


def _division_ids(divisions: Any) -> tuple[str, ...]:
    if divisions is None:
        return ()
    if type(divisions) is not list:
        raise Irregular
    ids: list[str] = []
    for entry in divisions:
        if type(entry) is not dict:
            raise Irregular
        division = entry.get("division")
        if division is None:
            division_id = _text(entry.get("id"))
        elif type(division) is dict:
            division_id = _text(division.get("id"))
        else:
            raise Irregular
        if division_id is not None and division_id not in ids:
            ids.append(division_id)
    return tuple(ids)


#: Bound on :data:`_PARTICIPANTS` (entries; a participant is ~2 KB with its key and fragment): ~16 MB.
PARTICIPANT_CACHE_SIZE: Final = 8192
#: orjson options of the cache key: subclasses, dataclasses and datetimes raise (no key, no cache).
_KEY_OPTIONS: Final = (
    orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
#: The options of :func:`consumer.genesys.normalize.canonical_json_bytes` (sorted keys, same passthroughs).
CANONICAL_OPTIONS: Final = orjson.OPT_SORT_KEYS | _KEY_OPTIONS
#: orjson writes every float as ``<digits>.<digits>`` or ``<digits>e±<digits>`` followed, inside a
#: container, by ``,``, ``}`` or ``]`` (see :mod:`consumer.genesys.normalize`): no match, no float.
FLOAT_FRACTION: Final = re.compile(rb"\.[0-9]+[,}\]e]")
FLOAT_EXPONENT: Final = re.compile(rb"e[-+][0-9]+[,}\]]")

#: A cached participant: the Participant, its latest observed time (event-time rule), and its canonical JSON
#: (sorted keys) when that is provably ``json``'s too (no float, no ``null``), else None.
ParticipantEntry = tuple[Participant, int | None, bytes | None]
#: Participant JSON text (orjson, key order kept) -> entry. Content-keyed, never by identity: a dict may be
#: mutated or its id reused. Why: a conversation's snapshots repeat its unchanged participants (the
#: simulator even shares their dicts), and serializing one (~0.5 µs) costs a tenth of normalizing it.
_PARTICIPANTS: dict[bytes, ParticipantEntry] = {}
#: The analytics-only snapshot fields (conversation start/end, MOS …): never set by conversation topics.
_NO_FACTS: Final = (None,) * 8


def _participant_entry(p: Any) -> ParticipantEntry:
    """``participant_from_dict(p)``, its observed time and canonical JSON; cached when the same JSON was seen.

    Only successes are cached, and only under a key that determines the result: the JSON text written by
    orjson (key order kept: it decides the order of communications) differs whenever ``participant_from_dict``
    could differ (``1`` vs ``1.0`` vs ``true``; a ``str`` subclass raises), except NaN/Infinity, written
    ``null``: keys with a ``null`` are not cached. (Tuples, UUIDs and enums also serialize like JSON
    values; JSON sources never produce them.)
    """
    try:
        key = orjson.dumps(p, option=_KEY_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included: not plain JSON, so no key
        key = b"null"
    entry = _PARTICIPANTS.get(key)
    if entry is None:
        participant = participant_from_dict(p)
        observed = participant_observed_time(participant)
        fragment = None
        if b"null" not in key:
            fragment = orjson.dumps(p, option=CANONICAL_OPTIONS)
            if FLOAT_FRACTION.search(fragment) is not None or FLOAT_EXPONENT.search(fragment) is not None:
                fragment = None
        entry = (participant, observed, fragment)
        if b"null" not in key:
            if len(_PARTICIPANTS) >= PARTICIPANT_CACHE_SIZE:
                _PARTICIPANTS.clear()  # cheaper than LRU bookkeeping; live conversations refill it
            _PARTICIPANTS[key] = entry
    return entry


def generic_snapshot_observed_fast(
    body: dict[str, Any],
    known: Sequence[ParticipantEntry] | None = None,
) -> tuple[ConversationSnapshot, int | None, list[bytes] | None]:
    """:func:`generic_snapshot_fast`, its :func:`~consumer.genesys.snapshots.snapshot_observed_time`, and
    the canonical JSON of each participant when all are provably ``json``'s (else None).

    ``known``: the entries of the body's participants, in order, when the caller already has them
    (:mod:`consumer.genesys.entries`); used only when there is one per participant. Their canonical JSON
    is not used: the caller then serializes the whole body for the event id.
    """
    participants = body.get("participants")
    observed: int | None = None
    fragments: list[bytes] | None = None
    if participants is None:
        parsed: tuple[Participant, ...] = ()
    elif type(participants) is list:
        entries = known
        if entries is None or len(entries) != len(participants):
            entries = [_participant_entry(p) for p in participants]
        parsed = tuple([entry[0] for entry in entries])
        times = [entry[1] for entry in entries if entry[1] is not None]
        observed = max(times) if times else None
        pieces = [entry[2] for entry in entries]  # known entries carry None: no fragments
        fragments = None if None in pieces else pieces  # type: ignore[assignment]
    else:
        raise Irregular
    external_tag = _text(body.get("externalTag"))
    snapshot = _new_snapshot(parsed, external_tag, _division_ids(body.get("divisions")), *_NO_FACTS)
    return snapshot, observed, fragments


def generic_snapshot_fast(body: dict[str, Any]) -> ConversationSnapshot:
    """:func:`consumer.genesys.snapshots.generic_snapshot` of a plain-dict body, or :class:`Irregular`."""
    snapshot: ConversationSnapshot = generic_snapshot_observed_fast(body)[0]
    return snapshot


def detail_event_fast(kind: str, body: dict[str, Any]) -> DetailEvent:
    """:func:`consumer.genesys.details.detail_event` of a plain-dict body, or :class:`Irregular`."""
    get = body.get
    disconnect_type = get("disconnectType")
    media_type = get("mediaType")
    return _new_detail(  # type: ignore[no-any-return]
        kind,
        _text(get("participantId")),
        _text(get("sessionId")),
        None if media_type is None else normalize_media_type(_text(media_type)),
        _lower(get("direction")),
        None if disconnect_type is None else normalize_disconnect_type(_text(disconnect_type)),
        _text(get("queueId")),
        _text(get("userId")),
        _text(get("divisionId")),
        _lower(get("acdOutcome")),
        _text(get("answeredUserId")),
        _lower(get("flowType")),
        _text(get("flowId")),
        _text(get("wrapupCode")),
        _text(get("wrapupNotes")),
        _integer(get("wrapupDurationMs")),
        _time(get("callbackScheduledTime")),
        _text(get("outboundCampaignId")),
        _text(get("outboundContactListId")),
        _text(get("outboundContactId")),
        _text(get("externalContactId")),
        _text(get("ani")),
        _text(get("dnis")),
        _text_map(get("attributes")),
    )
