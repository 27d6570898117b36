"""The REST side of the fake Genesys Cloud (:mod:`tests.fakes.genesys`): routes -> :class:`Response`."""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from consumer.genesys.times import format_iso_ms, parse_time

if TYPE_CHECKING:
    from tests.fakes.genesys import FakeGenesys

__all__ = ["Api", "Response"]

MAX_TOPICS = 1000
_CHANNEL = re.compile(r"^/api/v2/notifications/channels/([^/]+)$")
_SUBS = re.compile(r"^/api/v2/notifications/channels/([^/]+)/subscriptions$")
_JOB = re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)$")
_RESULTS = re.compile(r"^/api/v2/analytics/conversations/details/jobs/([^/]+)/results$")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, message: str) -> Response:
    return Response(status, {"status": status, "message": message, "code": "bad.request"})


class Api:
    def __init__(self, fake: FakeGenesys) -> None:
        self.fake = fake

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Response:
        response = self._route(method, path, query, headers, raw)
        with self.fake.lock:
            self.fake.requests.append((method, path, response.status))
        return response

    def _route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], raw: bytes
    ) -> Response:
        fake = self.fake
        if path == "/oauth/token" and method == "POST":
            return self._token(headers, raw)
        if not path.startswith("/api/v2/"):
            return _error(404, "not found")
        retry_after = fake.take_429()
        if retry_after is not None:
            return Response(429, {"message": "Rate limit exceeded"}, {"Retry-After": f"{retry_after:g}"})
        auth = headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        if not fake.token_valid(token):
            return _error(401, "authentication required")
        body = orjson.loads(raw) if raw else None
        return self._api(method, path, query, body, token)

    def _token(self, headers: dict[str, str], raw: bytes) -> Response:
        expected = base64.b64encode(f"{self._client()}".encode()).decode()
        form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        if (
            headers.get("Authorization") != f"Basic {expected}"
            or form.get("grant_type") != "client_credentials"
        ):
            return Response(401, {"error": "invalid_client"})
        token = self.fake.issue_token()
        ttl = int(self.fake.token_ttl_seconds)
        return Response(200, {"access_token": token, "token_type": "bearer", "expires_in": ttl})

    @staticmethod
    def _client() -> str:
        from tests.fakes.genesys import CLIENT_ID, CLIENT_SECRET

        return f"{CLIENT_ID}:{CLIENT_SECRET}"

    def _api(self, method: str, path: str, query: dict[str, str], body: Any, token: str) -> Response:
        fake = self.fake
        if path == "/api/v2/notifications/channels" and method == "POST":
            channel = fake.new_channel(token)
            uri = fake.connect_uri(channel)
            return Response(
                200, {"id": channel.id, "connectUri": uri, "expires": format_iso_ms(channel.expires)}
            )
        if path == "/api/v2/notifications/channels" and method == "GET":
            with fake.lock:
                entities = [{"id": c.id, "connectUri": fake.connect_uri(c)} for c in fake.channels.values()]
            return Response(200, {"entities": entities})
        match = _CHANNEL.match(path)
        if match and method == "HEAD":
            return Response(200 if match.group(1) in fake.channels else 404)
        match = _SUBS.match(path)
        if match:
            return self._subscriptions(method, match.group(1), query, body)
        if path == "/api/v2/routing/queues" and method == "GET":
            return self._queues(query)
        if path == "/api/v2/analytics/conversations/details/query" and method == "POST":
            return self._query(body)
        if path == "/api/v2/analytics/conversations/details/jobs" and method == "POST":
            start, end = _interval(body["interval"])
            job_id = str(uuid.uuid4())
            with fake.lock:
                fake.jobs[job_id] = (fake.job_query(start, end), 0)
            return Response(202, {"jobId": job_id})
        match = _RESULTS.match(path)
        if match and method == "GET":
            return self._results(match.group(1), query)
        match = _JOB.match(path)
        if match and method == "GET":
            with fake.lock:
                job = fake.jobs.get(match.group(1))
                if job is None:
                    return _error(404, "no such job")
                fake.jobs[match.group(1)] = (job[0], job[1] + 1)
            return Response(200, {"state": "FULFILLED" if job[1] >= 1 else "PENDING"})
        return _error(404, f"no route {method} {path}")

    def _subscriptions(self, method: str, channel_id: str, query: dict[str, str], body: Any) -> Response:
        fake = self.fake
        with fake.lock:
            channel = fake.channels.get(channel_id)
            if channel is None:
                return _error(404, "channel not found")
            if method == "GET":
                return Response(200, {"entities": [{"id": t, "state": "Permitted"} for t in channel.topics]})
            requested = [t["id"] for t in body or []]
            topics = requested if method == "PUT" else list(dict.fromkeys(channel.topics + requested))
            if len(topics) > MAX_TOPICS:
                return _error(400, f"a channel may have at most {MAX_TOPICS} topics")
            rejected = [t for t in topics if t in fake.forbidden]
            if rejected and query.get("ignoreErrors") != "true":
                return _error(403, "missing permissions")
            channel.topics = [t for t in topics if t not in fake.forbidden]
            channel.expires = int(__import__("time").time() * 1000 + fake.channel_ttl_seconds * 1000)
        entities: list[dict[str, Any]] = [{"id": t, "state": "Permitted"} for t in channel.topics]
        entities += [
            {"id": t, "state": "Rejected", "rejectionReason": "missing permission",
             "missingPermissions": ["routing:queue:view"]}
            for t in rejected
        ]  # fmt: skip
        return Response(200, {"entities": entities})

    def _queues(self, query: dict[str, str]) -> Response:
        size = min(int(query.get("pageSize", 25)), 500)
        number = int(query.get("pageNumber", 1))
        queues = self.fake.queues
        page = queues[(number - 1) * size : number * size]
        count = max(1, -(-len(queues) // size))
        entities = [{"id": q["id"], "name": q["name"], "division": {"id": "div-1"}} for q in page]
        return Response(200, {"entities": entities, "pageSize": size, "pageNumber": number,
                              "total": len(queues), "pageCount": count})  # fmt: skip

    def _query(self, body: Any) -> Response:
        start, end = _interval(body["interval"])
        paging = body.get("paging") or {}
        size, number = int(paging.get("pageSize", 25)), int(paging.get("pageNumber", 1))
        if size > 100:
            return _error(400, "pageSize may not exceed 100")
        if number * size > self.fake.max_results:
            return _error(400, f"Pagination may not exceed {self.fake.max_results} results")
        records = self.fake.sync_query(start, end)
        page = records[(number - 1) * size : number * size]
        return Response(
            200, {"conversations": page, "totalHits": len(records)} if page else {"totalHits": len(records)}
        )

    def _results(self, job_id: str, query: dict[str, str]) -> Response:
        with self.fake.lock:
            job = self.fake.jobs.get(job_id)
        if job is None:
            return _error(404, "no such job")
        offset = int(query.get("cursor") or 0)
        size = int(query.get("pageSize", 100))
        page = job[0][offset : offset + size]
        out: dict[str, Any] = {"conversations": page}
        if offset + size < len(job[0]):
            out["cursor"] = str(offset + size)
        return Response(200, out)


def _interval(text: str) -> tuple[int, int]:
    start, end = text.split("/")
    return parse_time(start), parse_time(end)
