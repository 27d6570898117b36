"""Analytics conversation details -> records, for gap backfills and ``convstream backfill`` (reference §5).

Two ways to read an interval ``[start, end)`` (epoch ms), chosen by :meth:`AnalyticsReader.records`:

- **Sync query** (``POST /api/v2/analytics/conversations/details/query``) for intervals up to
  ``job_threshold_seconds``: ``order asc`` by ``conversationStart``, ``paging {pageSize, pageNumber}``.
  Sync paging cannot pass 100,000 results, so an interval whose ``totalHits`` exceeds ``max_results`` is
  split in halves (recursively) before paging. Genesys returns the conversations that *started on a day
  touched by the interval* (and were active in it).
- **Async job** (``POST …/details/jobs``, poll ``GET …/jobs/{id}`` until ``FULFILLED``, then
  ``GET …/jobs/{id}/results?cursor=`` until no cursor) for longer intervals: it returns every
  conversation *with activity during the interval*, whenever it started.

Guarantees: every conversation is yielded at most once per call (splits may overlap); failures raise
the client's errors (:class:`GenesysUnavailableError` is transient: the caller retries the whole gap);
a failed, cancelled or expired job raises :class:`GenesysUnavailableError` too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from consumer.errors import GenesysUnavailableError
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.times import format_iso_ms
from consumer.settings import BackfillSettings

__all__ = ["DETAILS_JOBS", "DETAILS_QUERY", "AnalyticsReader", "iso_interval"]

log = logging.getLogger(__name__)

DETAILS_QUERY: Final = "/api/v2/analytics/conversations/details/query"
DETAILS_JOBS: Final = "/api/v2/analytics/conversations/details/jobs"
#: Never split below one millisecond (intervals are ISO-8601 with milliseconds).
_MIN_SPLIT_MS: Final = 1


def iso_interval(start_ms: int, end_ms: int) -> str:
    """``2025-01-01T10:00:00.000Z/2025-01-01T10:05:00.000Z``."""
    return f"{format_iso_ms(start_ms)}/{format_iso_ms(end_ms)}"


class AnalyticsReader:
    """Reads conversation detail records of an interval (see the module docstring)."""

    def __init__(
        self,
        client: GenesysClient,
        settings: BackfillSettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._settings = settings
        self._sleep = sleep
        self._clock = clock
        #: API calls made by this reader (a backfill's cost, reported in logs).
        self.calls = 0

    def method_for(self, start_ms: int, end_ms: int) -> str:
        """``query`` or ``job`` for an interval of this length."""
        return "job" if (end_ms - start_ms) / 1000 > self._settings.job_threshold_seconds else "query"

    def records(self, start_ms: int, end_ms: int, *, method: str | None = None) -> Iterator[dict[str, Any]]:
        """Every conversation record of ``[start_ms, end_ms)``, each once."""
        chosen = method or self.method_for(start_ms, end_ms)
        seen: set[str] = set()
        source = self.job(start_ms, end_ms) if chosen == "job" else self.query(start_ms, end_ms)
        for record in source:
            conversation_id = record.get("conversationId")
            if not isinstance(conversation_id, str) or conversation_id in seen:
                continue
            seen.add(conversation_id)
            yield record

    # ------------------------------------------------------------------ sync query

    def _page(self, start_ms: int, end_ms: int, number: int) -> dict[str, Any]:
        body = {
            "interval": iso_interval(start_ms, end_ms),
            "order": "asc",
            "orderBy": "conversationStart",
            "paging": {"pageSize": self._settings.page_size, "pageNumber": number},
        }
        self.calls += 1
        answer = self._client.post_json(DETAILS_QUERY, body)
        return answer if isinstance(answer, dict) else {}

    def query(
        self, start_ms: int, end_ms: int, first: dict[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]:
        """The sync query over ``[start_ms, end_ms)``, split while it has more than ``max_results`` hits.

        Splitting stops when neither half has fewer hits (that many conversations active at once): the
        first ``max_results`` are read and the rest is logged as lost (an async job has no such limit).
        """
        first = first if first is not None else self._page(start_ms, end_ms, 1)
        total = int(first.get("totalHits") or 0)
        limit = self._settings.max_results
        if total > limit and end_ms - start_ms > _MIN_SPLIT_MS:
            middle = start_ms + (end_ms - start_ms) // 2
            left, right = self._page(start_ms, middle, 1), self._page(middle, end_ms, 1)
            if int(left.get("totalHits") or 0) < total or int(right.get("totalHits") or 0) < total:
                log.info("analytics interval split", extra={"total_hits": total})
                yield from self.query(start_ms, middle, left)
                yield from self.query(middle, end_ms, right)
                return
        if total > limit:
            log.error(
                "analytics interval over the sync result limit; use an async job",
                extra={"total_hits": total, "limit": limit},
            )
        page, number = first, 1
        size = self._settings.page_size
        while True:
            conversations = page.get("conversations") or []
            yield from conversations
            if len(conversations) < size or number * size >= min(total, limit):
                return
            number += 1
            page = self._page(start_ms, end_ms, number)

    # ------------------------------------------------------------------ async jobs

    def job(self, start_ms: int, end_ms: int) -> Iterator[dict[str, Any]]:
        """An async details job over ``[start_ms, end_ms)``: submit, wait until fulfilled, read cursors."""
        self.calls += 1
        submitted = self._client.post_json(DETAILS_JOBS, {"interval": iso_interval(start_ms, end_ms)})
        job_id = submitted.get("jobId") if isinstance(submitted, dict) else None
        if not isinstance(job_id, str):
            raise GenesysUnavailableError("analytics job submission answered without a jobId")
        self._wait(job_id)
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": self._settings.page_size * 10}
            if cursor:
                params["cursor"] = cursor
            self.calls += 1
            page = self._client.get_json(f"{DETAILS_JOBS}/{job_id}/results", params)
            yield from page.get("conversations") or []
            cursor = page.get("cursor")
            if not cursor:
                return

    def _wait(self, job_id: str) -> None:
        deadline = self._clock() + self._settings.job_timeout_seconds
        while True:
            self.calls += 1
            status = self._client.get_json(f"{DETAILS_JOBS}/{job_id}")
            state = str(status.get("state", "")).upper()
            if state == "FULFILLED":
                return
            if state in ("FAILED", "CANCELLED", "EXPIRED"):
                raise GenesysUnavailableError(f"analytics job {state.lower()}: {status.get('errorMessage')}")
            if self._clock() >= deadline:
                raise GenesysUnavailableError(
                    f"analytics job not fulfilled within {self._settings.job_timeout_seconds:g} s"
                )
            self._sleep(self._settings.job_poll_seconds)
