"""Schema migrations: numbered SQL files in ``consumer/sql/``, applied once, in order, recorded.

Files are named ``NNNN_name.sql`` (``0001_init.sql``, …). Each is a template rendered with
:mod:`psycopg.sql`: ``{conversation}`` becomes the quoted conversation table (``PostgresSettings.table``),
``{conversation_<suffix>}`` the quoted ``<table>_<suffix>`` (index names); literal braces are doubled.

Guarantees of :func:`migrate`:

1. It takes a session advisory lock (:data:`LOCK_KEY`) before reading anything, so two pods (a Helm
   hook and a developer, two Jobs) may run it at once: one applies, the other waits, then finds nothing
   to do.
2. ``schema_migrations`` records ``version, name, checksum (SHA-256 of the file), conversation_table,
   applied_at``. A file already applied is never applied again; running twice is a no-op.
3. If the checksum of an applied file changed, or the schema was migrated for another conversation
   table, it refuses (:class:`~consumer.errors.StoreError`) before applying anything: edit history by
   adding a file, never by changing one.
4. Each pending file is applied in its own transaction together with its ``schema_migrations`` row: a
   failure leaves the earlier files applied and this one not at all.
5. Versions recorded in the database but unknown to this build (a newer release migrated) are reported
   and left alone.

Least privilege (docs/security.md). Migrations run as a DDL-capable role (``PostgresSettings.migration_dsn``,
falling back to ``dsn``) that can create roles or finds ``convstream_runtime`` already created. The runtime
role ``convstream_runtime`` is NOLOGIN with SELECT/INSERT/UPDATE on ``conversation``, ``queue`` and
``consumer_offset`` (SELECT on ``schema_migrations``), no DDL. The consumer logs in as a role you create
and grant it, with a password you choose outside any migration, e.g.::

    CREATE ROLE convstream_app LOGIN PASSWORD :'app_password' IN ROLE convstream_runtime;
    -- CONVSTREAM_POSTGRES__DSN=postgresql://convstream_app@db/convstream  (password from a Secret file)
    -- CONVSTREAM_POSTGRES__MIGRATION_DSN=postgresql://convstream_owner@db/convstream
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import psycopg
from psycopg import sql

from consumer.adapters.postgres.dsn import check_dsn
from consumer.adapters.postgres.errors import translate
from consumer.errors import StoreError

__all__ = ["LOCK_KEY", "Migration", "MigrationReport", "discover", "migrate", "render"]

#: ``pg_advisory_lock`` key serialising every ``convstream migrate`` on a database ("convstrm" in ASCII).
LOCK_KEY: Final = 0x636F6E767374726D
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_TABLE_FIELD = "conversation"

_CREATE_HISTORY = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version            integer PRIMARY KEY,
    name               text NOT NULL,
    checksum           text NOT NULL,
    conversation_table text NOT NULL,
    applied_at         timestamptz NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL file."""

    version: int
    name: str
    text: str = field(repr=False)
    checksum: str


@dataclass(frozen=True, slots=True)
class MigrationReport:
    """The outcome of :func:`migrate`: versions applied now, already applied, unknown to this build."""

    applied: tuple[Migration, ...]
    already_applied: tuple[int, ...]
    unknown: tuple[int, ...]
    dry_run: bool


def discover() -> list[Migration]:
    """The migration files shipped in ``consumer/sql``, by version (duplicate versions are an error)."""
    found: dict[int, Migration] = {}
    for entry in resources.files("consumer").joinpath("sql").iterdir():
        match = _FILE.match(entry.name)
        if match is None:
            continue
        data = entry.read_bytes()
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two migration files with version {version:04d}")
        found[version] = Migration(version, match.group(2), data.decode(), hashlib.sha256(data).hexdigest())
    return [found[v] for v in sorted(found)]


def render(migration: Migration, table: str) -> sql.Composed:
    """The migration's SQL for conversation table ``table``, identifiers quoted."""
    identifiers: dict[str, sql.Identifier] = {}
    for _, name, _, _ in string.Formatter().parse(migration.text):
        if name is None:
            continue
        if name != _TABLE_FIELD and not name.startswith(_TABLE_FIELD + "_"):
            raise StoreError(f"migration {migration.version:04d}: unknown placeholder {{{name}}}")
        identifiers[name] = sql.Identifier(table + name[len(_TABLE_FIELD) :])
    return sql.SQL(migration.text).format(**identifiers)


def _applied(conn: psycopg.Connection[Any]) -> dict[int, tuple[str, str]]:
    rows = conn.execute("SELECT version, checksum, conversation_table FROM schema_migrations").fetchall()
    return {int(v): (str(c), str(t)) for v, c, t in rows}


def _history_exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _check(files: Sequence[Migration], applied: dict[int, tuple[str, str]], table: str) -> None:
    """Step 3: refuse drifted history before touching anything."""
    for mig in files:
        if mig.version not in applied:
            continue
        checksum, applied_table = applied[mig.version]
        if checksum != mig.checksum:
            raise StoreError(
                f"migration {mig.version:04d}_{mig.name} was changed after it was applied "
                f"(checksum {checksum[:12]} in the database, {mig.checksum[:12]} in this build); "
                "add a new migration instead of editing an applied one"
            )
        if applied_table != table:
            raise StoreError(
                f"the schema was migrated for conversation table {applied_table!r}, "
                f"but CONVSTREAM_POSTGRES__TABLE is {table!r}"
            )


def _apply(conn: psycopg.Connection[Any], mig: Migration, table: str) -> None:
    """Step 4: one file and its history row, in one transaction."""
    with conn.transaction():
        conn.execute(render(mig, table))
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum, conversation_table) "
            "VALUES (%s, %s, %s, %s)",
            (mig.version, mig.name, mig.checksum, table),
        )


def _run(
    conn: psycopg.Connection[Any], files: Sequence[Migration], table: str, dry_run: bool
) -> MigrationReport:
    # Step 1.
    conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    try:
        # Step 2.
        if dry_run and not _history_exists(conn):
            applied: dict[int, tuple[str, str]] = {}
        else:
            if not dry_run:
                conn.execute(_CREATE_HISTORY)
            applied = _applied(conn)
        # Step 3.
        _check(files, applied, table)
        pending = tuple(m for m in files if m.version not in applied)
        # Step 4.
        if not dry_run:
            for mig in pending:
                _apply(conn, mig, table)
        # Step 5.
        known = {m.version for m in files}
        return MigrationReport(
            applied=pending,
            already_applied=tuple(sorted(v for v in applied if v in known)),
            unknown=tuple(sorted(v for v in applied if v not in known)),
            dry_run=dry_run,
        )
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def migrate(
    dsn: str,
    *,
    table: str = "conversation",
    dry_run: bool = False,
    connect_timeout: float = 10.0,
    files: Sequence[Migration] | None = None,
) -> MigrationReport:
    """Apply the pending migrations (see the module docstring for the guarantees).

    Args:
        dsn: a DSN whose role may run DDL (the migration role).
        table: the conversation table name.
        dry_run: report what would be applied (and check checksums) without changing anything.
        connect_timeout: seconds to wait for the connection.
        files: the migrations to consider (default: :func:`discover`); tests pass their own.

    Raises:
        StoreError: drifted history, a failing migration, bad credentials or database name.
        StoreUnavailableError: PostgreSQL cannot be reached.
        ConfigError: the DSN is not a valid connection string.
    """
    migrations = list(discover() if files is None else files)
    check_dsn(dsn, "CONVSTREAM_POSTGRES__MIGRATION_DSN (or CONVSTREAM_POSTGRES__DSN)")
    try:
        with psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, round(connect_timeout)),
            application_name="convstream-migrate",
        ) as conn:
            return _run(conn, migrations, table, dry_run)
    except psycopg.Error as exc:
        raise translate(exc, action="migrate") from exc
