"""``convstream rebuild``: rebuild the conversation table from the whole topic, then swap it in.

Consumes the events and queues topics from the earliest offset into ``<table>_rebuild_<ts>`` (created
from the migration template) as group ``<group>.rebuild.<ts>``, while the live consumers keep running;
shows progress; ``--compare N`` prints the differences of N sampled rows; then swaps the tables in one
transaction and hands the shadow's offsets to the live group (the live consumers continue on the new
table without a restart). This is how a new LOGIC_VERSION reaches all of history without rewriting the
live table row by row. ``--keep-old`` keeps the previous table as ``<table>_old_<ts>``;
``--rollback`` swaps the latest kept table back. Needs the DDL role (CONVSTREAM_POSTGRES__MIGRATION_DSN,
else the runtime DSN). See ``consumer/ops/rebuild.py`` and ``docs/reprocessing.md``.
"""

from __future__ import annotations

import argparse
import sys

from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.observability.logging import configure_logging, register_secret
from consumer.ops.rebuild import Progress, rebuild, rollback

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "rebuild"
HELP = "rebuild the conversation table from the earliest offset into a shadow table, then swap it in"
DESCRIPTION = """\
Rebuild the conversation table from the whole events topic into a new (shadow) table next to the live
one, then swap it in at once; the running consumers go on with the new table without a restart. This
is how a changed fold reaches all of history. --compare N shows the differences of N sampled rows
first; --keep-old keeps the previous table so that --rollback can swap it back. Needs a role that may
create tables (CONVSTREAM_POSTGRES__MIGRATION_DSN). Recipes: docs/reprocessing.md."""
EXAMPLE = """\
convstream rebuild --compare 100 --keep-old
convstream rebuild --rollback"""
EXIT_CODES = exit_codes({0: "rebuilt and swapped (or built, or rolled back)"}, 1, 2, 3, 4)
SETTINGS: tuple[str, ...] = ()
OTHER_SETTINGS = ("postgres", "kafka", "schema_registry", "topics", "consumer")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--compare N``, ``--keep-old``, ``--no-swap``, ``--rollback``, ``--catch-up-timeout S``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--compare", metavar="N", type=int, default=0, help="compare N sampled rows first")
    parser.add_argument("--keep-old", action="store_true", help="keep the previous table for --rollback")
    parser.add_argument("--no-swap", action="store_true", help="build (and compare) only; keep the shadow")
    parser.add_argument("--rollback", action="store_true", help="swap the latest kept table back in")
    parser.add_argument(
        "--catch-up-timeout",
        metavar="S",
        type=float,
        default=120.0,
        help="longest the live consumers are held at the swap while the shadow catches up (default 120)",
    )


def run(args: argparse.Namespace) -> int:
    """Rebuild (or roll back) and print what happened."""
    settings = command_settings(args)
    for secret in (settings.postgres.dsn, settings.postgres.migration_dsn):
        if secret is not None:
            register_secret(secret.get_secret_value())
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    live = settings.postgres.table
    if args.rollback:
        restored, retired = rollback(settings)
        print(f"rolled back: {restored} is {live} again; the rebuilt table is kept as {retired}")
        return 0
    result = rebuild(
        settings,
        compare=args.compare,
        keep_old=args.keep_old,
        do_swap=not args.no_swap,
        progress=Progress(sys.stderr),
        catch_up_timeout=args.catch_up_timeout,
    )
    if args.compare:
        print(f"compared {result.compared} sampled rows: {len(result.differences)} difference line(s)")
        for line in result.differences:
            print(f"  {line}")
    if args.no_swap:
        print(f"built {result.shadow} ({result.events} events); not swapped")
    else:
        kept = f"; previous table kept as {result.retired}" if result.retired else ""
        print(f"swapped: {result.shadow} is now {live} ({result.events} events){kept}", flush=True)
    return 0
