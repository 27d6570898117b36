"""``convstream simulate``: run the contact-center simulator and write Genesys messages (consumer/simulate/).

Steps:

1. Build :class:`~consumer.simulate.SimulationOptions` from the flags (bad values exit 2).
2. Write ``--queues-out`` (the queue directory, JSONL ``{"id","name"}``) first, so a reader can load it
   before the messages.
3. Stream every delivered message to the sink (``--out FILE`` or ``-`` for stdout: one JSON object per
   line, the bridge's file format), with a progress line on stderr every few seconds.
4. Write ``--truth`` (one JSON object per conversation, sorted by ``conversation_id``, the keys of
   ``convstream fold``), then a one-line summary on stderr; exit 0.

``--realtime``: the simulated clock is the wall clock from now (no ``--start``); each message is written
(and flushed) when the wall clock reaches its receive time, and without a stopping flag the run lasts until
SIGTERM or Ctrl-C, which end it after the last written line: the sink is flushed and the exit code is 0.
``--truth`` needs a run that ends by itself, so it is refused with ``--realtime``.

Sinks are small classes with ``write(SimMessage)`` and ``close()`` chosen by :func:`open_sink`, so another
output (e.g. Kafka through the bridge's publish path) is one more class and one more flag.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import IO, Any, Final, Protocol

import orjson

from consumer.commands._help import exit_codes
from consumer.errors import ConvstreamError
from consumer.simulate import (
    DEFAULT_START,
    KINDS,
    SimMessage,
    Simulation,
    SimulationOptions,
    live,
    paced,
    parse_mix,
    parse_start,
)

__all__ = ["DESCRIPTION", "HELP", "NAME", "JsonlSink", "Sink", "add_arguments", "open_sink", "run"]

NAME = "simulate"
HELP = "simulate a contact center and write Genesys messages as JSONL (with ground truth)"
DESCRIPTION = """\
Simulate a contact center (customers arriving, queues, agents, transfers, callbacks …) and write the
Genesys messages it would send as JSON Lines: the format `convstream bridge --source file` and
`convstream fold` read. --truth also writes the rows the fold must produce, to check it against.
No Kafka or database needed. With --realtime the messages are written as they happen, until a stopping
option is reached or SIGTERM / Ctrl-C."""
EXAMPLE = """\
convstream simulate --conversations 500 --seed 7 --out events.jsonl --truth truth.jsonl"""
EXIT_CODES = exit_codes({0: "the simulation ran and every file was written"}, 1, 2)

_EXIT_OK: Final = 0
_EXIT_USAGE: Final = 2
_PROGRESS_SECONDS: Final = 5.0


class Sink(Protocol):
    """Where delivered messages go."""

    def write(self, message: SimMessage) -> None:
        """Deliver one message."""

    def close(self) -> None:
        """Flush and release resources."""


class JsonlSink:
    """One compact JSON object per line (orjson; key order as generated, so output is byte-stable)."""

    def __init__(self, path: str, *, line_flush: bool = False) -> None:
        """``line_flush``: flush every line (a real-time run's reader sees each message when it happens)."""
        self._stream: IO[bytes] = sys.stdout.buffer if path == "-" else open(path, "wb")  # noqa: SIM115
        self._owned = path != "-"
        self._line_flush = line_flush

    def write(self, message: SimMessage) -> None:
        """Write the line."""
        self._stream.write(orjson.dumps(message.message, option=orjson.OPT_APPEND_NEWLINE))
        if self._line_flush:
            self._stream.flush()

    def close(self) -> None:
        """Flush, and close unless stdout."""
        self._stream.flush()
        if self._owned:
            self._stream.close()


def open_sink(args: argparse.Namespace) -> Sink:
    """The sink the flags ask for (today: ``--out``)."""
    return JsonlSink(args.out, line_flush=bool(getattr(args, "realtime", False)))


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Output, stopping rule, model and disorder flags."""
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="FILE", help="JSONL output file, '-' for stdout")
    out.add_argument("--truth", metavar="FILE", help="write the ground-truth rows (fold's format) here")
    out.add_argument("--queues-out", metavar="FILE", help='write the queue directory (JSONL {"id","name"})')
    out.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    stop = parser.add_argument_group(
        "when to stop (one; default --conversations 1000, with --realtime: when stopped)"
    )
    stop.add_argument("--conversations", type=int, metavar="N", help="stop at the N-th arrival")
    stop.add_argument("--duration", type=float, metavar="SECONDS", help="simulated seconds to run")
    stop.add_argument("--events", type=int, metavar="N", help="stop after about N model messages")
    model = parser.add_argument_group("model")
    model.add_argument("--seed", type=int, default=None,
                       help="random seed (default 1; with --realtime the start instant in ms, so a restarted "
                       "live run adds new conversations instead of repeating the same ids)")  # fmt: skip
    model.add_argument("--queues", type=int, default=8, metavar="N", help="number of queues (default 8)")
    model.add_argument("--agents", type=int, default=60, metavar="N", help="number of agents (default 60)")
    model.add_argument("--arrival-rate", type=float, default=0.2, metavar="PER_SECOND",
                       help="mean arrivals per simulated second (default 0.2)")  # fmt: skip
    model.add_argument("--handle-time", type=float, default=180.0, metavar="SECONDS",
                       help="mean agent handle time (default 180)")  # fmt: skip
    model.add_argument("--start", default=None, metavar="ISO",
                       help="simulated start instant (default 2025-01-01T08:00:00Z)")  # fmt: skip
    model.add_argument("--realtime", action="store_true",
                       help="the simulated clock is the wall clock from now: messages at their time, "
                       "until SIGTERM/Ctrl-C unless a stopping flag is given")  # fmt: skip
    model.add_argument("--mix", metavar="KIND=W,…", help=f"scenario weights; kinds: {', '.join(KINDS)}")
    shape = parser.add_argument_group("delivery")
    shape.add_argument("--detail-events", type=_ratio, nargs="?", const=1.0, default=0.0, metavar="RATIO",
                       help="fraction of conversations with detail events too (flag alone: all)")  # fmt: skip
    shape.add_argument("--eventbridge", type=_ratio, default=0.0, metavar="FRACTION",
                       help="fraction of messages wrapped as EventBridge events")  # fmt: skip
    shape.add_argument("--duplicate-rate", type=_ratio, default=0.0, metavar="P", help="P(message twice)")
    shape.add_argument("--reorder-window", type=int, default=0, metavar="N",
                       help="shuffle delivery within a window of N messages")  # fmt: skip
    shape.add_argument("--drop-rate", type=_ratio, default=0.0, metavar="P",
                       help="P(drop) of an intermediate snapshot that changes no status")  # fmt: skip


def options_from_args(args: argparse.Namespace) -> SimulationOptions:
    """Step 1. Raises ``ValueError`` on a bad value."""
    realtime = bool(getattr(args, "realtime", False))
    if realtime and args.start is not None:
        raise ValueError("--start and --realtime exclude each other (real time starts now)")
    conversations = args.conversations
    if conversations is None and args.duration is None and args.events is None and not realtime:
        conversations = 1000
    extra: dict[str, Any] = {}
    if args.mix is not None:
        extra["mix"] = parse_mix(args.mix)
    start = DEFAULT_START if args.start is None else parse_start(args.start)
    options = SimulationOptions(
        seed=1 if args.seed is None else args.seed, conversations=conversations, duration_s=args.duration,
        events=args.events,
        queues=args.queues, agents=args.agents, arrival_rate=args.arrival_rate,
        handle_time_s=args.handle_time, start_ms=start, detail_events=args.detail_events,
        eventbridge=args.eventbridge, duplicate_rate=args.duplicate_rate,
        reorder_window=args.reorder_window, drop_rate=args.drop_rate, realtime=realtime, **extra,
    )  # fmt: skip
    if not realtime:
        return options
    options = live(options)
    return options if args.seed is not None else replace(options, seed=options.start_ms)


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT set ``stop`` (a real-time run then ends after its last written line)."""

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _write_jsonl(path: str, rows: Iterable[dict[str, Any]]) -> None:
    with open(path, "wb") as handle:
        for row in rows:
            handle.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE))


def _pump(messages: Iterable[SimMessage], sink: Sink, quiet: bool) -> tuple[int, float]:
    """Step 3. Returns (messages written, seconds)."""
    started = last = time.monotonic()
    count = 0
    for message in messages:
        sink.write(message)
        count += 1
        if not quiet and count % 4096 == 0:
            now = time.monotonic()
            if now - last >= _PROGRESS_SECONDS:
                last = now
                print(f"simulate: {count} messages, {count / (now - started):,.0f}/s", file=sys.stderr)
    return count, time.monotonic() - started


def run(args: argparse.Namespace) -> int:
    """Simulate and write; see the module docstring."""
    try:
        options = options_from_args(args)
        if options.realtime and args.truth:
            raise ValueError("--truth needs a run that ends by itself: not with --realtime")
    except ValueError as exc:
        print(f"convstream: error: {exc}", file=sys.stderr)
        return _EXIT_USAGE
    sim = Simulation(options)
    stop = threading.Event()
    try:
        # Step 2.
        if args.queues_out:
            _write_jsonl(args.queues_out, sim.queue_directory())
        sink = open_sink(args)
        try:
            if options.realtime:
                if not args.quiet:
                    print(
                        f"simulate: real time from now, seed {options.seed} (stop: Ctrl-C)", file=sys.stderr
                    )
                with stop_on_signals(stop):
                    count, seconds = _pump(paced(sim, stop), sink, args.quiet)
            else:
                count, seconds = _pump(sim, sink, args.quiet)
        finally:
            sink.close()
        # Step 4.
        if args.truth:
            _write_jsonl(args.truth, sim.truth())
    except OSError as exc:
        raise ConvstreamError(f"simulate: {exc.filename or ''}: {exc.strerror or exc}") from exc
    if not args.quiet:
        stats = sim.stats
        print(
            f"simulate: {stats['conversations']} conversations, {count} messages "
            f"({stats.get('duplicates', 0)} duplicates, {stats.get('dropped', 0)} dropped) "
            f"in {seconds:.1f}s ({count / max(seconds, 1e-9):,.0f}/s)",
            file=sys.stderr,
        )
    return _EXIT_OK
