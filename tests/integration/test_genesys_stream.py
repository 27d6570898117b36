"""The Genesys source against the fake Genesys Cloud (local HTTP + WebSocket, no Kafka): the channel/
heartbeat/reconnect state machine, gap backfill, analytics paging and jobs, topic rejection, channel renewal.

Integration tier: real sockets, threads and wall-clock timing (heartbeat watchdogs, reconnect backoff) make
these seconds each, too slow for the unit tier."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from consumer.codec.avro import QueueRecord
from consumer.domain.events import ConversationEvent
from consumer.domain.fold import fold
from consumer.domain.row import derive_row
from consumer.genesys.cloud.analytics import AnalyticsReader
from consumer.genesys.cloud.client import GenesysClient
from consumer.genesys.cloud.metrics import GenesysMetrics
from consumer.genesys.cloud.source import GenesysSource
from consumer.genesys.times import parse_time
from consumer.ports import BridgeItem
from consumer.settings import BackfillSettings, GenesysSettings
from consumer.simulate import SimulationOptions
from tests.fakes.genesys import FakeGenesys
from tests.fixtures.services import wait_until

pytestmark = pytest.mark.integration

COMPARED = ("calculated_status", "last_queue_id", "last_queue_name", "original_media_type")
SMALL = SimulationOptions(seed=11, conversations=30, arrival_rate=1.0, handle_time_s=20, queues=3, agents=8)


def fast_settings(fake: FakeGenesys, **overrides: Any) -> GenesysSettings:
    values: dict[str, Any] = {
        **{k.removeprefix("CONVSTREAM_GENESYS__").lower(): v for k, v in fake.env().items()},
        "all_queues": True, "ping_seconds": 0.3, "heartbeat_timeout_seconds": 1.5,
        "reconnect_initial_seconds": 0.05, "reconnect_max_seconds": 0.3, "retry_initial_seconds": 0.05,
        "backfill": BackfillSettings(
            delay_seconds=0.1, margin_seconds=1, startup_lookback_seconds=5, job_poll_seconds=0.05
        ),
    }  # fmt: skip
    values.update(overrides)
    return GenesysSettings(**values)


class Running:
    """A GenesysSource iterated in a thread, collecting its items."""

    def __init__(self, fake: FakeGenesys, settings: GenesysSettings) -> None:
        self.registry = CollectorRegistry()
        self.metrics = GenesysMetrics(self.registry)
        self.client = GenesysClient(settings, self.metrics)
        self.stop = threading.Event()
        self.queues: list[QueueRecord] = []
        self.items: list[BridgeItem] = []
        self.error: BaseException | None = None
        self.source = GenesysSource(
            self.client, settings, self.metrics, publish_queues=self.queues.extend, stop=self.stop
        )
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.items.extend(self.source.items())
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        wait_until(self.source.idle, 20, 0.05, "the source connected with its start-up gap backfilled")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)
        self.client.close()

    def metric(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    def rows(self) -> dict[str, dict[str, Any]]:
        states: dict[str, Any] = {}
        for item in self.items:
            if isinstance(item, ConversationEvent):
                states[item.conversation_id] = fold(states.get(item.conversation_id), item)
        names = {q["queue_id"]: q["name"] for q in self.queues if q["name"]}
        return {cid: {k: getattr(derive_row(s, names), k) for k in COMPARED} for cid, s in states.items()}


def expected(fake: FakeGenesys) -> dict[str, dict[str, Any]]:
    return {row["conversation_id"]: {k: row[k] for k in COMPARED} for row in fake.truth()}


def settle(run: Running, fake: FakeGenesys) -> None:
    """After the stream: one last drop, so whatever was in flight is covered by a final gap backfill."""
    wait_until(fake.stream_done.is_set, 60, 0.1, "the fake's stream to end")
    gaps = run.metric("convstream_bridge_gaps_total")
    fake.drop_sockets()
    wait_until(
        lambda: run.source.idle() and run.metric("convstream_bridge_gaps_total") > gaps,
        30,
        0.1,
        "final backfill",
    )


@pytest.fixture
def fake() -> Iterator[FakeGenesys]:
    with FakeGenesys(SMALL, speed=25, heartbeat_seconds=0.2) as server:
        yield server


def test_steady_state_matches_the_simulator_truth(fake: FakeGenesys) -> None:
    with Running(fake, fast_settings(fake)) as run:
        fake.start_stream()
        settle(run, fake)
        rows = run.rows()
        assert run.metric("convstream_bridge_websocket_connected", channel="0") == 1
    assert rows == expected(fake)
    assert run.metric("convstream_bridge_gaps_total") == 2  # start-up and the final drop


def test_missed_heartbeats_reconnect_and_the_gap_is_backfilled(fake: FakeGenesys) -> None:
    with Running(fake, fast_settings(fake)) as run:
        fake.start_stream()
        wait_until(lambda: fake.sent > 10, 30, 0.05, "traffic")
        fake.silence()
        fake.drop_sockets(refuse_seconds=0.8)  # lost traffic while the watchdog is silent
        fake.silence(False)
        settle(run, fake)
        rows = run.rows()
    assert fake.lost > 0
    assert rows == expected(fake)
    assert run.metric("convstream_bridge_websocket_reconnects_total", reason="closed") >= 1
    assert run.metric("convstream_bridge_backfilled_conversations_total") > 0


def test_silent_socket_trips_the_heartbeat_watchdog(fake: FakeGenesys) -> None:
    with Running(fake, fast_settings(fake)) as run:
        fake.silence()
        wait_until(
            lambda: run.metric("convstream_bridge_websocket_reconnects_total", reason="heartbeat") >= 1,
            20, 0.05, "a heartbeat-timeout reconnect",
        )  # fmt: skip
        fake.silence(False)
        wait_until(run.source.idle, 20, 0.05, "reconnected")


def test_socket_closing_expired_channel_and_revoked_token_recover(fake: FakeGenesys) -> None:
    with Running(fake, fast_settings(fake)) as run:
        fake.start_stream()
        wait_until(lambda: fake.sent > 5, 30, 0.05, "traffic")
        fake.socket_closing()
        wait_until(
            lambda: run.metric("convstream_bridge_websocket_reconnects_total", reason="socket_closing") >= 1,
            20, 0.05, "socket_closing reconnect",
        )  # fmt: skip
        wait_until(run.source.idle, 20, 0.05, "reconnected")
        fake.expire_channels()
        wait_until(
            lambda: run.metric("convstream_bridge_channels_created_total") >= 2, 20, 0.05, "new channel"
        )
        wait_until(run.source.idle, 20, 0.05, "reconnected")
        fake.revoke_tokens(kill_channels=True)
        wait_until(lambda: run.metric("convstream_bridge_channels_created_total") >= 3, 20, 0.05, "channel 3")
        settle(run, fake)
        rows = run.rows()
    assert rows == expected(fake)
    assert run.metric("convstream_bridge_token_refreshes_total") >= 2
    exposition = generate_latest(run.registry).decode()
    assert "fake-client-secret" not in exposition
    assert "tok-" not in exposition


def test_rejected_topic_is_reported_not_fatal() -> None:
    options = SimulationOptions(seed=2, conversations=5, queues=2, agents=3)
    with FakeGenesys(options, heartbeat_seconds=0.2) as fake:
        queue_ids = [q["id"] for q in fake.queues]
        fake.forbidden = {f"v2.routing.queues.{queue_ids[1]}.conversations"}
        settings = fast_settings(fake, all_queues=False, queue_ids=queue_ids)
        with Running(fake, settings) as run:
            assert run.metric("convstream_bridge_topics_rejected_total") == 1
            assert run.error is None


def test_more_than_1000_topics_use_several_channels() -> None:
    options = SimulationOptions(seed=2, conversations=5, queues=2, agents=3)
    with (
        FakeGenesys(options, heartbeat_seconds=0.2, extra_queues=1500) as fake,
        Running(fake, fast_settings(fake)) as run,
    ):
        assert len(run.source.workers) == 2
        assert fake.connected_channels() == 2
        assert len(run.queues) == 1502


def test_channel_is_resubscribed_before_it_expires() -> None:
    options = SimulationOptions(seed=2, conversations=5, queues=2, agents=3)
    with FakeGenesys(options, heartbeat_seconds=0.2, channel_ttl_seconds=2.0) as fake:
        settings = fast_settings(fake, renew_before_seconds=1.0)
        with Running(fake, settings) as run:
            first = [r for r in fake.requests if r[0] == "PUT"]
            wait_until(
                lambda: len([r for r in fake.requests if r[0] == "PUT"]) >= len(first) + 2,
                20,
                0.05,
                "renewals",
            )
            assert run.metric("convstream_bridge_channels_created_total") == 1  # never expired


def test_analytics_query_splits_above_the_result_limit_and_jobs_use_cursors() -> None:
    options = SimulationOptions(
        seed=4,
        conversations=40,
        arrival_rate=0.05,
        handle_time_s=5,
        queues=2,
        agents=5,
        mix={"voice": 1, "abandon": 1},
    )
    with FakeGenesys(options, speed=2000, max_results=10) as fake:
        fake.start_stream()
        wait_until(fake.stream_done.is_set, 60, 0.05, "stream")
        settings = fast_settings(fake)
        client = GenesysClient(settings, GenesysMetrics(CollectorRegistry()))
        reader = AnalyticsReader(
            client, settings.backfill.model_copy(update={"max_results": 10, "page_size": 5})
        )
        times = [parse_time(r["conversationStart"]) for r in fake.records.values()]
        start, end = min(times) - 1000, max(times) + 60_000
        fake.inject_429(2, retry_after=0.05)
        by_query = {r["conversationId"] for r in reader.records(start, end, method="query")}
        by_job = {r["conversationId"] for r in reader.records(start, end, method="job")}
        client.close()
    assert by_query == by_job == set(fake.records)
    assert not [r for r in fake.requests if r[2] == 400]  # never paged past the limit
