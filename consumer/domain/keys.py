"""Which conversation ids can be primary keys: the one rule shared by the bridge and the consumer.

A conversation id is the ``conversation`` table's primary key (a btree index). PostgreSQL refuses an
index entry larger than about a third of a page (2,704 bytes with the default 8 KiB pages, SQLSTATE
54000) and any text containing NUL (22021). Such an id would make its row unwritable forever, so the
bridge refuses the message (reporting its line) and the consumer dead-letters the record
(``UnindexableKeyError``, reason ``unindexable_key``) before folding it.

The documented maximum is :data:`MAX_CONVERSATION_ID_BYTES` UTF-8 bytes: Genesys Cloud ids are 36-char
UUIDs, so this leaves a wide margin while staying far below the btree limit whatever the collation.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MAX_CONVERSATION_ID_BYTES", "conversation_id_problem"]

#: The longest conversation id accepted, in UTF-8 bytes.
MAX_CONVERSATION_ID_BYTES: Final = 256


def conversation_id_problem(conversation_id: str) -> str | None:
    """Why ``conversation_id`` cannot be a primary key, or None when it can."""
    if not conversation_id:
        return "the conversation id is empty"
    if "\x00" in conversation_id:
        return "the conversation id contains a NUL character"
    try:
        size = len(conversation_id.encode("utf-8"))
    except UnicodeEncodeError:
        return "the conversation id is not valid Unicode (a lone surrogate)"
    if size > MAX_CONVERSATION_ID_BYTES:
        return (
            f"the conversation id is {size} UTF-8 bytes long; "
            f"at most {MAX_CONVERSATION_ID_BYTES} can be a primary key"
        )
    return None
