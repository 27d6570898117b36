"""The bridge loop with a recording publisher: publishing, skipping, reporting, summary, exit codes."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from consumer.bridge.publish import Bridge, BridgeSummary
from consumer.bridge.sources import file_items, queue_records, simulator_items
from consumer.codec.avro import decode_event, decode_queue, encode_event, encode_queue
from consumer.codec.schemas import CONVERSATION_EVENT, QUEUE, current
from consumer.codec.wire import split
from consumer.errors import PublishError
from consumer.ports import BadLine, BridgeItem, Skipped

EVENT_SCHEMA_ID = 7
QUEUE_SCHEMA_ID = 8


class RecordingPublisher:
    """A :class:`consumer.ports.Publisher`: every produce is acknowledged unless told to fail."""

    def __init__(self, *, fail_after: int | None = None) -> None:
        self.records: list[tuple[str, str, bytes]] = []
        self.failed = 0
        self.polls = 0
        self.flushes = 0
        self._fail_after = fail_after

    def produce(
        self,
        topic: str,
        key: bytes | str,
        value: bytes,
        headers: Sequence[tuple[str, bytes]] | None = None,
    ) -> None:
        assert isinstance(key, str)
        if self._fail_after is not None and len(self.records) >= self._fail_after:
            self.failed += 1
            return
        self.records.append((topic, key, value))

    def poll(self, timeout: float = 0.0) -> int:
        self.polls += 1
        return 0

    def flush(self, timeout: float = 30.0) -> int:
        self.flushes += 1
        if self.failed:
            raise PublishError(f"{self.failed} messages were not delivered")
        return 0


def detail_line(conversation_id: str, kind: str = "customer.start", t: int = 1735725600000) -> str:
    return json.dumps(
        {
            "topicName": f"v2.detail.events.conversation.{conversation_id}.{kind}",
            "version": "2",
            "eventBody": {"eventTime": t, "conversationId": conversation_id, "participantId": "p1",
                          "sessionId": "s1", "mediaType": "VOICE"},
        }
    )  # fmt: skip


def snapshot_line(conversation_id: str, queue_id: str = "q1") -> str:
    return json.dumps(
        {
            "topicName": f"v2.routing.queues.{queue_id}.conversations",
            "eventBody": {
                "id": conversation_id,
                "participants": [{"id": "p1", "purpose": "customer", "calls": [
                    {"id": "s1", "state": "connected", "connectedTime": "2025-01-01T10:00:00.000Z"}]}],
            },
        }
    )  # fmt: skip


HEARTBEAT = json.dumps({"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}})
UNKNOWN = json.dumps({"topicName": "v2.users.u1.presence", "eventBody": {"presence": "available"}})


def make_bridge(publisher: RecordingPublisher, reports: list[str], **kwargs: object) -> Bridge:
    return Bridge(
        publisher,
        events_topic="events",
        event_schema_id=EVENT_SCHEMA_ID,
        encode_event=encode_event,
        report=reports.append,
        progress_seconds=0,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def mixed_file(tmp_path: Path) -> Path:
    lines = [
        detail_line("c1"),                       # 1 good
        snapshot_line("c2"),                     # 2 good
        snapshot_line("c3")[:40],                # 3 truncated
        HEARTBEAT,                               # 4 heartbeat
        "this is not json",                      # 5 not JSON
        UNKNOWN,                                 # 6 unknown topic
        "",                                      # 7 blank: not a message
        detail_line("c1", "customer.end", 1735725660000),  # 8 good
        '{"topicName": "v2.detail.events.conversation.c9.acd.start", "eventBody": {}}',  # 9 no eventTime
        snapshot_line("c3"),                     # 10 good
    ]  # fmt: skip
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_file_with_bad_lines_publishes_good_ones_and_reports_each_bad_one(mixed_file: Path) -> None:
    publisher = RecordingPublisher()
    reports: list[str] = []
    summary = make_bridge(publisher, reports).run(file_items([str(mixed_file)]))

    assert [(topic, key) for topic, key, _ in publisher.records] == [
        ("events", "c1"), ("events", "c2"), ("events", "c1"), ("events", "c3"),
    ]  # fmt: skip
    reader = current(CONVERSATION_EVENT)
    for _, key, value in publisher.records:
        schema_id, payload = split(value)
        assert schema_id == EVENT_SCHEMA_ID
        assert decode_event(payload, reader).conversation_id == key
    bad = [line for line in reports if line.startswith(f"{mixed_file}:")]
    assert [line.split(":")[1] for line in bad] == ["3", "5", "9"]
    assert "not valid JSON" in bad[0]
    assert "not valid JSON" in bad[1]
    assert "eventTime" in bad[2]
    assert summary.events_published == 4
    assert summary.published == {
        "v2.detail.events.conversation.{id}.customer.start": 1,
        "v2.detail.events.conversation.{id}.customer.end": 1,
        "v2.routing.queues.{id}.conversations": 2,
    }
    assert (summary.heartbeats, summary.unknown_topics, summary.bad_lines) == (1, 1, 3)
    assert summary.exit_code == 2
    assert reports[-1] == summary.line()
    assert "published 4 events" in reports[-1]
    assert "3 bad lines" in reports[-1]
    assert publisher.flushes == 1


def test_all_good_lines_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "good.jsonl"
    path.write_text("\n".join([detail_line("c1"), HEARTBEAT, UNKNOWN, snapshot_line("c2")]), encoding="utf-8")
    summary = make_bridge(RecordingPublisher(), []).run(file_items([str(path)]))
    assert summary.exit_code == 0
    assert (summary.events_published, summary.heartbeats, summary.unknown_topics) == (2, 1, 1)


def test_non_utf8_line_is_one_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(detail_line("c1").encode() + b"\n" + b'{"x": "\xe9"}\n' + snapshot_line("c2").encode())
    reports: list[str] = []
    summary = make_bridge(RecordingPublisher(), reports).run(file_items([str(path)]))
    assert summary.events_published == 2
    assert reports[0] == f"{path}:2: not valid UTF-8"


def test_line_numbers_restart_per_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(detail_line("c1") + "\nbad\n", encoding="utf-8")
    second.write_text("bad\n", encoding="utf-8")
    reports: list[str] = []
    make_bridge(RecordingPublisher(), reports).run(file_items([str(first), str(second)]))
    assert [r.split(": ")[0] for r in reports[:2]] == [f"{first}:2", f"{second}:1"]


def test_delivery_failure_stops_reading_and_raises() -> None:
    publisher = RecordingPublisher(fail_after=3)
    items: list[BridgeItem] = []
    for i in range(10_000):
        items.extend(file_items_from_lines([detail_line(f"c{i}")]))
    with pytest.raises(PublishError):
        make_bridge(publisher, []).run(items)
    # Reading stopped at the first tick after the failure, not at the end of the source.
    assert len(publisher.records) + publisher.failed < 10_000


def file_items_from_lines(lines: list[str]) -> list[BridgeItem]:
    from io import BytesIO

    from consumer.bridge.sources import stream_items
    from consumer.genesys.jsonl import FileClock

    data = BytesIO(("\n".join(lines) + "\n").encode())
    return list(stream_items(data, source_name="mem", clock=FileClock()))


def test_stop_event_stops_reading_then_flushes() -> None:
    publisher = RecordingPublisher()
    stop = threading.Event()

    def source() -> list[BridgeItem]:
        out: list[BridgeItem] = []
        out.extend(file_items_from_lines([detail_line("c1"), detail_line("c2")]))
        return out

    def items():
        for n, item in enumerate(source()):
            if n == 1:
                stop.set()  # as a SIGTERM handler would
            yield item

    summary = make_bridge(publisher, [], stop=stop).run(items())
    assert summary.stopped
    assert [key for _, key, _ in publisher.records] == ["c1"]
    assert publisher.flushes == 1
    assert summary.exit_code == 0


def test_skips_are_counted_by_reason() -> None:
    items: list[BridgeItem] = [Skipped("heartbeat"), Skipped("system"), Skipped("unknown_topic", "x"),
                               BadLine("f", 1, "nope")]  # fmt: skip
    reports: list[str] = []
    summary = make_bridge(RecordingPublisher(), reports).run(items)
    assert (summary.heartbeats, summary.system, summary.unknown_topics, summary.bad_lines) == (1, 1, 1, 1)
    assert reports[0] == "f:1: nope"


def test_queue_directory_is_published_keyed_by_queue_id(tmp_path: Path) -> None:
    lines = [
        b'{"id": "q1", "name": "Sales"}',
        b"",
        b"{oops",
        b'{"name": "no id"}',
        b'{"id": "q2", "name": "Support"}',
    ]
    publisher = RecordingPublisher()
    reports: list[str] = []
    bridge = make_bridge(publisher, reports)
    records = queue_records(lines, source_name="queues.jsonl", updated_at=1735725600000)
    assert bridge.publish_queues("queues", QUEUE_SCHEMA_ID, encode_queue, records) == 2
    summary = bridge.run([])
    assert [(t, k) for t, k, _ in publisher.records] == [("queues", "q1"), ("queues", "q2")]
    schema_id, payload = split(publisher.records[1][2])
    assert schema_id == QUEUE_SCHEMA_ID
    decoded = decode_queue(payload, current(QUEUE))
    assert (decoded["queue_id"], decoded["name"], decoded["updated_at"]) == ("q2", "Support", 1735725600000)
    assert [r.split(": ")[0] for r in reports[:2]] == ["queues.jsonl:3", "queues.jsonl:4"]
    assert (summary.queues_published, summary.bad_lines, summary.exit_code) == (2, 2, 2)


class _Sim:
    def __init__(self, message: dict[str, object], received_at: int) -> None:
        self.message = message
        self.received_at = received_at
        self.participants = None  # no entries: the source reads the participant dicts


def test_simulator_items_are_normalized_with_source_simulator() -> None:
    sims = [_Sim(json.loads(detail_line("c1")), 1), _Sim(json.loads(HEARTBEAT), 2), _Sim({"x": 1}, 3)]
    items = list(simulator_items(sims))
    assert items[0].source == "simulator"  # type: ignore[union-attr]
    assert items[1] == Skipped("heartbeat")
    assert isinstance(items[2], BadLine)
    assert items[2].line == 3


def test_summaries_add_up_field_by_field() -> None:
    # Every counter of a worker's summary reaches the merged one (a field added later must be added too).
    one = BridgeSummary(published=Counter({"a": 2, "b": 1}), stopped=True, seconds=9.0)
    for f in dataclasses.fields(BridgeSummary):
        if f.type == "int":
            setattr(one, f.name, 3)
    merged = BridgeSummary()
    merged.add(one)
    merged.add(one)
    for f in dataclasses.fields(BridgeSummary):
        if f.type == "int":
            assert getattr(merged, f.name) == 6, f.name
    assert merged.published == Counter({"a": 4, "b": 2})
    assert merged.stopped is True
    assert merged.seconds == 0.0  # the caller times the whole run


def test_a_source_that_ends_on_the_stop_event_counts_as_stopped() -> None:
    """The real-time simulator returns when the stop event is set (it waits on it): still "stopped"."""
    publisher = RecordingPublisher()
    stop = threading.Event()

    def items():
        yield from file_items_from_lines([detail_line("c1")])
        stop.set()  # as SIGTERM while the source waits for its next message

    summary = make_bridge(publisher, [], stop=stop).run(items())
    assert summary.stopped
    assert [key for _, key, _ in publisher.records] == ["c1"]
    assert publisher.flushes == 1
    assert summary.exit_code == 0


def test_tick_every_item_sees_a_failed_delivery_at_once() -> None:
    """A slow source (the real-time simulator) ticks every item: the first failed delivery stops reading."""
    publisher = RecordingPublisher(fail_after=3)
    items = [item for i in range(50) for item in file_items_from_lines([detail_line(f"c{i}")])]
    with pytest.raises(PublishError):
        make_bridge(publisher, [], tick_items=1).run(items)
    assert len(publisher.records) == 3
    assert publisher.failed == 1, "reading stopped right after the first failure"
    assert publisher.polls >= 4
