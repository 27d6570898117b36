"""The atomic swap (and rollback) of ``convstream rebuild``: tables, offsets and history in one transaction.

Delivery contract of :func:`swap` (steps in code order, one transaction on the migration role):

1. ``lock_timeout`` bounds every lock wait (a swap that cannot get its locks fails and changes nothing).
2. Freeze the live group: make sure it has a ``consumer_offset`` row for every partition of both topics
   (``ON CONFLICT DO NOTHING`` at 0), then ``SELECT … FOR UPDATE`` them. From here no live consumer can
   pass its fence (the fence is the first statement of its batch transaction, so a blocked consumer
   holds no lock on the conversation table: no deadlock).
3. ``catch_up(frozen)``: the caller lets the shadow's consumer run until the shadow's offsets reach the
   frozen live offsets on every partition, then stops it. The shadow then reflects at least every record
   the live table does, so its row count is not smaller.
4. ``LOCK TABLE live, shadow IN ACCESS EXCLUSIVE MODE``; rename live -> retired and shadow -> live,
   indexes and constraints with them (:func:`consumer.ops.rebuild_sql.rename_table`).
5. Offsets: the frozen live offsets are saved under the retired namespace (what a rollback hands back);
   the live group's offsets become the shadow's; the shadow's namespace is deleted.
6. History row in ``conversation_swap``; bump the live group's replay generation (idle live consumers
   re-seek at once through :mod:`consumer.consume.replay_watch`).
7. Without ``keep_old``, drop the retired table. Commit.

When the transaction commits, each live consumer blocked at its fence re-evaluates it against the new
offset: different -> the batch rolls back and the consumer seeks to the shadow's offset; equal -> its
records start exactly where the shadow stopped, and its statements (re-analysed after the rename's
invalidation) write into the new table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql

from consumer.adapters.postgres.errors import translate
from consumer.errors import StoreError
from consumer.ops.rebuild_sql import drop_table, rename_table, table_exists
from consumer.settings import PostgresSettings

__all__ = ["Offsets", "SwapNames", "last_swap", "swap"]

#: ``(topic, partition) -> next offset``.
Offsets = dict[tuple[str, int], int]


@dataclass(frozen=True, slots=True)
class SwapNames:
    """Who becomes what.

    Attributes:
        live: the table readers and consumers use (``PostgresSettings.table``).
        incoming: the table that becomes ``live`` (a rebuild's shadow, or a retired table on rollback).
        retired: the name the current ``live`` content gets.
        group_id: the live consumer group.
        incoming_group: the offsets namespace ``incoming`` is consistent with (becomes the live group's).
        retired_group: where the live group's current offsets are saved.
        kind: ``swap`` or ``rollback``.
    """

    live: str
    incoming: str
    retired: str
    group_id: str
    incoming_group: str
    retired_group: str
    kind: str = "swap"


def _connect(settings: PostgresSettings) -> psycopg.Connection[Any]:
    dsn = (settings.migration_dsn or settings.dsn).get_secret_value()
    return psycopg.connect(
        dsn,
        autocommit=True,
        connect_timeout=max(1, round(settings.connect_timeout_seconds)),
        application_name="convstream-rebuild-swap",
    )


def _offsets(conn: psycopg.Connection[Any], group: str, *, lock: bool = False) -> Offsets:
    query = "SELECT topic, partition, next_offset FROM consumer_offset WHERE group_id = %s ORDER BY 1, 2"
    rows = conn.execute(query + (" FOR UPDATE" if lock else ""), (group,)).fetchall()
    return {(str(t), int(p)): int(o) for t, p, o in rows}


def _write_offsets(conn: psycopg.Connection[Any], group: str, offsets: Mapping[tuple[str, int], int]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO consumer_offset AS o (group_id, topic, partition, next_offset, updated_at) "
            "VALUES (%s, %s, %s, %s, now()) ON CONFLICT (group_id, topic, partition) DO UPDATE "
            "SET next_offset = EXCLUDED.next_offset, updated_at = now()",
            [(group, t, p, o) for (t, p), o in sorted(offsets.items())],
        )


def swap(
    settings: PostgresSettings,
    names: SwapNames,
    partitions: Sequence[tuple[str, int]],
    catch_up: Callable[[Offsets], None],
    *,
    keep_old: bool = True,
    lock_timeout_seconds: float = 30.0,
) -> Offsets:
    """Swap ``names.incoming`` in as ``names.live`` (see the module docstring); returns the new offsets.

    Raises:
        StoreError: a table is missing, or PostgreSQL refused (nothing changed).
        StoreUnavailableError: a lock could not be had in time, or PostgreSQL is unreachable.
    """
    try:
        with _connect(settings) as conn, conn.transaction():
            # Step 1.
            timeout = sql.Literal(f"{int(lock_timeout_seconds * 1000)}ms")
            conn.execute(sql.SQL("SET LOCAL lock_timeout = {}").format(timeout))
            for table in (names.live, names.incoming):
                if not table_exists(conn, table):
                    raise StoreError(f"table {table!r} does not exist")
            # Step 2.
            _placeholders(conn, names.group_id, partitions)
            frozen = _offsets(conn, names.group_id, lock=True)
            # Step 3.
            catch_up(frozen)
            incoming = _offsets(conn, names.incoming_group)
            # Step 4.
            conn.execute(
                sql.SQL("LOCK TABLE {}, {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(names.live), sql.Identifier(names.incoming)
                )
            )
            rename_table(conn, names.live, names.retired)
            rename_table(conn, names.incoming, names.live)
            # Step 5.
            _write_offsets(conn, names.retired_group, frozen)
            _write_offsets(conn, names.group_id, incoming)
            conn.execute("DELETE FROM consumer_offset WHERE group_id = %s", (names.incoming_group,))
            # Step 6.
            _record(conn, names)
            # Step 7.
            if not keep_old:
                drop_table(conn, names.retired)
                conn.execute("DELETE FROM consumer_offset WHERE group_id = %s", (names.retired_group,))
    except psycopg.Error as exc:
        raise translate(exc, action=f"{names.kind} {names.incoming} -> {names.live}") from exc
    return incoming


def _placeholders(conn: psycopg.Connection[Any], group: str, partitions: Sequence[tuple[str, int]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO consumer_offset (group_id, topic, partition, next_offset) VALUES (%s, %s, %s, 0) "
            "ON CONFLICT (group_id, topic, partition) DO NOTHING",
            [(group, t, p) for t, p in sorted(partitions)],
        )


def _record(conn: psycopg.Connection[Any], names: SwapNames) -> None:
    conn.execute(
        "INSERT INTO conversation_swap (kind, live_table, installed_table, retired_table, group_id, "
        "retired_group) VALUES (%s, %s, %s, %s, %s, %s)",
        (names.kind, names.live, names.incoming, names.retired, names.group_id, names.retired_group),
    )
    detail = orjson.dumps({"target": names.kind, "installed": names.incoming}).decode()
    conn.execute(
        "INSERT INTO replay_request AS r (group_id, generation, requested_at, detail) "
        "VALUES (%s, 1, now(), %s::jsonb) ON CONFLICT (group_id) DO UPDATE "
        "SET generation = r.generation + 1, requested_at = now(), detail = EXCLUDED.detail",
        (names.group_id, detail),
    )


def last_swap(settings: PostgresSettings, live: str, group_id: str) -> tuple[str, str] | None:
    """``(retired_table, retired_group)`` of the latest swap or rollback whose retired table still exists."""
    try:
        with _connect(settings) as conn:
            rows = conn.execute(
                "SELECT retired_table, retired_group FROM conversation_swap "
                "WHERE live_table = %s AND group_id = %s ORDER BY id DESC LIMIT 1",
                (live, group_id),
            ).fetchall()
            if rows and table_exists(conn, str(rows[0][0])):
                return str(rows[0][0]), str(rows[0][1])
    except psycopg.Error as exc:
        raise translate(exc, action="read swap history") from exc
    return None
