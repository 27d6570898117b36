"""The bridge's check that every event's conversation id can be a Kafka key and a primary key.

An id PostgreSQL cannot index (longer than :data:`~consumer.domain.keys.MAX_CONVERSATION_ID_BYTES` UTF-8
bytes, or containing NUL) would only be dead-lettered by the consumer; the bridge refuses it first, as a
bad line with its position and the reason, and goes on with the next event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from consumer.domain.events import ConversationEvent
from consumer.domain.keys import conversation_id_problem
from consumer.ports import BadLine

__all__ = ["keyable"]


def keyable(
    events: Iterable[ConversationEvent], source: str, line: int
) -> Iterator[ConversationEvent | BadLine]:
    """``events`` of one input line, each one whose id cannot be a key replaced by a :class:`BadLine`."""
    for event in events:
        problem = conversation_id_problem(event.conversation_id)
        if problem is None:
            yield event
        else:
            yield BadLine(source, line, f"{problem}; {_shown(event.conversation_id)}")


def _shown(conversation_id: str) -> str:
    """The start of a rejected id (a 9,000-character id would flood the log)."""
    head = conversation_id[:40].encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
    return f"id {head!r}{'…' if len(conversation_id) > 40 else ''}"
