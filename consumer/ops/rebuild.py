"""``convstream rebuild``: reprocess the whole topic into a shadow table, compare, swap it in.

Steps of :func:`rebuild` (the live consumers keep running throughout):

1. Create ``<table>_rebuild_<ts>`` from the migration template (:func:`create_shadow`), with its own
   offsets namespace: group ``<group>.rebuild.<ts>`` (in ``consumer_offset`` and in Kafka).
2. Run a consumer pipeline of this build into the shadow, from the earliest offset, in a background
   thread; show progress (a bar on a TTY: events, events/s, lag, ETA; log lines otherwise) until the
   shadow reaches the end offsets captured when it started.
3. ``--compare N``: compare N random live rows with the shadow and print the differences (rows the live
   table got after the shadow's position show up too; both keep moving).
4. Swap in one transaction (:func:`consumer.ops.rebuild_swap.swap`): freeze the live group's offsets,
   let the shadow catch up to them, stop its pipeline, rename both tables, hand the shadow's offsets to
   the live group. Renames rather than a view: see :mod:`consumer.ops.rebuild_sql`.

``rollback`` swaps the latest retired table back (same transaction shape; the live group gets the
offsets the retired table was consistent with, so the live consumers reprocess what it missed).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

from consumer.adapters.kafka.client import KafkaAdmin
from consumer.adapters.postgres.offsets import OffsetStore
from consumer.consume.pipeline import Pipeline
from consumer.errors import ConvstreamError, StoreUnavailableError
from consumer.ops.rebuild_compare import compare_sample
from consumer.ops.rebuild_sql import create_shadow
from consumer.ops.rebuild_swap import Offsets, SwapNames, last_swap, swap
from consumer.settings import Settings

__all__ = ["Progress", "RebuildResult", "create_shadow", "rebuild", "rollback"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RebuildResult:
    """What a rebuild did."""

    shadow: str
    retired: str | None = None
    events: int = 0
    differences: list[str] = field(default_factory=list)
    compared: int = 0


class Progress:
    """Progress of the shadow: a one-line bar on a TTY, a log line every ``every`` seconds otherwise."""

    def __init__(self, out: TextIO = sys.stderr, *, every: float = 5.0) -> None:
        self._out = out
        self._tty = out.isatty()
        self._every = every
        self._next = 0.0
        self._start = time.monotonic()

    def show(self, events: int, lag: int, total: int) -> None:
        """Report ``events`` processed so far and ``lag`` records still to go out of ``total``."""
        now = time.monotonic()
        rate = events / max(now - self._start, 1e-6)
        eta = lag / rate if rate > 0 else float("inf")
        done = 1.0 if total <= 0 else max(0.0, min(1.0, 1 - lag / total))
        if self._tty:
            bar = "#" * int(done * 30)
            eta_text = "?" if eta == float("inf") else f"{eta:.0f}s"
            self._out.write(
                f"\r[{bar:<30}] {done:6.1%} {events} events {rate:,.0f}/s lag {lag} ETA {eta_text}   "
            )
            self._out.flush()
        elif now >= self._next:
            self._next = now + self._every
            log.info(
                "rebuild progress",
                extra={"events": events, "events_per_second": round(rate), "lag": lag, "eta_seconds": eta},
            )

    def done(self) -> None:
        """End the bar's line."""
        if self._tty:
            self._out.write("\n")
            self._out.flush()


class _Runner:
    """The shadow's pipeline in a background thread (its Kafka consumer lives in that thread only)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="convstream-rebuild", daemon=True)

    def _run(self) -> None:
        try:
            self.pipeline.run()
        except BaseException as exc:
            self.error = exc

    def start(self) -> None:
        self._thread.start()

    def check(self) -> None:
        """Raise the pipeline's error if it stopped by itself."""
        if self.error is not None:
            raise ConvstreamError(f"rebuild consumer failed: {self.error}") from self.error
        if not self._thread.is_alive() and not self.pipeline.stopping:
            raise ConvstreamError("rebuild consumer stopped unexpectedly")

    def stop(self, timeout: float) -> None:
        """Finish the current batch, commit, close."""
        self.pipeline.stop()
        self._thread.join(timeout)
        if self.error is not None:
            raise ConvstreamError(f"rebuild consumer failed: {self.error}") from self.error


def _ends(admin: KafkaAdmin, settings: Settings) -> Offsets:
    topics = admin.list_topics()
    out: Offsets = {}
    for topic in (settings.topics.events, settings.topics.queues):
        if topic in topics:
            out.update({(topic, p): o for p, o in admin.end_offsets(topic).items()})
    return out


def _stored(offsets: OffsetStore, group: str, topics: set[str]) -> Offsets:
    return {(t, p): o for t in sorted(topics) for p, o in offsets.stored(group, t).items()}


def _lag(targets: Mapping[tuple[str, int], int], stored: Mapping[tuple[str, int], int]) -> int:
    return sum(max(0, end - stored.get(tp, 0)) for tp, end in targets.items() if end > 0)


def _wait(
    runner: _Runner,
    read: Callable[[], Offsets],
    targets: Mapping[tuple[str, int], int],
    progress: Progress | None,
    timeout: float,
) -> None:
    """Until the shadow's stored offsets reach ``targets`` (raises after ``timeout`` seconds)."""
    total = sum(targets.values())
    deadline = time.monotonic() + timeout
    while True:
        runner.check()
        lag = _lag(targets, read())
        if progress is not None:
            progress.show(runner.pipeline.totals.processed, lag, total)
        if lag == 0:
            return
        if time.monotonic() > deadline:
            raise StoreUnavailableError(f"the shadow did not catch up in {timeout:.0f}s ({lag} records left)")
        time.sleep(0.2)


def _shadow_settings(settings: Settings, shadow: str) -> Settings:
    return settings.model_copy(
        update={
            "postgres": settings.postgres.model_copy(update={"table": shadow}),
            "consumer": settings.consumer.model_copy(update={"auto_offset_reset": "earliest"}),
        }
    )


def rebuild(
    settings: Settings,
    *,
    compare: int = 0,
    keep_old: bool = False,
    do_swap: bool = True,
    progress: Progress | None = None,
    catch_up_timeout: float = 120.0,
    build_timeout: float = 24 * 3600.0,
) -> RebuildResult:
    """Rebuild the conversation table (see the module docstring)."""
    from consumer.consume.wiring import build_pipeline  # the wiring of `convstream consume`

    live, group = settings.postgres.table, settings.consumer.group_id
    ts = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    names = SwapNames(live, f"{live}_rebuild_{ts}", f"{live}_old_{ts}", group, f"{group}.rebuild.{ts}",
                      f"{group}.old.{ts}")  # fmt: skip
    result = RebuildResult(names.incoming)
    # Step 1.
    create_shadow(settings.postgres, names.incoming)
    log.info("shadow table created", extra={"table": names.incoming, "group_id": names.incoming_group})
    admin = KafkaAdmin(settings.kafka)
    with ExitStack() as stack:
        offsets = stack.enter_context(OffsetStore(settings.postgres))
        pipeline, _store, _health, _prom = build_pipeline(
            _shadow_settings(settings, names.incoming), stack, names.incoming_group
        )
        runner = _Runner(pipeline)
        topics = {settings.topics.events, settings.topics.queues}
        read = lambda: _stored(offsets, names.incoming_group, topics)  # noqa: E731
        # Step 2.
        runner.start()
        stack.callback(runner.stop, 60.0)
        ends = _ends(admin, settings)
        _wait(runner, read, ends, progress, build_timeout)
        if progress is not None:
            progress.done()
        result.events = pipeline.totals.processed
        # Step 3.
        if compare > 0:
            sample = compare_sample(settings.postgres, live, names.incoming, compare)
            result.compared, result.differences = sample
        if not do_swap:
            return result

        # Step 4.
        def catch_up(frozen: Offsets) -> None:
            _wait(runner, read, frozen, None, catch_up_timeout)
            runner.stop(60.0)

        swap(settings.postgres, names, sorted(ends), catch_up, keep_old=keep_old)
        result.events = pipeline.totals.processed
        result.retired = names.retired if keep_old else None
    log.info("rebuild swapped in", extra={"table": live, "retired": result.retired})
    return result


def rollback(settings: Settings) -> tuple[str, str]:
    """Swap the latest retired table back in; returns ``(restored, retired_now)`` table names.

    Raises:
        ConvstreamError: no retired table to roll back to.
    """
    live, group = settings.postgres.table, settings.consumer.group_id
    found = last_swap(settings.postgres, live, group)
    if found is None:
        raise ConvstreamError(f"no retired table to roll back to for {live!r} (was --keep-old used?)")
    retired_table, retired_group = found
    ts = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    names = SwapNames(live, retired_table, f"{live}_rolledback_{ts}", group, retired_group,
                      f"{group}.rolledback.{ts}", kind="rollback")  # fmt: skip
    ends = _ends(KafkaAdmin(settings.kafka), settings)
    swap(settings.postgres, names, sorted(ends), lambda _frozen: None, keep_old=True)
    return retired_table, names.retired
