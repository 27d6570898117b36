"""The PostgreSQL adapter: conversation states and rows, fenced consumer offsets, the queue directory.

:class:`PostgresStore` wraps one ``psycopg_pool.ConnectionPool``, opened on first use (no network in
``__init__``). It takes and returns convstream types (``ConversationState``, ``ConversationRow``, the
dataclasses of :mod:`consumer.ports`) and raises only convstream errors:
:class:`~consumer.errors.StoreUnavailableError` (transient, retry), :class:`~consumer.errors.StoreError`
(retrying will not help), :class:`~consumer.errors.FencedError` (drop the batch). See
:mod:`consumer.adapters.postgres.errors` for the SQLSTATE mapping.

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
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg.types.json import set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from consumer.adapters.postgres.dsn import check_dsn
from consumer.adapters.postgres.errors import translate
from consumer.adapters.postgres.queues import lock_queue_ids, upsert_queues
from consumer.adapters.postgres.sql import build_statements
from consumer.adapters.postgres.write import (
    advance,
    bisect,
    check_versions,
    coalesce_errors,
    coalesce_rows,
    mark_errors,
    probe_units,
    write_rows,
)
from consumer.domain import ConversationState, state_from_json
from consumer.errors import StoreError
from consumer.ports import BatchWrite, QueueInfo, RowWrite, StoredStates, Unwritable, WriteMethod, WriteResult
from consumer.settings import PostgresSettings

__all__ = ["COUNTABLE", "DEFAULT_WRITE_METHOD", "PostgresStore"]

_log = logging.getLogger(__name__)

#: Chosen by ``scripts/pg_write_speed.py`` (50 batches x 2,000 rows, ~1.1 KB state, PostgreSQL 15 on the same
#: 2-vCPU host, median of 3): COPY 8.7k/11.3k/12.0k rows/s (insert/update/unchanged replay) vs executemany
#: 5.3k/5.5k/7.0k on the busy shared devstack; 24.6k/17.1k/25.0k vs 14.2k/12.4k/13.3k on a quiet instance.
#: COPY also keeps round trips per batch constant, which matters more over a real network.
DEFAULT_WRITE_METHOD: Final[WriteMethod] = "copy"
#: Columns :meth:`PostgresStore.count_by` may group by (low-cardinality ones; never the id).
COUNTABLE: Final = frozenset(
    {
        "calculated_status",
        "last_queue_id",
        "last_queue_name",
        "logic_version",
        "originating_direction",
        "original_media_type",
        "conversation_initiator",
    }
)


def _session_options(settings: PostgresSettings) -> str:
    """libpq ``options``: server timeouts so a blocked call fails (transiently, SQLSTATE 57014) instead
    of wedging; appended to any ``options`` the DSN already has."""
    statement = round(settings.statement_timeout_seconds * 1000)
    idle = round(settings.idle_in_transaction_timeout_seconds * 1000)
    ours = f"-c statement_timeout={statement} -c idle_in_transaction_session_timeout={idle}"
    theirs = conninfo_to_dict(settings.dsn.get_secret_value()).get("options")
    return f"{theirs} {ours}" if theirs else ours


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

        Raises:
            ConfigError: the DSN is not a valid connection string (e.g. an invalid ``sslmode``).
        """
        check_dsn(settings.dsn.get_secret_value(), "CONVSTREAM_POSTGRES__DSN")
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
                    "options": _session_options(s),
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

    def load_states_versioned(self, ids: Sequence[str]) -> StoredStates:
        """The stored states of these conversations with the version of every row read (one statement).

        Pass the versions on in :attr:`BatchWrite.versions`: the write then fails (and rolls back) if
        another writer changed one of these rows meanwhile.

        Raises:
            StoreError: a stored state is not a state document this build can read.
        """
        if not ids:
            return StoredStates()
        with self._connection("load states") as conn:
            rows = conn.execute(self._sql.load_states_versioned, (list(ids),)).fetchall()
        states: dict[str, ConversationState] = {}
        versions: dict[str, int] = {}
        for cid, state, version in rows:
            versions[cid] = int(version)
            if state is None:
                continue
            try:
                states[cid] = state_from_json(state)
            except ValueError as exc:
                raise StoreError(f"stored state of conversation {cid!r} cannot be read: {exc}") from exc
        return StoredStates(states, versions)

    def load_folded_digests(self, ids: Sequence[str], logic_version: int) -> dict[str, bytes]:
        """``folded_digests`` of these conversations' rows whose state has ``logic_version``.

        Rows of another logic version, without state or without digests are absent (see
        :mod:`consumer.consume.known`).
        """
        if not ids:
            return {}
        with self._connection("load folded digests") as conn:
            rows = conn.execute(self._sql.load_folded_digests, (list(ids), logic_version)).fetchall()
        return {str(cid): bytes(blob) for cid, blob in rows}

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        """Partition -> next offset to consume, as committed with the rows (seek here on assignment)."""
        with self._connection("read offsets") as conn:
            rows = conn.execute(self._sql.stored_offsets, (group_id, topic)).fetchall()
        return {int(partition): int(offset) for partition, offset in rows}

    def reset_offset(self, group_id: str, topic: str, partition: int, expected: int, offset: int) -> bool:
        """Set the partition's stored offset to ``offset`` only if it still is ``expected``.

        For a stored offset beyond the log end (a recreated topic): rewinding is not a batch, so it does not
        go through :meth:`write_batch`, but it is fenced the same way. Returns False (nothing written) when
        the stored offset is not ``expected`` any more, or there is no row.
        """
        params = {"group": group_id, "topic": topic, "partition": partition, "expected": expected}
        with self._connection("reset offset") as conn:
            cur = conn.execute(self._sql.reset_offset, {**params, "offset": offset})
            return cur.rowcount == 1

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
        2b. Conversation locks and versions: the transaction's advisory locks on every conversation the
           batch folded, writes or marks (one statement, ascending keys: no lock cycle), held to the
           commit; then each version in ``batch.versions`` is compared with the stored row's. If one
           changed (another consumer wrote the conversation since this batch loaded its state), roll
           back and raise :class:`ConcurrentFoldError` -- nothing is written; the caller folds again
           from the fresh state. After the fence so a zombie's batch waits on the fence, never here.
        3. Queue locks: the transaction's advisory locks on the rows' last queues (shared) and on the
           batch's directory entries (exclusive), in one statement (see
           :mod:`consumer.adapters.postgres.queues` for why this makes queue names race-free).
        4. Queue directory: upsert ``batch.queues``; refresh the rows showing a directory name of a
           renamed (or newly named) queue.
        5. Rows: ``last_queue_name`` is the name an event carried, else the directory's, resolved in the
           writing statement. Write only rows whose content differs from the stored row
           (``db_last_updated`` of an unchanged row stays put) and never overwrite a row of a newer
           ``logic_version``. A null ``error_message`` never clears a stored one.
        6. Error marks: set ``error_message``/``error_at`` (newest wins), creating a minimal row for an
           unknown conversation.
        7. Commit. Any psycopg error rolls everything back and leaves as a store error.
        """
        # Step 1.
        rows = coalesce_rows(batch.rows)
        errors = coalesce_errors(batch.errors)
        offsets = sorted(batch.offsets, key=lambda a: (a.topic, a.partition))
        for a in offsets:
            if a.next_offset < a.start_offset:
                raise ValueError(f"offsets go backwards: {a}")
        referenced = {r.row.last_queue_id for r in rows if r.row.last_queue_id is not None}
        with self._connection("write batch") as conn:
            self._ensure_stage(conn, rows)
            with conn.transaction():
                # Step 2.
                advance(conn, self._sql, batch.group_id, offsets)
                # Step 2b.
                check_versions(conn, self._sql, batch, rows)
                # Step 3.
                lock_queue_ids(conn, self._sql, referenced, (q.queue_id for q in batch.queues))
                # Step 4.
                upsert_queues(conn, self._sql, batch.queues)
                # Step 5.
                inserted, updated = write_rows(conn, self._sql, self.write_method, rows)
                # Step 6.
                marked = mark_errors(conn, self._sql, errors)
            # Step 7: leaving the transaction block committed it.
        return WriteResult(
            inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated, errors_marked=marked
        )

    def unwritable(self, batch: BatchWrite) -> Unwritable:
        """Which conversations (row and error mark) and queues of ``batch`` PostgreSQL rejects on their own.

        For a batch whose :meth:`write_batch` raised :class:`StoreError`. Writes everything but the offsets
        in a transaction that is always rolled back, splitting in halves (savepoints) down to the parts
        that fail with a data, integrity or program-limit error (SQLSTATE classes 22, 23 and 54, e.g. an
        index entry too large; or psycopg's client-side :class:`psycopg.DataError`); nothing is committed.

        Raises:
            StoreUnavailableError: transient failure (retry the batch).
            StoreError: a failure not caused by the data (bad SQL, permission): splitting cannot help.
        """
        units = probe_units(batch)
        with self._connection("find unwritable records") as conn:
            self._ensure_stage(conn, batch.rows)
            with conn.transaction(force_rollback=True):
                bad = bisect(conn, self._sql, self.write_method, units)
        return Unwritable(
            conversations={key: msg for (kind, key), msg in bad.items() if kind == "c"},
            queues={key: msg for (kind, key), msg in bad.items() if kind == "q"},
        )

    def _ensure_stage(self, conn: psycopg.Connection[Any], rows: Sequence[RowWrite]) -> None:
        """Create the COPY staging table once per session, outside the batch transaction."""
        if rows and self.write_method == "copy" and conn not in self._staged:
            conn.execute(self._sql.create_stage)
            self._staged.add(conn)

    # -- the queue directory ---------------------------------------------------------------------------

    def upsert_queues(self, queues: Sequence[QueueInfo]) -> int:
        """Store directory entries and refresh the rows showing a directory name, in one transaction.

        Same as a :meth:`write_batch` with only ``queues`` (no offsets): see
        :func:`consumer.adapters.postgres.queues.upsert_queues`. Returns the number of queues inserted or
        changed.
        """
        if not queues:
            return 0
        with self._connection("upsert queues") as conn, conn.transaction():
            lock_queue_ids(conn, self._sql, (), (q.queue_id for q in queues))
            return upsert_queues(conn, self._sql, queues)

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
        """Row counts grouped by one of :data:`COUNTABLE`, largest first (null is a value too)."""
        if column not in COUNTABLE:
            raise ValueError(f"cannot count by {column!r}; one of {sorted(COUNTABLE)}")
        query = pgsql.SQL(
            "SELECT {col}, count(*) FROM {table} GROUP BY 1 ORDER BY 2 DESC, 1 NULLS LAST"
        ).format(col=pgsql.Identifier(column), table=pgsql.Identifier(self.table))
        with self._connection("count conversations") as conn:
            return [(value, int(count)) for value, count in conn.execute(query).fetchall()]
