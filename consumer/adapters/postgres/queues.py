"""The queue directory inside a write transaction: advisory locks, queue upserts, row refreshes.

Why it is race-free. A conversation row's ``last_queue_name`` is resolved in SQL, by the row-writing
statement itself: ``COALESCE(<name an event carried>, queue.name)``. A directory change (insert or rename
of queue Q) refreshes, in the same transaction, the rows that reference Q and did not get their name from
an event. Both run under a transaction-scoped advisory lock keyed by Q (:data:`QUEUE_LOCK_CLASS`,
``hashtext(Q)``): shared for the row writer, exclusive for the directory change, taken before the
statements that read or write (one statement, keys in ascending order, so no lock cycle). Locks are held
until commit or rollback, so for any writer W of a row referencing Q and any change U of Q, one of them
commits entirely before the other's reading statements start; under READ COMMITTED each statement takes a
fresh snapshot, so:

- U first: W's row statement sees U's queue row and resolves the new name;
- W first: U's refresh sees W's row (last queue Q, name not from an event) and rewrites the name.

Either way no row is left with a stale or null directory name. An event's own name always wins: such a
row has ``last_queue_name_from_event = true`` and no refresh touches it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from consumer.adapters.postgres.sql import QUEUE_LOCK_CLASS, Statements
from consumer.ports import QueueInfo

__all__ = ["QUEUE_LOCK_CLASS", "lock_queue_ids", "upsert_queues"]

_log = logging.getLogger(__name__)


def lock_queue_ids(
    conn: psycopg.Connection[Any], statements: Statements, referenced: Iterable[str], changed: Iterable[str]
) -> None:
    """Take the advisory locks of these queues for the current transaction.

    Args:
        referenced: queue ids of rows about to be written (shared lock).
        changed: queue ids whose directory entry is about to be upserted (exclusive lock).
    """
    modes: dict[str, bool] = {}
    for queue_id in referenced:
        modes.setdefault(queue_id, False)
    for queue_id in changed:
        modes[queue_id] = True
    if not modes:
        return
    ids = sorted(modes)
    conn.execute(statements.lock_queue_ids, {"ids": ids, "excl": [modes[i] for i in ids]})


def upsert_queues(conn: psycopg.Connection[Any], statements: Statements, queues: Sequence[QueueInfo]) -> int:
    """Upsert directory entries and refresh the rows showing a directory name, in the caller's transaction.

    The caller holds the exclusive locks of these queue ids (:func:`lock_queue_ids`). A row is refreshed
    when its last queue is one of them, its name did not come from an event (for rows written before
    migration 0002: its name is null or the directory's previous name) and differs from the new name. A
    null directory name never erases a row's name. Refreshed rows get a new ``db_last_updated``; their
    state is untouched. Returns the number of queues inserted or changed.
    """
    latest = {q.queue_id: q for q in queues}
    ids = sorted(latest)
    if not ids:
        return 0
    old = dict(conn.execute(statements.lock_queues, (ids,)).fetchall())
    params = {
        "ids": ids,
        "names": [latest[i].name for i in ids],
        "divisions": [latest[i].division_id for i in ids],
    }
    changed = [r[0] for r in conn.execute(statements.upsert_queues, params).fetchall()]
    renamed = [i for i in changed if latest[i].name is not None and latest[i].name != old.get(i)]
    if renamed:
        refresh = {
            "ids": renamed,
            "old": [old.get(i) for i in renamed],
            "new": [latest[i].name for i in renamed],
        }
        count = conn.execute(statements.refresh_queue_names, refresh).rowcount
        _log.info("queue names refreshed", extra={"queues": len(renamed), "rows": count})
    return len(changed)
