"""Chat, messaging, detail-only and analytics-only scenarios of :mod:`sdk_corpus`
(conventions: :mod:`sdk_corpus_builders`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sdk_corpus import Scenario, analytics, at, detail, model, notification, row, uid
from sdk_corpus_builders import (
    COMMON,
    DELIVERY,
    DIV,
    U,
    generic,
    gp,
    media_body,
    mp,
    queue_topic,
    segment,
    session,
    user_topic,
)


def chat_with_monitor() -> Scenario:
    s = Scenario(
        "sdk_chat_monitor",
        "users topic, chats: a supervisor monitors the agent (the chat media topic "
        "has no monitoredParticipantId); the chat ends while the monitor is still connected",
    )
    c, q, u, sup = uid("chat conversation"), uid("queue chat"), uid("user gina"), uid("user supervisor")
    cust, acd, agent, mon = (uid(f"chat {x}") for x in ("c", "a", "g", "m"))
    t = at
    end = t("09:10:00.000")

    def chat(pid: str, purpose: str, connected: str, ended: datetime | None = None, **more: Any) -> Any:
        # The generic chat communication has no direction field: originating_direction stays unknown.
        comm: dict[str, Any] = {
            "id": uid(f"chat comm {pid}"),
            "state": "connected",
            "connected_time": t(connected),
        }
        extra: dict[str, Any] = {}
        if ended is not None:
            comm.update(state="disconnected", disconnected_time=ended)
            extra["end_time"] = ended
        return gp(U, pid, purpose, "chats", [comm], connected_time=t(connected), **extra, **more)

    customer = chat(cust, "customer", "09:00:00.000")
    acd_on = chat(acd, "acd", "09:00:00.050", queue_id=q)
    acd_off = chat(acd, "acd", "09:00:00.050", t("09:00:30.000"), queue_id=q)
    agent_on = chat(agent, "agent", "09:00:30.000", queue_id=q, user_id=u)
    monitor = chat(mon, "user", "09:02:00.000", user_id=sup, monitored_participant_id=agent)
    agent_off = chat(agent, "agent", "09:00:30.000", end, queue_id=q, user_id=u)
    cust_off = chat(cust, "customer", "09:00:00.000", end)
    steps = [
        ([customer, acd_on], t("09:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("09:00:30.100"), "connected"),
        ([customer, acd_off, agent_on, monitor], t("09:02:00.100"), "connected"),
        ([cust_off, acd_off, agent_off, monitor], t("09:10:00.100"), "ended"),
    ]
    for participants, received, status in steps:
        s.add(notification(user_topic(u), generic(U, c, participants), received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("09:10:00.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("09:00:00.000"),
            conversation_end=end,
            originating_direction=None,
            original_media_type="chat",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("09:10:00.100"),
            **COMMON,
        )
    )
    return s


def messaging() -> Scenario:
    s = Scenario("sdk_messaging", "queue .messages topic: web messaging, queue, agent, ended")
    c, q, u = uid("msg conversation"), uid("queue messaging"), uid("user hana")
    cust, acd, agent = (uid(f"msg {x}") for x in ("c", "a", "g"))
    queue = {"id": q, "name": "Messaging"}
    t = at
    inbound = {"direction": "inbound"}
    customer = mp(cust, "customer", "connected", t("11:00:00.000"), **inbound)
    acd_on = mp(acd, "acd", "connected", t("11:00:00.050"), queue=queue, **inbound)
    acd_off = mp(acd, "acd", "disconnected", t("11:00:00.050"), t("11:01:00.000"), queue=queue, **inbound)
    agent_on = mp(agent, "agent", "connected", t("11:01:00.000"), queue=queue, user=u, **inbound)
    end = t("11:20:00.000")
    agent_off = mp(agent, "agent", "disconnected", t("11:01:00.000"), end, queue=queue, user=u, **inbound)
    cust_off = mp(cust, "customer", "disconnected", t("11:00:00.000"), end, **inbound)
    steps = [
        ([customer, acd_on], t("11:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("11:01:00.100"), "connected"),
        ([cust_off, acd_off, agent_off], t("11:20:00.100"), "ended"),
    ]
    for participants, received, status in steps:
        body = media_body("QueueConversation", "Message", c, participants)
        s.add(notification(queue_topic(q, ".messages"), body, received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("11:20:00.100"),
            last_queue_id=q,
            last_queue_name="Messaging",
            conversation_start=t("11:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="message",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("11:20:00.100"),
            **COMMON,
        )
    )
    return s


def detail_only() -> Scenario:
    s = Scenario(
        "sdk_detail_only",
        "EventBridge detail events only: every kind convstream reads on one inbound "
        "call (customer, flow incl. outcome, acd, user, attributes, acw, wrapup)",
    )
    c, q, u = uid("detail conversation"), uid("queue detail"), uid("user ivan")
    cust, ivr, acd, agent = (uid(f"detail {x}") for x in ("c", "i", "a", "g"))
    cs, fs, as_, us = (uid(f"detail session {x}") for x in ("c", "i", "a", "g"))
    t = at
    voice = {"media_type": "VOICE", "direction": "INBOUND"}
    events = [
        (
            "customer.start",
            "10:00:00.000",
            {
                "participant_id": cust,
                "session_id": cs,
                "ani": "tel:+15551230000",
                "dnis": "tel:+15559990000",
                **voice,
            },
            "active",
            None,
        ),
        (
            "flow.start",
            "10:00:00.050",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_type": "INBOUNDCALL",
                "flow_id": uid("flow main"),
                **voice,
            },
            "in_ivr",
            None,
        ),
        (
            "flow.outcome",
            "10:00:10.000",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_id": uid("flow main"),
                "flow_outcome_id": uid("outcome lang"),
                "flow_outcome_value": "SUCCESS",
                "flow_type": "INBOUNDCALL",
            },
            "in_ivr",
            None,
        ),
        (
            "flow.end",
            "10:00:20.000",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_type": "INBOUNDCALL",
                "disconnect_type": "TRANSFER",
                **voice,
            },
            "active",
            None,
        ),
        (
            "acd.start",
            "10:00:20.050",
            {"participant_id": acd, "session_id": as_, "queue_id": q, "division_id": DIV, **voice},
            "waiting_in_queue",
            q,
        ),
        (
            "user.start",
            "10:00:40.000",
            {"participant_id": agent, "session_id": us, "user_id": u, "queue_id": q, **voice},
            "alerting",
            q,
        ),
        (
            "acd.end",
            "10:00:45.000",
            {
                "participant_id": acd,
                "session_id": as_,
                "queue_id": q,
                "division_id": DIV,
                "acd_outcome": "ANSWERED",
                "answered_user_id": u,
                "disconnect_type": "TRANSFER",
                **voice,
            },
            "connected",
            q,
        ),
        (
            "attributes",
            "10:01:00.000",
            {"participant_id": cust, "attributes": {"crmId": "42"}},
            "connected",
            q,
        ),
        (
            "customer.end",
            "10:05:00.000",
            {"participant_id": cust, "session_id": cs, "disconnect_type": "PEER", **voice},
            "connected",
            q,
        ),
        (
            "user.end",
            "10:05:00.100",
            {
                "participant_id": agent,
                "session_id": us,
                "user_id": u,
                "queue_id": q,
                "disconnect_type": "CLIENT",
                **voice,
            },
            "ended",
            q,
        ),
        (
            "acw",
            "10:05:30.000",
            {
                "participant_id": agent,
                "session_id": us,
                "user_id": u,
                "queue_id": q,
                "wrapup_code": uid("wrapup resolved"),
                "wrapup_duration_ms": 29900,
                **voice,
            },
            "ended",
            q,
        ),
        (
            "wrapup",
            "10:05:30.000",
            {
                "participant_id": agent,
                "session_id": us,
                "queue_id": q,
                "wrapup_code": uid("wrapup resolved"),
                "wrapup_notes": "ok",
                **voice,
            },
            "ended",
            q,
        ),
    ]
    for kind, clock, fields, status, queue in events:
        s.add(detail(kind, c, t(clock), t(clock) + DELIVERY, **fields), c, status, queue)
    s.final.append(
        row(
            c,
            "ended",
            t("10:05:00.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("10:00:00.000"),
            conversation_end=t("10:05:00.100"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("10:05:30.000"),
            **COMMON,
        )
    )
    return s


def analytics_only() -> Scenario:
    s = Scenario(
        "sdk_analytics_only",
        "analytics records only: the same call in queue, then finished (IVR, "
        "queue, agent with hold, wrap-up segment); analytics facts win",
    )
    c, q, u = uid("an conversation"), uid("queue analytics"), uid("user judy")
    cust, ivr, acd, agent = (uid(f"an {x}") for x in ("c", "i", "a", "g"))
    ids = {x: uid(f"an session {x}") for x in ("c", "i", "a", "g")}

    def participant(pid: str, purpose: str, key: str, segments: list[Any], **more: Any) -> Any:
        return model(
            "AnalyticsParticipantWithoutAttributes",
            participant_id=pid,
            purpose=purpose,
            sessions=[session(ids[key], "voice", "inbound", segments)],
            **more,
        )

    ivr_p = participant(
        ivr, "ivr", "i", [segment("ivr", "10:00:00.000", "10:00:30.000", disconnect_type="transfer")]
    )
    waiting = [
        participant(cust, "customer", "c", [segment("interact", "10:00:00.000")]),
        ivr_p,
        participant(acd, "acd", "a", [segment("interact", "10:00:30.000", queue_id=q)]),
    ]
    finished = [
        participant(
            cust,
            "customer",
            "c",
            [segment("interact", "10:00:00.000", "10:06:00.000", disconnect_type="peer")],
        ),
        ivr_p,
        participant(
            acd,
            "acd",
            "a",
            [segment("interact", "10:00:30.000", "10:01:00.000", queue_id=q, disconnect_type="transfer")],
        ),
        participant(
            agent,
            "agent",
            "g",
            [
                segment("alert", "10:00:40.000", "10:01:00.000", queue_id=q),
                segment("interact", "10:01:00.000", "10:03:00.000", queue_id=q),
                segment("hold", "10:03:00.000", "10:04:00.000", queue_id=q),
                segment("interact", "10:04:00.000", "10:06:00.000", queue_id=q, disconnect_type="peer"),
                segment("wrapup", "10:06:00.000", "10:06:30.000", queue_id=q, wrap_up_code=uid("wrapup an")),
            ],
            user_id=u,
        ),
    ]
    facts = {
        "conversation_id": c,
        "conversation_start": at("10:00:00.000"),
        "originating_direction": "inbound",
        "division_ids": [DIV],
    }
    first = model("AnalyticsConversationWithoutAttributes", participants=waiting, **facts)
    s.add(analytics(first, at("10:00:45.000")), c, "waiting_in_queue", q)
    last = model(
        "AnalyticsConversationWithoutAttributes",
        participants=finished,
        conversation_end=at("10:06:00.000"),
        conversation_initiator="customer",
        customer_participation=True,
        self_served=False,
        media_stats_min_conversation_mos=4.38,
        media_stats_min_conversation_r_factor=88.2,
        **facts,
    )
    s.add(analytics(last, at("10:07:00.000")), c, "ended", q)
    s.final.append(
        row(
            c,
            "ended",
            at("10:07:00.000"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=at("10:00:00.000"),
            conversation_end=at("10:06:00.000"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            external_tag=None,
            self_served=False,
            customer_participation=True,
            division_ids=[DIV],
            last_event_at=at("10:07:00.000"),
        )
    )
    return s


SCENARIOS: list[Callable[[], Scenario]] = [chat_with_monitor, messaging, detail_only, analytics_only]
