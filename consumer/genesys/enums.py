"""Normalization of Genesys enum-like strings to the one spelling the domain uses.

- Disconnect types: Genesys spells them four ways — conversation topics ``transfer.consult``, detail
  events ``CONSULT_TRANSFER``, analytics ``consultTransfer``, REST segments yet another. All map to the
  dotted lowercase spelling of the conversation topics (reference §2.4): ``endpoint``, ``endpoint.dnd``,
  ``client``, ``system``, ``timeout``, ``transfer``, ``transfer.conference``, ``transfer.consult``,
  ``transfer.forward``, ``transfer.noanswer``, ``transfer.notavailable``, ``transfer.dnd``,
  ``transport.failure``, ``error``, ``peer``, ``other``, ``spam``, ``uncallable``, ``inactivity``,
  ``session.expired``, ``takeover``, ``unknown``. A value not in the list (Genesys enums grow) is kept,
  lowercased, rather than guessed.
- Media types: lowercase analytics vocabulary (``voice|callback|chat|email|message|cobrowse|video|
  screenshare|internalmessage|screenmonitoring|socialexpression|unknown``); ``call``/``calls`` -> ``voice``.
- Everything else enum-like (states, purposes, directions, ACD outcomes, flow types): lowercase.

Pure module: no I/O.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "DISCONNECT_TYPES",
    "MEDIA_ARRAYS",
    "MEDIA_TOPIC_SUFFIXES",
    "normalize_disconnect_type",
    "normalize_media_type",
]

#: The canonical disconnect-type spellings (conversation-topic style).
DISCONNECT_TYPES: Final = (
    "endpoint", "endpoint.dnd", "client", "system", "timeout", "transfer", "transfer.conference",
    "transfer.consult", "transfer.forward", "transfer.noanswer", "transfer.notavailable", "transfer.dnd",
    "transport.failure", "error", "peer", "other", "spam", "uncallable", "inactivity", "session.expired",
    "takeover", "unknown",
)  # fmt: skip


def _squash(value: str) -> str:
    """``CONSULT_TRANSFER`` / ``consultTransfer`` / ``transfer.consult`` -> comparable letters only."""
    return "".join(ch for ch in value.lower() if ch.isalnum())


def _reversed_words(dotted: str) -> str:
    """``transfer.consult`` -> ``consulttransfer`` (the detail/analytics word order)."""
    return "".join(reversed(dotted.split(".")))


_DISCONNECT_BY_KEY: Final[dict[str, str]] = {
    **{_squash(d): d for d in DISCONNECT_TYPES},
    **{_reversed_words(d): d for d in DISCONNECT_TYPES if "." in d},
}

#: Generic-topic participant arrays (lowercased key) -> media type of their communications.
MEDIA_ARRAYS: Final[dict[str, str]] = {
    "calls": "voice",
    "callbacks": "callback",
    "chats": "chat",
    "cobrowsesessions": "cobrowse",
    "emails": "email",
    "messages": "message",
    "internalmessages": "internalmessage",
    "screenmonitorings": "screenmonitoring",
    "screenshares": "screenshare",
    "socialexpressions": "socialexpression",
    "videos": "video",
}

#: Media-specific topic suffixes (``….conversations.<suffix>``, lowercased) -> media type.
MEDIA_TOPIC_SUFFIXES: Final[dict[str, str]] = {
    "calls": "voice",
    "callbacks": "callback",
    "chats": "chat",
    "cobrowsesessions": "cobrowse",
    "emails": "email",
    "messages": "message",
    "screenshares": "screenshare",
    "socialexpressions": "socialexpression",
    "videos": "video",
}

_MEDIA_ALIASES: Final[dict[str, str]] = {"call": "voice", "calls": "voice", "cobrowsesession": "cobrowse"}


def _normalize_disconnect_type(value: str) -> str:
    return _DISCONNECT_BY_KEY.get(_squash(value), value.lower())


def _spellings(dotted: str) -> set[str]:
    """The usual spellings of one canonical disconnect type: dotted, UPPER_SNAKE, camelCase (both orders)."""
    words = dotted.split(".")
    out = {dotted, dotted.upper()}
    for order in (words, words[::-1]):
        out |= {"_".join(order).upper(), "_".join(order), order[0] + "".join(w.title() for w in order[1:])}
    return out


#: The usual spellings, already normalized (by the general rule, so the result is the same): the hot path
#: is one dict lookup instead of squashing the string character by character.
_KNOWN_DISCONNECT_SPELLINGS: Final[dict[str, str]] = {
    spelling: _normalize_disconnect_type(spelling) for d in DISCONNECT_TYPES for spelling in _spellings(d)
}


def normalize_disconnect_type(value: str | None) -> str | None:
    """Any of Genesys's disconnect-type spellings -> the dotted lowercase one (unknown values lowercased)."""
    if value is None:
        return None
    known = _KNOWN_DISCONNECT_SPELLINGS.get(value)
    return known if known is not None else _normalize_disconnect_type(value)


def normalize_media_type(value: str | None) -> str | None:
    """``VOICE`` / ``voice`` / ``call`` -> ``voice``; other media types lowercased."""
    if value is None:
        return None
    lowered = value.lower()
    return _MEDIA_ALIASES.get(lowered, lowered)
