"""The ``convstream`` command line.

Each subcommand lives in ``consumer/commands/<name>.py`` and exposes ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int``, plus its user-facing help (``DESCRIPTION``,
``EXAMPLE``, ``EXIT_CODES``, ``SETTINGS``; see :mod:`consumer.commands._help`); :data:`COMMANDS` lists
them in help order.

Exit codes (the same for every subcommand)::

    0  success
    1  failure: an error convstream could not handle (the message says what and where)
    2  usage error, or bad input lines were reported (processing went on for the good ones)
    3  invalid configuration (the message names the CONVSTREAM_* variable to fix)
    4  a dependency (Kafka, schema registry, Postgres, Genesys) could not be reached
    5  the consumer was wedged (no progress while work was pending) and stopped itself
  130  interrupted before a graceful stop was possible
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from consumer import __version__
from consumer.app.settings import SETTINGS_ATTRIBUTE
from consumer.commands._help import epilog, program_epilog
from consumer.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    ConfigError,
    ConvstreamError,
    exit_code_for,
)
from consumer.observability.logging import configure_logging, redact
from consumer.observability.secrets import register_settings_secrets
from consumer.settings import Settings, load_settings

__all__ = [
    "COMMANDS",
    "EXIT_CONFIG",
    "EXIT_FAILURE",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "exit_code_for",
    "main",
    "register_settings_secrets",
]

#: Subcommand modules under ``consumer.commands``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = (
    "demo",
    "bridge",
    "backfill",
    "simulate",
    "consume",
    "replay",
    "rebuild",
    "migrate",
    "status",
    "fold",
    "schemas",
    "dlq",
    "check",
)


def _load(name: str) -> ModuleType:
    return importlib.import_module(f"consumer.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog="convstream",
        description="Genesys Cloud conversation events -> Kafka (Avro) -> a conversation table in "
        "PostgreSQL.",
        epilog=program_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"convstream {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = _load(name)
        command = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=module.DESCRIPTION,
            epilog=epilog(module),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def _fail(message: str, code: int) -> int:
    print(f"convstream: error: {redact(message)}", file=sys.stderr)
    return code


def _configure_logging() -> Settings | None:
    """JSON logs on stderr as configured; defaults if the settings are invalid (the command reports that).

    Returns the settings loaded (the command reuses them), or None when they are invalid.
    """
    try:
        settings = load_settings()
    except ConfigError:
        configure_logging()
        return None
    register_settings_secrets(settings)
    observability = settings.observability
    configure_logging(observability.log_level, observability.log_format)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code (never raises for expected errors)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return EXIT_USAGE
    setattr(args, SETTINGS_ATTRIBUTE, _configure_logging())  # loaded once: the command reuses them
    try:
        code: int = args._run(args)
    except ConvstreamError as exc:
        code = exit_code_for(exc)
        return _fail(f"unavailable: {exc}" if code == EXIT_UNAVAILABLE else str(exc), code)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`convstream fold FILE | head -1`): not an error of ours, and
        # no traceback. Point stdout at /dev/null so the interpreter's final flush cannot raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0  # as `head` itself does: the reader has all it asked for
    return code


if __name__ == "__main__":
    sys.exit(main())
