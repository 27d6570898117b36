"""``convstream fold FILE…``: run the fold offline over JSON Lines files and print the rows.

No Kafka, no Postgres, no settings: the files are read in the bridge's file formats
(:mod:`consumer.genesys.jsonl`: Notifications envelopes, EventBridge events, analytics records, auto-
detected per line) with one file clock shared by all files, each event is folded into its
conversation's state, and the rows are printed as JSON Lines.

Contract:

1. Read the files in the order given (``-`` is stdin); lines are numbered from 1 across all files.
2. Each event line is folded; with ``--trace`` one object
   ``{"line", "conversation_id", "calculated_status", "last_queue_id"}`` is printed per event, right
   after its line.
3. Malformed lines (not JSON, truncated, invalid message) and unreadable files are reported on stderr
   as ``file:line: reason``; processing continues. Unknown topics are reported the same way but are
   not an error (Genesys adds topics; skipping them is the documented behaviour).
4. Without ``--trace``, one row per conversation is printed at the end, sorted by ``conversation_id``,
   with the keys of :data:`ROW_KEYS` in that order; times are ISO-8601 UTC with milliseconds and ``Z``.
5. Exit 0, or 2 if any line was malformed or a file could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any, Final

from consumer.commands._help import exit_codes
from consumer.domain import ConversationRow, ConversationState, derive_row, fold
from consumer.genesys.jsonl import FileClock, LineBad, LineEvents, LineUnknownTopic, read_lines
from consumer.genesys.text import repair_text
from consumer.genesys.times import format_iso_ms
from consumer.runtime.gctuning import tune_gc_for_batches

__all__ = ["DESCRIPTION", "HELP", "NAME", "ROW_KEYS", "add_arguments", "row_to_json", "run"]

NAME = "fold"
HELP = "run the fold offline over JSONL files of Genesys messages and print one row per conversation"
DESCRIPTION = """\
Run the fold (what the consumer does to each conversation) offline over JSON Lines files of Genesys
messages and print the resulting rows, one JSON object per conversation, sorted by conversation id.
Reads the bridge's file formats (notifications, EventBridge events, analytics records; '-' is stdin).
No Kafka, no database, no settings. Bad lines are reported on stderr as file:line: reason and skipped;
--trace prints the status after every event instead of the final rows."""
EXAMPLE = """\
convstream simulate --conversations 50 --out events.jsonl --queues-out queues.jsonl
convstream fold events.jsonl --queues queues.jsonl"""
EXIT_CODES = exit_codes(
    {0: "every line folded", 2: "bad lines or unreadable files were reported (the rest was folded)"}, 1
)

#: The printed row's keys, in order (the conversation table's columns).
ROW_KEYS: Final = (
    "conversation_id", "calculated_status", "status_changed_at", "last_queue_id", "last_queue_name",
    "conversation_start", "conversation_end", "originating_direction", "original_media_type",
    "conversation_initiator", "external_tag", "self_served", "customer_participation", "division_ids",
    "last_event_at", "logic_version",
)  # fmt: skip
_TIME_KEYS: Final = frozenset(
    {"status_changed_at", "conversation_start", "conversation_end", "last_event_at"}
)

_EXIT_OK: Final = 0
_EXIT_BAD_INPUT: Final = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``FILE…``, ``--trace``, ``--queues FILE``."""
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL input files; '-' reads stdin")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="print status and last queue after every event line instead of the final rows",
    )
    parser.add_argument(
        "--queues",
        metavar="FILE",
        help='queue directory as JSONL of {"id": …, "name": …}, used for last_queue_name',
    )


def row_to_json(row: ConversationRow) -> dict[str, Any]:
    """A row as the printed JSON object: :data:`ROW_KEYS` in order, times ISO-8601, tuples as lists."""
    out: dict[str, Any] = {}
    for key in ROW_KEYS:
        value = getattr(row, key)
        if key in _TIME_KEYS and value is not None:
            value = format_iso_ms(value)
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Fold the files; print trace lines or final rows; report bad lines. Returns the exit code."""
    bad = False
    queue_names: dict[str, str] = {}
    if args.queues is not None:
        bad |= not _load_queues(args.queues, queue_names)
    states: dict[str, ConversationState] = {}
    clock = FileClock()
    number = 0
    tune_gc_for_batches()
    # Step 1. Files in order, lines numbered across all of them.
    for path in args.files:
        with _open(path) as (name, handle):
            if handle is None:
                bad = True
                continue
            for outcome in read_lines(handle, source_name=name, clock=clock):
                number += 1
                # Step 3. Report bad lines and unknown topics; go on.
                if isinstance(outcome, LineBad | LineUnknownTopic):
                    print(outcome.message, file=sys.stderr)
                    bad |= isinstance(outcome, LineBad)
                elif isinstance(outcome, LineEvents):
                    for message in outcome.messages:  # records left out of an analytics page
                        print(message, file=sys.stderr)
                    bad |= bool(outcome.rejected)
                    # Step 2. Fold, and trace.
                    _fold_line(outcome, number, states, queue_names, trace=args.trace)
    # Step 4. Final rows.
    if not args.trace:
        for conversation_id in sorted(states):
            _emit(row_to_json(derive_row(states[conversation_id], queue_names)))
    # Step 5.
    return _EXIT_BAD_INPUT if bad else _EXIT_OK


def _fold_line(
    outcome: LineEvents,
    number: int,
    states: dict[str, ConversationState],
    queue_names: Mapping[str, str],
    *,
    trace: bool,
) -> None:
    for event in outcome.events:
        state = fold(states.get(event.conversation_id), event)
        states[event.conversation_id] = state
        if trace:
            row = derive_row(state, queue_names)
            _emit(
                {
                    "line": number,
                    "conversation_id": row.conversation_id,
                    "calculated_status": row.calculated_status,
                    "last_queue_id": row.last_queue_id,
                }
            )


def _emit(obj: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


@contextmanager
def _open(path: str) -> Iterator[tuple[str, IO[str] | None]]:
    """Yield (display name, text handle); the handle is None (reported) if the file cannot be read."""
    if path == "-":
        yield "<stdin>", sys.stdin
        return
    try:
        # Undecodable bytes become U+FFFD: the line then fails JSON parsing or keeps a visible marker,
        # instead of aborting the whole run.
        handle = open(path, encoding="utf-8", errors="replace")  # noqa: SIM115 - closed below
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        yield path, None
        return
    with handle:
        yield path, handle


def _load_queues(path: str, into: dict[str, str]) -> bool:
    """Read a ``{"id","name"}`` JSONL queue directory into ``into``; False if any line was bad."""
    ok = True
    with _open(path) as (name, handle):
        if handle is None:
            return False
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                entry = json.loads(text)
                queue_id, queue_name = entry["id"], entry["name"]
                if not isinstance(queue_id, str) or not isinstance(queue_name, str):
                    raise TypeError("id and name must be strings")
            except (ValueError, KeyError, TypeError) as exc:
                print(f"{name}:{number}: bad queue entry: {exc}", file=sys.stderr)
                ok = False
                continue
            into[queue_id] = repair_text(queue_name)  # a lone surrogate could not be printed
    return ok
