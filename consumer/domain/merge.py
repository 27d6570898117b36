"""Merging one event's view of participants into the folded state (the records half of the fold).

Guarantees (the fold's, property-tested in ``tests/unit/domain``): every field is a last-writer-wins
register on effective keys (see :mod:`consumer.domain.state` for ``rkey``); terminal communication
states are sticky; a merge that takes nothing returns the very same object, so callers detect "nothing
changed" with ``is``.

Speed (``scripts/fold_speed.py``): most participants of a whole-conversation snapshot re-state exactly
what the state already knows. :func:`apply_snapshot` recognizes that with C-level tuple comparisons
before building anything, and then only moves the participant's ``rkey`` (one small object, sharing the
stored values, keys and communications). A replay (events the state already holds, so not newer than
``rkey``) is recognized by :func:`_restated` from comparisons alone, keeping the stored participant.
Everything else goes through :func:`merge_participant`.

Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import repeat
from operator import attrgetter, gt, is_

from consumer.domain.events import Communication, ConversationSnapshot, Participant
from consumer.domain.state import (
    COMMUNICATION_FIELDS,
    IMPLICIT_COMM_KEYS,
    IMPLICIT_PARTICIPANT_KEYS,
    NO_COMM_VALUES,
    NO_PARTICIPANT_VALUES,
    PARTICIPANT_FIELDS,
    TERMINAL_STATES,
    CommunicationState,
    Keys,
    OrderKey,
    ParticipantState,
    Value,
    Values,
    new_communication,
    new_participant,
)

__all__ = ["Comms", "ParticipantUpdate", "apply_snapshot", "merge_participant", "terminal"]

Comms = list[tuple[str, Values]]
ParticipantUpdate = tuple[Values, Comms, Mapping[str, str], bool]
"""What one event says about one participant: values, communications, attributes, ACW complete."""

_NONES = repeat(None)
_COMM_VALUES = attrgetter(*COMMUNICATION_FIELDS)
_PARTICIPANT_VALUES = attrgetter(*PARTICIPANT_FIELDS)


def terminal(old: str | None, state: Value) -> str | None:
    """Grow-only terminal flag; ``terminated`` wins over ``disconnected`` so order does not matter."""
    if state not in TERMINAL_STATES or old == state or old == "terminated":
        return old
    return str(state)


def _merge_relative(
    values: Values,
    keys: Keys,
    new: Values,
    key: OrderKey,
    old_rkey: OrderKey | None,
    rkey: OrderKey | None,
    implicit: Keys,
) -> tuple[Values, Keys]:
    """Per-field last-writer-wins on effective keys, re-expressed relative to the new ``rkey``.

    All-implicit keys come back as the shared ``implicit`` constant, which keeps the ``is`` fast paths hot.
    """
    out_v: list[Value] = []
    out_k: list[OrderKey | None] = []
    for v, k, n in zip(values, keys, new, strict=True):
        if k is None and v is not None:
            k = old_rkey
        if n is not None and (k is None or key >= k):
            v, k = n, key
        out_v.append(v)
        out_k.append(None if k is None or k == rkey else k)
    merged_keys = tuple(out_k)
    return tuple(out_v), implicit if merged_keys == implicit else merged_keys


def _covers(values: Values, new: Values) -> bool:
    """True when ``new`` sets every field ``values`` has set (so, if newer, it replaces them all)."""
    # C-level maps: "new is None" > "old is None" flags a field the update would leave unknown.
    return new == values or not any(map(gt, map(is_, new, _NONES), map(is_, values, _NONES)))


def _merge_attributes(
    old: Mapping[str, tuple[str, OrderKey]], new: Mapping[str, str], key: OrderKey
) -> Mapping[str, tuple[str, OrderKey]]:
    out: dict[str, tuple[str, OrderKey]] | None = None
    for name, value in new.items():
        prev = old.get(name)
        if prev is None or key >= prev[1]:
            if out is None:
                out = dict(old)
            out[name] = (value, key)
    return old if out is None else out


def _covering(old: ParticipantState, values: Values, comms: Comms) -> bool:
    """True when the update restates every known field of the participant and of all its communications."""
    if not _covers(old.values, values):
        return False
    if len(comms) > 1 and len({cid for cid, _ in comms}) != len(comms):
        return False  # one communication twice in one event: let the general merge combine them
    for cid, c in old.communications.items():
        for new_cid, new in comms:
            if new_cid == cid:
                if not _covers(c.values, new):
                    return False
                break
        else:
            return False
    return True


def _fast_comms(old: ParticipantState, updates: Comms) -> Mapping[str, CommunicationState]:
    """Communications after a newer covering update: the update's values, all keys implicit."""
    comms = old.communications
    out: dict[str, CommunicationState] | None = None
    for cid, values in updates:
        prev = comms.get(cid)
        term = terminal(None if prev is None else prev.terminal, values[1])
        if (
            prev is not None
            and prev.terminal is term
            and prev.keys is IMPLICIT_COMM_KEYS
            and prev.values == values
        ):
            continue
        if out is None:
            out = dict(comms)
        out[cid] = new_communication(cid, values, IMPLICIT_COMM_KEYS, term)
    return comms if out is None else out


def _slow_comms(
    old: ParticipantState, updates: Comms, key: OrderKey, rkey: OrderKey | None
) -> Mapping[str, CommunicationState]:
    """Communications after any update: effective-key merge, every communication re-keyed to ``rkey``."""
    old_rkey = old.rkey
    out = dict(old.communications)
    if rkey != old_rkey:
        for cid, c in out.items():
            values, keys = _merge_relative(
                c.values, c.keys, NO_COMM_VALUES, key, old_rkey, rkey, IMPLICIT_COMM_KEYS
            )
            out[cid] = new_communication(cid, values, keys, c.terminal)
    for cid, new in updates:
        prev = out.get(cid)
        if prev is None:
            prev = CommunicationState(cid)
        values, keys = _merge_relative(prev.values, prev.keys, new, key, rkey, rkey, IMPLICIT_COMM_KEYS)
        out[cid] = new_communication(cid, values, keys, terminal(prev.terminal, new[1]))
    return out


def _wrote(values: Values, comms: Comms) -> bool:
    if values != NO_PARTICIPANT_VALUES:
        return True
    return any(v != NO_COMM_VALUES for _, v in comms)


def merge_participant(
    old: ParticipantState | None, pid: str, update: ParticipantUpdate, key: OrderKey
) -> ParticipantState:
    """Merge one event's view of a participant (see the module docstring of ``state`` for ``rkey``).

    Returns:
        The merged participant; ``old`` itself when the update changes nothing.
    """
    if old is None:
        old = ParticipantState(pid)
    new_values, comms, attributes, acw_complete = update
    old_rkey = old.rkey
    wrote = _wrote(new_values, comms)
    rkey = key if wrote and (old_rkey is None or key > old_rkey) else old_rkey
    attrs = _merge_attributes(old.attributes, attributes, key) if attributes else old.attributes
    acw = old.acw_complete or acw_complete
    if rkey is key and _covering(old, new_values, comms):
        values = old.values if new_values == old.values else new_values
        merged_comms = _fast_comms(old, comms)
        return new_participant(pid, values, IMPLICIT_PARTICIPANT_KEYS, attrs, merged_comms, acw, rkey)
    if not wrote:
        if attrs is old.attributes and acw == old.acw_complete and not comms:
            return old
        merged_comms = _slow_comms(old, comms, key, rkey) if comms else old.communications
        return new_participant(pid, old.values, old.keys, attrs, merged_comms, acw, rkey)
    values, keys = _merge_relative(
        old.values, old.keys, new_values, key, old_rkey, rkey, IMPLICIT_PARTICIPANT_KEYS
    )
    merged = new_participant(pid, values, keys, attrs, _slow_comms(old, comms, key, rkey), acw, rkey)
    return old if merged == old else merged


def _take_newer(
    prev: ParticipantState | None, pid: str, values: Values, p: Participant, key: OrderKey
) -> ParticipantState | None:
    """The merge of a snapshot participant newer than all the state knows about it, that re-states all of it.

    "All of it": every known field of the participant and of each of its communications. The result is
    then the snapshot's values with all keys implicit (``rkey`` is ``key``), which is what
    :func:`merge_participant` computes, minus its generality. Values, communications and the
    communications mapping that did not change are shared with ``prev`` (callers test that with ``is``).

    Returns:
        None when this does not apply (not newer, a known field or communication left out, a
        communication listed twice, nothing written); the general merge decides then.
    """
    old: Mapping[str, CommunicationState]
    attrs: Mapping[str, tuple[str, OrderKey]]
    if prev is None:
        old, attrs, acw = {}, {}, False
    else:
        if prev.rkey is not None and key <= prev.rkey:
            return None
        if values == prev.values:
            values = prev.values
        elif not _covers(prev.values, values):
            return None
        old, attrs, acw = prev.communications, prev.attributes, prev.acw_complete
    comms = _take_newer_comms(old, p.communications)
    if comms is None or (comms is old and values == NO_PARTICIPANT_VALUES):
        return None  # not applicable, or nothing written (a new participant with no communication)
    if p.attributes:
        attrs = _merge_attributes(attrs, p.attributes, key)
    return new_participant(pid, values, IMPLICIT_PARTICIPANT_KEYS, attrs, comms, acw, key)


def _take_newer_comms(
    old: Mapping[str, CommunicationState], comms: tuple[Communication, ...]
) -> Mapping[str, CommunicationState] | None:
    """The communications part of :func:`_take_newer` (``old`` itself when all are re-stated as they are)."""
    if len(comms) > 1 and len({c.id for c in comms}) != len(comms):
        return None
    out: dict[str, CommunicationState] | None = None
    hits = 0
    for c in comms:
        cid, new = c.id, _COMM_VALUES(c)
        known = old.get(cid)
        if known is None:
            if new == NO_COMM_VALUES:
                return None  # writes nothing (the general merge still records the communication)
            term = terminal(None, new[1])
        else:
            hits += 1
            term = terminal(known.terminal, new[1])
            if new == known.values:
                if term is known.terminal and known.keys is IMPLICIT_COMM_KEYS:
                    continue  # re-stated as is: share it
                new = known.values
            elif not _covers(known.values, new):
                return None
        if out is None:
            out = dict(old)
        out[cid] = new_communication(cid, new, IMPLICIT_COMM_KEYS, term)
    if hits != len(old):
        return None
    return old if out is None else out


def _known_as(values: Values, keys: Keys, new: Values, key: OrderKey, rkey: OrderKey) -> bool:
    """True when :func:`_merge_relative` of ``new`` at ``key`` (with ``rkey`` unchanged) takes nothing.

    Every field ``new`` sets is either known from a newer key, or from this very key with this very value
    (re-taking it leaves value and key as they are: an explicit key never equals ``rkey``).
    """
    if keys.count(None) == len(keys):  # all implicit (the usual case): every known field is from rkey
        if key < rkey:
            return _covers(new, values)  # older: nothing is taken unless it is a field not known yet
        if new == values:
            return True
    for v, k, n in zip(values, keys, new, strict=True):
        if n is None:
            continue
        if k is None:
            if v is None:
                return False  # a field not known yet would be learned
            k = rkey
        if key < k or (key == k and n == v):
            continue
        return False
    return True


def _restated(
    old: ParticipantState, values: Values, comms: Comms, attributes: Mapping[str, str], key: OrderKey
) -> bool:
    """True when merging this snapshot participant (not newer than ``old.rkey``) would change nothing.

    The replay case: an event already folded arrives again. :func:`merge_participant` would rebuild the
    participant field by field and find it equal; this decides the same from comparisons alone, so the
    caller keeps ``old`` (the very same object, as the module promises for merges that take nothing).
    """
    rkey = old.rkey
    if rkey is None or key > rkey:
        return False
    if not _known_as(old.values, old.keys, values, key, rkey):
        return False
    known = old.communications
    for cid, new in comms:
        c = known.get(cid)
        if c is None or terminal(c.terminal, new[1]) != c.terminal:
            return False
        if not _known_as(c.values, c.keys, new, key, rkey):
            return False
    stored = old.attributes
    for name, value in attributes.items():
        prev = stored.get(name)
        if prev is None or key > prev[1] or (key == prev[1] and value != prev[0]):
            return False
    return True


def apply_snapshot(
    participants: Mapping[str, ParticipantState], body: ConversationSnapshot, key: OrderKey
) -> tuple[Mapping[str, ParticipantState], bool]:
    """Merge a whole-conversation snapshot's participants.

    Returns:
        The participants (the very same mapping when nothing changed), and False when at most ``rkey``
        values and attributes moved (so the status can change only through ``answered`` facts, which
        read ``rkey``).
    """
    out: dict[str, ParticipantState] | None = None
    reshaped = False
    for p in body.participants:
        pid = p.id
        prev = participants.get(pid) if out is None else out.get(pid)
        values = _PARTICIPANT_VALUES(p)
        merged = _take_newer(prev, pid, values, p, key)
        if merged is None:
            comms = [(c.id, _COMM_VALUES(c)) for c in p.communications]
            if prev is not None and _restated(prev, values, comms, p.attributes, key):
                continue
            merged = merge_participant(prev, pid, (values, comms, p.attributes, False), key)
            if merged is prev:
                continue
        if (
            prev is None
            or merged.values is not prev.values
            or merged.communications is not prev.communications
        ):
            reshaped = True
        if out is None:
            out = dict(participants)
        out[pid] = merged
    return (participants if out is None else out), reshaped
