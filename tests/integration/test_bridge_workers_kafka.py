"""``convstream bridge --source simulator --workers N`` against the real Kafka and schema registry."""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from consumer import cli
from consumer.bridge.sources import simulator_items
from consumer.bridge.workers import shard_options
from consumer.codec.avro import decode_event, decode_queue
from consumer.commands import simulate as simulate_command
from consumer.domain.events import ConversationEvent
from consumer.settings import TopicSettings
from consumer.simulate import simulate
from tests.integration.test_bridge_kafka import decode_all, read_all, topics  # noqa: F401 - `topics` is a fixture

pytestmark = pytest.mark.integration

ARGS = ["--conversations", "90", "--seed", "5", "--arrival-rate", "1", "--detail-events", "0.5",
        "--duplicate-rate", "0.05"]  # fmt: skip


def shard_events(args: list[str], workers: int) -> list[ConversationEvent]:
    """What each worker publishes, recomputed in-process from its shard's options."""
    parser = argparse.ArgumentParser()
    simulate_command.add_arguments(parser)
    options = simulate_command.options_from_args(parser.parse_args(["--out", "-", *args]))
    events: list[ConversationEvent] = []
    for index in range(workers):
        items = simulator_items(simulate(shard_options(options, index, workers)))
        events += [item for item in items if isinstance(item, ConversationEvent)]
    return events


def test_workers_publish_every_shard_exactly_once(
    topics: TopicSettings, kafka_bootstrap: str, registry_url: str, unique_name: Any,  # noqa: F811
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert cli.main(["bridge", "--source", "simulator", "--workers", "2", *ARGS]) == 0
    expected = shard_events(ARGS, 2)
    records = decode_all(registry_url, read_all(kafka_bootstrap, topics.events, unique_name("g")))
    published = [decode_event(payload, schema) for _, _, (_, payload, schema) in records]
    # Nothing lost, nothing doubled: the topic holds exactly the two shards' events.
    assert sorted(e.event_id for e in published) == sorted(e.event_id for e in expected)
    assert {k for _, k, _ in records} == {e.conversation_id for e in expected}
    err = capfd.readouterr().err
    assert f"bridge: published {len(expected)} events and 16 queues" in err
    assert "[worker 1/2] bridge: published" in err
    assert "[worker 2/2] bridge: published" in err
    queues = decode_all(registry_url, read_all(kafka_bootstrap, topics.queues, unique_name("g")))
    assert len({key for _, key, _ in queues}) == 16  # each shard's own 8 queues
    assert all(decode_queue(payload, schema)["name"] for _, _, (_, payload, schema) in queues)


def test_sigterm_stops_every_worker_and_flushes(
    topics: TopicSettings, kafka_bootstrap: str, unique_name: Any  # noqa: F811
) -> None:  # fmt: skip
    command = [sys.executable, "-m", "consumer.cli", "bridge", "--source", "simulator", "--workers", "2",
               "--events", "5000000", "--progress-seconds", "0.5"]  # fmt: skip
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=dict(os.environ)) as process:
        assert process.stderr is not None
        deadline = time.monotonic() + 120
        for line in process.stderr:
            if re.match(r"bridge: [1-9][0-9]* events published", line) or time.monotonic() > deadline:
                break
        process.send_signal(signal.SIGTERM)
        rest = process.stderr.read()
        assert process.wait(timeout=120) == 0, rest
    summary = re.search(r"^bridge: published ([0-9]+) events .*\(stopped by signal\)$", rest, re.MULTILINE)
    assert summary is not None, rest
    published = int(summary.group(1))
    assert 0 < published < 5_000_000
    # Everything counted was flushed to Kafka, and nothing else.
    assert len(read_all(kafka_bootstrap, topics.events, unique_name("g"))) == published
