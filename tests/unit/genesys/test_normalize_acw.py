"""After-call work that was skipped, as the media-specific topics and analytics records say it.

The generic topic carries ``afterCallWork.state`` itself; the flattened media-topic participant says
``wrapupSkipped`` and an analytics session ``acwSkipped``. Both become the communication's ACW state
``skipped``, which the status rules read (see ``consumer/domain/status.py``).
"""

from __future__ import annotations

from typing import Any

from consumer.domain.events import ConversationSnapshot
from consumer.genesys.normalize import Normalized, normalize_message

RECEIVED = 1_735_725_700_000


def _snapshot(message: dict[str, Any]) -> ConversationSnapshot:
    result = normalize_message(message, received_at=RECEIVED, source="file")
    assert isinstance(result, Normalized)
    body = result.events[0].body
    assert isinstance(body, ConversationSnapshot)
    return body


def _calls_topic(**agent: Any) -> dict[str, Any]:
    participant = {"id": "P-ag", "purpose": "agent", "state": "disconnected", "wrapupRequired": True, **agent}
    return {
        "topicName": "v2.routing.queues.Q1.conversations.calls",
        "eventBody": {"id": "CONV1", "participants": [participant]},
    }


def test_media_topic_wrapup_skipped_is_a_skipped_acw() -> None:
    (agent,) = _snapshot(_calls_topic(wrapupSkipped=True, endAcwTime="2025-01-01T10:05:00.000Z")).participants
    assert agent.communications[0].acw_state == "skipped"
    assert agent.end_acw_time == 1_735_725_900_000


def test_media_topic_wrapup_skipped_false_or_absent_says_nothing() -> None:
    for extra in ({"wrapupSkipped": False}, {}):
        (agent,) = _snapshot(_calls_topic(**extra)).participants
        assert agent.communications[0].acw_state is None


def _record(session: dict[str, Any]) -> dict[str, Any]:
    base = {"sessionId": "S1", "mediaType": "voice", "direction": "inbound"}
    return {
        "conversationId": "CONV1",
        "participants": [{"participantId": "P-ag", "purpose": "agent", "sessions": [{**base, **session}]}],
    }


_TALK = {"segmentStart": "2025-01-01T10:00:00.000Z", "segmentEnd": "2025-01-01T10:04:00.000Z",
         "segmentType": "interact", "disconnectType": "peer"}  # fmt: skip


def test_analytics_acw_skipped_is_a_skipped_acw() -> None:
    (agent,) = _snapshot(_record({"acwSkipped": True, "segments": [_TALK]})).participants
    assert agent.communications[0].acw_state == "skipped"
    (agent,) = _snapshot(_record({"acwSkipped": False, "segments": [_TALK]})).participants
    assert agent.communications[0].acw_state is None


def test_analytics_closed_wrapup_segment_without_code_is_a_complete_acw() -> None:
    wrap = {"segmentStart": "2025-01-01T10:04:00.000Z", "segmentEnd": "2025-01-01T10:04:30.000Z",
            "segmentType": "wrapup"}  # fmt: skip
    (agent,) = _snapshot(_record({"segments": [_TALK, wrap]})).participants
    comm = agent.communications[0]
    assert (comm.acw_state, comm.acw_end_time, agent.wrapup_code) == ("complete", 1_735_725_870_000, None)
    assert agent.end_acw_time == 1_735_725_870_000
