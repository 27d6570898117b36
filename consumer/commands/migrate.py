"""``convstream migrate [--dry-run]``: create or upgrade the PostgreSQL schema (the files in consumer/sql/).

Steps:

1. Load the settings; the DSN is ``CONVSTREAM_POSTGRES__MIGRATION_DSN`` (a DDL-capable role), else
   ``CONVSTREAM_POSTGRES__DSN``.
2. Apply the pending files of ``consumer/sql`` under an advisory lock (safe when two pods run it at once),
   refusing if an applied file changed; ``--dry-run`` only lists them.
3. Print one line per applied (or pending) migration and a summary; exit 0.
"""

from __future__ import annotations

import argparse

from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.observability.logging import register_secret
from consumer.ops.migrate import migrate

__all__ = ["DESCRIPTION", "EXAMPLE", "EXIT_CODES", "HELP", "NAME", "add_arguments", "run"]

NAME = "migrate"
HELP = "create or upgrade the PostgreSQL tables (idempotent, safe to run concurrently)"
DESCRIPTION = """\
Create or upgrade the PostgreSQL tables convstream needs. Safe to run again and from several places at
once; refuses when an already applied migration was changed. Prints one line per applied (or, with
--dry-run, pending) migration and a summary. Connects with CONVSTREAM_POSTGRES__MIGRATION_DSN (a role
that may create tables), else CONVSTREAM_POSTGRES__DSN."""
EXAMPLE = """\
convstream migrate --dry-run
convstream migrate"""
EXIT_CODES = exit_codes(
    {0: "the database is up to date", 1: "an applied migration was changed, or a migration failed"},
    3,
    4,
)
NOTES = """\
The migration creates the role convstream_runtime (read and write rows, no DDL, no login); grant it to
the login role of CONVSTREAM_POSTGRES__DSN, e.g.
  CREATE ROLE convstream_app LOGIN PASSWORD '…' IN ROLE convstream_runtime;"""
SETTINGS = ("postgres",)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--dry-run``."""
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="list pending migrations and check applied ones; change nothing",
    )


def run(args: argparse.Namespace) -> int:
    """Apply (or list) pending migrations; see the module docstring."""
    # Step 1.
    pg = command_settings(args).postgres
    secret = pg.migration_dsn or pg.dsn
    dsn = secret.get_secret_value()
    register_secret(dsn)
    # Step 2.
    report = migrate(dsn, table=pg.table, dry_run=args.dry_run, connect_timeout=pg.connect_timeout_seconds)
    # Step 3.
    verb = "pending" if report.dry_run else "applied"
    for mig in report.applied:
        print(f"{verb} {mig.version:04d}_{mig.name}")
    for version in report.unknown:
        print(f"note: version {version:04d} is applied in the database but unknown to this build")
    print(
        f"{len(report.applied)} {verb}, {len(report.already_applied)} already applied"
        + (" (dry run: nothing changed)" if report.dry_run else "")
    )
    return 0
