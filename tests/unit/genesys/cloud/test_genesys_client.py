"""Unit tests: regions, OAuth refresh and 401 retry, Retry-After, paging, topic chunking, PII."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from consumer.domain.events import ConversationEvent, ConversationSnapshot, DetailEvent, Participant
from consumer.errors import ConfigError, GenesysApiError, GenesysAuthError, GenesysUnavailableError
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.genesys.cloud.notifications import build_topics, chunk_topics
from consumer.genesys.pii import HASH_PREFIX, PiiPolicy, apply_pii
from consumer.genesys.regions import REGION_DOMAINS, region_urls
from consumer.settings import GenesysSettings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_client(handler: Any, clock: Clock, **overrides: Any) -> tuple[GenesysClient, GenesysMetrics]:
    settings = GenesysSettings(
        client_id="cid", client_secret=SecretStr("csecret-value"), api_base_url="https://api.test",
        login_base_url="https://login.test", **overrides,
    )  # fmt: skip
    metrics = GenesysMetrics(CollectorRegistry())
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return GenesysClient(settings, metrics, http=http, sleep=clock.sleep, clock=clock), metrics


class Org:
    """A scripted Genesys: tokens with a lifetime, optional 401s and 429s."""

    def __init__(self, lifetime: int = 3600) -> None:
        self.lifetime = lifetime
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.api_answers: list[httpx.Response] = []
        self.seen_tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert request.headers["Authorization"].startswith("Basic ")
            assert request.content == b"grant_type=client_credentials"
            token = f"token-{len(self.issued)}"
            self.issued.append(token)
            return httpx.Response(200, json={"access_token": token, "expires_in": self.lifetime})
        token = request.headers["Authorization"].removeprefix("Bearer ")
        self.seen_tokens.append(token)
        if token in self.revoked:
            return httpx.Response(401)
        if self.api_answers:
            return self.api_answers.pop(0)
        return httpx.Response(200, json={"ok": True})


def test_every_region_of_the_reference_table_maps_to_api_and_login_hosts() -> None:
    assert len(REGION_DOMAINS) == 18
    urls = region_urls("eu-west-1")
    assert (urls.api, urls.login) == ("https://api.mypurecloud.ie", "https://login.mypurecloud.ie")
    assert region_urls("ap-southeast-2").api == "https://api.mypurecloud.com.au"
    assert region_urls("us-east-2").login == "https://login.use2.us-gov-pure.cloud"
    assert region_urls("x", api_override="http://a/", login_override="http://l").api == "http://a"
    with pytest.raises(ConfigError, match=r"unknown Genesys region"):
        region_urls("mars-1")


def test_token_is_cached_and_refreshed_before_expiry() -> None:
    clock, org = Clock(), Org(lifetime=600)
    client, metrics = make_client(org, clock)
    client.get_json("/api/v2/x")
    client.get_json("/api/v2/x")
    assert org.issued == ["token-0"]
    clock.now += 600 * 0.9 + 1  # past 90 % of the lifetime
    client.get_json("/api/v2/x")
    assert org.issued == ["token-0", "token-1"]
    assert metrics.token_refreshes._value.get() == 2


def test_401_refreshes_the_token_once_and_retries() -> None:
    clock, org = Clock(), Org()
    client, _ = make_client(org, clock)
    client.get_json("/api/v2/x")
    org.revoked.add("token-0")
    assert client.get_json("/api/v2/x") == {"ok": True}
    assert org.seen_tokens[-2:] == ["token-0", "token-1"]


def test_persistent_401_is_an_auth_error_and_403_too() -> None:
    clock, org = Clock(), Org()
    client, _ = make_client(org, clock)
    org.api_answers = [httpx.Response(401), httpx.Response(401)]
    with pytest.raises(GenesysAuthError):
        client.get_json("/api/v2/x")
    org.api_answers = [httpx.Response(403)]
    with pytest.raises(GenesysAuthError):
        client.get_json("/api/v2/x")


def test_bad_credentials_are_a_config_error() -> None:
    clock = Clock()
    client, _ = make_client(lambda r: httpx.Response(401, json={"error": "invalid_client"}), clock)
    with pytest.raises(GenesysAuthError) as info:
        client.get_json("/api/v2/x")
    assert isinstance(info.value, ConfigError)
    assert "csecret-value" not in str(info.value)


def test_429_honours_retry_after_then_succeeds() -> None:
    clock, org = Clock(), Org()
    client, metrics = make_client(org, clock)
    org.api_answers = [
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(429, headers={"Retry-After": "3"}),
    ]
    assert client.get_json("/api/v2/x") == {"ok": True}
    assert clock.sleeps == [7.0, 3.0]
    assert metrics.api_429._value.get() == 2


def test_5xx_backs_off_capped_and_gives_up_as_unavailable() -> None:
    clock, org = Clock(), Org()
    client, _ = make_client(org, clock, max_retries=4, retry_initial_seconds=1, retry_max_seconds=3)
    org.api_answers = [httpx.Response(503)] * 5
    with pytest.raises(GenesysUnavailableError):
        client.get_json("/api/v2/x")
    assert clock.sleeps == [1.0, 2.0, 3.0, 3.0]


def test_other_4xx_is_an_api_error_with_status() -> None:
    clock, org = Clock(), Org()
    client, _ = make_client(org, clock)
    org.api_answers = [httpx.Response(404, text="nope")]
    with pytest.raises(GenesysApiError) as info:
        client.get_json("/api/v2/x")
    assert info.value.status == 404


def test_entities_walks_every_page() -> None:
    pages = {1: ["a", "b"], 2: ["c", "d"], 3: ["e"]}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 60})
        number = int(request.url.params["pageNumber"])
        entities = [{"id": i} for i in pages[number]]
        return httpx.Response(200, json={"entities": entities, "pageCount": 3, "pageNumber": number})

    client, _ = make_client(handler, Clock())
    assert [e["id"] for e in client.entities("/api/v2/routing/queues", page_size=2)] == list("abcde")


def test_topics_are_chunked_at_1000_per_channel_and_capped_at_20_channels() -> None:
    settings = GenesysSettings(user_ids=["u1"])
    topics = build_topics(settings, [f"q{i}" for i in range(2500)])
    assert topics[0] == "v2.routing.queues.q0.conversations"
    assert topics[-1] == "v2.users.u1.conversations"
    chunks = chunk_topics(topics, 1000, 20)
    assert [len(c) for c in chunks] == [1000, 1000, 501]
    with pytest.raises(ConfigError):
        chunk_topics(topics, 100, 20)
    media = build_topics(GenesysSettings(topic_kind="media"), ["q"])
    assert media == [
        f"v2.routing.queues.q.conversations.{m}"
        for m in ("calls", "callbacks", "chats", "emails", "messages")
    ]


def _event(body: ConversationSnapshot | DetailEvent) -> ConversationEvent:
    return ConversationEvent(
        event_id="e", conversation_id="c", event_time=1, received_at=1, source="notifications",
        topic_name="t", topic_pattern="t", body=body,
    )  # fmt: skip


def test_pii_drop_and_keyed_hash() -> None:
    snapshot = _event(ConversationSnapshot(participants=(Participant(id="p", address="tel:+1555"),)))
    detail = _event(DetailEvent(kind="customer.start", ani="tel:+1555", dnis="tel:+1999"))
    keep = PiiPolicy()
    assert apply_pii(snapshot, keep) is snapshot
    policy = PiiPolicy(address="hash", ani="drop", dnis="hash", key=b"k1")
    hashed = apply_pii(snapshot, policy).body
    assert isinstance(hashed, ConversationSnapshot)
    address = hashed.participants[0].address
    assert address is not None
    assert address.startswith(HASH_PREFIX)
    assert "1555" not in address
    # keyed: same input, same key -> same token; another key -> another token
    assert apply_pii(snapshot, policy).body == hashed
    other = apply_pii(snapshot, PiiPolicy(address="hash", key=b"k2")).body
    assert isinstance(other, ConversationSnapshot)
    assert other.participants[0].address != address
    out = apply_pii(detail, policy).body
    assert isinstance(out, DetailEvent)
    assert out.ani is None
    assert out.dnis is not None
    assert out.dnis.startswith(HASH_PREFIX)
    with pytest.raises(ValueError, match="key"):
        PiiPolicy(ani="hash")
