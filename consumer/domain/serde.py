"""``ConversationState`` <-> JSON-ready dict (the ``conversation.state`` jsonb column).

Guarantee: ``state_from_json(state_to_json(s)) == s`` for every state the fold produces, also through
``json.dumps``/``json.loads`` (values are str/int/float/bool/None; tuples become lists and back).

Layout (``format`` 1): order keys are interned in ``keys`` (a list of ``[event_time, event_id]``) and
referenced by index, because one event sets many fields with the same key. Registers are
``{"field": [value, key_index]}`` with never-set fields omitted, which keeps the document small and
readable in ``convstream status``. Each register carries its *effective* key; the in-memory key
compression (``rkey``) is rebuilt on load, so the document does not depend on it.

Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from consumer.domain.state import (
    COMMUNICATION_FIELDS,
    FACT_FIELDS,
    IMPLICIT_COMM_KEYS,
    IMPLICIT_PARTICIPANT_KEYS,
    PARTICIPANT_FIELDS,
    TERMINAL_STATES,
    CommunicationState,
    ConversationState,
    Keys,
    OrderKey,
    ParticipantState,
    Value,
    Values,
)

__all__ = ["STATE_FORMAT", "state_from_json", "state_to_json"]

STATE_FORMAT: Final = 1


class _Interner:
    def __init__(self) -> None:
        self.index: dict[OrderKey, int] = {}
        self.keys: list[list[Any]] = []

    def __call__(self, key: OrderKey) -> int:
        i = self.index.get(key)
        if i is None:
            i = self.index[key] = len(self.keys)
            self.keys.append([key[0], key[1]])
        return i


def _registers(
    fields: tuple[str, ...], values: Values, keys: Keys, intern: _Interner, rkey: OrderKey | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, v, k in zip(fields, values, keys, strict=True):
        if k is None:  # effective_key, inlined (every field of every written state passes here)
            if v is None or rkey is None:
                continue
            k = rkey
        out[name] = [v, intern(k)]
    return out


def _comm_to_json(c: CommunicationState, rkey: OrderKey | None, intern: _Interner) -> dict[str, Any]:
    out: dict[str, Any] = {"fields": _registers(COMMUNICATION_FIELDS, c.values, c.keys, intern, rkey)}
    if c.terminal is not None:
        out["terminal"] = c.terminal
    return out


def _participant_to_json(p: ParticipantState, intern: _Interner) -> dict[str, Any]:
    return {
        "fields": _registers(PARTICIPANT_FIELDS, p.values, p.keys, intern, p.rkey),
        "acw_complete": p.acw_complete,
        "attributes": {name: [v, intern(k)] for name, (v, k) in p.attributes.items()},
        "communications": {cid: _comm_to_json(c, p.rkey, intern) for cid, c in p.communications.items()},
    }


def state_to_json(state: ConversationState) -> dict[str, Any]:
    """The state as a JSON-ready dict (str/int/float/bool/None/list/dict only)."""
    intern = _Interner()
    body = {
        "format": STATE_FORMAT,
        "conversation_id": state.conversation_id,
        "logic_version": state.logic_version,
        "calculated_status": state.calculated_status,
        "status_changed_at": state.status_changed_at,
        "first_event_at": state.first_event_at,
        "last_event_at": state.last_event_at,
        "error_message": state.error_message,
        "error_at": state.error_at,
        "division_ids": list(state.division_ids),
        "facts": _registers(FACT_FIELDS, state.facts, state.fact_keys, intern),
        "answered": {user: intern(k) for user, k in state.answered.items()},
        "participants": {pid: _participant_to_json(p, intern) for pid, p in state.participants.items()},
    }
    body["keys"] = intern.keys
    return body


def _key(keys: list[OrderKey], index: Any) -> OrderKey:
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(keys):
        raise ValueError(f"bad order-key index {index!r}")
    return keys[index]


#: Field name -> position, per register tuple (``tuple.index`` per stored field was a linear search).
_POSITIONS: Final[dict[tuple[str, ...], dict[str, int]]] = {
    fields: {name: i for i, name in enumerate(fields)}
    for fields in (PARTICIPANT_FIELDS, COMMUNICATION_FIELDS, FACT_FIELDS)
}
_SCALARS: Final = frozenset({str, int, float, bool})


def _registers_from(
    fields: tuple[str, ...], data: Mapping[str, Any], keys: list[OrderKey]
) -> tuple[Values, Keys]:
    # _value and _key inlined: this runs for every stored field of every state a batch loads.
    positions = _POSITIONS[fields]
    count = len(keys)
    values: list[Value] = [None] * len(fields)
    ks: list[OrderKey | None] = [None] * len(fields)
    for name, (v, k) in data.items():
        i = positions.get(name)
        if i is None:
            raise ValueError(f"unknown register {name!r}")
        if v is not None and type(v) not in _SCALARS:
            raise ValueError(f"bad register value {v!r}")
        if type(k) is not int or not 0 <= k < count:
            raise ValueError(f"bad order-key index {k!r}")
        values[i] = v
        ks[i] = keys[k]
    return tuple(values), tuple(ks)


def _relative(ks: Keys, rkey: OrderKey | None) -> Keys:
    """Effective keys -> stored keys (None where the key is ``rkey``), sharing the all-implicit constants."""
    out = tuple(None if k == rkey else k for k in ks)
    if out == IMPLICIT_PARTICIPANT_KEYS:
        return IMPLICIT_PARTICIPANT_KEYS
    return IMPLICIT_COMM_KEYS if out == IMPLICIT_COMM_KEYS else out


def _participant_from(pid: str, data: Mapping[str, Any], keys: list[OrderKey]) -> ParticipantState:
    values, ks = _registers_from(PARTICIPANT_FIELDS, data["fields"], keys)
    comms: list[tuple[str, Values, Keys, str | None]] = []
    for cid, c in data["communications"].items():
        terminal = c.get("terminal")
        if terminal is not None and terminal not in TERMINAL_STATES:
            raise ValueError(f"bad terminal state {terminal!r}")
        comms.append((str(cid), *_registers_from(COMMUNICATION_FIELDS, c["fields"], keys), terminal))
    known = [k for k in ks if k is not None] + [k for _, _, cks, _ in comms for k in cks if k is not None]
    rkey = max(known) if known else None
    return ParticipantState(
        pid,
        values,
        _relative(ks, rkey),
        {name: (str(v), _key(keys, k)) for name, (v, k) in data["attributes"].items()},
        {cid: CommunicationState(cid, cv, _relative(cks, rkey), t) for cid, cv, cks, t in comms},
        data["acw_complete"] is True,
        rkey,
    )


def _opt_int(v: Any) -> int | None:
    if v is None or (isinstance(v, int) and not isinstance(v, bool)):
        return v
    raise ValueError(f"expected an integer or null, got {v!r}")


def _opt_str(v: Any) -> str | None:
    if v is None or isinstance(v, str):
        return v
    raise ValueError(f"expected a string or null, got {v!r}")


def state_from_json(data: Mapping[str, Any]) -> ConversationState:
    """The exact inverse of :func:`state_to_json`.

    Raises:
        ValueError: ``data`` is not a state document of a known format (also for malformed content).
    """
    if data.get("format") != STATE_FORMAT:
        raise ValueError(f"unknown state format {data.get('format')!r}")
    try:
        keys: list[OrderKey] = [(int(t), str(i)) for t, i in data["keys"]]
        facts, fact_keys = _registers_from(FACT_FIELDS, data["facts"], keys)
        return ConversationState(
            conversation_id=str(data["conversation_id"]),
            facts=facts,
            fact_keys=fact_keys,
            division_ids=tuple(str(d) for d in data["division_ids"]),
            participants={pid: _participant_from(pid, p, keys) for pid, p in data["participants"].items()},
            answered={str(user): _key(keys, k) for user, k in data["answered"].items()},
            first_event_at=_opt_int(data["first_event_at"]),
            last_event_at=_opt_int(data["last_event_at"]),
            calculated_status=_opt_str(data["calculated_status"]),
            status_changed_at=_opt_int(data["status_changed_at"]),
            error_message=_opt_str(data["error_message"]),
            error_at=_opt_int(data["error_at"]),
            logic_version=int(data["logic_version"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed state document: {exc}") from exc
