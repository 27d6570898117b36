"""A small Genesys Cloud REST client: bearer auth, retries, paging, errors translated (reference §7).

Guarantees of :meth:`GenesysClient.request`:

1. Every request carries the current bearer token (:class:`~consumer.genesys.cloud.auth.TokenProvider`).
2. A 401 invalidates the token and the request is retried once with a fresh one; a second 401 (or a
   403) raises :class:`GenesysAuthError` naming the permission problem.
3. A 429 waits ``Retry-After`` seconds (the header's value; a capped exponential backoff when absent)
   and retries; 5xx and network errors wait the capped backoff and retry; after ``max_retries`` retries
   :class:`GenesysUnavailableError` is raised.
4. Any other 4xx raises :class:`GenesysApiError` with the status (404 included: callers decide).

Paging helpers: :meth:`GenesysClient.entities` walks ``pageNumber``/``pageSize`` listings until
``pageCount`` (or a short page); cursor results are walked by the analytics module.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from consumer.errors import GenesysApiError, GenesysAuthError, GenesysUnavailableError
from consumer.genesys.cloud.auth import TokenProvider, _retry_after
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.genesys.regions import region_urls
from consumer.settings import GenesysSettings

__all__ = ["GenesysClient"]

log = logging.getLogger(__name__)

#: Never sleep longer than this for one Retry-After, whatever the server says.
_MAX_RETRY_AFTER_SECONDS = 300.0


class GenesysClient:
    """REST access to one Genesys Cloud org (thread-safe: one ``httpx.Client``, one token provider)."""

    def __init__(
        self,
        settings: GenesysSettings,
        metrics: GenesysMetrics,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not settings.client_id or settings.client_secret is None:
            raise GenesysAuthError(
                "the Genesys source needs CONVSTREAM_GENESYS__CLIENT_ID and CONVSTREAM_GENESYS__CLIENT_SECRET"
            )
        urls = region_urls(
            settings.region, api_override=settings.api_base_url, login_override=settings.login_base_url
        )
        self.api_url = urls.api
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep
        self._http = http or httpx.Client(timeout=settings.request_timeout_seconds)
        self.tokens = TokenProvider(
            self._http,
            login_url=urls.login,
            client_id=settings.client_id,
            client_secret=settings.client_secret.get_secret_value(),
            metrics=metrics,
            retries=settings.max_retries,
            retry_seconds=settings.retry_initial_seconds,
            sleep=sleep,
            clock=clock,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """One API call with the retry policy of the module docstring (steps 1-4)."""
        refreshed = False
        attempt = 0
        while True:
            # Step 1. Bearer token.
            token = self.tokens.token()
            try:
                response = self._http.request(
                    method, self.api_url + path, params=params, json=json,
                    headers={"Authorization": f"Bearer {token}"},
                )  # fmt: skip
            except httpx.TransportError as exc:
                attempt = self._retry_or_raise(attempt, None, f"{method} {path}: {type(exc).__name__}", exc)
                continue
            status = response.status_code
            self._metrics.api_requests.labels(f"{status // 100}xx").inc()
            # Step 2. 401: once more with a new token.
            if status == 401 and not refreshed:
                self.tokens.invalidate(token)
                refreshed = True
                continue
            if status in (401, 403):
                raise GenesysAuthError(
                    f"{method} {path}: Genesys answered {status}: the OAuth client lacks a permission "
                    "(see docs/genesys.md)",
                    status=status,
                )
            # Step 3. 429 and 5xx: wait and retry.
            if status == 429 or status >= 500:
                if status == 429:
                    self._metrics.api_429.inc()
                attempt = self._retry_or_raise(attempt, response, f"{method} {path}: {status}", None)
                continue
            # Step 4. Other client errors.
            if status >= 400:
                raise GenesysApiError(f"{method} {path}: {status} {_snippet(response)}", status=status)
            return response

    def _retry_or_raise(
        self, attempt: int, response: httpx.Response | None, what: str, cause: Exception | None
    ) -> int:
        settings = self._settings
        if attempt >= settings.max_retries:
            status = response.status_code if response is not None else None
            raise GenesysUnavailableError(f"{what} (after {attempt} retries)", status=status) from cause
        backoff = min(settings.retry_initial_seconds * 2**attempt, settings.retry_max_seconds)
        wait = _retry_after(response) if response is not None else None
        delay = min(wait, _MAX_RETRY_AFTER_SECONDS) if wait is not None else backoff
        log.warning("genesys request retried", extra={"what": what, "delay_seconds": delay})
        self._sleep(delay)
        return attempt + 1

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET -> decoded JSON body."""
        return _decoded(self.request("GET", path, params=params), path)

    def post_json(self, path: str, body: Any, params: Mapping[str, Any] | None = None) -> Any:
        """POST a JSON body -> decoded JSON body (None for an empty body)."""
        response = self.request("POST", path, params=params, json=body)
        return _decoded(response, path) if response.content else None

    def put_json(self, path: str, body: Any, params: Mapping[str, Any] | None = None) -> Any:
        """PUT a JSON body -> decoded JSON body (None for an empty body)."""
        response = self.request("PUT", path, params=params, json=body)
        return _decoded(response, path) if response.content else None

    def entities(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Every entity of a ``pageNumber``/``pageSize`` listing, page after page."""
        page = 1
        while True:
            body = self.get_json(path, {**(params or {}), "pageSize": page_size, "pageNumber": page})
            entities = body.get("entities") or []
            yield from entities
            count = body.get("pageCount")
            if (isinstance(count, int) and page >= count) or len(entities) < page_size:
                return
            page += 1


def _snippet(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200]


def _decoded(response: httpx.Response, path: str) -> Any:
    """The JSON body; a body that is not JSON (truncated, or nested past the parser's limit) is
    :class:`~consumer.errors.GenesysUnavailableError`: retried like a failed request, never a crash. (Lone
    surrogate escapes decode; normalization repairs them.)"""
    try:
        return response.json()
    except (ValueError, RecursionError) as exc:
        raise GenesysUnavailableError(
            f"Genesys answered {path} with a body that is not JSON: {type(exc).__name__}",
            status=response.status_code,
        ) from exc
