"""The folded state of one conversation: merged records, each field with the order key it was set from.

Every mergeable value is a last-writer-wins register: the value plus the order key ``(event_time,
event_id)`` of the event it came from (the merge rules). A record keeps its values and keys in two parallel
tuples (``values[i]`` was set from the event whose key is the *effective key* of field ``i``), because
tuples are cheap to copy and compare, which keeps the fold fast. The named properties are the read API;
the ``*_FIELDS`` tuples name the positions.

Key compression (canonical, so equal knowledge means equal dataclasses): a participant's ``rkey`` is the
greatest effective key among its fields and its communications' fields. ``keys[i]`` is stored only when
the field's effective key differs from ``rkey``; otherwise it is None and the effective key is ``rkey``
(or None when the value was never set). A whole-conversation snapshot that re-states a participant thus
moves one ``rkey`` instead of rewriting every key.

Why the state is order- and duplicate-insensitive: every part of it is a join of the events folded so
far — registers keep the write with the greatest key, terminal states and ``answered`` facts keep the
greatest key among their writes, ``division_ids`` is a set union, first/last event times are min/max,
and records exist iff some event touched them. ``calculated_status`` is a function of those merged
records. Only ``status_changed_at`` depends on the path (when processing saw the status change).

Pure module: dataclasses only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "COMMUNICATION_FIELDS",
    "FACT_FIELDS",
    "IMPLICIT_COMM_KEYS",
    "IMPLICIT_PARTICIPANT_KEYS",
    "LOGIC_VERSION",
    "NO_COMM_VALUES",
    "NO_PARTICIPANT_VALUES",
    "PARTICIPANT_FIELDS",
    "TERMINAL_STATES",
    "CommunicationState",
    "ConversationState",
    "Keys",
    "OrderKey",
    "ParticipantState",
    "Value",
    "Values",
    "effective_key",
    "new_communication",
    "new_conversation",
    "new_participant",
]

#: Bump whenever a change to the fold would change any output for existing events.
LOGIC_VERSION: Final = 1

OrderKey = tuple[int, str]
"""``(event_time, event_id)``: the merge order (consumer/domain/merge.py)."""

#: Communication states after which a communication never becomes active again.
TERMINAL_STATES: Final = frozenset({"disconnected", "terminated"})

#: Positions of :attr:`CommunicationState.values`.
COMMUNICATION_FIELDS: Final = (
    "media_type", "state", "held", "confined", "direction", "connected_time", "disconnected_time",
    "acw_state", "acw_start_time", "acw_end_time",
)  # fmt: skip

#: Positions of :attr:`ParticipantState.values`.
PARTICIPANT_FIELDS: Final = (
    "purpose", "user_id", "queue_id", "queue_name", "connected_time", "end_time", "start_acw_time",
    "end_acw_time", "wrapup_required", "wrapup_code", "monitored_participant_id", "coached_participant_id",
    "barged_participant_id",
)  # fmt: skip

#: Positions of :attr:`ConversationState.facts` (conversation-level registers).
FACT_FIELDS: Final = (
    "external_tag", "conversation_start", "conversation_end", "originating_direction",
    "conversation_initiator", "customer_participation", "self_served", "media_stats_min_conversation_mos",
    "media_stats_min_conversation_rfactor", "outbound_campaign_id", "outbound_contact_list_id",
    "outbound_contact_id",
)  # fmt: skip

Value = str | int | float | bool | None
Values = tuple[Value, ...]
Keys = tuple[OrderKey | None, ...]

NO_COMM_VALUES: Final[Values] = (None,) * len(COMMUNICATION_FIELDS)
NO_PARTICIPANT_VALUES: Final[Values] = (None,) * len(PARTICIPANT_FIELDS)
IMPLICIT_COMM_KEYS: Final[Keys] = (None,) * len(COMMUNICATION_FIELDS)
IMPLICIT_PARTICIPANT_KEYS: Final[Keys] = (None,) * len(PARTICIPANT_FIELDS)
_NO_FACT_VALUES: Final[Values] = (None,) * len(FACT_FIELDS)


def effective_key(value: Value, stored: OrderKey | None, rkey: OrderKey | None) -> OrderKey | None:
    """The key a field was set from, given its stored key and its participant's ``rkey``."""
    if stored is not None:
        return stored
    return None if value is None else rkey


def _str(value: Value) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Value) -> bool | None:
    return value if isinstance(value, bool) else None


def _float(value: Value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class CommunicationState:
    """One communication (detail events' ``session_id``) with per-field order keys.

    ``keys`` are relative to the owning participant's ``rkey`` (module docstring). ``terminal`` is set
    once any event reported the communication ``disconnected`` or ``terminated`` (``terminated`` wins, so
    the value does not depend on order); from then on it is never active again, whatever later events
    say (terminal is sticky: consumer/domain/merge.py).
    """

    id: str
    values: Values = NO_COMM_VALUES
    keys: Keys = IMPLICIT_COMM_KEYS
    terminal: str | None = None

    @property
    def media_type(self) -> str | None:
        return _str(self.values[0])

    @property
    def state(self) -> str | None:
        """The merged state, before stickiness; see :attr:`effective_state`."""
        return _str(self.values[1])

    @property
    def held(self) -> bool | None:
        return _bool(self.values[2])

    @property
    def confined(self) -> bool | None:
        return _bool(self.values[3])

    @property
    def direction(self) -> str | None:
        return _str(self.values[4])

    @property
    def connected_time(self) -> int | None:
        return _int(self.values[5])

    @property
    def disconnected_time(self) -> int | None:
        return _int(self.values[6])

    @property
    def acw_state(self) -> str | None:
        return _str(self.values[7])

    @property
    def acw_start_time(self) -> int | None:
        return _int(self.values[8])

    @property
    def acw_end_time(self) -> int | None:
        return _int(self.values[9])

    def effective_state(self, rkey: OrderKey | None, answered_key: OrderKey | None = None) -> str | None:
        """The state the status rules see.

        Args:
            rkey: The owning participant's ``rkey``.
            answered_key: key of an ``acd.end`` ANSWERED fact for this communication's user, if any; it
                counts as a ``connected`` write with that key.

        Returns:
            The terminal state if one was ever seen, else the state written with the greatest key.
        """
        if self.terminal is not None:
            return self.terminal
        state = self.values[1]
        if answered_key is not None:
            key = effective_key(state, self.keys[1], rkey)
            if key is None or answered_key >= key:
                return "connected"
        return _str(state)


@dataclass(frozen=True, slots=True)
class ParticipantState:
    """One participant with per-field order keys, its attributes and its communications by id.

    Attributes:
        rkey: Greatest effective key of the participant's and its communications' fields (None: none set).
        acw_complete: True once an ``acw``/``wrapup`` detail event was seen for it (a grow-only flag).
        attributes: Participant attributes, each a register ``(value, key)``.
    """

    id: str
    values: Values = NO_PARTICIPANT_VALUES
    keys: Keys = IMPLICIT_PARTICIPANT_KEYS
    attributes: Mapping[str, tuple[str, OrderKey]] = field(default_factory=dict)
    communications: Mapping[str, CommunicationState] = field(default_factory=dict)
    acw_complete: bool = False
    rkey: OrderKey | None = None

    @property
    def purpose(self) -> str | None:
        return _str(self.values[0])

    @property
    def user_id(self) -> str | None:
        return _str(self.values[1])

    @property
    def queue_id(self) -> str | None:
        return _str(self.values[2])

    @property
    def queue_name(self) -> str | None:
        return _str(self.values[3])

    @property
    def connected_time(self) -> int | None:
        return _int(self.values[4])

    @property
    def end_time(self) -> int | None:
        return _int(self.values[5])

    @property
    def start_acw_time(self) -> int | None:
        return _int(self.values[6])

    @property
    def end_acw_time(self) -> int | None:
        return _int(self.values[7])

    @property
    def wrapup_required(self) -> bool | None:
        return _bool(self.values[8])

    @property
    def wrapup_code(self) -> str | None:
        return _str(self.values[9])

    @property
    def is_monitor(self) -> bool:
        """Monitor, coach or barge participants are ignored by the status and last-queue rules."""
        return self.values[10] is not None or self.values[11] is not None or self.values[12] is not None


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Everything the fold knows about one conversation.

    Attributes:
        conversation_id: The conversation.
        facts: Conversation-level registers, positions in :data:`FACT_FIELDS` (external tag, analytics
            facts, outbound campaign facts).
        fact_keys: The order key each fact was set from.
        division_ids: Union of all division ids seen, sorted.
        participants: Participants by id.
        answered: Pending/standing facts: user id -> greatest key of an ``acd.end`` ANSWERED for that user.
            Applied to the user's agent participants when the status is evaluated, so a fact that
            arrives before its participant is neither lost nor turned into a ghost participant.
        first_event_at: Smallest event time folded (epoch ms).
        last_event_at: Greatest event time folded (epoch ms).
        calculated_status: the decision-table status of the merged records; None until a participant is seen.
        status_changed_at: Event time of the event at which processing saw the status change.
        error_message: The last processing error that concerned this conversation (consumer/domain/row.py).
        error_at: When that error happened (epoch ms).
        logic_version: :data:`LOGIC_VERSION` of the fold that produced this state.
    """

    conversation_id: str
    facts: Values = _NO_FACT_VALUES
    fact_keys: Keys = (None,) * len(FACT_FIELDS)
    division_ids: tuple[str, ...] = ()
    participants: Mapping[str, ParticipantState] = field(default_factory=dict)
    answered: Mapping[str, OrderKey] = field(default_factory=dict)
    first_event_at: int | None = None
    last_event_at: int | None = None
    calculated_status: str | None = None
    status_changed_at: int | None = None
    error_message: str | None = None
    error_at: int | None = None
    logic_version: int = LOGIC_VERSION

    def fact(self, name: str) -> Value:
        """The conversation-level fact ``name`` (one of :data:`FACT_FIELDS`), None if never set."""
        return self.facts[FACT_FIELDS.index(name)]

    def fact_str(self, name: str) -> str | None:
        return _str(self.fact(name))

    def fact_int(self, name: str) -> int | None:
        return _int(self.fact(name))

    def fact_bool(self, name: str) -> bool | None:
        return _bool(self.fact(name))

    def fact_float(self, name: str) -> float | None:
        return _float(self.fact(name))


# Positional constructors for the fold's hot path. A frozen dataclass's generated ``__init__`` sets every
# field through ``object.__setattr__`` (and checks default factories), which costs about as much as the
# rest of merging a re-stated participant; these set the slots directly, about twice as fast. The result
# is an ordinary instance, equal to what the dataclass constructor builds from the same arguments. The
# unpacking below fails at import if a field is added, so they cannot silently leave one unset.
_new = object.__new__
_C_ID, _C_VALUES, _C_KEYS, _C_TERMINAL = (
    CommunicationState.__dict__[name].__set__ for name in CommunicationState.__slots__
)
_P_ID, _P_VALUES, _P_KEYS, _P_ATTRIBUTES, _P_COMMUNICATIONS, _P_ACW, _P_RKEY = (
    ParticipantState.__dict__[name].__set__ for name in ParticipantState.__slots__
)
(
    _S_ID, _S_FACTS, _S_FACT_KEYS, _S_DIVISIONS, _S_PARTICIPANTS, _S_ANSWERED, _S_FIRST, _S_LAST, _S_STATUS,
    _S_CHANGED, _S_ERROR, _S_ERROR_AT, _S_VERSION,
) = (ConversationState.__dict__[name].__set__ for name in ConversationState.__slots__)  # fmt: skip


def new_communication(cid: str, values: Values, keys: Keys, terminal: str | None) -> CommunicationState:
    """``CommunicationState(cid, values, keys, terminal)``, faster (see the comment above)."""
    c = _new(CommunicationState)
    _C_ID(c, cid)
    _C_VALUES(c, values)
    _C_KEYS(c, keys)
    _C_TERMINAL(c, terminal)
    return c


def new_participant(
    pid: str,
    values: Values,
    keys: Keys,
    attributes: Mapping[str, tuple[str, OrderKey]],
    communications: Mapping[str, CommunicationState],
    acw_complete: bool,
    rkey: OrderKey | None,
) -> ParticipantState:
    """``ParticipantState(pid, values, keys, attributes, communications, acw_complete, rkey)``, faster."""
    p = _new(ParticipantState)
    _P_ID(p, pid)
    _P_VALUES(p, values)
    _P_KEYS(p, keys)
    _P_ATTRIBUTES(p, attributes)
    _P_COMMUNICATIONS(p, communications)
    _P_ACW(p, acw_complete)
    _P_RKEY(p, rkey)
    return p


def new_conversation(
    cid: str,
    facts: Values,
    fact_keys: Keys,
    division_ids: tuple[str, ...],
    participants: Mapping[str, ParticipantState],
    answered: Mapping[str, OrderKey],
    first_event_at: int | None,
    last_event_at: int | None,
    calculated_status: str | None,
    status_changed_at: int | None,
    error_message: str | None,
    error_at: int | None,
    logic_version: int,
) -> ConversationState:
    """``ConversationState(...)`` with every field given in declaration order, faster."""
    s = _new(ConversationState)
    _S_ID(s, cid)
    _S_FACTS(s, facts)
    _S_FACT_KEYS(s, fact_keys)
    _S_DIVISIONS(s, division_ids)
    _S_PARTICIPANTS(s, participants)
    _S_ANSWERED(s, answered)
    _S_FIRST(s, first_event_at)
    _S_LAST(s, last_event_at)
    _S_STATUS(s, calculated_status)
    _S_CHANGED(s, status_changed_at)
    _S_ERROR(s, error_message)
    _S_ERROR_AT(s, error_at)
    _S_VERSION(s, logic_version)
    return s
