"""The DDL of ``convstream rebuild``: shadow tables from the migration template, and the swap.

Module functions over an open psycopg connection (the caller owns transactions and translates errors),
plus :func:`create_shadow`, which opens its own connection with the migration role.

Why renames and not a view: the consumers and the dashboards address the table by name; a view would
need a migration turning ``conversation`` into a view (and INSERT … ON CONFLICT does not work through a
view). Two ``ALTER TABLE … RENAME`` in one transaction are atomic for readers: a query blocked on the
swap's ACCESS EXCLUSIVE lock re-resolves the name after the lock is granted (PostgreSQL's
``RangeVarGetRelidExtended`` retries when the name changed meanwhile), so it reads the new table, never
a missing one; prepared statements are re-analysed on the invalidation the rename sends, so the live
consumers' cached plans follow the name too.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from consumer.adapters.postgres.errors import translate
from consumer.ops.migrate import discover, render
from consumer.settings import PostgresSettings

__all__ = ["create_shadow", "drop_table", "rename_table", "table_exists"]


def create_shadow(settings: PostgresSettings, name: str) -> None:
    """Create table ``name`` (and its indexes and grants) from every migration file, in one transaction.

    Not recorded in ``schema_migrations`` (that history belongs to the live table); the template's
    other objects (queue, consumer_offset, roles) already exist and are left as they are.
    """
    dsn = (settings.migration_dsn or settings.dsn).get_secret_value()
    try:
        with (
            psycopg.connect(dsn, autocommit=True, application_name="convstream-rebuild") as conn,
            conn.transaction(),
        ):
            for mig in discover():
                conn.execute(render(mig, name))
    except psycopg.Error as exc:
        raise translate(exc, action=f"create shadow table {name}") from exc


def table_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether a table ``name`` exists in the current schema."""
    ident = sql.Identifier(name).as_string(conn)
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (ident,)).fetchone()
    return bool(row and row[0])


def drop_table(conn: psycopg.Connection[Any], name: str) -> None:
    """``DROP TABLE IF EXISTS name``."""
    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def rename_table(conn: psycopg.Connection[Any], old: str, new: str) -> None:
    """Rename table ``old`` to ``new`` with its indexes and constraints named ``old_*`` -> ``new_*``.

    Inside the caller's transaction (the caller holds ACCESS EXCLUSIVE on the table).
    """
    regclass = sql.Identifier(old).as_string(conn)
    constraints = {
        str(c)
        for (c,) in conn.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(%s) AND conindid <> 0",
            (regclass,),
        ).fetchall()
    }
    indexes = {
        str(i)
        for (i,) in conn.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = to_regclass(%s)",
            (regclass,),
        ).fetchall()
    }
    conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))
    prefix = old + "_"
    for name in sorted(constraints):  # renaming a constraint renames its index too
        if name.startswith(prefix):
            conn.execute(
                sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    sql.Identifier(new), sql.Identifier(name), sql.Identifier(new + name[len(old) :])
                )
            )
    for name in sorted(indexes - constraints):
        if name.startswith(prefix):
            conn.execute(
                sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                    sql.Identifier(name), sql.Identifier(new + name[len(old) :])
                )
            )
