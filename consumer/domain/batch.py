"""Folding a batch of events over previously stored states (the consumer's step "fold").

Pure module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from consumer.domain.events import ConversationEvent
from consumer.domain.fold import fold
from consumer.domain.state import ConversationState

__all__ = ["fold_batch"]


def fold_batch(
    states: Mapping[str, ConversationState], events: Iterable[ConversationEvent]
) -> dict[str, ConversationState]:
    """Fold ``events`` (in the given order) over ``states``.

    Args:
        states: Stored states by conversation id (conversations not in it start from None).
        events: The batch.

    Returns:
        The new state of every conversation the batch touched (``states`` is not modified). Callers
        detect "nothing changed" with ``new == states[cid]`` (duplicates leave the state equal).
    """
    out: dict[str, ConversationState] = {}
    for event in events:
        cid = event.conversation_id
        prev = out.get(cid)
        if prev is None:
            prev = states.get(cid)
        out[cid] = fold(prev, event)
    return out
