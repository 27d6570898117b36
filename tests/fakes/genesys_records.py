"""Generic conversation-topic snapshot -> analytics conversation detail record (for the fake Genesys).

The inverse of what ``consumer/genesys/records.py`` reads: participants -> sessions (one per
communication, ``sessionId`` = communication id, as in Genesys) -> segments whose types and ends encode
the communication's state (``interact``/``alert``/``dialing``/``contacting``/``scheduled``/``parked``/
``hold``, a ``disconnectType`` once disconnected, ``wrapup`` segments for after-call work). Folding the
record therefore gives the same status and last queue as folding the snapshot it came from.
"""

from __future__ import annotations

from typing import Any

from consumer.genesys.times import format_iso_ms, parse_time

MEDIA_KEYS = {
    "calls": "voice",
    "callbacks": "callback",
    "chats": "chat",
    "emails": "email",
    "messages": "message",
}
_OPEN_TYPES = {"alerting": "alert", "offering": "alert", "dialing": "dialing", "contacting": "contacting",
               "scheduled": "scheduled", "parked": "parked"}  # fmt: skip
_ENDED = ("disconnected", "terminated")


def _ms(value: Any) -> int | None:
    return parse_time(value) if value is not None else None


def _iso(ms: int | None) -> str | None:
    return format_iso_ms(ms) if ms is not None else None


def _segment(
    start: int | None, end: int | None, kind: str, queue_id: str | None, **extra: Any
) -> dict[str, Any]:
    seg: dict[str, Any] = {"segmentStart": _iso(start), "segmentType": kind}
    if end is not None:
        seg["segmentEnd"] = _iso(end)
    if queue_id is not None:
        seg["queueId"] = queue_id
    seg.update({k: v for k, v in extra.items() if v is not None})
    return seg


def _media_segments(comm: dict[str, Any], queue_id: str | None, seen_at: int) -> list[dict[str, Any]]:
    state = comm.get("state")
    connected = _ms(comm.get("connectedTime"))
    if state in _ENDED:
        end = _ms(comm.get("disconnectedTime")) or seen_at
        kind = "interact" if connected is not None else "alert"
        start = connected if connected is not None else end
        dtype = comm.get("disconnectType") or "endpoint"
        return [_segment(start, end, kind, queue_id, disconnectType=dtype)]
    if state in _OPEN_TYPES:
        parked_at = _ms(comm.get("parkTime")) if state == "parked" else None
        segments = []
        if connected is not None:
            segments.append(_segment(connected, parked_at or seen_at, "interact", queue_id))
        segments.append(_segment(parked_at or seen_at, None, _OPEN_TYPES[state], queue_id))
        return segments
    start = connected if connected is not None else seen_at
    hold = _ms(comm.get("startHoldTime"))
    if comm.get("held") and hold is not None:
        return [_segment(start, hold, "interact", queue_id), _segment(hold, None, "hold", queue_id)]
    return [_segment(start, None, "interact", queue_id)]


def _session(part: dict[str, Any], mkey: str, comm: dict[str, Any], seen_at: int) -> dict[str, Any]:
    queue_id = part.get("queueId")
    segments = _media_segments(comm, queue_id, seen_at)
    acw = comm.get("afterCallWork")
    if isinstance(acw, dict) and acw.get("startTime"):
        wrapup = part.get("wrapup")
        wrap = wrapup if isinstance(wrapup, dict) else {}
        end = _ms(acw.get("endTime")) if acw.get("state") == "complete" else None
        segments.append(_segment(_ms(acw["startTime"]), end, "wrapup", queue_id, wrapUpCode=wrap.get("code")))
    session: dict[str, Any] = {
        "sessionId": comm["id"], "mediaType": MEDIA_KEYS[mkey], "segments": segments,
    }  # fmt: skip
    if comm.get("direction"):
        session["direction"] = comm["direction"]
    if comm.get("callbackScheduledTime"):
        session["callbackScheduledTime"] = comm["callbackScheduledTime"]
    return session


def _participant(part: dict[str, Any], seen_at: int) -> dict[str, Any]:
    sessions = [
        _session(part, mkey, comm, seen_at)
        for mkey in MEDIA_KEYS
        for comm in part.get(mkey) or []
        if isinstance(comm, dict) and comm.get("id")
    ]
    out: dict[str, Any] = {"participantId": part["id"], "purpose": part.get("purpose"), "sessions": sessions}
    for src, dst in (("name", "participantName"), ("userId", "userId")):
        if part.get(src) is not None:
            out[dst] = part[src]
    return out


def snapshot_record(body: dict[str, Any], seen_at: int) -> dict[str, Any]:
    """The analytics record of a generic snapshot ``body`` last seen at ``seen_at`` (epoch ms)."""
    parts = [p for p in body.get("participants") or [] if isinstance(p, dict) and p.get("id")]
    starts = [t for t in (_ms(p.get("connectedTime")) for p in parts) if t is not None]
    record: dict[str, Any] = {
        "conversationId": body["id"],
        "conversationStart": _iso(min(starts) if starts else seen_at),
        "participants": [_participant(p, seen_at) for p in parts],
    }
    ends = [_ms(p.get("endTime")) for p in parts]
    pending = any(
        isinstance(c.get("afterCallWork"), dict) and c["afterCallWork"].get("state") == "pending"
        for p in parts for k in MEDIA_KEYS for c in p.get(k) or []
    )  # fmt: skip
    if parts and all(e is not None for e in ends) and not pending:
        record["conversationEnd"] = _iso(max(e for e in ends if e is not None))
    if body.get("externalTag") is not None:
        record["externalTag"] = body["externalTag"]
    divisions = [d.get("division", {}).get("id") for d in body.get("divisions") or [] if isinstance(d, dict)]
    if divisions:
        record["divisionIds"] = [d for d in divisions if d]
    return record


def record_bounds(record: dict[str, Any]) -> tuple[int, int | None]:
    """(conversation start, end or None while open) of a record, epoch ms."""
    start = parse_time(record["conversationStart"])
    end = record.get("conversationEnd")
    return start, (parse_time(end) if end is not None else None)
