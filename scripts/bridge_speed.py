"""Throughput of the bridge path: source -> normalize -> Avro encode -> Kafka (acks=all, idempotent).

Usage::

    .venv/bin/python scripts/bridge_speed.py [--events 200000] [--source simulator|synthetic] [--profile]

Prints one JSON object: events/s of each stage measured alone (generate, normalize, encode, produce of
pre-encoded values) and of the whole path (``end_to_end``: the real :class:`consumer.bridge.publish.Bridge`
with the real producer into a fresh topic, flushed); each as a wall rate and as ``cpu_rate_<stage>`` (events
per CPU second of this process, librdkafka's threads included: less distorted by other load on the machine).
``--profile`` adds the top cProfile entries of the end-to-end run on stderr. Needs the devstack Kafka
(CONVSTREAM_KAFKA__BOOTSTRAP_SERVERS); no registry (schema id 1). The simulator source keeps its
participant entries, as ``convstream bridge`` does: their cost is in ``generate``, and ``normalize`` uses
them.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import pstats
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from consumer.adapters.kafka.client import KafkaAdmin, KafkaProducerAdapter
from consumer.bridge.publish import Bridge
from consumer.bridge.sources import simulator_items
from consumer.codec.avro import encode_event
from consumer.codec.wire import frame
from consumer.domain.events import ConversationEvent
from consumer.genesys.normalize import Normalized, normalize_message
from consumer.runtime.gctuning import tune_gc_for_batches
from consumer.settings import TopicSettings, load_settings


@dataclass(frozen=True, slots=True)
class _Msg:
    message: dict[str, Any]
    received_at: int
    participants: None = None  # no entries: normalization reads the participant dicts


def synthetic(count: int) -> Iterator[_Msg]:
    """Snapshot-shaped queue-topic messages (~600 B as Avro): customer, acd and agent participants."""
    base = 1_735_725_600_000
    for n in range(count):
        conv = f"conv-{n // 6:08d}"
        t = base + n * 50
        iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t / 1000)) + f".{t % 1000:03d}Z"
        body = {
            "id": conv,
            "participants": [
                {"id": f"{conv}-c", "purpose": "customer", "address": "tel:+15550100",
                 "calls": [{"id": f"{conv}-s1", "state": "connected", "direction": "inbound",
                            "connectedTime": iso}]},
                {"id": f"{conv}-a", "purpose": "acd", "queueId": "q-sales", "connectedTime": iso,
                 "endTime": iso if n % 6 > 2 else None,
                 "calls": [{"id": f"{conv}-s2", "state": "disconnected" if n % 6 > 2 else "connected",
                            "connectedTime": iso}]},
                {"id": f"{conv}-u", "purpose": "agent", "userId": "u-1", "queueId": "q-sales",
                 "wrapupRequired": True,
                 "calls": [{"id": f"{conv}-s3", "state": "alerting" if n % 6 < 4 else "connected",
                            "direction": "inbound", "held": False, "connectedTime": iso}]},
            ],
        }  # fmt: skip
        yield _Msg({"topicName": "v2.routing.queues.q-sales.conversations", "eventBody": body}, t)


def source(kind: str, count: int) -> Iterator[Any]:
    if kind == "synthetic":
        return synthetic(count)
    from consumer.simulate import Simulation, SimulationOptions

    # Snapshot-heavy default mix, some detail events: the shape the consumer benchmarks read.
    options = SimulationOptions(seed=1, events=count, agents=200, arrival_rate=2.0, detail_events=0.2)
    return itertools.islice(Simulation(options, keep_entries=True), count)


def rate(count: int, seconds: float) -> float:
    return round(count / seconds) if seconds > 0 else 0.0


def _start() -> tuple[float, float]:
    return time.process_time(), time.perf_counter()


def _record(result: dict[str, Any], name: str, count: int, start: tuple[float, float]) -> None:
    """Record ``name`` (wall events/s) and ``cpu_rate_<name>`` (events per CPU second of this process)."""
    result[name] = rate(count, time.perf_counter() - start[1])
    result["cpu_rate_" + name] = rate(count, time.process_time() - start[0])


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--source", choices=("simulator", "synthetic"), default="simulator")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    settings = load_settings()
    tune_gc_for_batches()  # as `convstream bridge` does
    result: dict[str, Any] = {"source": args.source}

    start = _start()
    messages = list(source(args.source, args.events))
    _record(result, "generate", len(messages), start)
    start = _start()
    events: list[ConversationEvent] = []
    for m in messages:
        normalized = normalize_message(
            m.message, received_at=m.received_at, source="simulator", participants=m.participants
        )
        if isinstance(normalized, Normalized):
            events.extend(normalized.events)
    _record(result, "normalize", len(messages), start)
    start = _start()
    values = [(e.conversation_id, frame(1, encode_event(e))) for e in events]
    _record(result, "encode", len(events), start)
    result["events"] = len(events)
    result["avg_value_bytes"] = round(sum(len(v) for _, v in values) / max(1, len(values)))

    admin = KafkaAdmin(settings.kafka)
    topic = TopicSettings(events=f"bench.bridge.{uuid.uuid4().hex[:8]}", queues="bench.bridge.queues",
                          dlq="bench.bridge.dlq")  # fmt: skip
    admin.ensure_topics(topic)
    try:
        producer = KafkaProducerAdapter(settings.kafka, settings.bridge)
        start = _start()
        for key, value in values:
            producer.produce(topic.events, key, value)
        producer.flush(60)
        _record(result, "produce", len(values), start)

        def run_bridge(items: Any, profile: bool) -> float:
            bridge = Bridge(
                KafkaProducerAdapter(settings.kafka, settings.bridge),
                events_topic=topic.events,
                event_schema_id=1,
                encode_event=encode_event,
                report=lambda line: print(line, file=sys.stderr),
            )
            profiler = cProfile.Profile() if profile else None
            cpu = time.process_time()
            t = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            summary = bridge.run(simulator_items(items))
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            wall = time.perf_counter() - t
            # CPU seconds of this process (all threads, librdkafka's included): the figure an idle
            # machine would give with one core for Python; wall time is distorted by other load.
            result["cpu_rate_" + ("bridge" if "bridge" not in result else "end_to_end")] = rate(
                summary.events_published, time.process_time() - cpu
            )
            return rate(summary.events_published, wall)

        # The bridge over messages already in memory, then with the source generating live.
        result["bridge"] = run_bridge(messages, args.profile)
        del messages, events, values
        result["end_to_end"] = run_bridge(source(args.source, args.events), False)
    finally:
        admin.delete_topics([topic.events])
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
