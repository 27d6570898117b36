"""``convstream status [CONVERSATION_ID]``: what the conversation table holds.

- With an id: one JSON object: the row's columns (timestamps ISO-8601 UTC with milliseconds and ``Z``)
  and ``state``, the folded state as stored. Exit 1 when the conversation is unknown.
- Without: three tables: counts by ``calculated_status``, by last queue and by ``logic_version``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from consumer.adapters.postgres.store import PostgresStore
from consumer.app.settings import command_settings
from consumer.commands._help import exit_codes
from consumer.consume.known import parse
from consumer.observability.logging import configure_logging, register_secret

__all__ = ["DESCRIPTION", "HELP", "NAME", "add_arguments", "iso", "jsonable", "run"]

NAME = "status"
HELP = "show one conversation's row and state, or counts by status, last queue and logic version"
DESCRIPTION = """\
Show what the conversation table holds. With a conversation id: one JSON object with the row's columns
(times in UTC) and the conversation's folded state. Without: counts of conversations by status, by last
queue and by logic version."""
EXAMPLE = """\
convstream status
convstream status 6a1e3c52-0b7e-4f4e-9d1a-2f3c4b5d6e7f"""
EXIT_CODES = exit_codes({0: "shown", 1: "the conversation is not in the table, or another failure"}, 3, 4)
SETTINGS: tuple[str, ...] = ()
OTHER_SETTINGS = ("postgres",)

_EXIT_NOT_FOUND: Final = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``[CONVERSATION_ID]``."""
    parser.add_argument("conversation_id", nargs="?", metavar="CONVERSATION_ID", help="one conversation")


def iso(value: datetime) -> str:
    """``2025-01-01T08:00:00.123Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def jsonable(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored row for JSON: times as ISO text, ``folded_digests`` as how many records it recognises."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if key == "folded_digests":
            out["folded_records_known"] = 0 if value is None else len(parse(bytes(value)))
        else:
            out[key] = iso(value) if isinstance(value, datetime) else value
    return out


def _table(title: str, rows: Sequence[tuple[Any, int]]) -> str:
    labels = ["(none)" if value is None else str(value) for value, _ in rows]
    width = max([len(title), *map(len, labels)])
    lines = [f"{title:<{width}}  count", f"{'-' * width}  -----"]
    lines += [f"{label:<{width}}  {count}" for label, (_, count) in zip(labels, rows, strict=True)]
    lines.append(f"{'total':<{width}}  {sum(c for _, c in rows)}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Print one conversation or the counts."""
    settings = command_settings(args)
    register_secret(settings.postgres.dsn.get_secret_value())
    configure_logging(settings.observability.log_level, settings.observability.log_format)
    with PostgresStore(settings.postgres) as store:
        if args.conversation_id:
            row = store.conversation_rows([args.conversation_id]).get(args.conversation_id)
            if row is None:
                print(f"convstream status: no conversation {args.conversation_id!r}", file=sys.stderr)
                return _EXIT_NOT_FOUND
            print(json.dumps(jsonable(row), indent=2, sort_keys=True, default=str))
            return 0
        tables = [
            _table("calculated_status", store.count_by("calculated_status")),
            _table("last_queue_name", store.count_by("last_queue_name")),
            _table("logic_version", store.count_by("logic_version")),
        ]
    print("\n\n".join(tables))
    return 0
