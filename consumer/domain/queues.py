"""The last-queue rule: the last queue of a conversation, from its merged records only.

Among non-monitor ``acd`` participants with a queue id: if any is active, the active one with the latest
connected time (ties: participant id); otherwise the one with the latest end time (ties: latest
connected time, then participant id). Without any such acd participant, the queue id of the latest
agent participant that has one (latest connected time, then participant id). Unknown times sort first,
so a known time always wins.

Pure module.
"""

from __future__ import annotations

from collections.abc import Mapping

from consumer.domain.state import OrderKey, ParticipantState
from consumer.domain.status import AGENT_PURPOSES, is_active_participant, participant_end

__all__ = ["last_queue", "last_queue_participant"]

_UNKNOWN = -1  # epoch ms are non-negative, so an unknown time sorts before every known one


def _t(value: int | None) -> int:
    return _UNKNOWN if value is None else value


def last_queue_participant(
    participants: Mapping[str, ParticipantState], answered: Mapping[str, OrderKey] | None = None
) -> ParticipantState | None:
    """The participant whose queue is the conversation's last queue, or None."""
    active: tuple[tuple[int, str], ParticipantState] | None = None
    ended: tuple[tuple[int, int, str], ParticipantState] | None = None
    agent: tuple[tuple[int, str], ParticipantState] | None = None
    for p in participants.values():
        if p.is_monitor or p.queue_id is None:
            continue
        purpose = p.purpose
        if purpose == "acd":
            if is_active_participant(p, answered):
                akey = (_t(p.connected_time), p.id)
                if active is None or akey > active[0]:
                    active = (akey, p)
            else:
                ekey = (_t(participant_end(p)), _t(p.connected_time), p.id)
                if ended is None or ekey > ended[0]:
                    ended = (ekey, p)
        elif purpose in AGENT_PURPOSES:
            gkey = (_t(p.connected_time), p.id)
            if agent is None or gkey > agent[0]:
                agent = (gkey, p)
    for choice in (active, ended, agent):
        if choice is not None:
            return choice[1]
    return None


def last_queue(
    participants: Mapping[str, ParticipantState],
    answered: Mapping[str, OrderKey] | None = None,
    queue_names: Mapping[str, str] | None = None,
) -> tuple[str | None, str | None]:
    """``(last_queue_id, last_queue_name)``.

    The name is the chosen participant's queue name if an event carried one, else ``queue_names[id]``
    (the queue directory), else None.
    """
    p = last_queue_participant(participants, answered)
    if p is None:
        return None, None
    queue_id = p.queue_id
    name = p.queue_name
    if name is None and queue_names is not None and queue_id is not None:
        name = queue_names.get(queue_id)
    return queue_id, name
