"""The Genesys-fidelity issue's fold defects 1-3 as SDK-built golden streams (see :mod:`sdk_corpus`).

They state Genesys' meaning, which the fold before that issue's fixes gets wrong. Conventions:
:mod:`sdk_corpus_builders`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sdk_corpus import Scenario, at, detail, notification, row, uid
from sdk_corpus_builders import (
    COMMON,
    DELIVERY,
    DIV,
    VOICE_IN,
    Q,
    generic,
    gp,
    media_body,
    mp,
    queue_topic,
)


def _call_to_agent(name: str, prefix: str = Q) -> tuple[str, str, str, str, list[Any]]:
    """Conversation id, queue, customer and agent ids, and the first two snapshots' participants
    (customer + acd waiting; then the agent connected) of a plain inbound call."""
    c, q = uid(f"{name} conversation"), uid(f"{name} queue")
    cust, acd = uid(f"{name} customer"), uid(f"{name} acd")
    return c, q, cust, acd, []


def d1_acw_skipped_generic() -> Scenario:
    s = Scenario(
        "sdk_d1_acw_skipped_generic",
        "defect 1: generic topic, after-call work skipped "
        "(afterCallWork.state skipped, endAcwTime, no wrapup) while wrapupRequired: ended, not wrap_up",
    )
    c, q, cust, acd, _ = _call_to_agent("d1g")
    agent, u = uid("d1g agent"), uid("d1g user")
    t = at
    cc = {
        "id": uid("d1g cc"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.000"),
    }
    ac = {
        "id": uid("d1g ac"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:00.050"),
    }
    gc = {
        "id": uid("d1g gc"),
        "state": "connected",
        "direction": "inbound",
        "connected_time": t("10:00:10.000"),
    }
    end = t("10:03:00.000")
    off = {"state": "disconnected", "disconnected_time": end}
    customer = gp(Q, cust, "customer", "calls", [cc], connected_time=t("10:00:00.000"))
    cust_off = gp(
        Q, cust, "customer", "calls", [{**cc, **off}], connected_time=t("10:00:00.000"), end_time=end
    )
    acd_on = gp(Q, acd, "acd", "calls", [ac], queue_id=q, connected_time=t("10:00:00.050"))
    acd_off = gp(
        Q,
        acd,
        "acd",
        "calls",
        [{**ac, "state": "disconnected", "disconnected_time": t("10:00:10.000")}],
        queue_id=q,
        connected_time=t("10:00:00.050"),
        end_time=t("10:00:10.000"),
    )
    base = {"user_id": u, "queue_id": q, "wrapup_required": True, "connected_time": t("10:00:10.000")}
    agent_on = gp(Q, agent, "agent", "calls", [gc], **base)
    pending = gp(
        Q,
        agent,
        "agent",
        "calls",
        [{**gc, **off, "after_call_work": {"state": "pending", "start_time": end}}],
        **base,
        end_time=end,
        start_acw_time=end,
    )
    skipped_acw = {"state": "skipped", "start_time": end, "end_time": t("10:03:05.000")}
    skipped = gp(
        Q,
        agent,
        "agent",
        "calls",
        [{**gc, **off, "after_call_work": skipped_acw}],
        **base,
        end_time=end,
        start_acw_time=end,
        end_acw_time=t("10:03:05.000"),
    )
    lines = [
        ([customer, acd_on], t("10:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("10:00:10.100"), "connected"),
        ([cust_off, acd_off, pending], t("10:03:00.100"), "wrap_up"),
        ([cust_off, acd_off, skipped], t("10:03:05.100"), "ended"),
    ]
    for participants, received, status in lines:
        s.add(notification(queue_topic(q), generic(Q, c, participants), received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("10:03:05.100"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=t("10:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[DIV],
            last_event_at=t("10:03:05.100"),
            **COMMON,
        )
    )
    return s


def d1_wrapup_skipped_calls() -> Scenario:
    s = Scenario(
        "sdk_d1_wrapup_skipped_calls",
        "defect 1: .calls topic, wrapupRequired with wrapupSkipped and endAcwTime: ended, not wrap_up",
    )
    c, q, cust, acd, _ = _call_to_agent("d1m")
    agent, u = uid("d1m agent"), uid("d1m user")
    queue = {"id": q, "name": "Sales"}
    t = at
    end = t("10:03:00.000")
    inbound = {"direction": "inbound"}
    customer = mp(cust, "customer", "connected", t("10:00:00.000"), **inbound)
    cust_off = mp(cust, "customer", "disconnected", t("10:00:00.000"), end, **inbound)
    acd_on = mp(acd, "acd", "connected", t("10:00:00.050"), queue=queue, **inbound)
    acd_off = mp(acd, "acd", "disconnected", t("10:00:00.050"), t("10:00:10.000"), queue=queue, **inbound)
    base = {"queue": queue, "user": u, "wrapup_required": True, **inbound}
    agent_on = mp(agent, "agent", "connected", t("10:00:10.000"), **base)
    pending = mp(agent, "agent", "disconnected", t("10:00:10.000"), end, start_acw_time=end, **base)
    skipped = mp(
        agent,
        "agent",
        "disconnected",
        t("10:00:10.000"),
        end,
        start_acw_time=end,
        end_acw_time=t("10:03:02.000"),
        wrapup_skipped=True,
        **base,
    )
    lines = [
        ([customer, acd_on], t("10:00:00.150"), "waiting_in_queue"),
        ([customer, acd_off, agent_on], t("10:00:10.100"), "connected"),
        ([cust_off, acd_off, pending], t("10:03:00.100"), "wrap_up"),
        ([cust_off, acd_off, skipped], t("10:03:02.100"), "ended"),
    ]
    for participants, received, status in lines:
        body = media_body("QueueConversation", "Call", c, participants)
        s.add(notification(queue_topic(q, ".calls"), body, received), c, status, q)
    s.final.append(
        row(
            c,
            "ended",
            t("10:03:02.100"),
            last_queue_id=q,
            last_queue_name="Sales",
            conversation_start=t("10:00:00.000"),
            conversation_end=end,
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=t("10:03:02.100"),
            **COMMON,
        )
    )
    return s


def d2_abandon_in_queue() -> Scenario:
    s = Scenario(
        "sdk_d2_abandon_in_queue",
        "defect 2: IVR transfers to a queue, the customer hangs up there: not self-served",
    )
    c, q = uid("d2 conversation"), uid("d2 queue")
    cust, ivr, acd = uid("d2 customer"), uid("d2 ivr"), uid("d2 acd")
    cs, fs, qs = uid("d2 cs"), uid("d2 fs"), uid("d2 qs")
    events = [
        (
            "customer.start",
            "10:00:00.000",
            {"participant_id": cust, "session_id": cs, **VOICE_IN},
            "active",
            None,
        ),
        (
            "flow.start",
            "10:00:00.050",
            {"participant_id": ivr, "session_id": fs, "flow_type": "INBOUNDCALL", **VOICE_IN},
            "in_ivr",
            None,
        ),
        (
            "flow.end",
            "10:00:30.000",
            {
                "participant_id": ivr,
                "session_id": fs,
                "flow_type": "INBOUNDCALL",
                "disconnect_type": "TRANSFER",
                **VOICE_IN,
            },
            "active",
            None,
        ),
        (
            "acd.start",
            "10:00:30.050",
            {"participant_id": acd, "session_id": qs, "queue_id": q, **VOICE_IN},
            "waiting_in_queue",
            q,
        ),
        (
            "acd.end",
            "10:02:00.000",
            {
                "participant_id": acd,
                "session_id": qs,
                "queue_id": q,
                "acd_outcome": "ABANDON",
                "disconnect_type": "PEER",
                **VOICE_IN,
            },
            "active",
            q,
        ),
        (
            "customer.end",
            "10:02:00.000",
            {"participant_id": cust, "session_id": cs, "disconnect_type": "PEER", **VOICE_IN},
            "ended",
            q,
        ),
    ]
    for kind, clock, fields, status, queue in events:
        s.add(detail(kind, c, at(clock), at(clock) + DELIVERY, **fields), c, status, queue)
    s.final.append(
        row(
            c,
            "ended",
            at("10:02:00.000"),
            last_queue_id=q,
            last_queue_name=None,
            conversation_start=at("10:00:00.000"),
            conversation_end=at("10:02:00.000"),
            originating_direction="inbound",
            original_media_type="voice",
            conversation_initiator="customer",
            self_served=False,
            division_ids=[],
            last_event_at=at("10:02:00.000"),
            **COMMON,
        )
    )
    return s


def d3_outbound_detail_only() -> Scenario:
    s = Scenario(
        "sdk_d3_outbound_detail_only",
        "defect 3: an agent-placed call seen only through detail events "
        "(no ACD leg): dialing -> connected -> ended",
    )
    c, u = uid("d3 conversation"), uid("d3 user")
    agent, cust, gs, cs = uid("d3 agent"), uid("d3 customer"), uid("d3 gs"), uid("d3 cs")
    out = {"media_type": "VOICE", "direction": "OUTBOUND"}
    events = [
        (
            "user.start",
            "12:00:00.000",
            {"participant_id": agent, "session_id": gs, "user_id": u, **out},
            "dialing",
        ),
        (
            "customer.start",
            "12:00:09.000",
            {"participant_id": cust, "session_id": cs, "dnis": "tel:+15557654321", **out},
            "connected",
        ),
        (
            "customer.end",
            "12:04:00.000",
            {"participant_id": cust, "session_id": cs, "disconnect_type": "PEER", **out},
            "connected",
        ),
        (
            "user.end",
            "12:04:00.050",
            {"participant_id": agent, "session_id": gs, "user_id": u, "disconnect_type": "CLIENT", **out},
            "ended",
        ),
    ]
    for kind, clock, fields, status in events:
        s.add(detail(kind, c, at(clock), at(clock) + DELIVERY, **fields), c, status, None)
    s.final.append(
        row(
            c,
            "ended",
            at("12:04:00.050"),
            last_queue_id=None,
            last_queue_name=None,
            conversation_start=at("12:00:00.000"),
            conversation_end=at("12:04:00.050"),
            originating_direction="outbound",
            original_media_type="voice",
            conversation_initiator="agent",
            self_served=False,
            division_ids=[],
            last_event_at=at("12:04:00.050"),
            **COMMON,
        )
    )
    return s


SCENARIOS: list[Callable[[], Scenario]] = [
    d1_acw_skipped_generic,
    d1_wrapup_skipped_calls,
    d2_abandon_in_queue,
    d3_outbound_detail_only,
]
