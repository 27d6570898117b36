"""How a running consumer notices ``convstream replay --execute --coordinate`` (docs/reprocessing.md).

The replay writes the new offsets to ``consumer_offset`` and bumps ``replay_request.generation`` of the
group in one transaction. :class:`ReplayWatch` reads the generation at most every ``interval`` seconds
(one indexed primary-key read); the pipeline calls :meth:`ReplayWatch.changed` between batches and,
when it answers True, drops every record it fetched and seeks each owned partition to the offset stored
in Postgres (:meth:`consumer.consume.pipeline.Pipeline._obey_replay`).

A partition with traffic does not even need the watch: its next batch presents the old stored offset
to the fence, fails, and the fence recovery seeks to the replay's offset. The watch is what moves idle
partitions (nothing to write, so no fence is ever checked) and makes the re-seek prompt.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack

from consumer.adapters.postgres.offsets import UNDEFINED_TABLE, OffsetStore
from consumer.errors import StoreError, TransientError
from consumer.settings import Settings

__all__ = ["DEFAULT_INTERVAL_SECONDS", "ReplayWatch", "replay_watch"]

log = logging.getLogger(__name__)

#: How often a running consumer looks for a coordinated replay.
DEFAULT_INTERVAL_SECONDS = 2.0


class ReplayWatch:
    """Rate-limited "did the group's replay generation change since I last looked?".

    The first successful read only sets the baseline (a consumer starting after a replay reads the new
    offsets at assignment anyway; the first read happens before the first poll, hence before any
    assignment). Read failures are logged and answered False (the next interval tries again); a database
    without ``replay_request`` (migration 0003 not applied) disables the watch.
    """

    def __init__(
        self,
        read_generation: Callable[[], int],
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read_generation
        self._interval = interval
        self._clock = clock
        self._next = 0.0
        self._seen: int | None = None
        self._disabled = False

    def changed(self) -> bool:
        """True once per new generation (checked at most every ``interval`` seconds)."""
        now = self._clock()
        if self._disabled or now < self._next:
            return False
        self._next = now + self._interval
        try:
            generation = self._read()
        except TransientError as exc:
            log.warning("replay generation unavailable", extra={"error": str(exc)})
            return False
        except StoreError as exc:
            if exc.sqlstate == UNDEFINED_TABLE:
                log.warning("replay coordination disabled: run `convstream migrate` (replay_request missing)")
                self._disabled = True
                return False
            raise
        previous, self._seen = self._seen, generation
        if previous is None or previous == generation:
            return False
        log.info("replay requested: seeking to the stored offsets", extra={"generation": generation})
        return True


def replay_watch(
    settings: Settings, stack: ExitStack, group_id: str, *, interval: float = DEFAULT_INTERVAL_SECONDS
) -> Callable[[], bool]:
    """The pipeline's ``replay_changed`` for ``group_id``: its own lazy connection, closed by ``stack``."""
    store = stack.enter_context(OffsetStore(settings.postgres, application_name="convstream-replay-watch"))
    return ReplayWatch(lambda: store.generation(group_id), interval=interval).changed
