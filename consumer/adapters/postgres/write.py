"""The statements of one write transaction (fence, rows, error marks) and the search for unwritable parts.

Module functions over an open connection and the table's :class:`~consumer.adapters.postgres.sql.Statements`;
:class:`~consumer.adapters.postgres.store.PostgresStore` owns the connections and the transactions. psycopg
errors leave untranslated (the store's connection context translates them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
import psycopg

from consumer.adapters.postgres.errors import translate
from consumer.adapters.postgres.queues import upsert_queues
from consumer.adapters.postgres.sql import COLUMNS, Statements
from consumer.errors import ConcurrentFoldError, FencedError, cap_message
from consumer.ports import BatchWrite, ErrorMark, PartitionAdvance, QueueInfo, RowWrite, WriteMethod

__all__ = [
    "ROW_FAULT_CLASSES",
    "Unit",
    "advance",
    "bisect",
    "check_versions",
    "coalesce_errors",
    "coalesce_rows",
    "mark_errors",
    "probe_units",
    "row_values",
    "write_rows",
]

_COPY_TYPES: Final = [typ for _, typ in COLUMNS]


def row_values(item: RowWrite) -> tuple[Any, ...]:
    """The staged values of a row, in :data:`~consumer.adapters.postgres.sql.COLUMNS` order."""
    r = item.row
    return (
        r.conversation_id,
        r.conversation_start,
        r.conversation_end,
        r.originating_direction,
        r.original_media_type,
        r.conversation_initiator,
        r.calculated_status,
        r.status_changed_at,
        r.last_queue_id,
        r.last_queue_name,
        r.external_tag,
        list(r.division_ids),
        r.customer_participation,
        r.self_served,
        r.media_stats_min_conversation_mos,
        r.media_stats_min_conversation_rfactor,
        r.error_message,
        item.error_at,
        orjson.dumps(item.state_json).decode(),
        r.last_event_at,
        r.logic_version,
        item.folded_digests,
    )


def coalesce_rows(rows: Sequence[RowWrite]) -> list[RowWrite]:
    """One row per conversation (the last one wins), sorted by id so row locks are taken in one order."""
    by_id = {item.row.conversation_id: item for item in rows}
    return [by_id[key] for key in sorted(by_id)]


def coalesce_errors(errors: Sequence[ErrorMark]) -> list[ErrorMark]:
    """One mark per conversation: the latest (then the last given)."""
    by_id: dict[str, ErrorMark] = {}
    for mark in errors:
        kept = by_id.get(mark.conversation_id)
        if kept is None or mark.at >= kept.at:
            by_id[mark.conversation_id] = mark
    return [by_id[key] for key in sorted(by_id)]


def advance(
    conn: psycopg.Connection[Any], statements: Statements, group_id: str, offsets: Sequence[PartitionAdvance]
) -> None:
    """Move each partition's stored offset from its start to its next offset, else :class:`FencedError`."""
    params = [
        {
            "group": group_id,
            "topic": a.topic,
            "partition": a.partition,
            "start": a.start_offset,
            "next": a.next_offset,
        }
        for a in offsets
    ]
    if not params:
        return
    with conn.cursor() as cur:
        cur.executemany(statements.advance_offset, params, returning=True)
        for a in offsets:
            if cur.fetchone() is None:
                raise FencedError(
                    f"offset fence failed for {a.topic}[{a.partition}] "
                    f"(group {group_id!r}): stored offset is not {a.start_offset}; "
                    "another consumer owns the partition"
                )
            cur.nextset()


def check_versions(
    conn: psycopg.Connection[Any], statements: Statements, batch: BatchWrite, rows: Sequence[RowWrite]
) -> None:
    """Lock the batch's conversations, then raise :class:`ConcurrentFoldError` if one changed since loaded.

    The locks (transaction-scoped, see :data:`~consumer.adapters.postgres.sql.CONVERSATION_LOCK_CLASS`)
    cover every conversation the batch folded, writes or marks, so from here to the commit no other batch
    can write them: a version that still matches now still matches when the rows are written.
    """
    ids = set(batch.versions) | {r.row.conversation_id for r in rows}
    ids |= {m.conversation_id for m in batch.errors}
    if not ids:
        return
    conn.execute(statements.lock_conversations, (sorted(ids),))
    if not batch.versions:
        return
    rows_now = conn.execute(statements.conversation_versions, (sorted(batch.versions),)).fetchall()
    now = {str(cid): int(version) for cid, version in rows_now}
    moved = sorted(cid for cid, version in batch.versions.items() if now.get(cid) != version)
    if moved:
        raise ConcurrentFoldError(
            f"{len(moved)} conversation(s) changed since their state was loaded (e.g. {moved[0]!r}): "
            "another consumer folded records of them; retrying the batch from the stored state",
            conversations=len(moved),
        )


def write_rows(
    conn: psycopg.Connection[Any], statements: Statements, method: WriteMethod, rows: Sequence[RowWrite]
) -> tuple[int, int]:
    """Upsert the changed rows; returns (inserted, updated). COPY needs the session's staging table."""
    if not rows:
        return 0, 0
    if method == "copy":
        return _write_rows_copy(conn, statements, rows)
    return _write_rows_executemany(conn, statements, rows)


def _write_rows_copy(
    conn: psycopg.Connection[Any], statements: Statements, rows: Sequence[RowWrite]
) -> tuple[int, int]:
    with conn.cursor() as cur:
        with cur.copy(statements.copy_stage) as copy:
            copy.set_types(_COPY_TYPES)
            for item in rows:
                copy.write_row(row_values(item))
        counts = cur.execute(statements.upsert_from_stage).fetchone()
    assert counts is not None
    return int(counts[0]), int(counts[1])


def _write_rows_executemany(
    conn: psycopg.Connection[Any], statements: Statements, rows: Sequence[RowWrite]
) -> tuple[int, int]:
    inserted = updated = 0
    with conn.cursor() as cur:
        cur.executemany(statements.upsert_values, [row_values(item) for item in rows], returning=True)
        while True:
            result = cur.fetchone()
            if result is not None:
                inserted, updated = (inserted + 1, updated) if result[0] else (inserted, updated + 1)
            if not cur.nextset():
                break
    return inserted, updated


def mark_errors(conn: psycopg.Connection[Any], statements: Statements, errors: Sequence[ErrorMark]) -> int:
    """Apply the error marks; returns how many rows changed."""
    if not errors:
        return 0
    params = {
        "ids": [m.conversation_id for m in errors],
        "msgs": [cap_message(m.message) for m in errors],  # a decoder error can quote a whole schema
        "ats": [m.at for m in errors],
    }
    return int(conn.execute(statements.mark_errors, params).rowcount)


# -- finding what PostgreSQL rejects ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unit:
    """What the search keeps or rejects as a whole: one conversation (row and mark) or one queue."""

    key: tuple[str, str]
    rows: Sequence[RowWrite] = ()
    marks: Sequence[ErrorMark] = ()
    queues: Sequence[QueueInfo] = ()


def probe_units(batch: BatchWrite) -> list[Unit]:
    """The batch's conversations (``("c", id)``) then its queues (``("q", id)``), each sorted by id."""
    rows = {r.row.conversation_id: r for r in coalesce_rows(batch.rows)}
    marks = {m.conversation_id: m for m in coalesce_errors(batch.errors)}
    units = [
        Unit(("c", cid), rows=[rows[cid]] if cid in rows else [], marks=[marks[cid]] if cid in marks else [])
        for cid in sorted(rows.keys() | marks.keys())
    ]
    queues = {q.queue_id: q for q in batch.queues}
    return units + [Unit(("q", qid), queues=[queues[qid]]) for qid in sorted(queues)]


#: SQLSTATE classes a single row's values can cause: data exception (22: NUL in text, out of range,
#: bad encoding), integrity constraint violation (23) and program limit exceeded (54: an index entry larger
#: than a btree page allows, a value too large).
ROW_FAULT_CLASSES: Final = frozenset({"22", "23", "54"})


def _data_error(exc: psycopg.Error) -> bool:
    """Whether the data, not the statement or the server, is at fault (by type and SQLSTATE class)."""
    if exc.sqlstate is None:
        return isinstance(exc, psycopg.DataError)
    return exc.sqlstate[:2] in ROW_FAULT_CLASSES


def bisect(
    conn: psycopg.Connection[Any], statements: Statements, method: WriteMethod, units: Sequence[Unit]
) -> dict[tuple[str, str], str]:
    """The units that fail on their own with a data error, with the error; inside the caller's transaction.

    Each probe runs in a savepoint (rolled back on failure); a failing set is split in halves until
    single units remain. A failure that is not a data error is raised as is.
    """
    if not units:
        return {}
    try:
        with conn.transaction():  # a savepoint
            if method == "copy":
                conn.execute(statements.clear_stage)  # rows staged by earlier probes
            upsert_queues(conn, statements, [q for u in units for q in u.queues])
            write_rows(conn, statements, method, [r for u in units for r in u.rows])
            mark_errors(conn, statements, [m for u in units for m in u.marks])
        return {}
    except psycopg.Error as exc:
        if not _data_error(exc):
            raise
        if len(units) == 1:
            return {units[0].key: str(translate(exc, action="write"))}
    half = len(units) // 2
    return bisect(conn, statements, method, units[:half]) | bisect(conn, statements, method, units[half:])
