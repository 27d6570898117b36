"""Detail-event bodies (``v2.detail.events.conversation.{id}.<kind>``) -> :class:`DetailEvent`.

Field names are the SDK's (reference §3.2): ``eventTime`` (epoch ms), ``conversationId``,
``participantId``, ``sessionId`` (the communication id), ``mediaType`` (``VOICE`` -> ``voice``),
``direction``, ``disconnectType`` (``CONSULT_TRANSFER`` -> ``transfer.consult``), ``queueId``,
``userId``, ``divisionId``, ``acdOutcome`` (``ANSWERED`` -> ``answered``), ``answeredUserId``,
``flowType``/``flowId``, ``wrapupCode``/``wrapupNotes``/``wrapupDurationMs``, ``callbackScheduledTime``,
``outboundCampaignId``/``outboundContactListId``/``outboundContactId``, ``externalContactId``,
``ani``/``dnis``, ``attributes``.

Pure module: no I/O.
"""

from __future__ import annotations

from typing import Final

from consumer.domain.events import DetailEvent
from consumer.genesys._fields import Fields
from consumer.genesys.enums import normalize_disconnect_type, normalize_media_type

__all__ = ["DETAIL_KINDS", "detail_event"]

#: Detail-event kinds convstream handles: the official blueprint list plus ``flow.outcome`` and
#: ``wrapup`` (both seen in the wild). Any other suffix is an unknown topic, never guessed.
DETAIL_KINDS: Final = frozenset(
    {
        "customer.start", "customer.end", "flow.start", "flow.end", "flow.outcome", "acd.start", "acd.end",
        "user.start", "user.end", "acw", "wrapup", "attributes", "outbound", "voicemail.start",
        "voicemail.end",
    }
)  # fmt: skip


def detail_event(kind: str, body: Fields) -> DetailEvent:
    """One detail-event ``eventBody`` -> :class:`DetailEvent` (enum values normalized)."""
    body.reject_snake_case()
    outcome = body.lower("acdOutcome")
    flow_type = body.lower("flowType")
    return DetailEvent(
        kind=kind,
        participant_id=body.text("participantId"),
        session_id=body.text("sessionId"),
        media_type=normalize_media_type(body.text("mediaType")),
        direction=body.lower("direction"),
        disconnect_type=normalize_disconnect_type(body.text("disconnectType")),
        queue_id=body.text("queueId"),
        user_id=body.text("userId"),
        division_id=body.text("divisionId"),
        acd_outcome=outcome,
        answered_user_id=body.text("answeredUserId"),
        flow_type=flow_type,
        flow_id=body.text("flowId"),
        wrapup_code=body.text("wrapupCode"),
        wrapup_notes=body.text("wrapupNotes"),
        wrapup_duration_ms=body.integer("wrapupDurationMs"),
        callback_scheduled_time=body.time("callbackScheduledTime"),
        outbound_campaign_id=body.text("outboundCampaignId"),
        outbound_contact_list_id=body.text("outboundContactListId"),
        outbound_contact_id=body.text("outboundContactId"),
        external_contact_id=body.text("externalContactId"),
        ani=body.text("ani"),
        dnis=body.text("dnis"),
        attributes=body.text_map("attributes"),
    )
