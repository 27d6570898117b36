"""Hostile but legal input: lone surrogates, out-of-range times, odd ids, pages with a bad record, the SDK's
``to_json()`` form. Each is repaired or rejected with a reason; none escapes as another exception, and the
good input around it keeps flowing (file, WebSocket, analytics backfill, Avro encode, ``convstream fold``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any, cast

import pytest

from consumer.bridge.publish import Bridge
from consumer.bridge.sources import stream_items
from consumer.cli import main
from consumer.codec.avro import decode_event, encode_event
from consumer.codec.schemas import CONVERSATION_EVENT, current
from consumer.domain.events import ConversationSnapshot, DetailEvent
from consumer.errors import NormalizeError
from consumer.genesys.cloud.analytics import AnalyticsReader
from consumer.genesys.cloud.source import backfill_items
from consumer.genesys.jsonl import FileClock, LineEvents, read_lines
from consumer.genesys.normalize import Normalized, compute_event_id, normalize_message
from consumer.genesys.times import MAX_TIME_MS, MIN_TIME_MS, format_iso_ms, parse_time
from consumer.ports import BadLine
from tests.unit.bridge.test_bridge import RecordingPublisher, make_bridge

T0 = 1_735_725_600_000  # 2025-01-01T10:00:00Z


def detail(conversation_id: str = "c1", **body: Any) -> dict[str, Any]:
    fields = {"eventTime": T0, "conversationId": conversation_id, "participantId": "p1", "sessionId": "s1",
              "mediaType": "VOICE", "direction": "INBOUND", **body}  # fmt: skip
    return {
        "topicName": f"v2.detail.events.conversation.{conversation_id}.customer.start",
        "eventBody": fields,
    }


def snapshot(conversation_id: str = "c2", **participant: Any) -> dict[str, Any]:
    p = {"id": "p1", "purpose": "customer", "connectedTime": "2025-01-01T10:00:00.000Z",
         "calls": [{"id": "k1", "state": "connected"}], **participant}  # fmt: skip
    return {"topicName": "v2.routing.queues.q1.conversations", "eventBody": {"id": conversation_id,
                                                                            "participants": [p]}}  # fmt: skip


def record(conversation_id: str = "c3", **fields: Any) -> dict[str, Any]:
    return {"conversationId": conversation_id, "conversationStart": "2025-01-01T10:00:00.000Z",
            "participants": [{"participantId": "p1", "purpose": "customer", "sessions": [
                {"sessionId": "s1", "mediaType": "voice", "direction": "inbound", "segments": [
                    {"segmentStart": "2025-01-01T10:00:00.000Z", "segmentEnd": "2025-01-01T10:01:00.000Z",
                     "segmentType": "interact", "disconnectType": "peer"}]}]}], **fields}  # fmt: skip


def one(message: dict[str, Any]) -> Any:
    result = normalize_message(message, received_at=T0, source="file")
    assert isinstance(result, Normalized)
    (event,) = result.events
    return event


# ------------------------------------------------------------------------------------------ surrogates


def test_lone_surrogates_are_repaired_to_the_replacement_character() -> None:
    event = one(detail(ani="+1555\ud800"))
    assert isinstance(event.body, DetailEvent)
    assert event.body.ani == "+1555\ufffd"
    # The event id is the repaired body's: the same as a message that carried U+FFFD itself.
    assert event.event_id == one(detail(ani="+1555\ufffd")).event_id
    named = one(snapshot(name="Ana \ud83d"))  # a backend cut an emoji in half
    assert isinstance(named.body, ConversationSnapshot)
    assert named.body.participants[0].name == "Ana \ufffd"
    encode_event(named)  # encodable after the repair


def test_a_well_formed_surrogate_pair_is_kept() -> None:
    text = json.dumps(detail(ani="PAIR")).replace("PAIR", "\\ud83d\\ude00")
    message = json.loads(text)
    assert one(message).body.ani == "\U0001f600"


def test_surrogates_outside_the_body_are_repaired_too() -> None:
    # The topic's id is the conversation id when the body has none; the correlation id is not hashed.
    message = detail()
    del message["eventBody"]["conversationId"]
    message["topicName"] = "v2.detail.events.conversation.c\udc00.customer.start"
    message["metadata"] = {"CorrelationId": "x\ud800"}
    event = one(message)
    assert (event.conversation_id, event.correlation_id) == ("c\ufffd", "x\ufffd")
    assert event.topic_name == "v2.detail.events.conversation.c\ufffd.customer.start"
    assert decode_event(encode_event(event), current(CONVERSATION_EVENT)) == event


def test_analytics_record_with_a_surrogate_is_repaired() -> None:
    message = record()
    message["participants"][0]["participantName"] = "\udfff"
    assert one(message).conversation_id == "c3"


# ---------------------------------------------------------------------------------------------- times


@pytest.mark.parametrize(
    "value",
    [100_000_000_000_000_000, 2**64, -(2**64), MAX_TIME_MS + 1, MIN_TIME_MS - 1, 1e300, float("inf"),
     "1" * 400, "0001-01-01T00:00:00+01:00", "10000-01-01T00:00:00Z"],
)  # fmt: skip
def test_out_of_range_times_are_rejected_at_normalization(value: object) -> None:
    with pytest.raises(ValueError, match=r"out of range|not an ISO-8601|integral"):
        parse_time(value)
    with pytest.raises(NormalizeError, match=r"eventBody\.eventTime"):
        normalize_message(detail(eventTime=value), received_at=T0, source="file")
    with pytest.raises(NormalizeError, match=r"connectedTime"):
        normalize_message(snapshot(connectedTime=value), received_at=T0, source="file")


def test_time_range_ends_print_zero_padded_and_round_trip() -> None:
    assert format_iso_ms(MIN_TIME_MS) == "0001-01-01T00:00:00.000Z"
    assert format_iso_ms(MAX_TIME_MS) == "9999-12-31T23:59:59.999Z"
    assert format_iso_ms(parse_time("0999-03-04T05:06:07.089Z")) == "0999-03-04T05:06:07.089Z"
    for ms in (MIN_TIME_MS, MAX_TIME_MS, 0, T0):
        assert parse_time(format_iso_ms(ms)) == ms


def test_lowercase_zone_designator_is_accepted() -> None:
    assert parse_time("2025-01-01T10:00:00.000z") == T0
    assert parse_time("2025-01-01t10:00:00z") == T0
    event = one(snapshot(connectedTime="2025-01-01T10:00:00.000z"))
    assert event.body.participants[0].connected_time == T0


def test_integers_beyond_64_bits_are_rejected() -> None:
    with pytest.raises(NormalizeError, match="wrapupDurationMs: integer out of range"):
        normalize_message(detail(wrapupDurationMs=2**63), received_at=T0, source="file")


# --------------------------------------------------------------------------------- ids, pages, to_json


def test_numeric_correlation_id_is_kept_as_text() -> None:
    for message in (detail(), snapshot()):
        message["metadata"] = {"CorrelationId": 12345}
        assert one(message).correlation_id == "12345"


def test_analytics_page_keeps_good_records_and_reports_the_bad_one() -> None:
    bad = record("c4")
    del bad["conversationId"]
    page = {"conversations": [record("c3"), bad, record("c5")]}
    result = normalize_message(page, received_at=T0, source="analytics")
    assert isinstance(result, Normalized)
    assert [e.conversation_id for e in result.events] == ["c3", "c5"]
    assert result.rejected == ("conversations[1].conversationId missing",)
    with pytest.raises(NormalizeError, match=r"conversations\[0\]\.conversationId missing"):
        normalize_message({"conversations": [bad]}, received_at=T0, source="analytics")
    (outcome,) = read_lines([json.dumps(page)], source_name="f")
    assert isinstance(outcome, LineEvents)
    assert outcome.messages == ("f:1: conversations[1].conversationId missing",)


@pytest.mark.parametrize(
    ("message", "where"),
    [
        ({"conversation_id": "c", "conversation_start": "2025-01-01T10:00:00Z", "participants": []},
         "record.conversation_id"),
        (snapshot(connected_time="2025-01-01T10:00:00.000Z"), "eventBody.participants[0].connected_time"),
        (snapshot(calls=[{"id": "k", "state": "connected", "disconnect_type": "peer"}]),
         "eventBody.participants[0].calls[0].disconnect_type"),
        ({"topicName": "v2.detail.events.conversation.c.user.start",
          "eventBody": {"conversation_id": "c", "event_time": T0}}, "eventBody.conversation_id"),
        ({"conversations": [record(participants=[{"participant_id": "p"}])]},
         "conversations[0].participants[0].participant_id"),
    ],
)  # fmt: skip
def test_sdk_to_json_form_is_rejected_with_what_is_wrong(message: dict[str, Any], where: str) -> None:
    with pytest.raises(NormalizeError) as caught:
        normalize_message(message, received_at=T0, source="file")
    text = str(caught.value)
    assert text.startswith(f"{where}: snake_case field names")
    assert "to_json()" in text
    assert "sanitize_for_serialization" in text


def test_nesting_deeper_than_any_payload_is_a_normalize_error() -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(NormalizeError, match="nested too deeply"):
        normalize_message(detail(attributes={"a": deep}), received_at=T0, source="file")


def test_event_id_of_surrogate_free_body_is_unchanged_by_the_repair_path() -> None:
    message = detail()
    assert one(message).event_id == compute_event_id(message["topicName"], message["eventBody"])


# ------------------------------------------------------------------------------ bridge, backfill, fold

HOSTILE_LINES = [
    json.dumps(detail("c1", ani="\ud800")),
    json.dumps(detail("c2", eventTime=100_000_000_000_000_000)),
    json.dumps(detail("c3", eventTime=2**64)),
    json.dumps({"conversations": [record("c4"), {"conversationStart": "2025-01-01T10:00:00Z"}]}),
    json.dumps(record("c5", conversation_end="x")),
    json.dumps(detail("c6")),
]


def test_bridge_file_source_reports_each_bad_line_and_publishes_the_rest() -> None:
    items = list(stream_items(BytesIO(("\n".join(HOSTILE_LINES) + "\n").encode()), source_name="f",
                              clock=FileClock()))  # fmt: skip
    publisher = RecordingPublisher()
    reports: list[str] = []
    summary = make_bridge(publisher, reports).run(items)
    assert sorted(key for _, key, _ in publisher.records) == ["c1", "c4", "c6"]
    bad = [r for r in reports if r.startswith("f:")]
    assert [r.split(":")[1] for r in bad] == ["2", "3", "4", "5"]
    assert "timestamp out of range" in bad[0]
    assert "conversations[1].conversationId missing" in bad[2]
    assert "to_json()" in bad[3]
    assert summary.exit_code == 2


def test_bridge_reports_an_event_the_encoder_refuses_and_goes_on() -> None:
    good = one(detail("c1"))
    broken = good.__class__(
        **{**{f: getattr(good, f) for f in good.__dataclass_fields__}, "event_time": 2**64}
    )
    publisher = RecordingPublisher()
    reports: list[str] = []
    bridge: Bridge = make_bridge(publisher, reports)
    summary = bridge.run([broken, good])
    assert [key for _, key, _ in publisher.records] == ["c1"]
    assert summary.bad_lines == 1
    assert any("cannot be Avro-encoded" in r and "c1" in r for r in reports)


class _Reader:
    def __init__(self, records: list[dict[str, Any]]) -> None:
        self._records = records

    def records(self, start: int, end: int, *, method: str | None = None) -> Iterator[dict[str, Any]]:
        yield from self._records


def test_analytics_backfill_reports_bad_records_and_keeps_the_rest() -> None:
    surrogate = record("c7")
    surrogate["participants"][0]["participantName"] = "\ud800"
    far = record("c8", conversationEnd=2**64)
    reader = cast(AnalyticsReader, _Reader([surrogate, far, record("c9")]))
    items = list(backfill_items(reader, 0, 1, received_at=T0))
    assert [getattr(i, "conversation_id", None) for i in items] == ["c7", None, "c9"]
    assert isinstance(items[1], BadLine)
    assert "conversationEnd: timestamp out of range" in str(items[1])


def test_fold_command_reports_hostile_lines_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(HOSTILE_LINES) + "\n", encoding="utf-8")
    code = main(["fold", str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert [json.loads(line)["conversation_id"] for line in out.splitlines()] == ["c1", "c4", "c6"]
    assert "Traceback" not in err
    assert [line.split(":")[1] for line in err.splitlines()] == ["2", "3", "4", "5"]


def test_websocket_messages_with_lone_surrogates_are_decoded_not_dropped() -> None:
    from consumer.genesys.cloud.notifications import _loads

    raw = json.dumps(detail(ani="\ud800")).encode()  # json writes the escape: legal JSON, orjson refuses it
    message = _loads(raw)
    assert message["eventBody"]["ani"] == "\ud800"
    assert one(message).body.ani == "\ufffd"  # then repaired by normalization
    assert _loads(b"not json") is None
    assert _loads("[" * 100_000) is None


def test_an_api_body_that_is_not_json_is_a_retryable_genesys_error() -> None:
    import httpx

    from consumer.errors import GenesysUnavailableError
    from consumer.genesys.cloud.client import _decoded

    for content in (b'{"conversations": [', b"[" * 100_000):
        with pytest.raises(GenesysUnavailableError, match="not JSON"):
            _decoded(httpx.Response(200, content=content), "/api/v2/analytics/conversations/details/query")
    assert _decoded(httpx.Response(200, content=b'{"a": "\\ud800"}'), "/x") == {"a": "\ud800"}


def test_queue_directory_names_with_lone_surrogates_are_repaired(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from consumer.bridge.sources import queue_records
    from consumer.codec.avro import encode_queue

    line = json.dumps({"id": "q1", "name": "Sales \ud83d", "divisionId": "d\udc00"}).encode()
    (record,) = list(queue_records([line], source_name="queues.jsonl", updated_at=T0))
    assert not isinstance(record, BadLine)
    assert (record["name"], record["division_id"]) == ("Sales \ufffd", "d\ufffd")
    encode_queue(record)
    queues = tmp_path / "queues.jsonl"
    queues.write_bytes(line + b"\n")
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(snapshot("c9", queueId="q1", purpose="acd")) + "\n", encoding="utf-8")
    assert main(["fold", "--queues", str(queues), str(events)]) == 0
    assert json.loads(capsys.readouterr().out)["last_queue_name"] == "Sales \ufffd"


def test_file_clock_never_passes_the_last_representable_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    last = {**detail("c1"), "receivedAt": "9999-12-31T23:59:59.999Z"}
    path = tmp_path / "edge.jsonl"
    path.write_text("\n".join(json.dumps(m) for m in (last, snapshot("c2"))) + "\n", encoding="utf-8")
    assert main(["fold", str(path)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[1]["last_event_at"] == "9999-12-31T23:59:59.999Z"


class _RefusingReader:
    calls = 0

    def method_for(self, start: int, end: int) -> str:
        return "query"

    def records(self, start: int, end: int, *, method: str | None = None) -> Iterator[dict[str, Any]]:
        from consumer.errors import GenesysApiError

        if self.calls >= 0:  # always: a generator that is refused on its first step
            raise GenesysApiError("400 interval too long", status=400)
        yield {}


def test_a_backfill_genesys_refuses_is_counted_and_the_gap_closed_not_fatal() -> None:
    import threading

    from prometheus_client import CollectorRegistry
    from pydantic import SecretStr

    from consumer.genesys.cloud.client import GenesysClient
    from consumer.genesys.cloud.metrics import GenesysMetrics
    from consumer.genesys.cloud.source import Gap, GenesysSource
    from consumer.settings import GenesysSettings

    registry = CollectorRegistry()
    metrics = GenesysMetrics(registry)
    settings = GenesysSettings(
        client_id="id",
        client_secret=SecretStr("secret"),
        api_base_url="http://127.0.0.1:9",
        login_base_url="http://127.0.0.1:9",
    )
    client = GenesysClient(settings, metrics)
    try:
        source = GenesysSource(client, settings, metrics, publish_queues=list, stop=threading.Event())
        source._reader = cast(AnalyticsReader, _RefusingReader())
        gap = Gap(start=0, end=60_000, due=0.0)
        source.gaps.append(gap)
        assert list(source._backfill(gap)) == []
    finally:
        client.close()
    assert source.gaps == []
    labels = {"method": "query", "outcome": "refused"}
    assert registry.get_sample_value("convstream_bridge_backfills_total", labels) == 1.0
