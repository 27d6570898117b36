"""OAuth client credentials for Genesys Cloud (reference §7).

``POST {login}/oauth/token`` with ``Authorization: Basic base64(client_id:client_secret)`` and the form
``grant_type=client_credentials``; the answer's ``access_token`` is sent as ``Authorization: Bearer``.

Guarantees:

1. One token is cached and shared by every thread; it is refreshed before it expires (at 90 % of its
   lifetime, at most 5 minutes early) and whenever a caller reports a 401 (:meth:`TokenProvider.invalidate`).
2. The client secret and every token are registered with the log redactor before any request is made,
   so they never reach a log line; neither is ever put in a metric label or an exception message.
3. Refused credentials (400/401/403 from the token endpoint) raise :class:`GenesysAuthError` (exit 3);
   an unreachable or failing login service raises :class:`GenesysUnavailableError` after the retries.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from consumer.errors import GenesysAuthError, GenesysUnavailableError
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.observability.logging import register_secret

__all__ = ["Token", "TokenProvider"]

log = logging.getLogger(__name__)

#: Refresh at this fraction of the token's lifetime …
_REFRESH_FRACTION = 0.9
#: … but never earlier than this before expiry.
_MAX_EARLY_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class Token:
    """A bearer token and when (monotonic seconds) it must be replaced."""

    value: str
    refresh_at: float


class TokenProvider:
    """Fetches, caches and refreshes the client-credentials token (thread-safe).

    Args:
        http: the shared HTTP client.
        login_url: ``https://login.<domain>`` (no trailing slash).
        client_id / client_secret: the OAuth client.
        metrics: counts refreshes.
        retries: attempts for 429/5xx/network failures of the token endpoint.
        sleep / clock: injectable for tests.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        login_url: str,
        client_id: str,
        client_secret: str,
        metrics: GenesysMetrics,
        retries: int = 3,
        retry_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        register_secret(client_secret)
        self._http = http
        self._url = f"{login_url}/oauth/token"
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._metrics = metrics
        self._retries = retries
        self._retry_seconds = retry_seconds
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None

    def token(self) -> str:
        """A valid bearer token (fetched when missing, stale, or invalidated)."""
        with self._lock:
            current = self._token
            if current is None or self._clock() >= current.refresh_at:
                current = self._token = self._fetch()
            return current.value

    def invalidate(self, value: str | None = None) -> None:
        """Forget the token (after a 401); with ``value``, only if it is still the cached one."""
        with self._lock:
            if self._token is not None and (value is None or self._token.value == value):
                self._token = None

    def _fetch(self) -> Token:
        for attempt in range(self._retries + 1):
            try:
                response = self._http.post(
                    self._url, auth=self._auth, data={"grant_type": "client_credentials"}
                )
            except httpx.TransportError as exc:
                if attempt >= self._retries:
                    raise GenesysUnavailableError(f"Genesys login unreachable: {type(exc).__name__}") from exc
                self._sleep(self._retry_seconds * 2**attempt)
                continue
            if response.status_code in (400, 401, 403):
                raise GenesysAuthError(
                    f"Genesys refused the OAuth client credentials ({response.status_code}); check "
                    "CONVSTREAM_GENESYS__CLIENT_ID / CLIENT_SECRET and the region",
                    status=response.status_code,
                )
            if response.status_code == 429 or response.status_code >= 500:
                if attempt >= self._retries:
                    raise GenesysUnavailableError(
                        f"Genesys login answered {response.status_code}", status=response.status_code
                    )
                self._sleep(_retry_after(response) or self._retry_seconds * 2**attempt)
                continue
            return self._parse(response)
        raise AssertionError("unreachable")  # pragma: no cover

    def _parse(self, response: httpx.Response) -> Token:
        try:
            body = response.json()
            value = str(body["access_token"])
            lifetime = float(body.get("expires_in", 86400))
        except (ValueError, KeyError, TypeError) as exc:
            raise GenesysUnavailableError("Genesys login answered without an access token") from exc
        register_secret(value)
        self._metrics.token_refreshes.inc()
        early = min(lifetime * (1 - _REFRESH_FRACTION), _MAX_EARLY_SECONDS)
        log.info("genesys token obtained", extra={"expires_in_seconds": lifetime})
        return Token(value=value, refresh_at=self._clock() + lifetime - early)


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (integer form; an HTTP date or garbage counts as absent)."""
    raw = response.headers.get("Retry-After")
    try:
        return max(0.0, float(raw)) if raw is not None else None
    except ValueError:
        return None
