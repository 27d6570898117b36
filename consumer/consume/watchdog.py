"""Lag gauges and the wedge watchdog of the consumer loop (docs/runbook.md).

:meth:`Watchdog.tick` is called by the loop after every poll, also while it waits between retries, so the
lag gauges stay fresh while idle or retrying. It raises :class:`~consumer.errors.WedgedError` (exit code 5)
when no poll succeeded, or no batch committed while lag > 0, for ``wedge_timeout_seconds``; ``/livez``
turns 503 at that moment, before the process exits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from consumer.consume.partitions import Partitions
from consumer.consume.pipeline_support import PipelineConfig
from consumer.errors import WedgedError
from consumer.observability.health import HealthState
from consumer.observability.metrics import ConsumerMetrics
from consumer.ports import Source

__all__ = ["Watchdog"]

log = logging.getLogger(__name__)


class Watchdog:
    """Refreshes the lag gauges every ``lag_refresh_seconds`` and fires when the loop is wedged."""

    def __init__(
        self,
        config: PipelineConfig,
        parts: Partitions,
        source: Source,
        observe: tuple[ConsumerMetrics, HealthState],
        clocks: tuple[Callable[[], float], Callable[[], float]],
    ) -> None:
        self._config = config
        self._parts = parts
        self._source = source
        self._metrics, self._health = observe
        self._clock, self._wall = clocks
        self.lag_total = 0
        self._next_refresh = 0.0

    def tick(self, busy: bool) -> None:
        """Refresh the lag when due, then check for a wedge (``busy``: a batch is in flight).

        Raises:
            WedgedError: see the module docstring.
        """
        self._refresh(busy)
        self._check()

    def _refresh(self, busy: bool) -> None:
        now = self._clock()
        if now < self._next_refresh:
            return
        self._next_refresh = now + self._config.lag_refresh_seconds
        now_ms = int(self._wall() * 1000)
        total = 0
        for tp in list(self._parts.owned):
            records, seconds = self._parts.lag(tp, now_ms, self._source.high_watermark(tp))
            self._metrics.set_lag(self._config.group_id, tp[0], tp[1], records, seconds)
            total += records
        self.lag_total = total
        if total == 0 and not busy:
            self._health.progress()  # caught up: nothing to commit is progress too

    def _check(self) -> None:
        now = self._clock()
        limit = self._config.wedge_timeout_seconds
        reason = None
        if now - self._health.last_poll_ok > limit:
            reason = f"no successful poll for {limit:g} s"
        elif self.lag_total > 0 and now - self._health.last_progress > limit:
            reason = f"no commit for {limit:g} s while lag is {self.lag_total} records"
        if reason is not None:
            self._health.wedge(reason)
            log.error("consumer wedged", extra={"reason": reason})
            raise WedgedError(reason)
