"""Bridge sources: JSON Lines files, the simulator, and the queue directory file -> bridge items.

Each source yields :data:`~consumer.ports.BridgeItem` s in input order never raising for bad input:
a line that cannot be read or normalized becomes a :class:`~consumer.ports.BadLine` carrying its file
and 1-based line number, so the bridge reports it and goes on.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, Protocol

import orjson

from consumer.codec.avro import QueueRecord
from consumer.errors import NormalizeError, UnknownTopicError
from consumer.genesys.entries import ParticipantEntry
from consumer.genesys.jsonl import FileClock, LineBad, LineEvents, LineIgnored, LineUnknownTopic, read_lines
from consumer.genesys.keys import keyable
from consumer.genesys.normalize import Ignored, normalize_message
from consumer.genesys.text import repair_text
from consumer.ports import BadLine, BridgeItem, Skipped

__all__ = [
    "SimulatedMessage",
    "directory_records",
    "file_items",
    "queue_records",
    "simulator_items",
    "stream_items",
]

log = logging.getLogger(__name__)

#: ``LineIgnored`` / ``Ignored`` reasons counted as heartbeats; every other non-blank one is "system".
_HEARTBEAT_REASONS = frozenset({"heartbeat", "pong", "channel.metadata"})


class SimulatedMessage(Protocol):
    """One simulator output (``consumer.simulate.SimMessage``): a Genesys message and its receive time."""

    @property
    def message(self) -> Mapping[str, Any]:
        """The Genesys message (a Notifications envelope)."""
        ...

    @property
    def received_at(self) -> int:
        """When the bridge "received" it (epoch ms)."""
        ...

    @property
    def participants(self) -> Sequence[ParticipantEntry] | None:
        """The normalized entries of a snapshot's participants when the simulator kept them, else None."""
        ...


def _skip(reason: str) -> Skipped | None:
    if reason == "blank":
        return None  # an empty line is not a message: nothing to count
    return Skipped("heartbeat" if reason in _HEARTBEAT_REASONS else "system")


class _Decoded:
    """Decodes binary lines as UTF-8, remembering which ones were not valid UTF-8."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream
        self.invalid: set[int] = set()

    def __iter__(self) -> Iterator[str]:
        for number, raw in enumerate(self._stream, start=1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                self.invalid.add(number)
                yield ""


def stream_items(stream: IO[bytes], *, source_name: str, clock: FileClock) -> Iterator[BridgeItem]:
    """Bridge items of one JSON Lines stream (binary, so a non-UTF-8 line is one bad line, not a crash)."""
    decoded = _Decoded(stream)
    for outcome in read_lines(decoded, source_name=source_name, clock=clock):
        if outcome.line in decoded.invalid:
            yield BadLine(source_name, outcome.line, "not valid UTF-8")
        elif isinstance(outcome, LineEvents):
            for reason in outcome.rejected:  # records left out of an analytics page
                yield BadLine(outcome.source_name, outcome.line, reason)
            yield from keyable(outcome.events, source_name, outcome.line)
        elif isinstance(outcome, LineBad):
            yield BadLine(outcome.source_name, outcome.line, outcome.reason)
        elif isinstance(outcome, LineUnknownTopic):
            log.debug("unknown topic skipped", extra={"where": outcome.message})
            yield Skipped("unknown_topic", outcome.topic_name)
        elif isinstance(outcome, LineIgnored):
            skipped = _skip(outcome.reason)
            if skipped is not None:
                yield skipped


def file_items(paths: Iterable[str], *, stdin: IO[bytes] | None = None) -> Iterator[BridgeItem]:
    """Bridge items of JSON Lines files, in order, sharing one file clock; ``-`` is stdin.

    Raises:
        OSError: a file cannot be opened (the command turns it into a usage error before reading).
    """
    clock = FileClock()
    for path in paths:
        if path == "-":
            yield from stream_items(stdin or sys.stdin.buffer, source_name="<stdin>", clock=clock)
            continue
        with open(path, "rb") as stream:
            yield from stream_items(stream, source_name=path, clock=clock)


def simulator_items(messages: Iterable[SimulatedMessage]) -> Iterator[BridgeItem]:
    """Bridge items of simulator output (``source="simulator"``); position = message number from 1."""
    for number, sim in enumerate(messages, start=1):
        try:
            result = normalize_message(
                sim.message, received_at=sim.received_at, source="simulator", participants=sim.participants
            )
        except UnknownTopicError as exc:
            yield Skipped("unknown_topic", exc.topic_name)
            continue
        except NormalizeError as exc:
            yield BadLine("<simulator>", number, str(exc))
            continue
        if isinstance(result, Ignored):
            skipped = _skip(result.reason)
            if skipped is not None:
                yield skipped
        else:
            yield from keyable(result.events, "<simulator>", number)


def queue_records(
    lines: Iterable[bytes], *, source_name: str, updated_at: int | None = None
) -> Iterator[QueueRecord | BadLine]:
    """Queue directory lines ``{"id": …, "name": …, "divisionId"?: …}`` -> ``Queue`` records.

    ``updated_at`` (epoch ms, the caller's clock) is stamped on every record. Blank lines are skipped;
    anything else that is not an object with a non-empty string ``id`` is a bad line.
    """
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entry = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            entry = _lenient_json(raw)  # orjson refuses lone surrogate escapes, which json reads
            if entry is None:
                yield BadLine(source_name, number, f"not valid JSON (truncated?): {exc}")
                continue
        queue_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(queue_id, str) or not queue_id:
            yield BadLine(source_name, number, 'expected an object with a non-empty string "id"')
            continue
        name = entry.get("name")
        division = entry.get("divisionId", entry.get("division_id"))
        yield {
            # A lone surrogate (legal JSON) could be neither Avro-encoded nor stored: repaired to U+FFFD.
            "queue_id": repair_text(queue_id),
            "name": repair_text(name) if isinstance(name, str) else None,
            "division_id": repair_text(division) if isinstance(division, str) else None,
            "updated_at": updated_at,
            "deleted": bool(entry.get("deleted", False)),
        }


def _lenient_json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None


class QueueDirectory(Protocol):
    """A source of queue directory entries (``consumer.simulate.Simulation``)."""

    def queue_directory(self) -> list[dict[str, str]]:
        """``[{"id": …, "name": …}]``."""
        ...


def directory_records(
    *, updated_at: int, path: str | None = None, simulation: QueueDirectory | None = None
) -> Iterator[QueueRecord | BadLine]:
    """The queue records of a directory file (``--queues FILE``) and then of a simulation's own queues
    (so consumers can name the queues of its events); either may be absent.

    Raises:
        OSError: the file cannot be opened (the commands check it before publishing anything).
    """
    if path is not None:
        with open(path, "rb") as lines:
            yield from queue_records(lines, source_name=path, updated_at=updated_at)
    if simulation is not None:
        entries = (orjson.dumps(q) for q in simulation.queue_directory())
        yield from queue_records(entries, source_name="<simulator>", updated_at=updated_at)
