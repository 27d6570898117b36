"""The PostgreSQL adapter: conversation states and rows, fenced consumer offsets, the queue directory.

:class:`PostgresStore` wraps one ``psycopg_pool.ConnectionPool``, opened on first use (no network in
``__init__``). It takes and returns convstream types (``ConversationState``, ``ConversationRow``, the
dataclasses of :mod:`consumer.adapters.postgres_types`) and raises only convstream errors:
:class:`~consumer.errors.StoreUnavailableError` (transient, retry), :class:`~consumer.errors.StoreError`
(retrying will not help), :class:`~consumer.errors.FencedError` (drop the batch). See
:mod:`consumer.adapters.postgres_errors` for the SQLSTATE mapping.

The runtime DSN should log in as a role granted ``convstream_runtime`` (SELECT/INSERT/UPDATE only; created
by ``convstream migrate``). The COPY write method creates a session-local temp table, which needs the
database's TEMPORARY privilege (PUBLIC has it by default; the migration grants it when it can).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final

import orjson
import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from consumer.adapters.postgres_errors import translate
from consumer.adapters.postgres_sql import COLUMNS, build_statements
from consumer.adapters.postgres_types import (
    BatchWrite,
    ErrorMark,
    PartitionAdvance,
    QueueInfo,
    RowWrite,
    WriteMethod,
    WriteResult,
)
from consumer.domain import ConversationState, state_from_json
from consumer.errors import FencedError, StoreError
from consumer.settings import PostgresSettings

__all__ = ["DEFAULT_WRITE_METHOD", "PostgresStore"]

_log = logging.getLogger(__name__)

#: Chosen by ``scripts/pg_write_speed.py`` (50 batches x 2,000 rows, ~1.1 KB state, PostgreSQL 15 on the same
#: 2-vCPU host, median of 3): COPY 8.7k/11.3k/12.0k rows/s (insert/update/unchanged replay) vs executemany
#: 5.3k/5.5k/7.0k on the busy shared devstack; 24.6k/17.1k/25.0k vs 14.2k/12.4k/13.3k on a quiet instance.
#: COPY also keeps round trips per batch constant, which matters more over a real network.
DEFAULT_WRITE_METHOD: Final[WriteMethod] = "copy"
_COPY_TYPES: Final = [typ for _, typ in COLUMNS]
_COUNTABLE: Final = frozenset({"calculated_status", "last_queue_name", "last_queue_id", "logic_version"})


def _row_values(item: RowWrite) -> tuple[Any, ...]:
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
    )


def _coalesce_rows(rows: Sequence[RowWrite]) -> list[RowWrite]:
    """One row per conversation (the last one wins), sorted by id so row locks are taken in one order."""
    by_id = {item.row.conversation_id: item for item in rows}
    return [by_id[key] for key in sorted(by_id)]


def _coalesce_errors(errors: Sequence[ErrorMark]) -> list[ErrorMark]:
    """One mark per conversation: the latest (then the last given)."""
    by_id: dict[str, ErrorMark] = {}
    for mark in errors:
        kept = by_id.get(mark.conversation_id)
        if kept is None or mark.at >= kept.at:
            by_id[mark.conversation_id] = mark
    return [by_id[key] for key in sorted(by_id)]


class PostgresStore:
    """Conversation rows and states, fenced offsets and queue names in PostgreSQL.

    Thread-safe (the pool hands each call its own connection). Use as a context manager or call
    :meth:`close`.
    """

    def __init__(
        self,
        settings: PostgresSettings,
        *,
        table: str | None = None,
        write_method: WriteMethod = DEFAULT_WRITE_METHOD,
    ) -> None:
        """Prepare the store; connects on first use.

        Args:
            settings: the Postgres section of the settings (runtime DSN, pool sizes, table).
            table: the conversation table, overriding ``settings.table`` (a rebuild's shadow table).
            write_method: ``"copy"`` or ``"executemany"`` (see :data:`DEFAULT_WRITE_METHOD`).
        """
        self._settings = settings
        self.table = table or settings.table
        self.write_method: WriteMethod = write_method
        self._sql = build_statements(self.table)
        self._pool: ConnectionPool | None = None
        # Connections whose session has the COPY staging table (created outside any transaction, so a
        # rolled-back batch cannot take it away).
        self._staged: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()

    # -- lifecycle -------------------------------------------------------------------------------------

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        set_json_loads(orjson.loads, conn)

    def _get_pool(self) -> ConnectionPool:
        if self._pool is None:
            s = self._settings
            self._pool = ConnectionPool(
                s.dsn.get_secret_value(),
                min_size=s.pool_min_size,
                max_size=s.pool_max_size,
                timeout=s.connect_timeout_seconds,
                kwargs={
                    "autocommit": True,
                    "connect_timeout": max(1, round(s.connect_timeout_seconds)),
                    "application_name": "convstream",
                },
                configure=self._configure,
                name=f"convstream-{self.table}",
                open=False,
            )
            self._pool.open(wait=False)
        return self._pool

    def close(self) -> None:
        """Close the pool (idempotent); in-flight calls finish first."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @contextmanager
    def _connection(self, action: str) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection (autocommit); psycopg errors leave as convstream errors."""
        try:
            with self._get_pool().connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise self._diagnose(exc, action) from exc
        except psycopg.Error as exc:
            raise translate(exc, action=action) from exc

    def _diagnose(self, exc: PoolTimeout, action: str) -> Exception:
        """Why the pool had no connection: one direct attempt surfaces the real error (bad DSN, refused)."""
        try:
            conn = psycopg.connect(
                self._settings.dsn.get_secret_value(),
                connect_timeout=max(1, round(self._settings.connect_timeout_seconds)),
            )
        except psycopg.Error as direct:
            return translate(direct, action=action)
        conn.close()
        return translate(exc, action=action)

    def ping(self) -> None:
        """Raise a store error unless a pooled connection answers ``SELECT 1`` (readiness)."""
        with self._connection("ping") as conn:
            conn.execute("SELECT 1")

    # -- reads -----------------------------------------------------------------------------------------

    def load_states(self, ids: Sequence[str]) -> dict[str, ConversationState]:
        """The stored states of these conversations; unknown ids (or rows without state) are absent.

        Raises:
            StoreError: a stored state is not a state document this build can read.
        """
        if not ids:
            return {}
        with self._connection("load states") as conn:
            rows = conn.execute(self._sql.load_states, (list(ids),)).fetchall()
        states: dict[str, ConversationState] = {}
        for cid, state in rows:
            try:
                states[cid] = state_from_json(state)
            except ValueError as exc:
                # Written by a newer logic_version or damaged: folding from scratch would lose history.
                raise StoreError(f"stored state of conversation {cid!r} cannot be read: {exc}") from exc
        return states

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """Partition -> next offset to consume, as committed with the rows (seek here on assignment)."""
        with self._connection("read offsets") as conn:
            rows = conn.execute(self._sql.stored_offsets, (group_id, topic)).fetchall()
        return {int(partition): int(offset) for partition, offset in rows}

    def queue_names(self, ids: Sequence[str]) -> dict[str, str]:
        """Directory names of these queues (queues without a known name are absent)."""
        if not ids:
            return {}
        with self._connection("read queue names") as conn:
            rows = conn.execute(self._sql.queue_names, (list(ids),)).fetchall()
        return {qid: name for qid, name in rows}

    # -- the write path --------------------------------------------------------------------------------

    def write_batch(self, batch: BatchWrite) -> WriteResult:
        """Commit one batch's rows, error marks and offsets atomically, or nothing.

        Delivery contract (one transaction):

        1. Coalesce: one row and one error mark per conversation (the last row wins; the latest mark).
        2. Fence: for each partition, in (topic, partition) order, move ``consumer_offset.next_offset``
           from ``start_offset`` to ``next_offset`` (a partition seen for the first time is inserted).
           If any stored offset differs from ``start_offset``, another consumer owns the partition:
           roll back and raise :class:`FencedError` -- no row is written.
        3. Rows: write only rows whose content differs from the stored row (``db_last_updated`` of an
           unchanged row stays put) and never overwrite a row of a newer ``logic_version``. A null
           ``error_message`` never clears a stored one.
        4. Error marks: set ``error_message``/``error_at`` (newest wins), creating a minimal row for an
           unknown conversation.
        5. Commit. Any psycopg error rolls everything back and leaves as a store error.
        """
        # Step 1.
        rows = _coalesce_rows(batch.rows)
        errors = _coalesce_errors(batch.errors)
        offsets = sorted(batch.offsets, key=lambda a: (a.topic, a.partition))
        for advance in offsets:
            if advance.next_offset < advance.start_offset:
                raise ValueError(f"offsets go backwards: {advance}")
        with self._connection("write batch") as conn:
            self._ensure_stage(conn, rows)
            with conn.transaction():
                # Step 2.
                self._advance(conn, batch.group_id, offsets)
                # Step 3.
                inserted, updated = self._write_rows(conn, rows)
                # Step 4.
                marked = self._mark_errors(conn, errors)
            # Step 5: leaving the transaction block committed it.
        return WriteResult(
            inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated, errors_marked=marked
        )

    def _ensure_stage(self, conn: psycopg.Connection[Any], rows: Sequence[RowWrite]) -> None:
        """Create the COPY staging table once per session, outside the batch transaction."""
        if rows and self.write_method == "copy" and conn not in self._staged:
            conn.execute(self._sql.create_stage)
            self._staged.add(conn)

    def _advance(
        self, conn: psycopg.Connection[Any], group_id: str, offsets: Sequence[PartitionAdvance]
    ) -> None:
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
            cur.executemany(self._sql.advance_offset, params, returning=True)
            for advance in offsets:
                if cur.fetchone() is None:
                    raise FencedError(
                        f"offset fence failed for {advance.topic}[{advance.partition}] "
                        f"(group {group_id!r}): stored offset is not {advance.start_offset}; "
                        "another consumer owns the partition"
                    )
                cur.nextset()

    def _write_rows(self, conn: psycopg.Connection[Any], rows: Sequence[RowWrite]) -> tuple[int, int]:
        if not rows:
            return 0, 0
        if self.write_method == "copy":
            return self._write_rows_copy(conn, rows)
        return self._write_rows_executemany(conn, rows)

    def _write_rows_copy(self, conn: psycopg.Connection[Any], rows: Sequence[RowWrite]) -> tuple[int, int]:
        with conn.cursor() as cur:
            with cur.copy(self._sql.copy_stage) as copy:
                copy.set_types(_COPY_TYPES)
                for item in rows:
                    copy.write_row(_row_values(item))
            counts = cur.execute(self._sql.upsert_from_stage).fetchone()
        assert counts is not None
        return int(counts[0]), int(counts[1])

    def _write_rows_executemany(
        self, conn: psycopg.Connection[Any], rows: Sequence[RowWrite]
    ) -> tuple[int, int]:
        inserted = updated = 0
        with conn.cursor() as cur:
            cur.executemany(self._sql.upsert_values, [_row_values(item) for item in rows], returning=True)
            while True:
                result = cur.fetchone()
                if result is not None:
                    inserted, updated = (inserted + 1, updated) if result[0] else (inserted, updated + 1)
                if not cur.nextset():
                    break
        return inserted, updated

    def _mark_errors(self, conn: psycopg.Connection[Any], errors: Sequence[ErrorMark]) -> int:
        if not errors:
            return 0
        params = {
            "ids": [m.conversation_id for m in errors],
            "msgs": [m.message for m in errors],
            "ats": [m.at for m in errors],
        }
        return int(conn.execute(self._sql.mark_errors, params).rowcount)

    # -- the queue directory ---------------------------------------------------------------------------

    def upsert_queues(self, queues: Sequence[QueueInfo]) -> int:
        """Store directory entries; refresh ``last_queue_name`` of rows that showed the old directory name.

        One transaction. Returns the number of queues inserted or changed. The event's own queue name
        wins over the directory (SPEC §4.4), so a conversation row is refreshed only when its
        ``last_queue_name`` is null or equal to the directory's previous name for that queue; a name
        the event carried that differs from the directory is left alone. A null directory name never
        erases a row's name. Refreshed rows get a new ``db_last_updated``; their state is untouched.
        """
        latest = {q.queue_id: q for q in queues}
        ids = sorted(latest)
        if not ids:
            return 0
        with self._connection("upsert queues") as conn, conn.transaction():
            old = dict(conn.execute(self._sql.lock_queues, (ids,)).fetchall())
            params = {
                "ids": ids,
                "names": [latest[i].name for i in ids],
                "divisions": [latest[i].division_id for i in ids],
            }
            changed = [r[0] for r in conn.execute(self._sql.upsert_queues, params).fetchall()]
            renamed = [i for i in changed if latest[i].name is not None and latest[i].name != old.get(i)]
            if renamed:
                refresh = {
                    "ids": renamed,
                    "old": [old.get(i) for i in renamed],
                    "new": [latest[i].name for i in renamed],
                }
                count = conn.execute(self._sql.refresh_queue_names, refresh).rowcount
                _log.info("queue names refreshed", extra={"queues": len(renamed), "rows": count})
        return len(changed)

    def conversation_rows(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """The stored columns of these conversations by id (for ``convstream status`` and tests)."""
        if not ids:
            return {}
        query = pgsql.SQL("SELECT * FROM {} WHERE conversation_id = ANY(%s)").format(
            pgsql.Identifier(self.table)
        )
        with self._connection("read conversations") as conn, conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(query, (list(ids),)).fetchall()
        return {row["conversation_id"]: row for row in rows}

    def count_by(self, column: str) -> list[tuple[Any, int]]:
        """Row counts grouped by one of ``calculated_status``, ``last_queue_name``, ``last_queue_id`` or
        ``logic_version`` (for ``convstream status``), largest first."""
        if column not in _COUNTABLE:
            raise ValueError(f"cannot count by {column!r}")
        query = pgsql.SQL("SELECT {c}, count(*) FROM {t} GROUP BY {c} ORDER BY count(*) DESC, {c}").format(
            c=pgsql.Identifier(column), t=pgsql.Identifier(self.table)
        )
        with self._connection("count conversations") as conn:
            return [(value, int(count)) for value, count in conn.execute(query).fetchall()]
