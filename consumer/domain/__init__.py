"""The pure core: typed events, the fold, the status and last-queue rules, rows and state JSON.

No I/O, no clock, no logging, no randomness (``tests/unit/test_purity.py`` checks it).
"""

from consumer.domain.events import (
    Communication,
    ConversationEvent,
    ConversationSnapshot,
    DetailEvent,
    Participant,
)
from consumer.domain.fold import fold, fold_all, fold_logic_version, with_error
from consumer.domain.queues import last_queue
from consumer.domain.row import ConversationRow, derive_row
from consumer.domain.serde import state_from_json, state_to_json
from consumer.domain.state import (
    LOGIC_VERSION,
    CommunicationState,
    ConversationState,
    OrderKey,
    ParticipantState,
)
from consumer.domain.status import STATUSES, calculated_status

__all__ = [
    "LOGIC_VERSION",
    "STATUSES",
    "Communication",
    "CommunicationState",
    "ConversationEvent",
    "ConversationRow",
    "ConversationSnapshot",
    "ConversationState",
    "DetailEvent",
    "OrderKey",
    "Participant",
    "ParticipantState",
    "calculated_status",
    "derive_row",
    "fold",
    "fold_all",
    "fold_logic_version",
    "last_queue",
    "state_from_json",
    "state_to_json",
    "with_error",
]
