"""JSON Lines input (the bridge's file and EventBridge sources, ``convstream fold``): lines -> outcomes.

Each line is auto-detected (docs/genesys.md): a Notifications envelope, an EventBridge event, or an
analytics conversation record (see :func:`~consumer.genesys.normalize.normalize_message`). A line may
carry a top-level ``receivedAt`` (ISO-8601 or epoch ms); it is removed before normalizing, so it never
changes an event id.

The file clock gives each line its ``received_at``, in this order of precedence:

1. EventBridge ``detail.timestamp``;
2. the line's ``receivedAt``;
3. otherwise the latest event time or receive time seen so far in the input + 1 ms (0 before the
   first event), so that line order is receive order. Share one :class:`FileClock` across all files
   of one run.

:func:`read_lines` yields exactly one :data:`LineOutcome` per input line, with the line's 1-based
number in its file: :class:`LineEvents`, :class:`LineIgnored` (heartbeats, system messages, blank
lines), :class:`LineUnknownTopic`, or :class:`LineBad` (``file:line: reason``; non-JSON and truncated
lines, malformed messages). It never raises for bad input and does no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from consumer.domain.events import ConversationEvent, Source
from consumer.errors import NormalizeError, UnknownTopicError
from consumer.genesys.normalize import Ignored, normalize_message
from consumer.genesys.times import MAX_TIME_MS, parse_time

__all__ = [
    "FileClock",
    "LineBad",
    "LineEvents",
    "LineIgnored",
    "LineOutcome",
    "LineUnknownTopic",
    "read_lines",
]


class FileClock:
    """The receive clock of file input: the latest event/receive time seen, across files of one run."""

    __slots__ = ("latest",)

    def __init__(self) -> None:
        self.latest: int | None = None

    def received_at(self, explicit: int | None) -> int:
        """``explicit`` if given, else the latest time seen + 1 ms (0 before anything was seen)."""
        if explicit is not None:
            return explicit
        # Clamped to the last representable time: a receivedAt of 9999-12-31T23:59:59.999Z must not make
        # the next line's time unrepresentable.
        return 0 if self.latest is None else min(self.latest + 1, MAX_TIME_MS)

    def observe(self, moment: int) -> None:
        """Record an event or receive time; the clock never goes back."""
        if self.latest is None or moment > self.latest:
            self.latest = moment


@dataclass(frozen=True, slots=True)
class LineEvents:
    """A line that produced domain events (normally exactly one).

    ``rejected``: reasons for records of an analytics details page that were left out (the line's other
    records are in ``events``); report them like bad lines (:attr:`messages`).
    """

    source_name: str
    line: int
    events: tuple[ConversationEvent, ...]
    rejected: tuple[str, ...] = ()

    @property
    def messages(self) -> tuple[str, ...]:
        """``file:line: reason`` of each rejected record."""
        return tuple(f"{self.source_name}:{self.line}: {reason}" for reason in self.rejected)


@dataclass(frozen=True, slots=True)
class LineIgnored:
    """A recognized line with no event: ``heartbeat``, ``pong``, ``system``, ``subscribe-ack``, ``blank``…"""

    source_name: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class LineUnknownTopic:
    """A well-formed message on a topic convstream does not handle (reported, skipped, never guessed)."""

    source_name: str
    line: int
    topic_name: str

    @property
    def message(self) -> str:
        """``file:line: unknown topic 'x'``."""
        return f"{self.source_name}:{self.line}: unknown topic {self.topic_name!r}"


@dataclass(frozen=True, slots=True)
class LineBad:
    """A malformed line: not JSON, truncated, or not a valid Genesys message."""

    source_name: str
    line: int
    reason: str

    @property
    def message(self) -> str:
        """``file:line: reason``."""
        return f"{self.source_name}:{self.line}: {self.reason}"


LineOutcome = LineEvents | LineIgnored | LineUnknownTopic | LineBad


def read_lines(
    lines: Iterable[str],
    *,
    source_name: str,
    clock: FileClock | None = None,
    source: Source = "file",
) -> Iterator[LineOutcome]:
    """Normalize JSON Lines, one outcome per line (see the module docstring for the rules).

    Args:
        lines: the file's lines (with or without line endings).
        source_name: the name used in outcomes and messages (a path, ``<stdin>``).
        clock: the run's shared file clock; a fresh one if not given.
        source: the ``source`` of Notifications-envelope events (EventBridge events are always
            ``eventbridge``, analytics records ``analytics``).
    """
    run_clock = clock if clock is not None else FileClock()
    for number, text in enumerate(lines, start=1):
        yield _read_line(text, number, source_name, run_clock, source)


def _read_line(text: str, number: int, source_name: str, clock: FileClock, source: Source) -> LineOutcome:
    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        return LineIgnored(source_name, number, "blank")
    try:
        message = json.loads(stripped)
    except ValueError as exc:
        return LineBad(source_name, number, f"not valid JSON (truncated?): {exc}")
    except RecursionError:
        return LineBad(source_name, number, "JSON nested too deeply to be a Genesys message")
    if not isinstance(message, dict):
        return LineBad(source_name, number, "expected a JSON object")
    explicit: int | None = None
    if "receivedAt" in message:
        try:
            explicit = parse_time(message.pop("receivedAt"))
        except ValueError as exc:
            return LineBad(source_name, number, f"receivedAt: {exc}")
        clock.observe(explicit)
    try:
        result = normalize_message(message, received_at=clock.received_at(explicit), source=source)
    except UnknownTopicError as exc:
        return LineUnknownTopic(source_name, number, exc.topic_name)
    except NormalizeError as exc:
        return LineBad(source_name, number, str(exc))
    if isinstance(result, Ignored):
        return LineIgnored(source_name, number, result.reason)
    for event in result.events:
        clock.observe(max(event.event_time, event.received_at))
    return LineEvents(source_name, number, result.events, result.rejected)
