"""The fold's positional fast constructors build exactly what the dataclass constructors build."""

from __future__ import annotations

from dataclasses import fields

from consumer.domain.state import (
    IMPLICIT_COMM_KEYS,
    NO_PARTICIPANT_VALUES,
    CommunicationState,
    ConversationState,
    ParticipantState,
    new_communication,
    new_conversation,
    new_participant,
)

_KEY = (1_735_725_600_000, "e1")


def test_fast_constructors_equal_the_dataclass_constructors() -> None:
    comm_values = ("voice", "connected", *(None,) * 8)
    comm = CommunicationState("c1", comm_values, IMPLICIT_COMM_KEYS, None)
    assert new_communication("c1", comm_values, IMPLICIT_COMM_KEYS, None) == comm
    keys = (_KEY, *(None,) * 12)
    p_args = ("p1", NO_PARTICIPANT_VALUES, keys, {"a": ("x", _KEY)}, {"c1": comm}, True, _KEY)
    participant = ParticipantState(*p_args)
    assert new_participant(*p_args) == participant
    assert hash(new_communication("c1", comm_values, IMPLICIT_COMM_KEYS, None)) == hash(comm)
    s_args = ConversationState("conv-1", participants={"p1": participant}, calculated_status="ended")
    values = [getattr(s_args, f.name) for f in fields(ConversationState)]
    assert new_conversation(*values) == s_args
    assert repr(new_conversation(*values)) == repr(s_args)
