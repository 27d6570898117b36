"""The JSON Lines reader: per-line auto-detection, outcomes with line numbers, and the file clock."""

from __future__ import annotations

import json
from typing import Any

from consumer.genesys.jsonl import FileClock, LineBad, LineEvents, LineIgnored, LineUnknownTopic, read_lines
from consumer.genesys.times import format_iso_ms

T0 = 1735725600000  # 2025-01-01T10:00:00.000Z


def snapshot(conv: str = "C1", connected: int = T0, **extra: Any) -> dict[str, Any]:
    return {
        "topicName": "v2.routing.queues.Q1.conversations",
        "version": "2",
        "eventBody": {
            "id": conv,
            "participants": [
                {
                    "id": "P",
                    "purpose": "customer",
                    "connectedTime": format_iso_ms(connected),
                    "calls": [{"id": "C", "state": "connected"}],
                }
            ],
        },
        **extra,
    }


def detail(event_time: int, kind: str = "acd.start") -> dict[str, Any]:
    return {
        "topicName": f"v2.detail.events.conversation.C1.{kind}",
        "version": "2",
        "eventBody": {
            "eventTime": event_time,
            "conversationId": "C1",
            "participantId": "P2",
            "sessionId": "S2",
            "queueId": "Q1",
        },
    }


def eventbridge(event_time: int, timestamp: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "x",
        "detail-type": "v2.detail.events.conversation.{id}.acd.start",
        "source": "aws.partner/genesys.com/cloud/o/s",
        "detail": {**detail(event_time), "timestamp": timestamp},
    }


def lines(*messages: Any) -> list[str]:
    return [m if isinstance(m, str) else json.dumps(m) + "\n" for m in messages]


def events(outcomes: list[Any]) -> list[Any]:
    return [e for o in outcomes if isinstance(o, LineEvents) for e in o.events]


def test_one_outcome_per_line_with_line_numbers() -> None:
    outcomes = list(
        read_lines(
            lines(
                snapshot(),
                {"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}},
                "\n",
                {"topicName": "v2.users.U1.conversationsummary", "eventBody": {}},
                '{"topicName": "v2.routing.queues.Q1.conver',
                "[1, 2]\n",
                {"topicName": "v2.routing.queues.Q1.conversations", "eventBody": {"participants": []}},
                detail(T0),
            ),
            source_name="in.jsonl",
        )
    )
    assert [type(o) for o in outcomes] == [
        LineEvents,
        LineIgnored,
        LineIgnored,
        LineUnknownTopic,
        LineBad,
        LineBad,
        LineBad,
        LineEvents,
    ]
    assert [o.line for o in outcomes] == list(range(1, 9))
    assert outcomes[1] == LineIgnored("in.jsonl", 2, "heartbeat")
    assert outcomes[2] == LineIgnored("in.jsonl", 3, "blank")
    unknown = outcomes[3]
    assert isinstance(unknown, LineUnknownTopic)
    assert unknown.message == "in.jsonl:4: unknown topic 'v2.users.U1.conversationsummary'"
    truncated, not_object, no_id = outcomes[4], outcomes[5], outcomes[6]
    assert isinstance(truncated, LineBad)
    assert truncated.message.startswith("in.jsonl:5: not valid JSON (truncated?)")
    assert isinstance(not_object, LineBad)
    assert not_object.message == "in.jsonl:6: expected a JSON object"
    assert isinstance(no_id, LineBad)
    assert no_id.message == "in.jsonl:7: eventBody.id missing"


def test_auto_detects_each_shape_and_labels_the_source() -> None:
    record = {"conversationId": "C2", "conversationStart": format_iso_ms(T0), "participants": []}
    outcomes = list(
        read_lines(
            lines(snapshot(), eventbridge(T0, "2025-01-01T10:00:00.500Z"), record),
            source_name="f",
            source="notifications",
        )
    )
    assert [e.source for e in events(outcomes)] == ["notifications", "eventbridge", "analytics"]


def test_received_at_from_the_line_is_used_and_stripped_before_hashing() -> None:
    with_time = snapshot(receivedAt="2025-01-01T11:00:00.000Z")
    (a,) = events(list(read_lines(lines(with_time), source_name="f")))
    (b,) = events(list(read_lines(lines(snapshot()), source_name="f")))
    assert (a.received_at, a.event_time) == (T0 + 3_600_000, T0 + 3_600_000)
    assert a.event_id == b.event_id
    record = {"conversationId": "C2", "conversationStart": format_iso_ms(T0), "participants": []}
    (r1,) = events(list(read_lines(lines({**record, "receivedAt": T0 + 5}), source_name="f")))
    (r2,) = events(list(read_lines(lines(record), source_name="f")))
    assert r1.received_at == T0 + 5
    assert r1.event_id == r2.event_id


def test_received_at_epoch_ms_and_bad_values() -> None:
    outcomes = list(
        read_lines(lines(snapshot(receivedAt=T0 + 42), snapshot(receivedAt="noon")), source_name="f")
    )
    assert events(outcomes)[0].received_at == T0 + 42
    bad = outcomes[1]
    assert isinstance(bad, LineBad)
    assert bad.message.startswith("f:2: receivedAt: not an ISO-8601 timestamp")


def test_file_clock_latest_time_plus_one_makes_line_order_receive_order() -> None:
    outcomes = list(
        read_lines(
            lines(
                snapshot(connected=T0 + 100),  # first line, no receivedAt: clock 0 -> event time = observed
                detail(T0 + 50),  # received at latest seen + 1
                snapshot(connected=T0),  # an older view received later: event time = receive time
                detail(T0 + 10_000),
                snapshot(connected=T0),
            ),
            source_name="f",
        )
    )
    got = [(e.received_at, e.event_time) for e in events(outcomes)]
    assert got == [
        (0, T0 + 100),
        (T0 + 101, T0 + 50),
        (T0 + 102, T0 + 102),
        (T0 + 103, T0 + 10_000),
        (T0 + 10_001, T0 + 10_001),
    ]


def test_eventbridge_timestamp_is_the_receive_time_and_advances_the_clock() -> None:
    outcomes = list(
        read_lines(
            lines(eventbridge(T0, "2025-01-01T10:00:05.000Z"), snapshot(connected=T0)), source_name="f"
        )
    )
    first, second = events(outcomes)
    assert (first.received_at, first.event_time) == (T0 + 5000, T0)
    assert second.received_at == T0 + 5001


def test_explicit_received_at_advances_the_clock() -> None:
    outcomes = list(
        read_lines(
            lines(detail(T0, "acd.start") | {"receivedAt": T0 + 900}, detail(T0 + 1, "acd.end")),
            source_name="f",
        )
    )
    assert [e.received_at for e in events(outcomes)] == [T0 + 900, T0 + 901]


def test_one_clock_across_files() -> None:
    clock = FileClock()
    first = events(list(read_lines(lines(detail(T0 + 700)), source_name="a", clock=clock)))
    second = events(list(read_lines(lines(snapshot(connected=T0)), source_name="b", clock=clock)))
    assert (first[0].received_at, second[0].received_at, second[0].event_time) == (0, T0 + 701, T0 + 701)


def test_bom_and_crlf_are_tolerated() -> None:
    outcomes = list(read_lines(["\ufeff" + json.dumps(snapshot()) + "\r\n"], source_name="f"))
    assert isinstance(outcomes[0], LineEvents)


def test_deeply_nested_json_is_a_bad_line_not_a_crash() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    outcomes = list(read_lines([deep, json.dumps(snapshot())], source_name="hostile.jsonl"))
    assert isinstance(outcomes[0], LineBad)
    assert outcomes[0].message.startswith("hostile.jsonl:1: ")
    assert "nested too deeply" in outcomes[0].message
    assert isinstance(outcomes[1], LineEvents)


def test_conversation_id_with_nul_is_a_bad_line() -> None:
    outcomes = list(read_lines([json.dumps(snapshot(conv="nul\x00id"))], source_name="nul.jsonl"))
    assert isinstance(outcomes[0], LineBad)
    assert "NUL" in outcomes[0].message
