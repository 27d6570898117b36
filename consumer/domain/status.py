"""The status decision table: the calculated status of a conversation, from its merged records only.

The status is a function of the merged participants and the ``answered`` facts, never of the order in
which events arrived: that is what lets the fold be order-insensitive.

Definitions: monitor/coach/barge participants (monitored/coached/barged participant id set)
are ignored. *Agent* = purpose ``agent`` or ``user``; *flow* = ``ivr``, ``workflow``, ``botflow``,
``voicesurveyflow``. An *active communication* has a known state other than ``disconnected``/
``terminated`` (terminal is sticky) and belongs to a participant without an end time; an *active
participant* has no end time and at least one active communication. A communication whose state was
never reported (only touched by e.g. an ``acw`` event) is not active.

Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from consumer.domain.state import TERMINAL_STATES, OrderKey, ParticipantState

__all__ = [
    "AGENT_PURPOSES",
    "FLOW_PURPOSES",
    "STATUSES",
    "acw_pending",
    "calculated_status",
    "is_active_participant",
    "participant_end",
]

AGENT_PURPOSES: Final = frozenset({"agent", "user"})
FLOW_PURPOSES: Final = frozenset({"ivr", "workflow", "botflow", "voicesurveyflow"})

#: The statuses in decision-table order: ``STATUSES[rank - 1]`` is rule ``rank``.
STATUSES: Final = (
    "connected", "on_hold", "parked", "alerting", "dialing", "scheduled_callback", "waiting_in_queue",
    "in_ivr", "wrap_up", "active", "ended",
)  # fmt: skip

_ENDED: Final = 11
_NO_ACW: Final = frozenset({"complete", "skipped", "notapplicable"})


#: Rules 1–6 by the state of an agent's active communication (``connected`` is rule 2 when held or
#: confined); states not listed match none of them (10).
_AGENT_COMM_RANKS: Final = {
    "connected": 1, "parked": 3, "alerting": 4, "offering": 4, "dialing": 5, "contacting": 5, "scheduled": 6,
}  # fmt: skip
#: Rules 5–6 by the state of any other participant's active communication.
_OTHER_COMM_RANKS: Final = {"dialing": 5, "contacting": 5, "scheduled": 6}


def acw_pending(p: ParticipantState) -> bool:
    """Rule 9 for one agent: ACW ``pending``, or started and not ended, or wrap-up required and none recorded.

    An ``acw``/``wrapup`` detail event completes ACW for good (``acw_complete``).
    """
    if p.acw_complete:
        return False
    if p.start_acw_time is not None and p.end_acw_time is None:
        return True
    if p.wrapup_required and p.wrapup_code is None:
        return True
    for c in p.communications.values():
        acw = c.acw_state
        if acw == "pending":
            return True
        if c.acw_start_time is not None and c.acw_end_time is None and acw not in _NO_ACW:
            return True
    return False


def _participant_rank(p: ParticipantState, answered: Mapping[str, OrderKey]) -> int:
    """The best (lowest) decision-table rule this one non-monitor participant satisfies."""
    # Hot path: reads ``values`` positions directly (purpose 0, user_id 1, end_time 5; communication
    # state 1, held 2, confined 3) instead of the typed properties.
    values = p.values
    purpose = values[0]
    agent = purpose in AGENT_PURPOSES
    rank = _ENDED
    if values[5] is None:
        user_id = values[1]
        answered_key = answered.get(user_id) if answered and isinstance(user_id, str) else None
        rkey = p.rkey
        active = False
        comm_ranks = _AGENT_COMM_RANKS if agent else _OTHER_COMM_RANKS
        for c in p.communications.values():
            state = c.terminal or (c.effective_state(rkey, answered_key) if answered_key else c.values[1])
            if not isinstance(state, str) or state in TERMINAL_STATES:
                continue
            active = True
            r = comm_ranks.get(state, 10)
            if r == 1 and (c.values[2] is True or c.values[3] is True):
                r = 2  # held or confined
            if r < rank:
                rank = r
        if active:
            r = 7 if purpose == "acd" else 8 if purpose in FLOW_PURPOSES else 10
            if r < rank:
                rank = r
    if agent and rank > 9 and acw_pending(p):
        rank = 9
    return rank


def calculated_status(
    participants: Mapping[str, ParticipantState], answered: Mapping[str, OrderKey]
) -> str | None:
    """The calculated status by the decision table (first matching rule wins).

    Returns:
        One of :data:`STATUSES`, or None when no participant has been seen.
    """
    if not participants:
        return None
    best = _ENDED
    for p in participants.values():
        if p.is_monitor:
            continue
        r = _participant_rank(p, answered)
        if r < best:
            best = r
            if best == 1:
                break
    return STATUSES[best - 1]


def is_active_participant(p: ParticipantState, answered: Mapping[str, OrderKey] | None = None) -> bool:
    """No end time and at least one active communication."""
    if p.end_time is not None:
        return False
    user_id = p.user_id
    answered_key = answered.get(user_id) if answered and user_id is not None else None
    for c in p.communications.values():
        state = c.effective_state(p.rkey, answered_key)
        if state is not None and state not in TERMINAL_STATES:
            return True
    return False


def participant_end(p: ParticipantState) -> int | None:
    """The end time, else the latest disconnect time of its communications if all are terminal."""
    if p.end_time is not None:
        return p.end_time
    latest: int | None = None
    for c in p.communications.values():
        if c.terminal is None:
            return None
        t = c.disconnected_time
        if t is not None and (latest is None or t > latest):
            latest = t
    return latest
