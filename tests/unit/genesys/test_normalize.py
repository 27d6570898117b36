"""Normalization of every accepted Genesys shape into domain events (SDK field names, reference §2-§5)."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import pytest

from consumer.domain.events import ConversationSnapshot, DetailEvent
from consumer.errors import NormalizeError, UnknownTopicError
from consumer.genesys.details import DETAIL_KINDS
from consumer.genesys.enums import DISCONNECT_TYPES, normalize_disconnect_type, normalize_media_type
from consumer.genesys.normalize import (
    ANALYTICS_TOPIC,
    Ignored,
    Normalized,
    compute_event_id,
    normalize_message,
    topic_pattern,
)
from consumer.genesys.times import format_iso_ms, parse_time

T0 = 1735725600000  # 2025-01-01T10:00:00.000Z
RECEIVED = T0 + 3_600_000  # an hour later: later than every observed time below


def iso(offset_ms: int) -> str:
    return format_iso_ms(T0 + offset_ms)


def one(message: dict[str, Any], *, received_at: int = RECEIVED) -> Any:
    result = normalize_message(message, received_at=received_at, source="notifications")
    assert isinstance(result, Normalized)
    assert len(result.events) == 1
    return result.events[0]


def generic_message() -> dict[str, Any]:
    """A generic queue-topic message with every media array the fold reads."""
    return {
        "topicName": "v2.routing.queues.Q1.conversations",
        "version": "2",
        "metadata": {"CorrelationId": "corr-1"},
        "eventBody": {
            "id": "CONV1",
            "externalTag": "ext-1",
            "divisions": [{"division": {"id": "D1", "selfUri": "/d/D1"}, "entities": [{"id": "Q1"}]}],
            "participants": [
                {
                    "id": "P-cust",
                    "purpose": "Customer",
                    "address": "tel:+1555",
                    "connectedTime": iso(100),
                    "attributes": {"accountId": "42", "vip": True},
                    "calls": [
                        {
                            "id": "C1",
                            "state": "CONNECTED",
                            "initialState": "alerting",
                            "direction": "inbound",
                            "held": True,
                            "confined": False,
                            "startHoldTime": iso(200),
                            "connectedTime": iso(100),
                        }
                    ],
                },
                {
                    "id": "P-agent",
                    "purpose": "agent",
                    "userId": "U1",
                    "queueId": "Q1",
                    "name": "Alice",
                    "connectedTime": iso(1000),
                    "endTime": iso(5000),
                    "startAcwTime": iso(5000),
                    "wrapupRequired": True,
                    "wrapupExpected": True,
                    "conversationRoutingData": {"queue": {"id": "Q1", "name": "Billing"}, "priority": 0},
                    "monitoredParticipantId": None,
                    "calls": [
                        {
                            "id": "C2",
                            "state": "disconnected",
                            "disconnectType": "transfer.consult",
                            "connectedTime": iso(1000),
                            "disconnectedTime": iso(5000),
                            "afterCallWork": {"state": "pending", "startTime": iso(5000)},
                            "wrapup": {"code": "WC1", "notes": "n", "durationSeconds": 7},
                        }
                    ],
                    "callbacks": [
                        {"id": "CB1", "state": "scheduled", "callbackScheduledTime": iso(99_000_000)}
                    ],
                    "chats": [{"id": "CH1", "state": "alerting"}],
                    "emails": [
                        {"id": "E1", "state": "parked", "parkTime": iso(300), "resumeTime": iso(88_000_000)}
                    ],
                    "messages": [{"id": "M1", "state": "connected", "type": "webmessaging"}],
                    "cobrowsesessions": [{"id": "CO1", "state": "connected"}],
                    "videos": [],
                    "screenshares": None,
                },
                {
                    "id": "P-sup",
                    "purpose": "agent",
                    "monitoredParticipantId": "P-agent",
                    "calls": [{"id": "C3", "state": "connected"}],
                },
            ],
        },
    }


def test_generic_topic_snapshot_maps_sdk_fields() -> None:
    event = one(generic_message())
    assert (event.conversation_id, event.topic_pattern, event.correlation_id) == (
        "CONV1",
        "v2.routing.queues.{id}.conversations",
        "corr-1",
    )
    body = event.body
    assert isinstance(body, ConversationSnapshot)
    assert body.external_tag == "ext-1"
    assert body.division_ids == ("D1",)
    cust, agent, sup = body.participants
    assert cust.purpose == "customer"
    assert cust.attributes == {"accountId": "42", "vip": "true"}
    call = cust.communications[0]
    assert (call.media_type, call.state, call.initial_state, call.held, call.confined) == (
        "voice",
        "connected",
        "alerting",
        True,
        False,
    )
    assert call.start_hold_time == T0 + 200
    assert (agent.user_id, agent.queue_id, agent.queue_name) == ("U1", "Q1", "Billing")
    assert (agent.end_time, agent.start_acw_time, agent.wrapup_required, agent.wrapup_expected) == (
        T0 + 5000,
        T0 + 5000,
        True,
        True,
    )
    assert (agent.wrapup_code, agent.wrapup_notes, agent.wrapup_duration_seconds) == ("WC1", "n", 7)
    media = {c.id: c.media_type for c in agent.communications}
    assert media == {
        "C2": "voice",
        "CB1": "callback",
        "CH1": "chat",
        "E1": "email",
        "M1": "message",
        "CO1": "cobrowse",
    }
    c2 = agent.communications[0]
    assert (c2.disconnect_type, c2.acw_state, c2.acw_start_time) == ("transfer.consult", "pending", T0 + 5000)
    assert sup.monitored_participant_id == "P-agent"


def test_generic_queue_name_only_from_the_participants_own_routing_queue() -> None:
    message = generic_message()
    agent = message["eventBody"]["participants"][1]
    agent["conversationRoutingData"]["queue"] = {"id": "Q-other", "name": "Other"}
    assert one(message).body.participants[1].queue_name is None


def test_users_topic_has_the_same_shape() -> None:
    message = generic_message()
    message["topicName"] = "v2.users.U1.conversations"
    event = one(message)
    assert event.topic_pattern == "v2.users.{id}.conversations"
    assert len(event.body.participants) == 3


@pytest.mark.parametrize(
    ("suffix", "media_type"),
    [
        ("calls", "voice"),
        ("callbacks", "callback"),
        ("chats", "chat"),
        ("emails", "email"),
        ("messages", "message"),
        ("cobrowseSessions", "cobrowse"),
        ("videos", "video"),
    ],
)
def test_media_specific_topic_flattened_participants(suffix: str, media_type: str) -> None:
    message = {
        "topicName": f"v2.routing.queues.Q1.conversations.{suffix}",
        "version": "2",
        "eventBody": {
            "id": "CONV1",
            "participants": [
                {
                    "id": "P-acd",
                    "purpose": "acd",
                    "name": "Billing",
                    "queue": {"id": "Q1", "name": "Billing"},
                    "state": "DISCONNECTED",
                    "disconnectType": "transfer",
                    "connectedTime": iso(10),
                    "endTime": iso(20),
                },
                {
                    "id": "P-agent",
                    "purpose": "agent",
                    "user": {"id": "U1", "name": "Alice"},
                    "queue": {"id": "Q1", "name": ""},
                    "state": "connected",
                    "direction": "inbound",
                    "held": False,
                    "confined": True,
                    "startHoldTime": iso(30),
                    "parkTime": iso(40),
                    "resumeTime": iso(9_000_000),
                    "callbackScheduledTime": iso(9_000_000),
                    "startAcwTime": iso(50),
                    "wrapupRequired": True,
                    "wrapup": {"code": "WC", "notes": "x", "durationSeconds": 3},
                    "monitoredParticipantId": None,
                    "ani": "tel:+1",
                },
            ],
        },
    }
    event = one(message, received_at=T0)
    assert event.topic_pattern == f"v2.routing.queues.{{id}}.conversations.{suffix}"
    acd, agent = event.body.participants
    assert (acd.queue_id, acd.queue_name, acd.end_time) == ("Q1", "Billing", T0 + 20)
    assert [c.id for c in acd.communications] == [f"P-acd:{media_type}"]
    assert (acd.communications[0].state, acd.communications[0].disconnect_type) == (
        "disconnected",
        "transfer",
    )
    assert (agent.user_id, agent.queue_id, agent.queue_name) == ("U1", "Q1", None)
    comm = agent.communications[0]
    assert (comm.id, comm.media_type, comm.confined, comm.start_hold_time) == (
        f"P-agent:{media_type}",
        media_type,
        True,
        T0 + 30,
    )
    assert (comm.park_time, comm.resume_time, comm.callback_scheduled_time) == (
        T0 + 40,
        T0 + 9_000_000,
        T0 + 9_000_000,
    )
    assert (agent.start_acw_time, agent.wrapup_code) == (T0 + 50, "WC")
    # resumeTime / callbackScheduledTime are scheduled, not observed: the event time is the ACW start.
    assert event.event_time == T0 + 50


def detail_message(kind: str, **fields: Any) -> dict[str, Any]:
    body = {
        "eventTime": T0 + 500,
        "conversationId": "CONV1",
        "participantId": "P1",
        "sessionId": "S1",
        "mediaType": "VOICE",
        "provider": "Edge",
        "direction": "INBOUND",
        "ani": "tel:+1",
        "dnis": "tel:+2",
        **fields,
    }
    return {
        "topicName": f"v2.detail.events.conversation.CONV1.{kind}",
        "version": "2",
        "eventBody": body,
        "metadata": {"CorrelationId": "c"},
    }


@pytest.mark.parametrize("kind", sorted(DETAIL_KINDS))
def test_every_detail_kind(kind: str) -> None:
    event = one(detail_message(kind, disconnectType="CONSULT_TRANSFER"), received_at=T0 + 99_999)
    assert event.topic_pattern == f"v2.detail.events.conversation.{{id}}.{kind}"
    assert (event.conversation_id, event.event_time, event.received_at) == ("CONV1", T0 + 500, T0 + 99_999)
    body = event.body
    assert isinstance(body, DetailEvent)
    assert (body.kind, body.participant_id, body.session_id) == (kind, "P1", "S1")
    assert (body.media_type, body.direction, body.disconnect_type) == ("voice", "inbound", "transfer.consult")
    assert (body.ani, body.dnis) == ("tel:+1", "tel:+2")


def test_detail_field_names_per_kind() -> None:
    acd_end = one(
        detail_message(
            "acd.end",
            queueId="Q1",
            divisionId="D1",
            acdOutcome="FLOW_OUT",
            answeredUserId="U1",
            usedRouting="STANDARD",
            flowType="INBOUNDCALL",
        )
    ).body
    assert (acd_end.queue_id, acd_end.division_id, acd_end.acd_outcome, acd_end.answered_user_id) == (
        "Q1",
        "D1",
        "flow_out",
        "U1",
    )
    assert acd_end.flow_type == "inboundcall"
    acw = one(
        detail_message(
            "acw", userId="U1", queueId="Q1", wrapupCode="WC-ID", wrapupNotes="notes", wrapupDurationMs=45000
        )
    ).body
    assert (acw.user_id, acw.wrapup_code, acw.wrapup_notes, acw.wrapup_duration_ms) == (
        "U1",
        "WC-ID",
        "notes",
        45000,
    )
    flow = one(detail_message("flow.start", flowType="BOT", flowId="F1", flowVersion="1.0")).body
    assert (flow.flow_type, flow.flow_id) == ("bot", "F1")
    outbound = one(
        detail_message(
            "outbound", outboundCampaignId="CA", outboundContactListId="CL", outboundContactId="CO"
        )
    ).body
    assert (
        outbound.outbound_campaign_id,
        outbound.outbound_contact_list_id,
        outbound.outbound_contact_id,
    ) == ("CA", "CL", "CO")
    attrs = one(
        detail_message(
            "attributes",
            attributes={"a": "1"},
            participantStartTime=T0,
            communications=[{"id": "S1", "mediaType": "VOICE"}],
        )
    ).body
    assert attrs.attributes == {"a": "1"}
    start = one(detail_message("customer.start", externalContactId="EC", callbackScheduledTime=T0 + 7)).body
    assert (start.external_contact_id, start.callback_scheduled_time) == ("EC", T0 + 7)


def test_detail_conversation_id_must_match_the_topic() -> None:
    message = detail_message("acd.start")
    message["eventBody"]["conversationId"] = "OTHER"
    with pytest.raises(NormalizeError, match="differs from the topic"):
        one(message)
    del message["eventBody"]["conversationId"]
    assert one(message).conversation_id == "CONV1"


def test_detail_event_needs_event_time() -> None:
    message = detail_message("user.start")
    del message["eventBody"]["eventTime"]
    with pytest.raises(NormalizeError, match=r"eventBody\.eventTime missing"):
        one(message)


# -- the four disconnect spellings ------------------------------------------------------------------

TOPIC_SPELLINGS = [
    "endpoint",
    "endpoint.dnd",
    "client",
    "system",
    "timeout",
    "transfer",
    "transfer.conference",
    "transfer.consult",
    "transfer.forward",
    "transfer.noanswer",
    "transfer.notavailable",
    "transfer.dnd",
    "transport.failure",
    "error",
    "peer",
    "other",
    "spam",
    "uncallable",
    "inactivity",
    "session.expired",
    "takeover",
]
DETAIL_SPELLINGS = {
    "UNKNOWN": "unknown",
    "ENDPOINT": "endpoint",
    "CLIENT": "client",
    "SYSTEM": "system",
    "TRANSFER": "transfer",
    "ERROR": "error",
    "PEER": "peer",
    "OTHER": "other",
    "SPAM": "spam",
    "TIMEOUT": "timeout",
    "TRANSPORT_FAILURE": "transport.failure",
    "CONFERENCE_TRANSFER": "transfer.conference",
    "CONSULT_TRANSFER": "transfer.consult",
    "FORWARD_TRANSFER": "transfer.forward",
    "NO_ANSWER_TRANSFER": "transfer.noanswer",
    "NOT_AVAILABLE_TRANSFER": "transfer.notavailable",
    "UNCALLABLE": "uncallable",
    "DND_ENDPOINT": "endpoint.dnd",
    "DND_TRANSFER": "transfer.dnd",
    "INACTIVITY": "inactivity",
    "SESSION_EXPIRED": "session.expired",
    "TAKEOVER": "takeover",
}
ANALYTICS_SPELLINGS = {
    "client": "client",
    "conferenceTransfer": "transfer.conference",
    "consultTransfer": "transfer.consult",
    "dndEndpoint": "endpoint.dnd",
    "dndTransfer": "transfer.dnd",
    "endpoint": "endpoint",
    "error": "error",
    "forwardTransfer": "transfer.forward",
    "inactivity": "inactivity",
    "noAnswerTransfer": "transfer.noanswer",
    "notAvailableTransfer": "transfer.notavailable",
    "other": "other",
    "peer": "peer",
    "sessionExpired": "session.expired",
    "spam": "spam",
    "system": "system",
    "takeover": "takeover",
    "timeout": "timeout",
    "transfer": "transfer",
    "transportFailure": "transport.failure",
    "uncallable": "uncallable",
}


@pytest.mark.parametrize("spelling", TOPIC_SPELLINGS)
def test_conversation_topic_spelling_is_the_canonical_one(spelling: str) -> None:
    assert normalize_disconnect_type(spelling) == spelling
    assert spelling in DISCONNECT_TYPES


@pytest.mark.parametrize(
    ("spelling", "canonical"), sorted({**DETAIL_SPELLINGS, **ANALYTICS_SPELLINGS}.items())
)
def test_detail_and_analytics_spellings_map_to_one(spelling: str, canonical: str) -> None:
    assert normalize_disconnect_type(spelling) == canonical


@pytest.mark.parametrize(
    "spelling",
    ["transfer.consult", "CONSULT_TRANSFER", "consultTransfer", "ConsultTransfer", "consult_transfer"],
)
def test_four_spellings_of_consult_transfer(spelling: str) -> None:
    assert normalize_disconnect_type(spelling) == "transfer.consult"


def test_unknown_disconnect_type_is_lowercased_not_guessed() -> None:
    assert normalize_disconnect_type("BRAND_NEW_REASON") == "brand_new_reason"
    assert normalize_disconnect_type(None) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("VOICE", "voice"),
        ("call", "voice"),
        ("CALLBACK", "callback"),
        ("Message", "message"),
        ("INTERNALMESSAGE", "internalmessage"),
    ],
)
def test_media_types(value: str, expected: str) -> None:
    assert normalize_media_type(value) == expected


# -- times --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-01T10:00:00.100Z", T0 + 100),
        ("2025-01-01T10:00:00Z", T0),
        ("2025-01-01T12:00:00.5+02:00", T0 + 500),
        ("2025-01-01T10:00:00.123456Z", T0 + 123),
        ("2025-01-01T10:00:00", T0),
        (T0 + 1, T0 + 1),
        (float(T0), T0),
        (str(T0), T0),
        (" 2025-01-01T05:00:00.000-05:00 ", T0),
    ],
)
def test_parse_time(value: object, expected: int) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "", True, None, 1.5, [], "2025-13-01T00:00:00Z"])
def test_parse_time_rejects(value: object) -> None:
    with pytest.raises(ValueError):
        parse_time(value)


def test_format_iso_ms_round_trips() -> None:
    assert format_iso_ms(T0 + 100) == "2025-01-01T10:00:00.100Z"
    assert format_iso_ms(0) == "1970-01-01T00:00:00.000Z"
    for ms in (T0, T0 + 1, T0 + 999, 4_102_444_800_123):
        assert parse_time(format_iso_ms(ms)) == ms


def test_bad_time_names_the_field() -> None:
    message = generic_message()
    message["eventBody"]["participants"][0]["connectedTime"] = "soon"
    with pytest.raises(NormalizeError, match=r"eventBody\.participants\[0\]\.connectedTime: not an ISO-8601"):
        one(message)


# -- event id and event time ------------------------------------------------------------------------


def test_event_id_formula() -> None:
    message = generic_message()
    canonical = json.dumps(message["eventBody"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    want = hashlib.sha256(f"{message['topicName']}\n{canonical}".encode()).hexdigest()
    assert one(message).event_id == want == compute_event_id(message["topicName"], message["eventBody"])


def test_event_id_ignores_key_order_whitespace_metadata_and_receive_time() -> None:
    message = generic_message()
    reordered = json.loads(json.dumps(message, indent=3, sort_keys=True))
    reordered["eventBody"] = dict(reversed(list(reordered["eventBody"].items())))
    reordered["metadata"] = {"CorrelationId": "another delivery"}
    assert one(message).event_id == one(reordered, received_at=RECEIVED + 5).event_id


def test_event_id_differs_by_topic_and_body() -> None:
    message = generic_message()
    other_topic = copy.deepcopy(message)
    other_topic["topicName"] = "v2.users.U1.conversations"
    other_body = copy.deepcopy(message)
    other_body["eventBody"]["externalTag"] = "ext-2"
    ids = {one(m).event_id for m in (message, other_topic, other_body)}
    assert len(ids) == 3


def test_event_id_keeps_non_ascii() -> None:
    message = generic_message()
    message["eventBody"]["externalTag"] = "Zoë – 東京"
    canonical = json.dumps(message["eventBody"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "Zoë" in canonical
    assert (
        one(message).event_id
        == hashlib.sha256((message["topicName"] + "\n" + canonical).encode("utf-8")).hexdigest()
    )


def test_snapshot_event_time_is_receive_time_when_later() -> None:
    assert one(generic_message(), received_at=RECEIVED).event_time == RECEIVED


def test_snapshot_event_time_is_latest_observed_time_when_later_than_receive_time() -> None:
    # observed: customer connected 100, hold 200, email park 300, agent end/ACW 5000 — not the
    # scheduled callback (99_000_000) nor the email resume time (88_000_000).
    event = one(generic_message(), received_at=T0)
    assert (event.event_time, event.received_at) == (T0 + 5000, T0)


def test_snapshot_without_times_uses_receive_time() -> None:
    message = {
        "topicName": "v2.routing.queues.Q1.conversations",
        "eventBody": {
            "id": "C",
            "participants": [
                {
                    "id": "P",
                    "purpose": "acd",
                    "callbacks": [{"id": "CB", "state": "scheduled", "callbackScheduledTime": iso(50_000)}],
                }
            ],
        },
    }
    assert one(message, received_at=T0).event_time == T0


# -- other shapes -----------------------------------------------------------------------------------


def test_eventbridge_event() -> None:
    inner = detail_message("acd.end", acdOutcome="ANSWERED", answeredUserId="U1", queueId="Q1")
    message = {
        "version": "0",
        "id": "aws-1",
        "detail-type": "v2.detail.events.conversation.{id}.acd.end",
        "source": "aws.partner/genesys.com/cloud/org/suffix",
        "account": "1",
        "time": "2025-01-01T10:00:01Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {**inner, "timestamp": "2025-01-01T10:00:00.913Z"},
    }
    result = normalize_message(message, received_at=0, source="file")
    assert isinstance(result, Normalized)
    event = result.events[0]
    assert (event.source, event.received_at, event.event_time) == ("eventbridge", T0 + 913, T0 + 500)
    assert isinstance(event.body, DetailEvent)
    assert event.body.acd_outcome == "answered"
    # the same Genesys message over the WebSocket has the same id: duplicates across transports collapse
    assert event.event_id == one(inner).event_id


def test_eventbridge_from_another_source_is_rejected() -> None:
    message = {"detail-type": "x", "source": "aws.events", "detail": detail_message("acd.end")}
    with pytest.raises(NormalizeError, match="EventBridge source"):
        normalize_message(message, received_at=0, source="file")


def test_eventbridge_test_org_source_prefix() -> None:
    message = {
        "detail-type": "x",
        "source": "aws.partner/genesys.com.test/cloud/o/s",
        "detail": detail_message("acw"),
    }
    result = normalize_message(message, received_at=T0, source="file")
    assert isinstance(result, Normalized)
    assert result.events[0].received_at == T0


def analytics_record() -> dict[str, Any]:
    return {
        "conversationId": "CONV9",
        "conversationStart": iso(0),
        "originatingDirection": "INBOUND",
        "conversationInitiator": "customer",
        "customerParticipation": True,
        "selfServed": False,
        "mediaStatsMinConversationMos": 4.4,
        "mediaStatsMinConversationRFactor": 90,
        "divisionIds": ["D1", "D1"],
        "externalTag": "t",
        "participants": [
            {
                "participantId": "P-cust",
                "participantName": "Jane",
                "purpose": "customer",
                "sessions": [
                    {
                        "sessionId": "S-cust",
                        "mediaType": "voice",
                        "direction": "inbound",
                        "segments": [{"segmentStart": iso(0), "segmentType": "interact"}],
                    }
                ],
            },
            {
                "participantId": "P-acd",
                "participantName": "Billing",
                "purpose": "acd",
                "sessions": [
                    {
                        "sessionId": "S-acd",
                        "mediaType": "voice",
                        "segments": [
                            {
                                "segmentStart": iso(10),
                                "segmentEnd": iso(60),
                                "segmentType": "interact",
                                "queueId": "Q1",
                                "disconnectType": "transfer",
                            }
                        ],
                    }
                ],
            },
            {
                "participantId": "P-agent",
                "purpose": "agent",
                "userId": "U1",
                "sessions": [
                    {
                        "sessionId": "S-agent",
                        "mediaType": "voice",
                        "segments": [
                            {
                                "segmentStart": iso(50),
                                "segmentEnd": iso(60),
                                "segmentType": "alert",
                                "queueId": "Q1",
                            },
                            {"segmentStart": iso(60), "segmentType": "hold", "queueId": "Q1"},
                        ],
                    }
                ],
            },
            {
                "participantId": "P-agent2",
                "purpose": "agent",
                "userId": "U2",
                "sessions": [
                    {
                        "sessionId": "S-agent2",
                        "mediaType": "voice",
                        "segments": [
                            {
                                "segmentStart": iso(70),
                                "segmentEnd": iso(80),
                                "segmentType": "interact",
                                "disconnectType": "consultTransfer",
                            },
                            {
                                "segmentStart": iso(80),
                                "segmentType": "wrapup",
                                "wrapUpCode": "WC",
                                "wrapUpNote": "note",
                            },
                        ],
                    }
                ],
            },
        ],
    }


def test_analytics_record_is_one_snapshot() -> None:
    record = analytics_record()
    event = one(record, received_at=T0)
    assert (event.source, event.topic_name, event.topic_pattern) == (
        "analytics",
        ANALYTICS_TOPIC,
        ANALYTICS_TOPIC,
    )
    assert event.event_id == compute_event_id(ANALYTICS_TOPIC, record)
    assert event.event_time == T0 + 80  # the latest segment time
    body = event.body
    assert (body.conversation_start, body.conversation_end, body.originating_direction) == (
        T0,
        None,
        "inbound",
    )
    assert (body.customer_participation, body.self_served, body.division_ids, body.external_tag) == (
        True,
        False,
        ("D1",),
        "t",
    )
    assert (body.media_stats_min_conversation_mos, body.media_stats_min_conversation_rfactor) == (4.4, 90.0)
    cust, acd, agent, agent2 = body.participants
    assert (cust.name, cust.communications[0].state, cust.connected_time, cust.end_time) == (
        "Jane",
        "connected",
        T0,
        None,
    )
    assert (acd.queue_id, acd.queue_name, acd.end_time) == ("Q1", None, T0 + 60)
    assert (acd.communications[0].id, acd.communications[0].state) == ("S-acd", "disconnected")
    held = agent.communications[0]
    assert (held.state, held.held, held.start_hold_time, held.connected_time) == (
        "connected",
        True,
        T0 + 60,
        T0 + 60,
    )
    assert agent.user_id == "U1"
    wrap = agent2.communications[0]
    assert (wrap.state, wrap.disconnect_type, wrap.acw_state, wrap.acw_start_time) == (
        "disconnected",
        "transfer.consult",
        "pending",
        T0 + 80,
    )
    assert (agent2.end_time, agent2.start_acw_time, agent2.end_acw_time) == (T0 + 80, T0 + 80, None)
    assert (agent2.wrapup_code, agent2.wrapup_notes) == ("WC", "note")


@pytest.mark.parametrize(
    ("segment_type", "state"),
    [
        ("alert", "alerting"),
        ("dialing", "dialing"),
        ("contacting", "contacting"),
        ("scheduled", "scheduled"),
        ("parked", "parked"),
        ("ivr", "connected"),
    ],
)
def test_analytics_open_segment_states(segment_type: str, state: str) -> None:
    record = {
        "conversationId": "C",
        "participants": [
            {
                "participantId": "P",
                "purpose": "agent",
                "sessions": [
                    {
                        "sessionId": "S",
                        "mediaType": "email",
                        "segments": [{"segmentStart": iso(0), "segmentType": segment_type}],
                    }
                ],
            }
        ],
    }
    assert one(record, received_at=T0).body.participants[0].communications[0].state == state


def test_analytics_query_page_gives_one_event_per_record() -> None:
    other = analytics_record()
    other["conversationId"] = "CONV10"
    result = normalize_message(
        {"conversations": [analytics_record(), other], "totalHits": 2}, received_at=T0, source="file"
    )
    assert isinstance(result, Normalized)
    assert [e.conversation_id for e in result.events] == ["CONV9", "CONV10"]


def test_analytics_record_needs_participant_ids() -> None:
    record = analytics_record()
    del record["participants"][1]["participantId"]
    with pytest.raises(NormalizeError, match=r"record\.participants\[1\]\.participantId missing"):
        one(record)


# -- ignored, unknown, malformed --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"topicName": "channel.metadata", "eventBody": {"message": "WebSocket Heartbeat"}}, "heartbeat"),
        ({"topicName": "channel.metadata", "eventBody": {"message": "pong"}}, "pong"),
        ({"topicName": "channel.metadata", "eventBody": {}}, "channel.metadata"),
        ({"result": "200", "status": "subscribed", "correlationId": "x"}, "subscribe-ack"),
        ({"result": "404"}, "subscribe-ack"),
        ({"topicName": "v2.system.socket_closing", "eventBody": {"message": "bye"}}, "system"),
        ({"topicName": "v2.system.no_longer_subscribed", "eventBody": {}}, "system"),
    ],
)
def test_non_event_messages_are_ignored(message: dict[str, Any], reason: str) -> None:
    assert normalize_message(message, received_at=T0, source="notifications") == Ignored(reason)


@pytest.mark.parametrize(
    "topic",
    [
        "v2.users.U1.conversationsummary",
        "v2.routing.queues.Q1.conversations.faxes",
        "v2.detail.events.conversation.C1.bot.start",
        "v2.conversations.C1.transcription",
        "v2.conversations.chats.C1.messages",
        "v2.routing.queues.Q1",
        "something.else",
    ],
)
def test_unknown_topics_raise(topic: str) -> None:
    with pytest.raises(UnknownTopicError) as info:
        normalize_message(
            {"topicName": topic, "eventBody": {"id": "C"}}, received_at=T0, source="notifications"
        )
    assert info.value.topic_name == topic
    with pytest.raises(UnknownTopicError):
        topic_pattern(topic)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m["eventBody"].pop("id"), r"^eventBody\.id missing$"),
        (lambda m: m.pop("eventBody"), r"^eventBody missing$"),
        (lambda m: m.__setitem__("eventBody", [1]), r"^eventBody: expected a JSON object, got a list$"),
        (lambda m: m["eventBody"].__setitem__("participants", {}), r"participants: expected a list"),
        (
            lambda m: m["eventBody"]["participants"][0].pop("id"),
            r"^eventBody\.participants\[0\]\.id missing$",
        ),
        (
            lambda m: m["eventBody"]["participants"][1]["calls"][0].pop("id"),
            r"^eventBody\.participants\[1\]\.calls\[0\]\.id missing$",
        ),
        (
            lambda m: m["eventBody"]["participants"][0]["calls"][0].__setitem__("held", "yes"),
            r"held: expected a boolean",
        ),
        (lambda m: m.__setitem__("topicName", 5), r"topicName: expected a string"),
    ],
)
def test_malformed_messages_say_why(mutate: Any, reason: str) -> None:
    message = generic_message()
    mutate(message)
    with pytest.raises(NormalizeError, match=reason):
        normalize_message(message, received_at=T0, source="notifications")


def test_unrecognized_shape() -> None:
    with pytest.raises(NormalizeError, match="unrecognized message"):
        normalize_message({"hello": "world"}, received_at=T0, source="file")
