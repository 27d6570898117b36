"""Health probes, consumer metrics, the lag monitor and the bridge collector (no I/O but loopback HTTP)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry

from consumer.bridge.metrics import (
    BRIDGE_METRICS_PORT,
    BridgeCollector,
    BridgeHealth,
    bridge_metrics_port,
    serve_bridge_metrics,
)
from consumer.bridge.publish import BridgeSummary
from consumer.errors import BrokerUnavailableError, ConfigError, StoreUnavailableError
from consumer.observability.health import HealthServer, HealthState
from consumer.observability.lag import LagMonitor
from consumer.observability.metrics import DLQ_REASONS, ConsumerMetrics
from consumer.settings import ObservabilitySettings

TP = tuple[str, int]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels or None)


def lag(registry: CollectorRegistry, kind: str, partition: str) -> float | None:
    return value(
        registry, f"convstream_consumer_lag_{kind}", consumergroup="g", topic="events", partition=partition
    )


# -- health -------------------------------------------------------------------------------------------


def test_livez_fails_once_wedged_or_when_no_poll_completes_for_the_live_timeout() -> None:
    clock = Clock()
    state = HealthState(clock, live_timeout_seconds=30)
    assert state.live() == (True, "ok")
    clock.now += 29
    assert state.live()[0]
    clock.now += 2  # the loop is blocked: nothing calls poll_ok, the probe still answers
    ok, reason = state.live()
    assert not ok
    assert reason.startswith("stuck: no poll completed for 31 s")
    state.poll_ok()
    assert state.live()[0]
    state.wedge("no commit for 300 s while lag is 5 records")
    assert state.live() == (False, "wedged: no commit for 300 s while lag is 5 records")


def test_livez_without_live_timeout_only_reflects_the_watchdog() -> None:
    clock = Clock()
    state = HealthState(clock)
    clock.now += 10_000
    assert state.live() == (True, "ok")


def test_readyz_needs_assignment_and_recent_postgres_kafka_and_registry() -> None:
    clock = Clock()
    state = HealthState(clock, ready_window_seconds=60, require_registry=True)
    assert state.ready() == (False, "not in the consumer group yet")
    state.assigned = 3
    assert state.ready() == (False, "postgres not reached recently")
    state.store_ok()
    state.last_broker_ok = None
    assert state.ready() == (False, "kafka not reached recently")
    state.broker_ok()
    assert state.ready() == (False, "schema registry not reached recently")
    state.registry_ok()
    assert state.ready() == (True, "ok")
    clock.now += 61
    assert state.ready() == (False, "postgres not reached recently")
    state.store_ok()
    state.broker_ok()
    state.registry_ok()
    assert state.ready() == (True, "ok")
    state.wedge("x")
    assert state.ready() == (False, "wedged: x")


def test_readyz_without_registry_requirement_ignores_it() -> None:
    state = HealthState(Clock())
    state.joined = True
    state.store_ok()
    state.poll_ok()
    assert state.ready() == (True, "ok")


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_server_serves_metrics_and_probes() -> None:
    registry = CollectorRegistry()
    ConsumerMetrics.create(registry)
    clock = Clock()
    state = HealthState(clock, live_timeout_seconds=5)
    server = HealthServer("127.0.0.1", 0, registry, state)
    port = server.start()
    try:
        code, body = _get(port, "/metrics")
        assert code == 200
        assert "convstream_consumer_lag_records" in body
        assert 'convstream_dlq_records_total{reason="framing"} 0.0' in body
        assert _get(port, "/livez") == (200, "ok\n")
        assert _get(port, "/readyz") == (503, "not in the consumer group yet\n")
        clock.now += 6
        code, body = _get(port, "/livez")
        assert code == 503
        assert body.startswith("stuck:")
        assert _get(port, "/nope")[0] == 404
    finally:
        server.stop()


# -- consumer metrics ---------------------------------------------------------------------------------


def test_fixed_label_values_exist_at_zero_and_last_commit_starts_at_creation() -> None:
    registry = CollectorRegistry()
    ConsumerMetrics.create(registry, wall=lambda: 1234.5)
    for reason in DLQ_REASONS:
        assert value(registry, "convstream_dlq_records_total", reason=reason) == 0
    for outcome in ("processed", "dlq", "skipped"):
        assert value(registry, "convstream_events_total", outcome=outcome) == 0
    for dependency in ("broker", "registry", "store"):
        assert value(registry, "convstream_retries_total", dependency=dependency) == 0
        assert value(registry, "convstream_lag_refresh_errors_total", dependency=dependency) == 0
    assert value(registry, "convstream_last_commit_timestamp_seconds") == 1234.5


def test_loop_lag_writes_are_ignored_once_the_monitor_owns_the_gauges() -> None:
    registry = CollectorRegistry()
    m = ConsumerMetrics.create(registry)
    labels = {"consumergroup": "g", "topic": "t", "partition": "0"}
    m.set_lag("g", "t", 0, 5, 1.5)
    assert value(registry, "convstream_consumer_lag_records", **labels) == 5
    m.attach_lag_monitor()
    assert m.lag_monitored
    m.set_lag("g", "t", 0, 99, 9.0)
    m.drop_lag("g", "t", 0)
    assert value(registry, "convstream_consumer_lag_records", **labels) == 5
    m.publish_lag("g", "t", 0, (7, 2.0), (10, 17))
    m.publish_lag("g", "t", 1, (0, 0.0), (4, 4))
    assert value(registry, "convstream_consumer_lag_seconds", **labels) == 2.0
    assert value(registry, "convstream_consumer_committed_offset", **labels) == 10
    assert value(registry, "convstream_consumer_end_offset", **labels) == 17
    m.retain_lag("g", {("t", 1)})
    assert value(registry, "convstream_consumer_lag_records", **labels) is None
    assert value(registry, "convstream_consumer_end_offset", consumergroup="g", topic="t", partition="1") == 4


# -- lag monitor --------------------------------------------------------------------------------------


class FakeStore:
    def __init__(self) -> None:
        self.offsets: dict[str, dict[int, int]] = {}
        self.fail = False

    def stored_offsets(self, group_id: str, topic: str) -> dict[int, int]:
        if self.fail:
            raise StoreUnavailableError("postgres down")
        assert group_id == "g"
        return dict(self.offsets.get(topic, {}))


class FakeBroker:
    def __init__(self) -> None:
        self.marks: dict[str, dict[int, tuple[int, int]]] = {}
        self.stamps: dict[TP, dict[int, int]] = {}  # tp -> offset -> timestamp ms
        self.reads: list[dict[TP, int]] = []
        self.fail = False

    def watermarks(self, topic: str) -> dict[int, tuple[int, int]]:
        if self.fail:
            raise BrokerUnavailableError("kafka down")
        return dict(self.marks.get(topic, {}))

    def timestamps(self, positions: Mapping[TP, int]) -> dict[TP, int]:
        self.reads.append(dict(positions))
        return {tp: self.stamps[tp][o] for tp, o in positions.items() if o in self.stamps.get(tp, {})}


def _monitor(
    ping_fails: bool = False,
) -> tuple[LagMonitor, FakeStore, FakeBroker, CollectorRegistry, HealthState]:
    registry = CollectorRegistry()
    metrics = ConsumerMetrics.create(registry)
    health = HealthState(Clock(), require_registry=True)
    store, broker = FakeStore(), FakeBroker()

    def ping() -> None:
        if ping_fails:
            raise BrokerUnavailableError("registry down")

    monitor = LagMonitor(
        "g",
        ["events", "queues", "events"],
        (store, broker),
        (metrics, health),
        registry_ping=ping,
        wall=lambda: 100.0,
    )
    metrics.attach_lag_monitor()
    return monitor, store, broker, registry, health


def test_monitor_computes_lag_from_postgres_and_watermarks_for_every_partition() -> None:
    monitor, store, broker, registry, health = _monitor()
    broker.marks = {"events": {0: (0, 10), 1: (0, 5), 2: (3, 8)}, "queues": {0: (0, 2)}}
    store.offsets = {"events": {0: 4, 1: 5}, "queues": {0: 2}}
    broker.stamps = {("events", 0): {4: 40_000}, ("events", 2): {3: 90_000}}
    lags = monitor.refresh()
    assert lags is not None
    got = {(x.topic, x.partition): (x.records, x.seconds, x.committed, x.end) for x in lags}
    assert got == {
        ("events", 0): (6, 60.0, 4, 10),
        ("events", 1): (0, 0.0, 5, 5),
        ("events", 2): (5, 10.0, 3, 8),  # no row: counted from the log start
        ("queues", 0): (0, 0.0, 2, 2),
    }
    assert lag(registry, "records", "0") == 6
    assert lag(registry, "seconds", "2") == 10
    assert value(registry, "convstream_lag_refresh_timestamp_seconds") == 100.0
    assert health.last_store_ok is not None
    assert health.last_registry_ok is not None
    # Step 4: the timestamp is read once per committed offset.
    monitor.refresh()
    assert broker.reads == [{("events", 0): 4, ("events", 2): 3}]
    store.offsets["events"][0] = 10
    broker.marks["events"][2] = (3, 3)
    monitor.refresh()
    assert lag(registry, "seconds", "0") == 0
    assert len(broker.reads) == 1


def test_monitor_keeps_values_and_counts_errors_when_a_dependency_fails() -> None:
    monitor, store, broker, registry, _health = _monitor(ping_fails=True)
    broker.marks = {"events": {0: (0, 10)}}
    store.offsets = {"events": {0: 4}}
    broker.stamps = {("events", 0): {4: 95_000}}
    assert monitor.refresh() is not None
    store.fail = True
    assert monitor.refresh() is None
    broker.fail = True
    assert monitor.refresh() is None
    assert lag(registry, "records", "0") == 6
    assert value(registry, "convstream_lag_refresh_errors_total", dependency="store") == 1
    assert value(registry, "convstream_lag_refresh_errors_total", dependency="broker") == 1
    assert value(registry, "convstream_lag_refresh_errors_total", dependency="registry") == 3


def test_monitor_drops_series_of_partitions_that_disappeared() -> None:
    monitor, store, broker, registry, _health = _monitor()
    broker.marks = {"events": {0: (0, 1), 1: (0, 1)}}
    store.offsets = {"events": {0: 1, 1: 1}}
    monitor.refresh()
    broker.marks = {"events": {0: (0, 1)}}
    monitor.refresh()
    assert lag(registry, "records", "1") is None


def test_monitor_thread_refreshes_and_stops() -> None:
    monitor, store, broker, registry, _health = _monitor()
    broker.marks = {"events": {0: (0, 3)}}
    store.offsets = {"events": {0: 3}}
    monitor.start()
    try:
        for _ in range(200):
            if value(registry, "convstream_lag_refresh_timestamp_seconds"):
                break
            import time

            time.sleep(0.01)
    finally:
        monitor.stop()
    assert value(registry, "convstream_lag_refresh_timestamp_seconds") == 100.0


# -- bridge -------------------------------------------------------------------------------------------


class FakeBridge:
    def __init__(self) -> None:
        self.summary = BridgeSummary(published=Counter({"v2.routing.queues.{id}.conversations": 7}))
        self.summary.heartbeats = 3
        self.summary.unknown_topics = 1
        self.summary.bad_lines = 2
        self.summary.queues_published = 4
        self.delivery_failures = 0


def test_bridge_collector_exports_the_summary_counters() -> None:
    bridge = FakeBridge()
    registry = CollectorRegistry()
    BridgeCollector(bridge, "simulator").register(registry)
    pattern = "v2.routing.queues.{id}.conversations"
    assert value(registry, "convstream_bridge_events_published_total", topic_pattern=pattern) == 7
    assert value(registry, "convstream_bridge_messages_skipped_total", reason="heartbeat") == 3
    assert value(registry, "convstream_bridge_messages_skipped_total", reason="system") == 0
    assert value(registry, "convstream_bridge_messages_skipped_total", reason="unknown_topic") == 1
    assert value(registry, "convstream_bridge_bad_lines_total") == 2
    assert value(registry, "convstream_bridge_queues_published_total") == 4
    assert value(registry, "convstream_bridge_delivery_failures_total") == 0
    assert value(registry, "convstream_bridge_info", source="simulator") == 1
    bridge.summary.published[pattern] += 5
    bridge.delivery_failures = 2
    assert value(registry, "convstream_bridge_events_published_total", topic_pattern=pattern) == 12
    assert value(registry, "convstream_bridge_delivery_failures_total") == 2


def test_bridge_health_and_default_port() -> None:
    bridge = FakeBridge()
    health = BridgeHealth(bridge)
    assert health.ready() == (False, "starting")
    health.started = True
    assert health.ready() == (True, "ok")
    bridge.delivery_failures = 1
    assert health.ready() == (False, "1 deliveries failed")
    assert health.live() == (True, "ok")
    assert bridge_metrics_port(ObservabilitySettings()) == BRIDGE_METRICS_PORT == 9410
    assert bridge_metrics_port(ObservabilitySettings(metrics_port=9400)) == 9400
    assert ObservabilitySettings().metrics_port == 9400


@pytest.mark.parametrize("reason", ["closed", "heartbeat", "gone", "socket_closing"])
def test_genesys_reconnect_reasons_exist_at_zero(reason: str) -> None:
    from consumer.genesys.cloud.metrics import GenesysMetrics

    registry = CollectorRegistry()
    GenesysMetrics(registry)
    assert value(registry, "convstream_bridge_websocket_reconnects_total", reason=reason) == 0
    assert value(registry, "convstream_bridge_backfills_total", method="query", outcome="ok") == 0


def _free_port_pair() -> int:
    """A port p with p and p + 1 free at the time of the call (loopback)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two adjacent free ports")


def test_bridge_metrics_serve_on_the_port_plus_the_worker_offset() -> None:
    base = _free_port_pair()
    obs = ObservabilitySettings(metrics_host="127.0.0.1", metrics_port=base)
    registry = CollectorRegistry()
    BridgeCollector(FakeBridge(), "simulator").register(registry)
    with serve_bridge_metrics(obs, FakeBridge(), registry, port_offset=1):
        assert _get(base + 1, "/readyz")[0] == 200
        status, body = _get(base + 1, "/metrics")
        assert status == 200
        assert "convstream_bridge_events_published_total" in body
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{base + 1}/livez", timeout=2)


def test_bridge_metrics_on_a_taken_configured_port_is_a_config_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        obs = ObservabilitySettings(metrics_host="127.0.0.1", metrics_port=port)
        with (
            pytest.raises(ConfigError, match=f"cannot serve metrics on 127.0.0.1:{port}") as caught,
            serve_bridge_metrics(obs, FakeBridge(), CollectorRegistry()),
        ):
            pass
    assert caught.value.variable == "CONVSTREAM_OBSERVABILITY__METRICS_PORT"


def test_readyz_turns_while_a_batch_waits_too_long_to_commit() -> None:
    from consumer.observability.health import HealthState

    now = [100.0]
    state = HealthState(clock=lambda: now[0], commit_timeout_seconds=30)
    state.joined = True
    state.store_ok()
    state.broker_ok()
    state.batch_begins()
    now[0] += 29
    state.store_ok()
    state.broker_ok()
    assert state.ready() == (True, "ok")
    now[0] += 2
    ok, reason = state.ready()
    assert not ok
    assert reason.startswith("cannot commit: a batch has waited 31 s")
    state.batch_ends()
    assert state.ready() == (True, "ok")
    assert HealthState(clock=lambda: now[0]).batch_started is None
