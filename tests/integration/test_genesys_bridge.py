"""`convstream bridge --source genesys` (a real subprocess) against the fake Genesys Cloud, real Kafka and
the real schema registry: what reaches Kafka, folded, equals the simulator's ground truth — in steady
state and after socket drops, socket_closing, channel expiry (404), token revocation (401) and 429
bursts, because every gap is backfilled from the (fake) Analytics API. Unique topics per test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from consumer.adapters.kafka.client import KafkaAdmin
from consumer.codec.avro import decode_event, decode_queue
from consumer.domain.fold import fold
from consumer.domain.row import derive_row
from consumer.settings import KafkaSettings
from consumer.simulate import SimulationOptions
from tests.fakes.genesys import CLIENT_SECRET, FAST_BRIDGE_ENV, FakeGenesys
from tests.fixtures.services import wait_until
from tests.integration.test_bridge_kafka import decode_all, read_all

pytestmark = pytest.mark.integration

COMPARED = ("calculated_status", "last_queue_id", "last_queue_name", "original_media_type", "division_ids")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class BridgeProcess:
    def __init__(self, fake: FakeGenesys, env: dict[str, str], tmp_log: Any) -> None:
        self.port = free_port()
        full = {**os.environ, **env, **fake.env(), "CONVSTREAM_OBSERVABILITY__METRICS_HOST": "127.0.0.1",
                "CONVSTREAM_OBSERVABILITY__METRICS_PORT": str(self.port)}  # fmt: skip
        self.log_path = tmp_log
        self._log = open(tmp_log, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "consumer.cli", "bridge", "--source", "genesys"],
            env=full, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def metrics(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            return str(response.read().decode())

    def value(self, name: str) -> float:
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def settle(self, fake: FakeGenesys) -> None:
        """After the stream: one last drop, so whatever was in flight is covered by a final gap backfill."""
        wait_until(fake.stream_done.is_set, 120, 0.1, "the fake's stream to end")
        gaps = self.value("convstream_bridge_gaps_total")
        fake.drop_sockets()
        wait_until(
            lambda: self.ready()
            and self.value("convstream_bridge_gaps_total") > gaps
            and self.value("convstream_bridge_gaps_open") == 0,
            60, 0.1, "the final gap backfilled",
        )  # fmt: skip

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.close()
        return code, self.log_path.read_text(encoding="utf-8")


@pytest.fixture
def bridge_env(kafka_bootstrap: str, registry_url: str, unique_name: Any) -> Iterator[dict[str, str]]:
    base = unique_name("genesys")
    env = {
        "CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CONVSTREAM_SCHEMA_REGISTRY__URL": registry_url,
        "CONVSTREAM_TOPICS__EVENTS": f"{base}.events",
        "CONVSTREAM_TOPICS__QUEUES": f"{base}.queues",
        "CONVSTREAM_TOPICS__DLQ": f"{base}.dlq",
        "CONVSTREAM_TOPICS__PARTITIONS": "3",
        "CONVSTREAM_OBSERVABILITY__LOG_FORMAT": "json",
        "CONVSTREAM_OBSERVABILITY__LOG_LEVEL": "INFO",
        **FAST_BRIDGE_ENV,
    }
    yield env
    KafkaAdmin(KafkaSettings(bootstrap_servers=kafka_bootstrap)).delete_topics(
        [env["CONVSTREAM_TOPICS__EVENTS"], env["CONVSTREAM_TOPICS__QUEUES"], env["CONVSTREAM_TOPICS__DLQ"]]
    )


def folded_rows(
    env: dict[str, str], bootstrap: str, registry_url: str, group: str
) -> dict[str, dict[str, Any]]:
    names: dict[str, str] = {}
    for _, _, (schema_id, payload, schema) in decode_all(
        registry_url, read_all(bootstrap, env["CONVSTREAM_TOPICS__QUEUES"], group + "q")
    ):
        queue = decode_queue(payload, schema, schema_id=schema_id)
        if queue["name"]:
            names[str(queue["queue_id"])] = queue["name"]
    states: dict[str, Any] = {}
    for _, key, (schema_id, payload, schema) in decode_all(
        registry_url, read_all(bootstrap, env["CONVSTREAM_TOPICS__EVENTS"], group)
    ):
        event = decode_event(payload, schema, schema_id=schema_id)
        assert key == event.conversation_id
        states[key] = fold(states.get(key), event)
    rows = {}
    for cid, state in states.items():
        row = derive_row(state, names)
        rows[cid] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in ((k, getattr(row, k)) for k in COMPARED)
        }
    return rows


def truth(fake: FakeGenesys) -> dict[str, dict[str, Any]]:
    return {row["conversation_id"]: {k: row[k] for k in COMPARED} for row in fake.truth()}


def test_folded_kafka_topic_equals_truth_through_drops_expiry_revocation_and_429s(
    bridge_env: dict[str, str], kafka_bootstrap: str, registry_url: str, unique_name: Any, tmp_path: Any
) -> None:
    options = SimulationOptions(
        seed=21, conversations=60, arrival_rate=1.0, handle_time_s=20, queues=4, agents=10
    )
    with FakeGenesys(options, speed=10, heartbeat_seconds=0.3) as fake:
        bridge = BridgeProcess(fake, bridge_env, tmp_path / "bridge.log")
        try:
            wait_until(bridge.ready, 60, 0.1, "the bridge connected")
            fake.start_stream()
            wait_until(lambda: fake.sent > 20, 60, 0.05, "traffic")
            fake.drop_sockets(refuse_seconds=1.0)  # abrupt drop, reconnects refused for a second
            wait_until(lambda: fake.lost > 0 and bridge.ready(), 60, 0.1, "recovery from the drop")
            fake.socket_closing()
            wait_until(
                lambda: (
                    bridge.value('convstream_bridge_websocket_reconnects_total{reason="socket_closing"}') >= 1
                ),
                30,
                0.1,
                "socket_closing",
            )
            fake.expire_channels()  # reconnect answers 404: a new channel
            wait_until(
                lambda: bridge.value("convstream_bridge_channels_created_total") >= 2, 30, 0.1, "channel 2"
            )
            fake.inject_429(3, retry_after=0.2)
            fake.revoke_tokens(kill_channels=True)  # 401 on the next call; the channel dies too
            wait_until(
                lambda: bridge.value("convstream_bridge_channels_created_total") >= 3, 30, 0.1, "channel 3"
            )
            bridge.settle(fake)
            exposition = bridge.metrics()
            refreshes = bridge.value("convstream_bridge_token_refreshes_total")
            rate_limited = bridge.value("convstream_bridge_api_rate_limited_total")
        finally:
            code, log = bridge.stop()
        expected = truth(fake)
        issued = list(fake.tokens)
    assert code == 0, log[-3000:]
    assert fake.lost > 0  # the socket really missed events …
    assert folded_rows(bridge_env, kafka_bootstrap, registry_url, unique_name("g")) == expected  # … recovered
    assert refreshes >= 2
    assert rate_limited == 3
    for secret in [CLIENT_SECRET, *issued]:
        assert secret not in log
        assert secret not in exposition
    assert "gap backfilled" in log


def test_many_topics_use_several_channels_and_a_rejected_topic_is_not_fatal(
    bridge_env: dict[str, str], kafka_bootstrap: str, registry_url: str, unique_name: Any, tmp_path: Any
) -> None:
    options = SimulationOptions(
        seed=3, conversations=10, arrival_rate=1.0, handle_time_s=20, queues=2, agents=4
    )
    with FakeGenesys(options, speed=10, heartbeat_seconds=0.3, extra_queues=1100) as fake:
        fake.forbidden = {"v2.routing.queues.extra-queue-00007.conversations"}
        bridge = BridgeProcess(fake, bridge_env, tmp_path / "bridge.log")
        try:
            wait_until(bridge.ready, 60, 0.1, "the bridge connected")
            assert fake.connected_channels() == 2
            assert bridge.value("convstream_bridge_topics_rejected_total") == 1
            fake.start_stream()
            bridge.settle(fake)
        finally:
            code, log = bridge.stop()
    assert code == 0, log[-3000:]
    assert "genesys topic rejected" in log
    rows = folded_rows(bridge_env, kafka_bootstrap, registry_url, unique_name("g"))
    assert rows == truth(fake)
    queues = read_all(kafka_bootstrap, bridge_env["CONVSTREAM_TOPICS__QUEUES"], unique_name("q"))
    assert len(queues) == 1102


def test_backfill_command_publishes_every_conversation_of_the_interval(
    bridge_env: dict[str, str], kafka_bootstrap: str, registry_url: str, unique_name: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from consumer import cli
    from consumer.genesys.times import format_iso_ms, parse_time

    options = SimulationOptions(
        seed=8, conversations=25, arrival_rate=1.0, handle_time_s=20, queues=3, agents=6
    )
    with FakeGenesys(options, speed=50) as fake:
        fake.start_stream()
        wait_until(fake.stream_done.is_set, 60, 0.1, "the fake's stream to end")
        for name, value in {**bridge_env, **fake.env()}.items():
            monkeypatch.setenv(name, value)
        starts = [parse_time(r["conversationStart"]) for r in fake.records.values()]
        window = ["--from", format_iso_ms(min(starts) - 1000), "--to", format_iso_ms(max(starts) + 1000)]
        assert cli.main(["backfill", *window, "--method", "job"]) == 0
        assert cli.main(["backfill", *window]) == 0  # sync query; duplicates are harmless
        expected_ids = set(fake.records)
    err = capsys.readouterr().err
    assert "backfill: 25 conversations read" in err
    records = read_all(kafka_bootstrap, bridge_env["CONVSTREAM_TOPICS__EVENTS"], unique_name("g"))
    assert len(records) == 50
    assert {key for _, key, _ in records} == expected_ids
