"""``convstream schemas check|register``: keep the topic contract BACKWARD_TRANSITIVE compatible."""

from __future__ import annotations

import argparse
from pathlib import Path

from consumer.adapters.schema_registry import SchemaRegistry, subject_for
from consumer.app.settings import command_settings
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE
from consumer.commands._help import exit_codes
from consumer.ops.schemas import CheckReport, check_local, check_registry, default_schema_dir, register
from consumer.settings import Settings

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "run"]

NAME = "schemas"
HELP = "check schema compatibility with released history, or register the schemas"
DESCRIPTION = """\
Keep the Avro schemas of the topics compatible, so that old records stay readable.

check     prove schemas/*.avsc are BACKWARD_TRANSITIVE compatible with every version in schemas/history/
          (locally: static rules + sample records written with the old and read with the new schema);
          with --registry also ask the schema registry (CONVSTREAM_SCHEMA_REGISTRY__URL).
register  register the current schemas under <topic>-value subjects (CONVSTREAM_TOPICS__EVENTS,
          CONVSTREAM_TOPICS__QUEUES) and set their compatibility to BACKWARD_TRANSITIVE; prints the ids."""
EXAMPLE = """\
convstream schemas check --registry
convstream schemas register"""
EXIT_CODES = exit_codes({0: "compatible, or registered", 1: "incompatible, or another failure"}, 2, 3, 4)
SETTINGS: tuple[str, ...] = ()
OTHER_SETTINGS = ("schema_registry", "topics")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``check [--registry] [--schemas-dir D] [--history-dir D]`` and ``register [--schemas-dir D]``."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("action", choices=("check", "register"), help="what to do (see above)")
    parser.add_argument(
        "--schemas-dir",
        type=Path,
        default=None,
        help="directory of <stem>.avsc (default: the repo's schemas/)",
    )
    parser.add_argument(
        "--history-dir",
        type=Path,
        default=None,
        help="released versions <stem>/vN.avsc (default: SCHEMAS_DIR/history)",
    )
    parser.add_argument("--registry", action="store_true", help="check: also ask the schema registry")


def _subjects(settings: Settings) -> dict[str, str]:
    return {
        CONVERSATION_EVENT: subject_for(settings.topics.events),
        QUEUE: subject_for(settings.topics.queues),
    }


def _print(report: CheckReport) -> None:
    for line in report.notes:
        print(line)
    for line in report.warnings:
        print(f"warning: {line}")
    for line in report.problems:
        print(line)


def run(args: argparse.Namespace) -> int:
    """Run the action; prints one line per finding."""
    schema_dir: Path = args.schemas_dir or default_schema_dir()
    if args.action == "check":
        report = check_local(schema_dir, args.history_dir)
        if args.registry:
            settings = command_settings(args)
            registry = SchemaRegistry(settings.schema_registry)
            try:
                remote = check_registry(registry, _subjects(settings), schema_dir)
            finally:
                registry.close()
            report.problems += remote.problems
            report.notes += remote.notes
        _print(report)
        if report.ok:
            print("schemas: compatible")
            return 0
        return 1
    settings = command_settings(args)
    registry = SchemaRegistry(settings.schema_registry)
    try:
        ids = register(registry, _subjects(settings), schema_dir)
    finally:
        registry.close()
    for subject, schema_id in ids.items():
        print(f"{subject}: id {schema_id} (compatibility BACKWARD_TRANSITIVE)")
    return 0
